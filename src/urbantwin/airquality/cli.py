"""`urbantwin air check|forecast-check|report|publish`: the low-cost sensor checks, the forecast
check, the all-stations CSV report and the publication of a year's assessment, from the command
line (as the platform itself, the way a cron job runs them; docs/air.md has the line).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported

if TYPE_CHECKING:
    from urbantwin.airquality.service import AirService

air_app = typer.Typer(
    help="Clean air: low-cost sensor checks, forecast check, assessment report and publication.",
    no_args_is_help=True,
)


@contextmanager
def _air(database_url: str | None, config: Path | None) -> Iterator[AirService]:
    from urbantwin.access.gate import Access
    from urbantwin.airquality.service import AirService
    from urbantwin.store.city import read_profile

    with reported(exit_code=2), open_store(config, database_url) as (settings, engine):
        yield AirService(engine, settings, Access.of(engine, settings), read_profile(engine))


def _overrides(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--set: expected NAME=VALUE, got {pair!r}")
        found[name.strip()] = value.strip()
    return found


@air_app.command("check")
def check(
    start: Annotated[
        str | None, typer.Option(help="start of the window (ISO 8601, local time of the city)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="end of the window, excluded (at most 92 days after start)")
    ] = None,
    last_days: Annotated[
        int | None,
        typer.Option(help="instead of --start/--end: the N days before today (local midnight), for cron"),
    ] = None,
    sensor: Annotated[int | None, typer.Option(help="one PM Datastream only (its @iot.id)")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a threshold, NAME=VALUE (repeatable), e.g. spike_delta=30"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="report only; store no flags, corrections or calibrations")
    ] = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Check the low-cost PM sensors over a window: humidity correction, flags, calibration; store
    the flags as the Observations' resultQuality (the results are never changed)."""
    from urbantwin.access.gate import Caller
    from urbantwin.airquality.sensor_service import SensorChecks, Window
    from urbantwin.airquality.sensors import Thresholds
    from urbantwin.times import parse_instant

    if (last_days is None) == (start is None and end is None) or (start is None) != (end is None):
        raise typer.BadParameter("give --start and --end, or --last-days")
    if last_days is not None and last_days < 1:
        raise typer.BadParameter("--last-days: at least 1")
    with _air(database_url, config) as air:
        if last_days is not None:
            today = datetime.now(air.zone).replace(hour=0, minute=0, second=0, microsecond=0)
            window = Window.parse(today - timedelta(days=last_days), today)
        else:
            window = Window.parse(
                parse_instant(start, "start", air.zone), parse_instant(end, "end", air.zone)
            )
        thresholds = Thresholds().overridden(_overrides(set_ or []))
        result = SensorChecks(air).run(Caller.system("air check"), window, thresholds, sensor, not dry_run)
    for item in result["sensors"]:
        flagged = ", ".join(f"{k} {v}" for k, v in item["flagged"].items() if v) or "none"
        counts = f"{item['readings']} readings, {item['usable']} usable"
        typer.echo(f"{item['@iot.id']}  {item['name']}: {counts}; flagged: {flagged}")
        calibration = item["calibration"]
        if calibration:
            typer.echo(
                f"    calibrated against {calibration['reference']['name']} ({calibration['distanceM']} m), "
                f"{calibration['start']} .. {calibration['end']}: reference = {calibration['intercept']} + "
                f"{calibration['slope']} × corrected, n {calibration['n']}, R² {calibration['r2']}, "
                f"RMSE {calibration['rmse']} µg/m³"
            )
        elif item["nearestStation"] is None:
            typer.echo("    no official station near enough to calibrate against")
    typer.echo(
        f"{len(result['sensors'])} sensor(s) checked; "
        + ("stored." if result["written"] else "nothing stored.")
    )


@air_app.command("forecast-check")
def forecast_check(
    station: Annotated[int, typer.Argument(help="the station's Thing @iot.id")],
    year: Annotated[int, typer.Option(help="the calendar year (UTC days)")],
    threshold: Annotated[
        float | None, typer.Option(help="exceedance threshold of a daily mean, µg/m³")
    ] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Check the station's forecasts (model data) against its measurements, per model and lead time."""
    from urbantwin.access.gate import Caller
    from urbantwin.airquality.forecast_service import ForecastCheck

    with _air(database_url, config) as air:
        body = ForecastCheck(air).check(station, year, Caller.system("air forecast-check"), threshold).body
    typer.echo(f"{body['station']['name']}, {year} (forecasts are model data)")
    for model in body["forecasts"]:
        typer.echo(f"  {model['datastream']['name']}")
        if model["measured"] is None:
            typer.echo("    no measurements of the pollutant to compare with")
        elif not model["forecastDays"]:
            typer.echo(f"    no forecasts in {year}")
        for lead in model["leadTimes"]:
            typer.echo(f"    lead time {lead['leadTime']}: {lead['text']['en']}")


@air_app.command("report")
def report_command(
    year: Annotated[int, typer.Option(help="the calendar year")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the CSV file to write")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Write the year's assessment of every station as one CSV report."""
    from urbantwin.access.gate import Caller
    from urbantwin.airquality.report import report_csv

    with _air(database_url, config) as air:
        text = report_csv(air, year, Caller.system("air report"))
    output.write_text(text, encoding="utf-8")
    typer.echo(f"{output}: {len(text.splitlines()) - 1} rows")


@air_app.command("publish")
def publish_command(
    year: Annotated[int, typer.Option(help="the calendar year")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Publish the year's assessment of every station as the catalogue dataset air-assessment-YEAR."""
    from urbantwin.access.gate import Caller
    from urbantwin.airquality.report import publish

    with _air(database_url, config) as air:
        body = publish(air, year, Caller.system("air publish")).body
    typer.echo(
        f"{body['dataset']}: {body['stations']} station(s), {body['inserted']} inserted, {body['updated']} "
        f"updated, {body['unchanged']} unchanged; {body['catalogue']}"
    )
