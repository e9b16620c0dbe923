"""Clean air's declaration in the module registry (see `urbantwin.module`): the assessment of
stations against the air quality directives and the European Air Quality Index at /api/air/."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted


def commands(cli: typer.Typer) -> None:
    from urbantwin.airquality.cli import air_app

    cli.add_typer(air_app, name="air")


def mount(context: Context) -> Mounted:
    from urbantwin.airquality import quality_routes
    from urbantwin.airquality.routes import build_router
    from urbantwin.airquality.service import AirService

    service = AirService(context.engine, context.settings, context.access, context.city)
    return Mounted(routers=[build_router(), quality_routes.build_router()], state={"air": service})


MODULE = Module(
    name="airquality",
    summary="Clean air at /api/air/: stations assessed under 2008/50/EC, (EU) 2024/2881 and WHO 2021; "
    "the European Air Quality Index",
    mount=mount,
    cli=commands,
    viewer_panels=("air",),
)
