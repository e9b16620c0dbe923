"""`urbantwin air check|forecast-check|report|publish` on a SQLite store: a real sensor.community file
imported and checked from the command line, bad options named, the commands' output."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.airquality.test_real_sensors import FROZEN
from urbantwin.cli import app
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine
from urbantwin.store.schema import observations

runner = CliRunner()


def test_check_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    imported = runner.invoke(app, ["import", "sensor-community", str(FROZEN), "--database-url", url])
    assert imported.exit_code == 0, imported.output
    window = ["--start", "2019-03-14T01:00", "--end", "2019-03-15T01:00", "--database-url", url]

    dry = runner.invoke(app, ["air", "check", *window, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "PM2.5 of SDS011 sensor 22523" in dry.stdout and "nothing stored." in dry.stdout
    assert "no official station near enough to calibrate against" in dry.stdout
    engine = make_engine(Settings(database_url=url))
    checked = select(func.count()).where(observations.c.result_quality.is_not(None))
    with engine.connect() as connection:
        before = connection.execute(checked).scalar()

    done = runner.invoke(app, ["air", "check", *window, "--set", "stuck_duration=3600"])
    assert done.exit_code == 0, done.output
    assert "stuck" in done.stdout and "2 sensor(s) checked; stored." in done.stdout
    with engine.connect() as connection:
        after = connection.execute(checked).scalar()
    engine.dispose()
    assert after > before

    bad = runner.invoke(app, ["air", "check", *window, "--set", "spikes=3"])
    assert bad.exit_code == 2 and "spikes: not a threshold" in bad.output
    neither = runner.invoke(app, ["air", "check", "--database-url", url])
    assert neither.exit_code == 2 and "--last-days" in neither.output
    recent = runner.invoke(app, ["air", "check", "--last-days", "2", "--dry-run", "--database-url", url])
    # the file's day of 2019 is not among the last two days: its sensors are found, with no readings
    assert recent.exit_code == 0 and "0 readings, 0 usable" in recent.stdout
    long = runner.invoke(
        app, ["air", "check", "--start", "2019-01-01", "--end", "2019-12-01", "--database-url", url]
    )
    assert long.exit_code == 2 and "92 days" in long.output


def test_report_and_publish_without_stations_say_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    report = runner.invoke(
        app, ["air", "report", "--year", "2019", "-o", str(tmp_path / "r.csv"), "--database-url", url]
    )
    assert report.exit_code == 2 and "no air quality station" in report.output
    publish = runner.invoke(app, ["air", "publish", "--year", "2019", "--database-url", url])
    assert publish.exit_code == 2 and "no air quality station" in publish.output
