"""The sensor connectors on the command line: `urbantwin import sensor-community|stations|cams` and
`urbantwin replay`.

`sensor_import_app` is merged into `urbantwin import` (its commands sit beside `geojson`) and
`replay` is a top-level command; `urbantwin/cli.py` registers both. Every command writes through the
SensorThings API: into the local store by default (`--database-url`/`--config`, as the other
commands), or into a running server with `--url` and `--token`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from urbantwin.commandline import Config, DatabaseUrl, settings_from
from urbantwin.ingest.sta_client import ClientError, HttpClient, LocalClient, SensorThingsClient, parse_iso
from urbantwin.ingest.sta_loader import ImportAborted, ImportReport, OnError

sensor_import_app = typer.Typer()

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="write to a running server (e.g. http://127.0.0.1:8000) instead of the local store"
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="URBANTWIN_TOKEN", help="token for --url (or URBANTWIN_TOKEN)", show_default=False
    ),
]
OnErrorOption = Annotated[
    OnError, typer.Option("--on-error", help="a bad row is skipped (and reported) or aborts the import")
]


def _client(
    url: str | None, token: str | None, database_url: str | None, config: Path | None
) -> SensorThingsClient:
    """The SensorThings API to write to: a server with --url, else the local store's service."""
    if url is not None:
        if database_url is not None or config is not None:
            raise typer.BadParameter(
                "--url writes to a server; --database-url and --config are for the local store"
            )
        try:
            return HttpClient(url, token)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    from urbantwin.store.engine import make_engine, upgrade

    settings = settings_from(config, database_url)
    engine = make_engine(settings)  # the client disposes it
    upgrade(engine)
    return LocalClient(engine, settings, dispose_engine=True)


