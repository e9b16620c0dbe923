"""Access administration's declaration in the module registry (see `urbantwin.module`): the admin
and self-service API and the `org`, `user`, `group`, `token`, `dataset` and `audit` commands. The
policy point itself (`access/policy.py`) is no module's: the app builds it for all of them."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted


def mount(context: Context) -> Mounted:
    from urbantwin.access.manage import AccessAdmin
    from urbantwin.access.routes import build_router

    admin = AccessAdmin(context.engine, context.access.audit)
    return Mounted(routers=[build_router()], state={"access_admin": admin})


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
    ),
)
