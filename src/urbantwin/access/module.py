"""Access administration's declaration in the module registry (see `urbantwin.module`): the admin
and self-service API, the `org`, `user`, `group`, `token`, `dataset`, `mqtt` and `audit` commands,
and the broker's accounts kept in step (access/broker.py). The policy point itself
(`access/policy.py`) is no module's: the app builds it for all of them."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import typer

from urbantwin.module import Context, Module, Mounted

if TYPE_CHECKING:
    from urbantwin.access.manage import AccessAdmin


def mount(context: Context) -> Mounted:
    from urbantwin.access.broker import BrokerAccounts
    from urbantwin.access.manage import AccessAdmin
    from urbantwin.access.routes import build_router

    broker = BrokerAccounts.of(context.settings)
    admin = AccessAdmin(context.engine, context.access.audit, broker)
    if broker is None:
        return Mounted(routers=[build_router()], state={"access_admin": admin})
    keeper = BrokerKeeper(admin)
    return Mounted(
        routers=[build_router()], start=keeper.start, stop=keeper.stop, state={"access_admin": admin}
    )


class BrokerKeeper:
    """Brings the broker's accounts in step when the server starts and every minute: what the
    admin changes write at once may have missed a broker that was away, and tokens expire."""

    INTERVAL = 60.0

    def __init__(self, admin: AccessAdmin) -> None:
        self.admin = admin
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="urbantwin-broker-accounts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.admin.sync_broker()
            if self._stop.wait(self.INTERVAL):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None


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
