"""Access administration's declaration in the module registry (see `urbantwin.module`): the admin
and self-service API, the `org`, `user`, `group`, `token`, `dataset`, `mqtt` and `audit` commands,
and the broker's accounts kept in step (access/broker.py). The policy point itself
(`access/policy.py`) is no module's: the app builds it for all of them."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted
from urbantwin.periodic import Periodic

BROKER_SYNC_SECONDS = 60.0


def mount(context: Context) -> Mounted:
    from urbantwin.access.broker import BrokerAccounts
    from urbantwin.access.manage import AccessAdmin
    from urbantwin.access.routes import build_router

    broker = BrokerAccounts.of(context.settings)
    admin = AccessAdmin(context.engine, context.access.audit, broker)
    if broker is None:
        return Mounted(routers=[build_router()], state={"access_admin": admin})
    # What the admin changes write at once may have missed a broker that was away, and tokens
    # expire: the accounts are brought in step when the server starts and every minute.
    keeper = Periodic("urbantwin-broker-accounts", BROKER_SYNC_SECONDS, admin.sync_broker, at_start=True)
    return Mounted(
        routers=[build_router()], start=keeper.start, stop=keeper.stop, state={"access_admin": admin}
    )


def commands(cli: typer.Typer) -> None:
    from urbantwin.access.cli import register

    register(cli)


MODULE = Module(
    name="access",
    summary="Who may see or change what: organisations, users, groups, tokens, datasets, audit at /api/",
    mount=mount,
    cli=commands,
    settings=(
        "admin_token",
        "default_dataset",
        "default_publisher",
        "default_publisher_title",
        "oidc_issuer",
        "oidc_jwks_url",
        "oidc_audience",
        "oidc_groups_claim",
        "mqtt_dynsec_url",
    ),
)
