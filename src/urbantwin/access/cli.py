"""`urbantwin org|user|group|token|dataset|audit`: managing access from the machine's shell.

Whoever runs these on the server's machine acts as the platform itself (recorded as "system" in
the audit log); the admin API offers the same to administrators over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from urbantwin.access.audit import AuditLog
from urbantwin.access.bootstrap import ensure_defaults
from urbantwin.access.broker import BrokerAccounts, BrokerUnreachable
from urbantwin.access.manage import AccessAdmin
from urbantwin.access.policy import AccessPolicy
from urbantwin.access.principal import SYSTEM
from urbantwin.commandline import Config, DatabaseUrl, settings_from
from urbantwin.errors import BadRequest, PlatformError
from urbantwin.store.access_schema import ORGANISATION_KINDS

org_app = typer.Typer(
    help="Organisations (local, regional and national authorities, companies, research, NGOs, …).",
    no_args_is_help=True,
)
KIND_HELP = f"one of {', '.join(ORGANISATION_KINDS)}: says the catalogue's ADMS publisher type"
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
group_app = typer.Typer(help="Groups (partners who may read partner data).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets: catalogue records and access rules.", no_args_is_help=True)
mqtt_app = typer.Typer(
    help="The MQTT broker's accounts (Mosquitto's dynamic security plugin, URBANTWIN_MQTT_DYNSEC_URL).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    for name, sub in (
        ("org", org_app),
        ("user", user_app),
        ("group", group_app),
        ("token", token_app),
        ("dataset", dataset_app),
        ("mqtt", mqtt_app),
    ):
        app.add_typer(sub, name=name)
    app.command("audit", help="Show the audit log (newest first).")(audit)


def _admin(database_url: str | None, config: Path | None) -> AccessAdmin:
    from urbantwin.store.engine import make_engine, upgrade

    settings = settings_from(config, database_url)
    engine = make_engine(settings)  # for the life of the command
    upgrade(engine)
    ensure_defaults(engine, settings)
    return AccessAdmin(engine, AuditLog(engine), _run(lambda: _broker(settings)))


def _broker(settings: Any) -> BrokerAccounts | None:
    try:
        return BrokerAccounts.of(settings)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _run(action: Any) -> Any:
    try:
        return action()
    except PlatformError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _print(rows: Any) -> None:
    typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))


@org_app.command("add")
def org_add(
    ident: Annotated[str, typer.Argument(help="short id, e.g. stadt-musterstadt")],
    title: Annotated[str, typer.Option(help="full name")],
    kind: Annotated[str, typer.Option(help=KIND_HELP)],
    homepage: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    _run(lambda: admin.add_organisation(SYSTEM, ident, title, kind, homepage, email))
    typer.echo(f"Added organisation {ident}.")


@org_app.command("set")
def org_set(
    ident: Annotated[str, typer.Argument(help="the organisation's id")],
    title: Annotated[str | None, typer.Option(help="full name")] = None,
    kind: Annotated[str | None, typer.Option(help=KIND_HELP)] = None,
    homepage: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    fields = {"title": title, "kind": kind, "homepage": homepage, "email": email}
    _run(
        lambda: admin.update_organisation(SYSTEM, ident, **{k: v for k, v in fields.items() if v is not None})
    )
    typer.echo(f"Changed organisation {ident}.")


@org_app.command("list")
def org_list(database_url: DatabaseUrl = None, config: Config = None) -> None:
    _print(_admin(database_url, config).organisations())


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="reader, contributor, data_steward, administrator")] = "reader",
    organisation: Annotated[str | None, typer.Option(help="organisation id")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    default_dataset: Annotated[
        str | None, typer.Option(help="where their new SensorThings entities go")
    ] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    fields = {"organisation_id": organisation, "email": email, "default_dataset_id": default_dataset}
    _run(lambda: admin.add_user(SYSTEM, name, role, **{k: v for k, v in fields.items() if v is not None}))
    typer.echo(f"Added user {name} ({role}).")


@user_app.command("set")
def user_set(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str | None, typer.Option()] = None,
    organisation: Annotated[str | None, typer.Option()] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    default_dataset: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    fields = {
        "role": role,
        "organisation_id": organisation,
        "active": active,
        "default_dataset_id": default_dataset,
    }
    _run(lambda: admin.update_user(SYSTEM, name, **{k: v for k, v in fields.items() if v is not None}))
    typer.echo(f"Changed user {name}.")


@user_app.command("list")
def user_list(database_url: DatabaseUrl = None, config: Config = None) -> None:
    _print(_admin(database_url, config).users())


@group_app.command("add")
def group_add(
    ident: Annotated[str, typer.Argument()],
    title: Annotated[str, typer.Option()],
    organisation: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    _run(lambda: admin.add_group(SYSTEM, ident, title, organisation))
    typer.echo(f"Added group {ident}.")


@group_app.command("member")
def group_member(
    group: Annotated[str, typer.Argument()],
    user: Annotated[str, typer.Argument()],
    remove: Annotated[bool, typer.Option("--remove", help="take the user out of the group")] = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    _run(lambda: admin.set_membership(SYSTEM, group, user, not remove))
    typer.echo(f"{'Removed' if remove else 'Added'} {user} {'from' if remove else 'to'} {group}.")


@token_app.command("issue")
def token_issue(
    user: Annotated[str, typer.Argument()],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="read, write, admin (repeatable; default: what the role allows but admin)"),
    ] = None,
    days: Annotated[float, typer.Option(help="days until it expires")] = 365,
    name: Annotated[str, typer.Option(help="what the token is for")] = "",
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    issued = _run(lambda: admin.issue_token(SYSTEM, user, scope or None, days, name))
    typer.echo(
        f"Token {issued.id} for {user} ({', '.join(issued.scopes)}), expires {issued.expires:%Y-%m-%d}:"
    )
    typer.echo(issued.token)
    typer.echo("It is shown this once; keep it safe.", err=True)
    if issued.mqtt is False:
        typer.echo(
            "The MQTT broker could not be reached: this token does not sign in there (issue another "
            "once it is back).",
            err=True,
        )


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    _print(_admin(database_url, config).tokens(user))


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument()], database_url: DatabaseUrl = None, config: Config = None
) -> None:
    admin = _admin(database_url, config)
    _run(lambda: admin.revoke_token(SYSTEM, token_id))
    typer.echo(f"Revoked token {token_id}.")


@dataset_app.command("add")
def dataset_add(
    ident: Annotated[str, typer.Argument()],
    title: Annotated[str, typer.Option()],
    licence: Annotated[str, typer.Option(help="dl-by-de/2.0, dl-zero-de/2.0, cc-by/4.0, odbl, …")],
    access: Annotated[str, typer.Option(help="open, registered, partner, internal")] = "open",
    publisher: Annotated[str | None, typer.Option(help="organisation id")] = None,
    theme: Annotated[
        list[str] | None, typer.Option(help="EU data theme code, e.g. ENVI (repeatable)")
    ] = None,
    keyword: Annotated[list[str] | None, typer.Option(help="repeatable")] = None,
    read_group: Annotated[list[str] | None, typer.Option(help="group that may read partner data")] = None,
    writer: Annotated[
        list[str] | None, typer.Option(help="organisation:<id>, group:<id> or user:<name>")
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    fields = {
        "title": title,
        "licence": licence,
        "access_level": access,
        "publisher_id": publisher,
        "themes": theme or [],
        "keywords": keyword or [],
        "read_groups": read_group or [],
        "writers": writer or [],
        "description": description,
    }
    _run(lambda: admin.add_dataset(SYSTEM, ident, **fields))
    typer.echo(f"Added dataset {ident} ({access}).")


@dataset_app.command("set")
def dataset_set(
    ident: Annotated[str, typer.Argument()],
    access: Annotated[str | None, typer.Option(help="open, registered, partner, internal")] = None,
    licence: Annotated[str | None, typer.Option()] = None,
    title: Annotated[str | None, typer.Option()] = None,
    publisher: Annotated[str | None, typer.Option(help="organisation id of the new publisher")] = None,
    read_group: Annotated[list[str] | None, typer.Option()] = None,
    writer: Annotated[list[str] | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    fields = {
        "access_level": access,
        "licence": licence,
        "title": title,
        "publisher_id": publisher,
        "read_groups": read_group,
        "writers": writer,
    }
    _run(lambda: admin.update_dataset(SYSTEM, ident, **{k: v for k, v in fields.items() if v is not None}))
    typer.echo(f"Changed dataset {ident}.")


@dataset_app.command("move")
def dataset_move(
    ident: Annotated[str, typer.Argument(help="the dataset to move into")],
    entity_set: Annotated[str, typer.Argument(help="Things, Datastreams, Sensors, …")],
    ids: Annotated[list[int], typer.Argument()],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    admin = _admin(database_url, config)
    policy = AccessPolicy(settings_from(config, database_url))
    changed = _run(lambda: admin.move(SYSTEM, policy, ident, entity_set, ids))
    typer.echo(f"Moved {changed} entities into {ident}.")


@dataset_app.command("list")
def dataset_list(database_url: DatabaseUrl = None, config: Config = None) -> None:
    _print(_admin(database_url, config).datasets())


def audit(
    principal: Annotated[str | None, typer.Option()] = None,
    dataset: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    _print(_admin(database_url, config).audit_records(principal, dataset, limit=limit))


@mqtt_app.command("sync")
def mqtt_sync(database_url: DatabaseUrl = None, config: Config = None) -> None:
    """Write the broker's roles (one per access level, organisation and group, with the datasets
    each may read), its anonymous group and every token's client's roles; delete the clients of
    tokens no longer valid."""
    admin = _admin(database_url, config)
    if admin.broker is None:
        typer.echo(
            "Error: URBANTWIN_MQTT_DYNSEC_URL is not set: the broker's accounts are not managed", err=True
        )
        raise typer.Exit(1)
    try:
        report = admin.broker.sync(admin.engine)
    except BrokerUnreachable as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"Roles written: {len(report.roles_written)}, deleted: {len(report.roles_deleted)}; clients "
        f"updated: {len(report.clients_updated)}, deleted: {len(report.clients_deleted)}."
    )
    if report.without_credential:
        typer.echo(
            f"{len(report.without_credential)} valid token(s) have no client at the broker "
            f"({', '.join(report.without_credential)}): they were issued while it was unreachable or "
            "unmanaged, and their owners need new tokens to sign in over MQTT.",
            err=True,
        )
