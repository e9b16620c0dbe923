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