def _run_import(
    client: SensorThingsClient,
    run: Callable[[SensorThingsClient], ImportReport],
    aborted: str = "nothing was written",
) -> None:
    """Run one import on `client`, print its report; a refused or aborted import exits with 1."""
    try:
        report = run(client)
    except ImportAborted as exc:
        typer.echo(f"Import aborted at {exc.problem} ({aborted}).", err=True)
        raise typer.Exit(1) from None
    except (ValueError, ClientError) as exc:
        typer.echo(f"Import failed: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    _finish(report)


def _finish(report: ImportReport) -> None:
    typer.echo(report.summary())


@sensor_import_app.command("sensor-community")
def sensor_community(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="archive CSVs (e.g. 2020-01-01_sds011_sensor_123.csv, gzip allowed)", exists=True
        ),
    ],
    source: Annotated[
        str | None, typer.Option("--source", help="where the files come from (default: the archive)")
    ] = None,
    licence: Annotated[
        str | None, typer.Option("--licence", help="their licence (default: the archive's, ODbL)")
    ] = None,
    attribution: AttributionOption = None,
    publisher: PublisherOption = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="dataset the new entities go into, made if missing (default: sensor-community; 'none': the "
            "writer's default dataset)"
        ),
    ] = None,
    on_error: OnErrorOption = OnError.skip,
    url: UrlOption = None,
    token: TokenOption = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import sensor.community (luftdaten) archive CSVs; importing a file again adds nothing.

    One Thing per location, one Sensor per sensor, one Datastream per sensor and measured value.
    """
    from urbantwin.ingest.provenance import chosen_dataset
    from urbantwin.ingest.sensorcommunity import import_sensor_community, sensor_community_provenance

    provenance = sensor_community_provenance(
        source, licence, attribution, publisher, chosen_dataset(dataset, "sensor-community")
    )
    _run_import(
        _client(url, token, database_url, config),
        lambda client: import_sensor_community(client, files, on_error=on_error, provenance=provenance),
        aborted="nothing of that file was written",
    )


SourceOption = Annotated[
    str | None, typer.Option("--source", help="where the data come from (stored with every entity)")
]
LicenceOption = Annotated[
    str | None, typer.Option("--licence", help="the licence as the source states it, e.g. 'dl-de/by-2-0'")
]
AttributionOption = Annotated[str | None, typer.Option(help="the attribution the licence asks for")]
PublisherOption = Annotated[
    str | None,
    typer.Option(
        "--publisher", help="organisation id publishing the dataset (add it first: urbantwin org add)"
    ),
]


def _take(pairs: list[str] | None) -> dict[str, str]:
    chosen = {}
    for pair in pairs or []:
        component, _, column = pair.partition("=")
        if not component.strip() or not column.strip():
            raise typer.BadParameter(f"--take: expected COMPONENT=COLUMN (e.g. pm10=PM10_TEOM), got {pair!r}")
        chosen[component.strip()] = column.strip()
    return chosen


@sensor_import_app.command("stations")
def stations(
    file: Annotated[
        Path,
        typer.Argument(help="station CSV, long or wide (see docs/imports.md; gzip allowed)", exists=True),
    ],
    stations_file: Annotated[
        Path,
        typer.Option("--stations", help="GeoJSON points of the stations, named as in the CSV", exists=True),
    ],
    preset: Annotated[
        str | None,
        typer.Option(
            help="a publisher's export format: lfulg (Saxony's agency: Datum+Zeit in MEZ, end of hour "
            "stamped, network LfULG); options given override it"
        ),
    ] = None,
    network: Annotated[
        str | None, typer.Option(help="measuring network; part of every key (default: the preset's)")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="zone of times without offset whose column does not say UTC/MEZ: an IANA name or an "
            "offset such as +01:00 (default Europe/Berlin, or the preset's)"
        ),
    ] = None,
    stamp: Annotated[
        str | None,
        typer.Option(
            help="a time marks the 'start' or the 'end' of its hour (or day); unstated, an hourly value "
            "is stored at its stamp (default: the preset's)"
        ),
    ] = None,
    take: Annotated[
        list[str] | None,
        typer.Option(help="COMPONENT=COLUMN: the column to import of a component given twice (repeatable)"),
    ] = None,
    station: Annotated[str | None, typer.Option(help="the station of a file without station column")] = None,
    station_property: Annotated[str, typer.Option(help="GeoJSON property with the station name")] = "name",
    daily: Annotated[
        list[str] | None,
        typer.Option(help="component whose values are daily means (repeatable; else inferred)"),
    ] = None,
    source: SourceOption = None,
    licence: LicenceOption = None,
    attribution: AttributionOption = None,
    publisher: PublisherOption = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="dataset the new entities go into, made if missing (default: <network>-stations; "
            "'none': the writer's default dataset)"
        ),
    ] = None,
    on_error: OnErrorOption = OnError.skip,
    url: UrlOption = None,
    token: TokenOption = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import an hourly station CSV (long or wide, e.g. a state agency's export); importing it again
    adds nothing.

    One Thing per station, one Datastream per component; a newer file adds only what is new. The
    format, the presets and the stamping convention are documented in docs/imports.md.
    """
    from urbantwin.ingest.provenance import Provenance, chosen_dataset
    from urbantwin.ingest.stations import StationOptions, default_dataset, import_stations
    from urbantwin.ingest.vocabulary import component_code

    codes = []
    for name in daily or []:
        code = component_code(name)
        if code is None:
            raise typer.BadParameter(f"--daily: unknown component {name!r}")
        codes.append(code)
    if stamp is not None and stamp not in ("start", "end"):
        raise typer.BadParameter(f"--stamp: 'start' or 'end', not {stamp!r}")
    given: dict[str, Any] = {
        "network": network,
        "timezone": timezone,
        "stamp": stamp,
        "station": station,
        "station_property": station_property,
        "take": _take(take),
        "daily": frozenset(codes),
        "on_error": on_error,
    }
    try:
        if preset is not None:
            options = StationOptions.preset(preset, **given)
        else:
            if network is None:
                raise ValueError(
                    "name the measuring network with --network (part of every key), or a --preset"
                )
            options = StationOptions(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    options.provenance = Provenance(
        source=source,
        licence=licence,
        attribution=attribution,
        publisher=publisher,
        dataset=chosen_dataset(dataset, default_dataset(options.network)),
        title=f"{options.network} air quality stations",
        description=f"Measurements of the {options.network} stations, imported from station files.",
        themes=("ENVI",),
    )
    _run_import(
        _client(url, token, database_url, config),
        lambda client: import_stations(client, file, stations_file, options),
    )


@sensor_import_app.command("cams")
def cams(
    file: Annotated[
        Path,
        typer.Argument(help="CAMS forecast CSV: date and one column per model (gzip allowed)", exists=True),
    ],
    station: Annotated[str, typer.Option(help="the station the forecasts are for")],
    stations_file: Annotated[
        Path,
        typer.Option("--stations", help="GeoJSON points of the stations, named as --station", exists=True),
    ],
    network: Annotated[str, typer.Option(help="measuring network of the station's Thing (as imported)")],
    component: Annotated[str, typer.Option(help="the pollutant of the file")] = "pm25",
    source: Annotated[
        str | None, typer.Option("--source", help="where the forecasts come from (default: CAMS)")
    ] = None,
    licence: Annotated[
        str | None, typer.Option("--licence", help="their licence (default: the Copernicus licence)")
    ] = None,
    attribution: Annotated[
        str | None,
        typer.Option(help="attribution (default: 'Contains modified Copernicus … information [<year>]')"),
    ] = None,
    publisher: PublisherOption = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="dataset of the forecasts, made if missing (default: cams-forecasts)"),
    ] = None,
    on_error: OnErrorOption = OnError.skip,
    url: UrlOption = None,
    token: TokenOption = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import CAMS air quality forecasts (model data) at a station; importing again adds nothing.

    One Datastream per model on the station's Thing, labelled as model forecasts, in a dataset of
    their own under the Copernicus licence and attribution.
    """
    from urbantwin.ingest.cams import CAMS_DATASET, CamsOptions, cams_provenance, import_cams
    from urbantwin.ingest.provenance import chosen_dataset

    forecasts = chosen_dataset(dataset, CAMS_DATASET)
    if forecasts is None:
        raise typer.BadParameter(
            "forecasts are model data: they go into a dataset of their own, not the station's",
            param_hint="--dataset",
        )

    options = CamsOptions(
        station=station,
        component=component,
        network=network,
        provenance=cams_provenance(source, licence, attribution, publisher, forecasts),
        on_error=on_error,
    )
    _run_import(
        _client(url, token, database_url, config),
        lambda client: import_cams(client, file, stations_file, options),
    )


@sensor_import_app.command("things")
def things(
    table: Annotated[
        Path, typer.Argument(help="a table: CSV (gzip too), XLSX or GeoJSON, one row per Thing", exists=True)
    ],
    mapping: Annotated[
        Path,
        typer.Option(
            help="TOML file: which columns make the Thing and its Datastreams (docs/imports.md)", exists=True
        ),
    ],
    source: SourceOption = None,
    licence: LicenceOption = None,
    attribution: AttributionOption = None,
    publisher: PublisherOption = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="dataset the new Things go into, made if missing (default: the mapping's namespace)"
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Make Things, Locations and Datastreams from the rows of a table (a register of charging points,
    sensors, sites); importing it again creates nothing.

    The mapping file names the id column (the import key), name, description, properties, position
    (lon/lat, Längengrad/Breitengrad, Rechtswert/Hochwert, x/y, WKT or GeoJSON geometry) and the
    Datastreams of each row; with a [features] table the rows become features of a collection too.
    """
    from urbantwin.ingest.provenance import Provenance, chosen_dataset
    from urbantwin.ingest.things import import_things, read_mapping

    try:
        checked = read_mapping(mapping)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mapping") from None
    provenance = Provenance(
        source=source,
        licence=licence,
        attribution=attribution,
        publisher=publisher,
        dataset=chosen_dataset(dataset, checked.namespace),
        title=f"{checked.namespace} ({table.name})",
        description=f"Things imported from the table {table.name}.",
    )
    _run_import(
        _client(url, token, database_url, config),
        lambda client: import_things(client, table, checked, provenance),
    )


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise typer.BadParameter(
            f"{option}: {value!r} is not an ISO 8601 time (e.g. 2014-10-01T00:00Z)"
        ) from None


