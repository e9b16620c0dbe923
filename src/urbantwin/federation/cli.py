"""`urbantwin remote …`: partner endpoints registered, listed, removed, mirrored and harvested."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from urbantwin.federation.service import FederationService
    from urbantwin.settings import Settings

remote_app = typer.Typer(
    help="Other cities' platforms: register their endpoints, mirror, harvest.", no_args_is_help=True
)


def _service(settings: Settings, engine: Engine) -> FederationService:
    from urbantwin.access.bootstrap import ensure_defaults
    from urbantwin.access.gate import Access
    from urbantwin.federation.service import FederationService
    from urbantwin.sensorthings.service import SensorThingsService

    ensure_defaults(engine, settings)
    access = Access.of(engine, settings)
    return FederationService(engine, settings, access, SensorThingsService(engine, settings, access))


@remote_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="short name, e.g. hamburg-sta")],
    url: Annotated[
        str, typer.Argument(help="the endpoint's root URL (…/v1.1, an OGC API landing page, a catalogue)")
    ],
    kind: Annotated[str, typer.Option(help="sensorthings | ogcapi | dcat")],
    attribution: Annotated[str, typer.Option(help="whom the data is from, shown beside it")],
    licence: Annotated[str, typer.Option(help="the licence of the partner's data, e.g. dl-de/by-2-0")],
    title: Annotated[str | None, typer.Option(help="a title (default: the name)")] = None,
    access_level: Annotated[
        str, typer.Option(help="who may read what is mirrored: open, registered, partner, internal")
    ] = "open",
    rate: Annotated[float, typer.Option(help="at most so many requests a second to the partner")] = 10.0,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Register a partner endpoint."""
    from urbantwin.access.gate import Caller

    with open_store(config, database_url) as (settings, engine), reported():
        remote = _service(settings, engine).registry.add(
            Caller.system(),
            name,
            url,
            kind,
            title=title,
            attribution=attribution,
            licence=licence,
            access_level=access_level,
            requests_per_second=rate,
        )
        typer.echo(
            f"Remote {remote.name!r} ({remote.kind}) at {remote.url}; data joins {remote.dataset_id!r}."
        )


@remote_app.command("list")
def listing(
    as_json: Annotated[bool, typer.Option("--json", help="as JSON")] = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """The registered partners with their health and last sync."""
    from urbantwin.access.gate import Caller

    with open_store(config, database_url) as (settings, engine), reported():
        found = _service(settings, engine).registry.listing(Caller.system())
        if as_json:
            typer.echo(json.dumps([r.document() for r in found], indent=2, ensure_ascii=False))
            return
        for remote in found:
            synced = remote.last_sync.isoformat() if remote.last_sync else "never"
            line = f"{remote.name}\t{remote.kind}\t{remote.url}\t{remote.health}\tlast sync {synced}"
            typer.echo(line + (f"\t{remote.last_error}" if remote.last_error else ""))


@remote_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="the partner's name")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Forget a partner (what was mirrored from it stays in its dataset)."""
    from urbantwin.access.gate import Caller

    with open_store(config, database_url) as (settings, engine), reported():
        _service(settings, engine).registry.remove(Caller.system(), name)
        typer.echo(f"Remote {name!r} removed.")


@remote_app.command("mirror")
def mirror(
    name: Annotated[str, typer.Argument(help="the partner's name (a sensorthings remote)")],
    datastream: Annotated[
        list[str] | None,
        typer.Option("--datastream", "-d", help="a remote Datastream id to add (repeatable)"),
    ] = None,
    where: Annotated[
        str | None, typer.Option("--filter", help="add the remote Datastreams this $filter selects")
    ] = None,
    cursor_field: Annotated[str, typer.Option(help="phenomenonTime or resultTime")] = "phenomenonTime",
    page: Annotated[int, typer.Option(help="Observations asked per request", min=1, max=100_000)] = 10_000,
    follow: Annotated[
        bool | None,
        typer.Option(
            "--follow/--no-follow",
            help="follow the mirrored Datastreams live over the partner's MQTT topics (a server does)",
        ),
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            help="the partner's broker, mqtt://host:port[/topic prefix/] (default: the one it names)"
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Add Datastreams to mirror (if given) and bring every mirrored one up to date (resumable)."""
    from urbantwin.access.gate import Caller

    with open_store(config, database_url) as (settings, engine), reported():
        report = _service(settings, engine).mirror(
            Caller.system(),
            name,
            ids=datastream,
            where=where,
            cursor_field=cursor_field,
            page=page,
            follow=follow,
            mqtt_url=mqtt_url,
        )
        typer.echo(report.summary())
        if follow is not None:
            typer.echo(f"Followed live by a running server: {'yes' if follow else 'no'}.")
        if report.errors:
            raise typer.Exit(1)


@remote_app.command("harvest")
def harvest(
    name: Annotated[str, typer.Argument(help="the partner's name (a dcat remote)")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Harvest a partner's DCAT catalogue (again: only what changed is written)."""
    from urbantwin.access.gate import Caller

    with open_store(config, database_url) as (settings, engine), reported():
        report = _service(settings, engine).harvest(Caller.system(), name)
        typer.echo(report.summary())
        if report.errors:
            raise typer.Exit(1)
