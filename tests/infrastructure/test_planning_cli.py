"""`urbantwin infrastructure coverage|siting|lorawan reach` on the hand-made quarter of
test_planning.py: what they print and store, and a bad argument's message."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.infrastructure.test_planning import load_quarter
from urbantwin.cli import app
from urbantwin.settings import Settings
from urbantwin.store.features_schema import features

runner = CliRunner()


def test_coverage_siting_and_reach_commands(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    load_quarter(engine)
    store = ["--database-url", settings.database_url]
    out = tmp_path / "coverage.json"
    covered = runner.invoke(
        app,
        [
            "infrastructure",
            "coverage",
            "--technology",
            "wlan",
            "--resolution",
            "2",
            "--gaps",
            "--out",
            str(out),
            *store,
        ],
    )
    assert covered.exit_code == 0, covered.output
    assert "wlan-2.4: 1 sites" in covered.stdout
    assert "Testviertel: 30 of 60 people (50%)" in covered.stdout and "[buildings]" in covered.stdout
    assert json.loads(out.read_text())["map"]["geometry"]["type"] in ("Polygon", "MultiPolygon")

    stored = runner.invoke(
        app, ["infrastructure", "coverage", "--band", "wlan-2.4", "--resolution", "2", "--store", *store]
    )
    assert stored.exit_code == 0, stored.output
    layers = stored.stdout.split("Scenario dataset: ")[1].split()[0]
    with engine.connect() as connection:
        keys = connection.execute(select(features.c.feature_key).where(features.c.collection_id == layers))
        assert sorted(keys.scalars()) == ["covered", "district:Testviertel", "gaps"]

    chosen = runner.invoke(
        app,
        [
            "infrastructure",
            "siting",
            "poles",
            "--k",
            "1",
            "--technology",
            "wlan",
            "--resolution",
            "2",
            *store,
        ],
    )
    assert chosen.exit_code == 0, chosen.output
    assert "Not covered today: 30 people" in chosen.stdout
    assert "greedy: 1 sites cover 30 more people" in chosen.stdout and "1. P1: +30" in chosen.stdout
    scenario = chosen.stdout.split("Scenario dataset: ")[1].split()[0]
    with engine.connect() as connection:
        keys = connection.execute(select(features.c.feature_key).where(features.c.collection_id == scenario))
        assert keys.scalars().all() == ["P1"]

    reach = runner.invoke(
        app,
        ["infrastructure", "lorawan", "reach", "sensors", "--band", "wlan-2.4", "--resolution", "2", *store],
    )
    assert reach.exit_code == 0, reach.output
    answer = json.loads(reach.stdout)
    assert answer["single_gateway"] == ["street"] and answer["no_gateway"] == ["inside-2"]

    bad = runner.invoke(app, ["infrastructure", "coverage", "--band", "wlan-60", *store])
    assert bad.exit_code == 1 and "band 'wlan-60' is not known" in bad.stderr
