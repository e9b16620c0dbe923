"""`urbantwin import …`: the importers on the command line, with a progress bar.

One sub-command per format, because each format has its own options (a GeoPackage's layer, a
Shapefile's DBF encoding, a CSV's columns and decimal comma, CityJSON's object types); the options
every importer shares (the collection and its metadata, the store) are the same everywhere.
A file that cannot be imported is reported as `Import failed: <file>: feature N (id …): field 'f': …`
on stderr with exit code 1, and nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from urbantwin.ingest.pipeline import CollectionInfo, ImportReport

import_app = typer.Typer(
    help=(
        "Import files into the store's collections (idempotent: features are matched by id, so "
        "importing twice changes nothing and a changed file updates what changed). Any source CRS is "
        "transformed to WGS 84. Formats: geojson, gpkg (GeoPackage), shapefile, csv (points or WKT), "
        "cityjson (CityJSON 1.0/1.1/2.0 and CityJSONSeq buildings: footprint, height, solid kept)."
    ),
    no_args_is_help=True,
)

Collection = Annotated[str, typer.Option(help="id of the collection to create or update")]
Title = Annotated[str | None, typer.Option(help="title of the collection (default: its id)")]
Description = Annotated[str, typer.Option(help="description of the collection")]
Licence = Annotated[str | None, typer.Option(help="licence of the data, e.g. 'ODbL 1.0'")]
Attribution = Annotated[str | None, typer.Option(help="attribution the licence asks for")]
Keyword = Annotated[list[str] | None, typer.Option(help="a keyword (repeatable)")]
Source = Annotated[str | None, typer.Option(help="where the data come from (kept in the dataset record)")]
Publisher = Annotated[
    str | None,
    typer.Option(
        help="organisation id publishing a new collection's dataset (add it first: urbantwin org add)"
    ),
]
DeleteMissing = Annotated[
    bool,
    typer.Option(
        help="the file is the whole collection: delete its features that the file no longer has "
        "(default: keep them, so several files can fill one collection)"
    ),
]
SourceCrs = Annotated[
    str | None,
    typer.Option("--crs", help="the source CRS, e.g. EPSG:25833 (default: what the file states)"),
]
HeightField = Annotated[
    str | None,
    typer.Option(help="property holding the height in metres (stored as the height tiles extrude)"),
]
EstimateHeights = Annotated[
    bool,
    typer.Option(
        help="give buildings without a height an estimated one: by their type, else their neighbours "
        "(labelled `height_source` = 'estimated: …'; docs/imports.md)"
    ),
]
TypeField = Annotated[
    str, typer.Option(help="with --estimate-heights: the property holding a building's type")
]


def _run(
    file: Path,
    collection: str,
    title: str | None,
    description: str,
    licence: str | None,
    attribution: str | None,
    keyword: list[str] | None,
    database_url: str | None,
    config: Path | None,
    do_import: Callable[[Engine, CollectionInfo], ImportReport],
    source: str | None = None,
    publisher: str | None = None,
) -> None:
    """Open the store, run one importer on it and report; exit code 1 with the message on failure."""
    from urbantwin.ingest.pipeline import CollectionInfo, ImportFailure

    with open_store(config, database_url) as (_, engine):
        info = CollectionInfo(
            collection,
            title or collection,
            description,
            licence,
            attribution,
            keyword or [],
            source=source,
            publisher=publisher,
        )
        try:
            report = do_import(engine, info)
        except ImportFailure as exc:
            typer.echo(f"Import failed: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"Collection {collection!r} from {file.name}: {report.summary()}.")


@import_app.command("geojson")
def geojson(
    file: Annotated[Path, typer.Argument(help="a GeoJSON FeatureCollection (any CRS in its `crs` member)")],
    collection: Collection,
    title: Title = None,
    description: Description = "",
    licence: Licence = None,
    attribution: Attribution = None,
    keyword: Keyword = None,
    source: Source = None,
    publisher: Publisher = None,
    id_property: Annotated[
        str | None, typer.Option(help="property holding the feature id (default: the Feature's `id`)")
    ] = None,
    height_field: HeightField = None,
    estimate_heights: EstimateHeights = False,
    type_field: TypeField = "building",
    delete_missing: DeleteMissing = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import a GeoJSON file (gzip too); features are matched by id, so re-importing is safe."""
    from urbantwin.ingest.geojson import import_geojson
    from urbantwin.ingest.heights import HeightEstimate
    from urbantwin.ingest.pipeline import height_from

    prepare = height_from(height_field) if height_field else None
    _run(
        file,
        collection,
        title,
        description,
        licence,
        attribution,
        keyword,
        database_url,
        config,
        source=source,
        publisher=publisher,
        do_import=lambda engine, info: import_geojson(
            engine,
            file,
            info,
            id_property=id_property,
            prepare=prepare,
            delete_missing=delete_missing,
            heights=HeightEstimate(type_property=type_field) if estimate_heights else None,
        ),
    )