def _targets(pairs: list[str] | None) -> dict[int, int]:
    targets = {}
    for pair in pairs or []:
        source, _, target = pair.partition("=")
        if not (source.strip().isdigit() and target.strip().isdigit()):
            raise typer.BadParameter(f"--target: expected SOURCE=TARGET Datastream ids, got {pair!r}")
        targets[int(source)] = int(target)
    return targets


def replay(
    datastream: Annotated[
        list[int] | None, typer.Option("--datastream", "-d", help="a Datastream id to replay (repeatable)")
    ] = None,
    thing: Annotated[
        list[int] | None,
        typer.Option("--thing", "-t", help="replay every Datastream of this Thing (repeatable)"),
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="replay every Datastream")] = False,
    start: Annotated[
        str | None, typer.Option("--from", help="source window start, ISO 8601 (default: the first)")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="source window end, exclusive (default: now)")
    ] = None,
    speed: Annotated[float, typer.Option(help="seconds of history per second (60: an hour a minute)")] = 60.0,
    rate: Annotated[
        float | None, typer.Option(help="a fixed pace in observations per second instead of --speed")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(help="SOURCE=TARGET: write Datastream SOURCE's replay into TARGET (default: itself)"),
    ] = None,
    loop: Annotated[bool, typer.Option(help="start over at the end of the window, until Ctrl-C")] = False,
    limit: Annotated[int | None, typer.Option(help="stop after this many observations")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Stream stored history into the platform again, so a demo shows live data without internet.

    New Observations are timestamped now and labelled in parameters.synthetic and parameters.replay.

    Writes into the local store by default; with --url into a running server (for a live demo).

    Ctrl-C stops it.
    """
    from urbantwin.ingest.replay import ReplayOptions, select_datastreams
    from urbantwin.ingest.replay import replay as run

    if not (datastream or thing or everything):
        raise typer.BadParameter("choose what to replay: --datastream ID, --thing ID or --all")
    try:
        options = ReplayOptions(
            start=_time(start, "--from"),
            end=_time(end, "--to"),
            speed=speed,
            rate=rate,
            targets=_targets(target),
            loop=loop,
            limit=limit,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    client = _client(url, token, database_url, config)
    try:
        chosen = select_datastreams(client, datastream or [], thing or [], everything)
        if not chosen:
            typer.echo("Nothing to replay: the selection has no Datastreams.", err=True)
            raise typer.Exit(1)
        pace = f"{rate:g} observations/s" if rate is not None else f"speed ×{speed:g}"
        typer.echo(f"Replaying {len(chosen)} Datastream(s) into {client.describe()} at {pace}; Ctrl-C stops.")
        with tqdm(total=limit, unit="obs", desc="replay") as bar:
            report = run(client, chosen, options, on_posted=lambda _: bar.update(1))
    except (ValueError, ClientError) as exc:
        typer.echo(f"Replay failed: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    typer.echo(report.summary())
