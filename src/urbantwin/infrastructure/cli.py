"""`urbantwin infrastructure …`: operators' site lists in, Freifunk node feeds polled, LoRaWAN
devices' fields mapped, and which sensors reach which gateways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported
from urbantwin.ingest.cli import Licence, Publisher

infrastructure_app = typer.Typer(
    help="Digital infrastructure: sites, Freifunk feeds, LoRaWAN devices and their gateways.",
    no_args_is_help=True,
)
lorawan_app = typer.Typer(
    help="LoRaWAN devices: which Datastream each decoded field feeds.", no_args_is_help=True
)
infrastructure_app.add_typer(lorawan_app, name="lorawan")


@infrastructure_app.command("sites")
def sites(
    file: Annotated[Path, typer.Argument(help="an operator's list of sites: CSV, XLSX or GeoJSON")],
    mapping: Annotated[Path, typer.Option(help="the mapping TOML (columns, registry, access level)")],
    publisher: Publisher = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import an operator's list of sites as a registry (replacing its sites)."""
    from urbantwin.infrastructure.sites import import_sites, read_site_mapping

    with open_store(config, database_url) as (_, engine), reported():
        try:
            checked = read_site_mapping(mapping)
            report = import_sites(engine, file, checked, publisher=publisher)
        except ValueError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"Registry {checked.collection!r}: {report.summary()}.")