def _ogr_command(
    file: Path,
    collection: str,
    title: str | None,
    description: str,
    licence: str | None,
    attribution: str | None,
    keyword: list[str] | None,
    layer: str | None,
    id_field: str | None,
    crs: str | None,
    encoding: str | None,
    height_field: str | None,
    delete_missing: bool,
    database_url: str | None,
    config: Path | None,
    source: str | None = None,
    publisher: str | None = None,
    estimate_heights: bool = False,
    type_field: str = "building",
) -> None:
    from urbantwin.ingest.heights import HeightEstimate
    from urbantwin.ingest.ogr import import_ogr
    from urbantwin.ingest.pipeline import height_from

    prepare = height_from(height_field) if height_field else None
    _run(
        file,
        collection,
        title,
        description,
        licence,
        attribution,
        keyword,
        database_url,
        config,
        source=source,
        publisher=publisher,
        do_import=lambda engine, info: import_ogr(
            engine,
            file,
            info,
            layer=layer,
            id_field=id_field,
            crs=crs,
            encoding=encoding,
            prepare=prepare,
            delete_missing=delete_missing,
            heights=HeightEstimate(type_property=type_field) if estimate_heights else None,
        ),
    )


@import_app.command("gpkg")
def gpkg(
    file: Annotated[Path, typer.Argument(help="a GeoPackage (.gpkg)")],
    collection: Collection,
    layer: Annotated[
        str | None, typer.Option(help="the layer to import (needed when the file has several)")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="field holding the feature id (default: the layer's FID)")
    ] = None,
    title: Title = None,
    description: Description = "",
    licence: Licence = None,
    attribution: Attribution = None,
    keyword: Keyword = None,
    source: Source = None,
    publisher: Publisher = None,
    crs: SourceCrs = None,
    height_field: HeightField = None,
    estimate_heights: EstimateHeights = False,
    type_field: TypeField = "building",
    delete_missing: DeleteMissing = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import one layer of a GeoPackage (through GDAL/pyogrio) as a collection; its CRS from the file."""
    _ogr_command(
        file,
        collection,
        title,
        description,
        licence,
        attribution,
        keyword,
        layer,
        id_field,
        crs,
        None,
        height_field,
        delete_missing,
        database_url,
        config,
        source=source,
        publisher=publisher,
        estimate_heights=estimate_heights,
        type_field=type_field,
    )


@import_app.command("shapefile")
def shapefile(
    file: Annotated[Path, typer.Argument(help="a Shapefile (.shp with its .dbf, .shx, .prj, .cpg)")],
    collection: Collection,
    id_field: Annotated[
        str | None,
        typer.Option(help="field holding the feature id (default: the record number; name one if you can)"),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="encoding of the .dbf when no .cpg states it, e.g. cp1252 or cp850"),
    ] = None,
    title: Title = None,
    description: Description = "",
    licence: Licence = None,
    attribution: Attribution = None,
    keyword: Keyword = None,
    source: Source = None,
    publisher: Publisher = None,
    crs: SourceCrs = None,
    height_field: HeightField = None,
    estimate_heights: EstimateHeights = False,
    type_field: TypeField = "building",
    delete_missing: DeleteMissing = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import a Shapefile (through GDAL/pyogrio); the CRS from the .prj, the encoding from the .cpg."""
    _ogr_command(
        file,
        collection,
        title,
        description,
        licence,
        attribution,
        keyword,
        None,
        id_field,
        crs,
        encoding,
        height_field,
        delete_missing,
        database_url,
        config,
        source=source,
        publisher=publisher,
        estimate_heights=estimate_heights,
        type_field=type_field,
    )


