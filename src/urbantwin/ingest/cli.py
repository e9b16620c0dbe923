"""`urbantwin import …`: the importers on the command line, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import_app = typer.Typer(help="Import files into the store's collections (idempotent).", no_args_is_help=True)


@import_app.command("geojson")
def geojson(
    file: Annotated[Path, typer.Argument(help="a GeoJSON FeatureCollection (any CRS in its `crs` member)")],
    collection: Annotated[str, typer.Option(help="id of the collection to create or update")],
    title: Annotated[str | None, typer.Option(help="title of the collection (default: its id)")] = None,
    description: Annotated[str, typer.Option(help="description of the collection")] = "",
    licence: Annotated[str | None, typer.Option(help="licence of the data, e.g. 'ODbL 1.0'")] = None,
    attribution: Annotated[str | None, typer.Option(help="attribution the licence asks for")] = None,
    keyword: Annotated[list[str] | None, typer.Option(help="a keyword (repeatable)")] = None,
    id_property: Annotated[
        str | None, typer.Option(help="property holding the feature id (default: the Feature's `id`)")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="sqlite:///file.sqlite or postgresql+psycopg://user@host/db"),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML settings file")] = None,
) -> None:
    """Import a GeoJSON file as a collection; features are matched by id, so re-importing is safe."""
    from urbantwin.ingest.geojson import CollectionInfo, ImportFailure, import_geojson
    from urbantwin.settings import load_settings
    from urbantwin.store.engine import make_engine, upgrade

    try:
        settings = load_settings(config).with_overrides(database_url=database_url)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    engine = make_engine(settings)
    upgrade(engine)
    info = CollectionInfo(collection, title or collection, description, licence, attribution, keyword or [])
    try:
        report = import_geojson(engine, file, info, id_property=id_property)
    except ImportFailure as exc:
        typer.echo(f"Import failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"Collection {collection!r}: {report.inserted} inserted, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )
