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