@import_app.command("csv")
def csv(
    file: Annotated[Path, typer.Argument(help="a CSV file (gzip too) with coordinate columns or WKT")],
    collection: Collection,
    x: Annotated[
        str | None,
        typer.Option(help="column of x / longitude / Rechtswert (default: detected from the header)"),
    ] = None,
    y: Annotated[
        str | None, typer.Option(help="column of y / latitude / Hochwert (default: detected)")
    ] = None,
    wkt: Annotated[str | None, typer.Option(help="column of WKT geometries instead of x/y")] = None,
    crs: Annotated[
        str | None,
        typer.Option("--crs", help="CRS of the coordinates, e.g. EPSG:25833 (default: WGS 84 lon/lat)"),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="cell delimiter: ',', ';', 'tab' or '|' (default: detected)")
    ] = None,
    decimal: Annotated[
        str | None,
        typer.Option(help="decimal separator ',' (German, '1.234,5') or '.' (default: either is read)"),
    ] = None,
    encoding: Annotated[str, typer.Option(help="text encoding, e.g. cp1252")] = "utf-8-sig",
    id_column: Annotated[
        str | None, typer.Option(help="column holding the feature id (default: the row number)")
    ] = None,
    text_column: Annotated[
        list[str] | None, typer.Option(help="a column to keep as text, not numbers (repeatable)")
    ] = None,
    title: Title = None,
    description: Description = "",
    licence: Licence = None,
    attribution: Attribution = None,
    keyword: Keyword = None,
    source: Source = None,
    publisher: Publisher = None,
    height_field: HeightField = None,
    delete_missing: DeleteMissing = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import a CSV of points (x/y, lon/lat, Rechtswert/Hochwert… columns) or WKT as a collection."""
    from urbantwin.ingest.csvfile import import_csv
    from urbantwin.ingest.pipeline import height_from

    prepare = height_from(height_field) if height_field else None
    _run(
        file,
        collection,
        title,
        description,
        licence,
        attribution,
        keyword,
        database_url,
        config,
        source=source,
        publisher=publisher,
        do_import=lambda engine, info: import_csv(
            engine,
            file,
            info,
            delete_missing=delete_missing,
            x_column=x,
            y_column=y,
            wkt_column=wkt,
            crs=crs,
            delimiter=delimiter,
            decimal=decimal,
            encoding=encoding,
            id_column=id_column,
            text_columns=text_column or [],
            prepare=prepare,
        ),
    )


@import_app.command("cityjson")
def cityjson(
    file: Annotated[Path, typer.Argument(help="a CityJSON file (.city.json) or CityJSONSeq (.city.jsonl)")],
    collection: Collection,
    city_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="first-level city object type to import (repeatable; default Building)"),
    ] = None,
    crs: SourceCrs = None,
    title: Title = None,
    description: Description = "",
    licence: Licence = None,
    attribution: Attribution = None,
    keyword: Keyword = None,
    source: Source = None,
    publisher: Publisher = None,
    delete_missing: DeleteMissing = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import CityJSON buildings: footprint as geometry, height, and the LoD1/LoD2 solids kept."""
    from urbantwin.ingest.cityjson import import_cityjson

    types = tuple(city_type) if city_type else ("Building",)
    _run(
        file,
        collection,
        title,
        description,
        licence,
        attribution,
        keyword,
        database_url,
        config,
        source=source,
        publisher=publisher,
        do_import=lambda engine, info: import_cityjson(
            engine, file, info, types=types, crs=crs, delete_missing=delete_missing
        ),
    )
