"""Digital infrastructure's declaration in the module registry (see `urbantwin.module`): the site
registry, Freifunk feeds and LoRaWAN uplinks at /api/infrastructure/ and `urbantwin infrastructure`."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted


def mount(context: Context) -> Mounted:
    from urbantwin.infrastructure.planning import CoveragePlanner
    from urbantwin.infrastructure.routes import build_router, early_routes
    from urbantwin.infrastructure.service import InfrastructureService

    service = InfrastructureService(context.engine, context.settings, context.access, context.sensorthings)
    planner = CoveragePlanner(context.engine, context.settings, context.access)
    return Mounted(
        routers=[build_router()],
        routes=early_routes(),
        stop=service.uplinks.close,
        state={"infrastructure": service, "infrastructure_planner": planner},
    )


def commands(cli: typer.Typer) -> None:
    from urbantwin.infrastructure.cli import infrastructure_app

    cli.add_typer(infrastructure_app, name="infrastructure")


MODULE = Module(
    name="infrastructure",
    summary="Digital infrastructure at /api/infrastructure/: sites of operators' registries, Freifunk "
    "nodes, LoRaWAN uplinks, coverage and gaps per district, siting of new sites and which sensors "
    "reach which gateways; `urbantwin infrastructure`",
    mount=mount,
    catalogue_datasets=("<registry>", "coverage-<id>", "siting-<run>"),
    cli=commands,
    settings=("lorawan_webhook_token",),
    viewer_panels=("infrastructure",),
)
