"""The commands' shared kit: settings from `--config`, the store opened and migrated, errors as one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import inspect

from urbantwin.commandline import open_store, reported, settings_from
from urbantwin.errors import NotFound


def test_a_bad_settings_file_is_an_error_of_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text("port = 'eighty'\n")
    with pytest.raises(typer.BadParameter, match="port"):
        settings_from(config)


def test_the_database_url_given_wins_over_the_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert settings_from(None, url).database_url == url
    assert settings_from(None, None).database_url == settings_from(None).database_url


def test_the_store_is_migrated_when_opened(tmp_path: Path) -> None:
    with open_store(None, f"sqlite:///{tmp_path / 'store.sqlite'}") as (settings, engine):
        assert settings.is_sqlite
        assert "transit_feeds" in inspect(engine).get_table_names()


def test_a_platform_error_is_one_line_and_an_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as stopped, reported(exit_code=2):
        raise NotFound("no transit run 'x'")
    assert stopped.value.exit_code == 2
    assert capsys.readouterr().err == "Error: no transit run 'x'\n"
