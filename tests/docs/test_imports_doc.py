"""docs/imports.md: every command it shows runs, as written, on an empty store, and every sample in
docs/samples is imported by one of them (so the documentation cannot rot)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from urbantwin.cli import app
from urbantwin.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "imports.md"
SAMPLES = ROOT / "docs" / "samples"
runner = CliRunner()


def commands() -> list[list[str]]:
    """The `urbantwin …` lines of the document's ```sh blocks, in order, split as a shell would."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("urbantwin ")]


def test_every_sample_is_used_by_a_documented_command() -> None:
    # A sample is a file of docs/samples, or a folder of one (a Shapefile with its sidecar files).
    used = {
        Path(arg).parts[2] for command in commands() for arg in command if arg.startswith("docs/samples/")
    }
    assert used == {path.name for path in SAMPLES.iterdir()}
    for command in commands():
        for arg in command:
            if arg.startswith("docs/"):
                assert (ROOT / arg).exists(), arg


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_documented_commands_run_on_an_empty_store(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urbantwin.store.features_schema import features
    from urbantwin.store.schema import observations, things

    monkeypatch.chdir(ROOT)
    for command in commands():
        result = runner.invoke(app, [*command, "--database-url", settings.database_url])
        assert result.exit_code == 0, (command, result.output)
        assert "bad rows skipped" not in result.output or " 0 bad rows skipped" in result.output, (
            result.output
        )
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(things)).scalar_one() == 1 + 1 + 5
        assert connection.execute(select(func.count()).select_from(observations)).scalar_one() > 0
        collections = connection.execute(select(features.c.collection_id).distinct()).scalars()
        assert set(collections) == {
            "ev-charging",
            "aq-stations",
            "aq-stations-gpkg",
            "aq-stations-shp",
            "buildings",
            "charging-points",
            "sample-gtfs-stops",
            "sample-gtfs-lines",
            "sample-gtfs-service",
        }
    # Every command again: nothing new.
    for command in commands():
        if command[:2] == ["org", "add"]:
            continue
        result = runner.invoke(app, [*command, "--database-url", settings.database_url])
        assert result.exit_code == 0, (command, result.output)
        assert "Created: nothing new." in result.output or "0 inserted, 0 updated" in result.output, (
            result.output
        )
