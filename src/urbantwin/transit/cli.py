"""`urbantwin import gtfs FEED.zip`: a GTFS feed into the store, with the counts it found."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from urbantwin.ingest.cli import Attribution, Config, DatabaseUrl, Licence, Publisher, Source
from urbantwin.transit.distance import DETOUR_FACTOR


def gtfs(
    file: Annotated[Path, typer.Argument(help="a GTFS feed: its zip, or a folder of its .txt files")],
    feed_id: Annotated[
        str | None,
        typer.Option(help="id of the feed (default: from the file name); collections <id>-stops, <id>-lines"),
    ] = None,
    detour_factor: Annotated[
        float,
        typer.Option(
            help="stop-to-stop distance × this for trips without shapes (calibrated on a feed with shapes)"
        ),
    ] = DETOUR_FACTOR,
    source: Source = None,
    licence: Licence = None,
    attribution: Attribution = None,
    publisher: Publisher = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import a GTFS feed: routes, trips with their distance, service days; stops and lines as collections."""
    from urbantwin.ingest.pipeline import ImportFailure
    from urbantwin.settings import load_settings
    from urbantwin.store.engine import make_engine, upgrade
    from urbantwin.transit.gtfs_import import import_gtfs

    try:
        settings = load_settings(config).with_overrides(database_url=database_url)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    engine = make_engine(settings)
    try:
        upgrade(engine)
        try:
            report = import_gtfs(
                engine,
                file,
                feed_id=feed_id,
                source=source,
                licence=licence,
                attribution=attribution,
                publisher=publisher,
                detour_factor=detour_factor,
                progress=True,
            )
        except ImportFailure as exc:
            typer.echo(f"Import failed: {exc}", err=True)
            raise typer.Exit(1) from None
    finally:
        engine.dispose()
    for line in report.lines():
        typer.echo(line)


transit_app = typer.Typer(
    help="Public transport (EfficienCE): the energy model on imported GTFS feeds.", no_args_is_help=True
)


@transit_app.command("energy")
def energy(
    feed_id: Annotated[str, typer.Argument(help="id of an imported feed (urbantwin import gtfs)")],
    day: Annotated[
        str | None, typer.Option(help="the day, YYYY-MM-DD (default: the typical weekday)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="last day of a range starting at --day")] = None,
    weekday: Annotated[bool, typer.Option("--weekday", help="the feed's typical weekday")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="a coefficient name=value (repeatable), e.g. grid.green_share=1 or units.4=2"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="folder for lines.csv, hours.csv and trips.csv")] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Vehicle-km, traction energy and CO2 per vehicle type and line of a feed (a model result)."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.errors import PlatformError
    from urbantwin.settings import load_settings
    from urbantwin.store.engine import make_engine
    from urbantwin.transit.energy import NOTE, TransitEnergy, parse_set

    try:
        settings = load_settings(config).with_overrides(database_url=database_url)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    engine = make_engine(settings)
    try:
        service = TransitEnergy(engine, Access.of(engine, settings))
        result = service.energy(
            Caller.system(f"transit energy {feed_id}"),
            feed_id,
            day=day,
            until=until,
            weekday=weekday,
            overrides=parse_set(set_ or []),
        )
    except PlatformError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"Feed {feed_id!r}, {result.period.label}: {result.service_days} day(s) with service.")
    typer.echo(NOTE)
    columns = ["vehicle_km", "energy_kwh", "diesel_l", "co2_ttw_kg", "co2_wtw_kg"]
    header = f"{'':<16}" + "".join(f"{c:>14}" for c in columns)
    typer.echo("\nPer vehicle type (modelled)\n" + header)
    for kind, row in result.by_vehicle_type().iterrows():
        typer.echo(f"{kind!s:<16}" + "".join(f"{row[c]:>14,.1f}" for c in columns))
    totals = result.totals()
    typer.echo(f"{'total':<16}" + "".join(f"{totals[c]:>14,.1f}" for c in columns))
    typer.echo(
        "\nPer line (modelled)\n" + f"{'line':<10}{'vehicle':<14}" + "".join(f"{c:>14}" for c in columns)
    )
    for row in result.lines.itertuples(index=False):
        typer.echo(
            f"{row.line!s:<10}{row.vehicle_type or 'not modelled'!s:<14}"
            + "".join(f"{getattr(row, c):>14,.1f}" for c in columns)
        )
    if out is not None:
        for path in result.write_csv(out):
            typer.echo(f"Wrote {path}")
