"""`urbantwin import gtfs`: the counts it prints, idempotency and a bad feed's message and exit code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.transit.conftest import PLZEN, write_feed
from urbantwin.cli import app
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine
from urbantwin.store.features_schema import collections
from urbantwin.store.transit_schema import transit_feeds

runner = CliRunner()


def test_import_gtfs_prints_the_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    args = ["import", "gtfs", str(PLZEN), "--source", "PMDP", "--licence", "CC BY 4.0", "--database-url", url]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Feed 'plzen-pmdp-2026-02': imported." in first.stdout
    assert "Routes: 54 (bus 37, trolleybus 14, tram 3)" in first.stdout
    assert "Trips: 7942, stop times: 132436, service days: 2406" in first.stdout
    assert "vehicle-km" in first.stdout
    assert "Collection 'plzen-pmdp-2026-02-stops': 710 inserted" in first.stdout
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "unchanged (imported before)" in again.stdout
    assert "Collection 'plzen-pmdp-2026-02-lines': 0 inserted, 0 updated, 54 unchanged" in again.stdout


def test_import_gtfs_names_the_feed_by_its_title(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    args = ["import", "gtfs", str(PLZEN), "--title", "Plzeň (CZ)", "--database-url", url]
    assert runner.invoke(app, args).exit_code == 0
    engine = make_engine(Settings(database_url=url))
    with engine.connect() as connection:
        titles = dict(connection.execute(select(collections.c.id, collections.c.title)).all())
        feed = connection.execute(select(transit_feeds.c.title)).scalar()
    engine.dispose()
    assert feed == "Plzeň (CZ)"
    assert titles["plzen-pmdp-2026-02-lines"] == "Lines of Plzeň (CZ), GTFS feed plzen-pmdp-2026-02"


def test_a_bad_feed_fails_with_the_place_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    bad = write_feed(tmp_path / "bad.zip", routes_txt="route_id,route_type\nR1,\n")
    answer = runner.invoke(app, ["import", "gtfs", str(bad), "--database-url", url])
    assert answer.exit_code == 1
    assert "Import failed: routes.txt: row 2: field 'route_type': a value is required" in answer.stderr
    unknown = runner.invoke(app, ["import", "gtfs", str(tmp_path / "none.zip"), "--database-url", url])
    assert unknown.exit_code == 1
    assert "no such file or folder" in unknown.stderr
    factor = runner.invoke(app, ["import", "gtfs", str(bad), "--detour-factor", "0.5", "--database-url", url])
    assert factor.exit_code == 1
    assert "--detour-factor: expected a number of at least 1, got 0.5" in factor.stderr


def test_transit_energy_prints_totals_and_writes_csvs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert runner.invoke(app, ["import", "gtfs", str(PLZEN), "--database-url", url]).exit_code == 0
    out = tmp_path / "out"
    args = ["transit", "energy", "plzen-pmdp-2026-02", "--weekday", "--database-url", url, "--out", str(out)]
    answer = runner.invoke(app, [*args, "--set", "units.4=2", "--set", "grid.green_share=0.5"])
    assert answer.exit_code == 0, answer.output
    assert "typical weekday 2026-05-04" in answer.stdout
    assert "Modelled" in answer.stdout
    for kind in ("tram", "trolleybus", "diesel_bus", "total"):
        assert f"\n{kind} " in answer.stdout
    lines = pd.read_csv(out / "lines.csv", dtype={"line": str})
    assert len(lines) == 54 and lines["model"].all()
    assert lines.set_index("line").loc["4", "units"] == 2
    hours = pd.read_csv(out / "hours.csv", dtype={"line": str})
    assert hours["hour"].max() >= 23
    assert hours["vehicle_km"].sum() == pytest.approx(lines["vehicle_km"].sum(), rel=1e-3)
    trips = pd.read_csv(out / "trips.csv")
    assert trips["vehicle_km"].sum() == pytest.approx(lines["vehicle_km"].sum(), rel=1e-3)

    bad = runner.invoke(app, [*args, "--set", "tram.kwh_per_vkm=-1"])
    assert bad.exit_code == 2
    assert "coefficient 'tram.kwh_per_vkm': expected a number of at least 0, got '-1'" in bad.stderr
    unknown = runner.invoke(app, ["transit", "energy", "nowhere", "--database-url", url])
    assert unknown.exit_code == 2 and "no transit feed 'nowhere'" in unknown.stderr