@infrastructure_app.command("freifunk")
def freifunk(
    source: Annotated[str, typer.Argument(help="a meshviewer.json or nodes.json: its URL or a file")],
    registry: Annotated[
        str, typer.Option(help="the collection (registry) id of the nodes")
    ] = "freifunk-nodes",
    operator: Annotated[str, typer.Option(help="the community, named as operator")] = "Freifunk",
    every: Annotated[
        float | None, typer.Option(help="poll again every SECONDS (default: once)", min=10)
    ] = None,
    licence: Licence = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Load a Freifunk community's nodes as WLAN sites and their client counts as Observations."""
    from urbantwin.infrastructure.freifunk import load_nodes, poll
    from urbantwin.ingest.sta_client import LocalClient

    with open_store(config, database_url) as (settings, engine), reported():
        client = LocalClient(engine, settings)
        try:
            poll(
                source,
                every,
                lambda snapshot, nodes: load_nodes(
                    engine,
                    client,
                    snapshot,
                    nodes,
                    collection=registry,
                    operator=operator,
                    source=source,
                    licence=licence,
                ),
                typer.echo,
                depth=settings.max_json_depth,
            )
        except (OSError, ValueError) as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            pass
        finally:
            client.close()


@lorawan_app.command("map")
def lorawan_map(
    dev_eui: Annotated[str, typer.Argument(help="the device's DevEUI (16 hex digits)")],
    fields: Annotated[list[str], typer.Argument(help="FIELD=DATASTREAM_ID, e.g. temperature=12")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Set which Datastream each decoded field of a device feeds (replacing what was set)."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.infrastructure.service import InfrastructureService
    from urbantwin.sensorthings.service import SensorThingsService

    pairs: dict[str, int] = {}
    for item in fields:
        name, _, ident = item.partition("=")
        if not name or not ident.strip().isdigit():
            raise typer.BadParameter(f"{item!r}: expected FIELD=DATASTREAM_ID, e.g. temperature=12")
        pairs[name] = int(ident)
    with open_store(config, database_url) as (settings, engine), reported():
        service = InfrastructureService(
            engine, settings, Access.of(engine, settings), SensorThingsService(engine, settings)
        )
        done = service.map_device(Caller.system(), dev_eui, pairs)
        typer.echo(
            f"{done['dev_eui']}: {', '.join(f'{k} -> Datastream {v}' for k, v in done['fields'].items())}"
        )


@lorawan_app.command("coverage")
def lorawan_coverage(
    since: Annotated[str | None, typer.Option(help="only uplinks from this time on (ISO 8601)")] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Which sensors reach which gateways (JSON): devices with one gateway in reach are flagged."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.infrastructure.service import InfrastructureService
    from urbantwin.sensorthings.service import SensorThingsService

    with open_store(config, database_url) as (settings, engine), reported():
        service = InfrastructureService(
            engine, settings, Access.of(engine, settings), SensorThingsService(engine, settings)
        )
        typer.echo(json.dumps(service.coverage(Caller.system(), since), indent=2))


_Band = Annotated[str | None, typer.Option(help="radio band: wlan-2.4, wlan-5, lora-868, 5g-3.6")]
_Technology = Annotated[
    str | None, typer.Option(help="site technology, modelled in its default band where no --band is given")
]
_Resolution = Annotated[float, typer.Option(help="grid cell size in metres")]
_Bbox = Annotated[
    str | None, typer.Option(help="minlon,minlat,maxlon,maxlat (default: the buildings' extent)")
]
_Buildings = Annotated[str, typer.Option(help="the collection of buildings (footprints and heights)")]
_Districts = Annotated[str | None, typer.Option(help="the district collection of the city profile")]
_Out = Annotated[Path | None, typer.Option(help="write the whole answer (JSON) to this file")]


def _planner(engine, settings):  # noqa: ANN001, ANN202 - typed where it is used
    from urbantwin.access.gate import Access
    from urbantwin.infrastructure.planning import CoveragePlanner

    return CoveragePlanner(engine, settings, Access.of(engine, settings))


def _write(out: Path | None, document: dict) -> None:
    if out is not None:
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        typer.echo(f"Written: {out}")


def _district_lines(document: dict) -> None:
    total = document["total"]
    typer.echo(
        f"{document['band']['id']}: {document['sites']} sites, grid {document['grid']['cells']:,} cells at "
        f"{document['grid']['resolution_m']:g} m; covered {total['covered_area_km2']:.3f} of "
        f"{total['area_km2']:.3f} km², {total['covered_population']:,.0f} of "
        f"{total['population_in_area']:,.0f} people"
    )
    for row in document["districts"]:
        share = row["covered_population_share"]
        typer.echo(
            f"  {row['name']}: {row['covered_population']:,.0f} of {row['population_in_area']:,.0f} people "
            f"({'–' if share is None else f'{share:.0%}'}), {row['covered_area_share']:.0%} of the area "
            f"[{row['placement']}]"
        )


@infrastructure_app.command("coverage")
def coverage(
    band: _Band = None,
    technology: _Technology = None,
    resolution: _Resolution = 10.0,
    bbox: _Bbox = None,
    buildings: _Buildings = "buildings",
    districts: _Districts = None,
    gaps: Annotated[bool, typer.Option(help="add the gap map (GeoJSON) to --out")] = False,
    calibrated: Annotated[bool, typer.Option(help="fit the band to measured RSSI of uplinks first")] = False,
    store: Annotated[
        bool, typer.Option(help="store the result as a scenario dataset (districts, gaps, covered area)")
    ] = False,
    title: Annotated[str | None, typer.Option(help="the stored scenario's title")] = None,
    out: _Out = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Coverage of a band's sites with building obstruction: covered area and people per district."""
    from urbantwin.access.gate import Caller
    from urbantwin.infrastructure.planning import options_of

    with open_store(config, database_url) as (settings, engine), reported():
        options = options_of(
            band=band,
            technology=technology,
            resolution=resolution,
            bbox=bbox,
            buildings=buildings,
            districts=districts,
        )
        planner = _planner(engine, settings)
        if store:
            document = planner.store_coverage(Caller.system(), options, calibrated, title)
        else:
            document = planner.coverage(Caller.system(), options, "gaps" if gaps else "none", calibrated)
        _district_lines(document)
        if document.get("calibration"):
            fit = document["calibration"]
            typer.echo(
                f"Calibrated on {fit['pairs']} measurements: offset {fit['offset_db']:+.1f} dB, exponent "
                f"{fit['exponent']:.2f}; error {fit['rmse_before_db']:.1f} dB before, "
                f"{fit['rmse_after_db']:.1f} dB after"
            )
        if "scenario" in document:
            typer.echo(f"Scenario dataset: {document['scenario']['id']}")
        _write(out, document)


@infrastructure_app.command("siting")
def siting_command(
    candidates: Annotated[str, typer.Argument(help="the collection of candidate carriers (points)")],
    k: Annotated[int, typer.Option("--k", help="new sites to choose")] = 10,
    band: _Band = None,
    technology: _Technology = None,
    resolution: _Resolution = 10.0,
    bbox: _Bbox = None,
    buildings: _Buildings = "buildings",
    districts: _Districts = None,
    method: Annotated[str, typer.Option(help="greedy, exact (HiGHS) or both")] = "greedy",
    budget: Annotated[float | None, typer.Option(help="the budget, in the unit of --cost-property")] = None,
    cost_property: Annotated[str | None, typer.Option(help="the candidates' property of their cost")] = None,
    time_limit: Annotated[float, typer.Option(help="of the exact programme, seconds")] = 60.0,
    store: Annotated[bool, typer.Option(help="store the result as a scenario dataset")] = True,
    title: Annotated[str | None, typer.Option(help="the scenario's title")] = None,
    out: _Out = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Choose K new sites among candidate carriers to cover the most people not covered today."""
    from urbantwin.access.gate import Caller
    from urbantwin.infrastructure.planning import options_of

    with open_store(config, database_url) as (settings, engine), reported():
        options = options_of(
            band=band,
            technology=technology,
            resolution=resolution,
            bbox=bbox,
            buildings=buildings,
            districts=districts,
        )
        document = _planner(engine, settings).siting(
            Caller.system(),
            options,
            candidates=candidates,
            k=k,
            budget=budget,
            cost_property=cost_property,
            method=method,
            time_limit=time_limit,
            store=store,
            title=title,
        )
        typer.echo(f"Not covered today: {document['uncovered_population']:,.0f} people")
        for name, result in document["results"].items():
            proven = {True: ", optimal", False: ", not proven optimal", None: ""}[result["optimal"]]
            typer.echo(
                f"{name}: {len(result['sites'])} sites cover {result['value']:,.0f} more people "
                f"in {result['seconds']:.2f} s{proven}"
            )
            for site in result["sites"]:
                typer.echo(f"  {site['rank']:>3}. {site['candidate']}: +{site['gain_people']:,.0f}")
        if "greedy_to_exact" in document:
            typer.echo(f"greedy / exact = {document['greedy_to_exact']:.4f}")
        if "scenario" in document:
            typer.echo(f"Scenario dataset: {document['scenario']['id']}")
        _write(out, document)


@lorawan_app.command("reach")
def lorawan_reach(
    sensors: Annotated[str, typer.Argument(help="the collection of sensor positions (points)")],
    band: _Band = "lora-868",
    resolution: _Resolution = 5.0,
    bbox: _Bbox = None,
    buildings: _Buildings = "buildings",
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Which sensors the model puts in reach of which gateways (JSON); one gateway only is flagged."""
    from urbantwin.access.gate import Caller
    from urbantwin.infrastructure.planning import options_of

    with open_store(config, database_url) as (settings, engine), reported():
        options = options_of(band=band, resolution=resolution, bbox=bbox, buildings=buildings)
        document = _planner(engine, settings).reach(Caller.system(), options, sensors)
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
