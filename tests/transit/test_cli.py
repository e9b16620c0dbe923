"""`urbantwin import gtfs`: the counts it prints, idempotency and a bad feed's message and exit code."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.transit.conftest import PLZEN, write_feed
from urbantwin.cli import app

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
