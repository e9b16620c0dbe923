"""The `urbantwin` command: migrate a store and load the Leipzig demo into it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import DemoStore
from urbantwin.cli import app
from urbantwin.settings import Settings
from urbantwin.store import schema
from urbantwin.store.engine import make_engine

runner = CliRunner()


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    result = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    with make_engine(Settings(database_url=url)).connect() as connection:
        assert connection.execute(select(func.count()).select_from(schema.things)).scalar_one() == 0


@pytest.mark.xdist_group("demo")
def test_demo_loads_real_leipzig_data_into_a_fresh_store(demo_store: DemoStore, tmp_path: Path) -> None:
    # demo_store is `urbantwin demo --data-dir <folder> --load-only` in a new folder, run once per
    # test process.
    assert "Loaded the Leipzig demo: 271 Things, 209 Datastreams, 5601 Observations." in demo_store.output
    engine = make_engine(Settings(database_url=demo_store.url))
    with engine.connect() as connection:
        names = connection.execute(select(schema.things.c.name).where(schema.things.c.name.like("Air%")))
        assert len(names.all()) == 4
    engine.dispose()
    demo_store.copy(tmp_path)
    again = runner.invoke(app, ["demo", "--data-dir", str(tmp_path), "--load-only"])
    assert "271 Things" in again.output  # a fresh store every time


def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--database-url", "mysql://nope"])
    assert result.exit_code != 0
    assert "unsupported database URL" in str(result.exception) + result.output


def test_worker_processes_get_every_setting_through_the_environment() -> None:
    from urbantwin.cli import settings_environment
    from urbantwin.settings import load_settings

    settings = Settings(
        database_url="postgresql+psycopg://u@db/x",
        pool_size=3,
        admin_token="t",
        cors_origins=("a", "b"),
        allow_anonymous_writes=True,
        query_timeout_seconds=7,
    )
    assert load_settings(environ=settings_environment(settings)) == settings


def test_serve_refuses_an_unknown_log_format(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    result = runner.invoke(app, ["serve", "--log-format", "xml", "--database-url", url])
    assert result.exit_code == 2 and "expected text or json" in result.output
    refused = runner.invoke(app, ["serve", "--database-url", url], env={"URBANTWIN_LOG_FORMAT": "yaml"})
    assert refused.exit_code == 2 and "log format 'yaml'" in refused.output


def test_the_workers_metrics_folder_is_made_or_emptied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from urbantwin.cli import _metrics_folder

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with _metrics_folder():
        made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert made.is_dir() and not any(made.iterdir())
    assert not made.exists() and "PROMETHEUS_MULTIPROC_DIR" not in os.environ

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_4242.db").write_bytes(b"left by an earlier server")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    with _metrics_folder():
        assert not any(given.iterdir())
    assert given.is_dir() and os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(given)
