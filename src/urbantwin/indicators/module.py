"""Goals and indicators' declaration in the module registry (see `urbantwin.module`): the city's
indicators and targets, their values per year and traffic lights at /api/indicators."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted


def mount(context: Context) -> Mounted:
    from urbantwin.indicators.routes import build_router
    from urbantwin.indicators.service import build

    service = build(context.engine, context.settings, context.access, context.city)
    return Mounted(routers=[build_router()], state={"indicators": service})


def commands(cli: typer.Typer) -> None:
    from urbantwin.indicators.cli import indicators_app

    cli.add_typer(indicators_app, name="indicators")


MODULE = Module(
    name="indicators",
    summary="Goals and indicators (Zielüberprüfung) at /api/indicators: a registry of indicators and "
    "targets (ISO 37120/37122 codes where one fits), values per year computed from the platform's data "
    "when it changes or entered by hand, a traffic light per target; `urbantwin indicators load|update`",
    mount=mount,
    catalogue_datasets=("indicators",),
    cli=commands,
)
