"""Settings come from defaults, a TOML file and URBANTWIN_* variables, in that order of strength."""

from __future__ import annotations

from pathlib import Path

import pytest

from urbantwin.settings import Settings, load_settings


def test_defaults_serve_the_embedded_store_on_localhost() -> None:
    settings = load_settings(environ={})
    assert settings.database_url.startswith("sqlite:///")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.allow_anonymous_writes is False


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "urbantwin.toml"
    config.write_text('port = 9000\nmax_top = 50\ncors_origins = ["https://a.example"]\n')
    settings = load_settings(config, environ={"URBANTWIN_PORT": "9100", "URBANTWIN_ADMIN_TOKEN": "s3cret"})
    assert settings.port == 9100 and settings.max_top == 50
    assert settings.cors_origins == ("https://a.example",)
    assert settings.admin_token == "s3cret"
    assert "s3cret" not in repr(settings)


def test_a_bad_value_names_the_setting() -> None:
    with pytest.raises(ValueError, match="URBANTWIN_PORT"):
        load_settings(environ={"URBANTWIN_PORT": "eighty"})
    with pytest.raises(ValueError, match="URBANTWIN_ALLOW_ANONYMOUS_WRITES"):
        load_settings(environ={"URBANTWIN_ALLOW_ANONYMOUS_WRITES": "perhaps"})


def test_overrides_leave_unset_values_alone() -> None:
    settings = Settings().with_overrides(port=1234, host=None)
    assert settings.port == 1234 and settings.host == "127.0.0.1"


def test_every_setting_is_described_where_it_is_declared() -> None:
    from urbantwin.settings import setting_docs

    docs = setting_docs()
    assert [doc.name for doc in docs] == [f for f in Settings.__dataclass_fields__ if f != "extra"]
    undescribed = [doc.variable for doc in docs if not doc.description]
    assert undescribed == []
    secret = {doc.name for doc in docs if doc.secret}
    assert {"admin_token", "mqtt_url", "lorawan_webhook_token", "metrics_token"} <= secret


def test_docs_settings_md_is_the_generated_reference(tmp_path: Path) -> None:
    """docs/settings.md cannot go stale: regenerate it with the command this test runs."""
    from typer.testing import CliRunner

    from urbantwin.cli import app

    written = tmp_path / "settings.md"
    result = CliRunner().invoke(app, ["settings", "reference", "--output", str(written)])
    assert result.exit_code == 0, result.output
    committed = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
    assert committed.read_text(encoding="utf-8") == written.read_text(encoding="utf-8"), (
        "docs/settings.md is stale: run `urbantwin settings reference --output docs/settings.md`"
    )
    text = written.read_text(encoding="utf-8")
    assert "### `URBANTWIN_DATABASE_URL`" in text and "default `sqlite:///urbantwin.sqlite`" in text
    assert "## Module `live`" in text and text.index("URBANTWIN_MQTT_URL") > text.index("## Module `live`")


def test_the_scenario_worker_is_the_server_or_a_separate_process() -> None:
    assert Settings().scenario_worker == "server"
    assert load_settings(environ={"URBANTWIN_SCENARIO_WORKER": "separate"}).scenario_worker == "separate"
    with pytest.raises(ValueError, match="scenario_worker: expected server or separate, got 'elsewhere'"):
        load_settings(environ={"URBANTWIN_SCENARIO_WORKER": "elsewhere"})
