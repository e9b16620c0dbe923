"""Public transport (EfficienCE)'s declaration in the module registry (see `urbantwin.module`): the
`import gtfs` command, the energy model (`urbantwin transit energy`, /api/transit/) and its
scenario runs (`urbantwin transit scenario run`, `compare`, /api/transit/runs), and the viewer's
transit panel (web/src/transit.js: lines coloured by energy or CO2 per km, a line's hourly profile,
a stop's departures per hour, runs side by side)."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted


def commands(cli: typer.Typer) -> None:
    from urbantwin.ingest.cli import import_app
    from urbantwin.transit.cli import gtfs

    if all(command.callback is not gtfs for command in import_app.registered_commands):
        # once: a test may build a second CLI from the same `import` group
        import_app.command("gtfs")(gtfs)
    from urbantwin.transit.cli import transit_app

    cli.add_typer(transit_app, name="transit")


def mount(context: Context) -> Mounted:
    from urbantwin.transit.energy import TransitEnergy
    from urbantwin.transit.routes import Transit, build_router

    transit = Transit.of(TransitEnergy(context.engine, context.access), context.settings)
    return Mounted(routers=[build_router()], state={"transit": transit})


MODULE = Module(
    name="transit",
    summary="Public transport from GTFS feeds: `urbantwin import gtfs`, the energy model at /api/transit/ "
    "and `urbantwin transit energy`",
    mount=mount,
    catalogue_datasets=("<feed>-stops", "<feed>-lines", "<feed>-service", "transit-run-<id>"),
    cli=commands,
    viewer_panels=("transit",),
)
