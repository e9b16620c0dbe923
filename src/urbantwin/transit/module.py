"""Public transport (EfficienCE)'s declaration in the module registry (see `urbantwin.module`): the
`import gtfs` command; the energy model, scenarios and viewer panel follow on its tables."""

from __future__ import annotations

import typer

from urbantwin.module import Module


def commands(cli: typer.Typer) -> None:
    from urbantwin.ingest.cli import import_app
    from urbantwin.transit.cli import gtfs

    if all(command.callback is not gtfs for command in import_app.registered_commands):
        # once: a test may build a second CLI from the same `import` group
        import_app.command("gtfs")(gtfs)


MODULE = Module(
    name="transit",
    summary="Public transport from GTFS feeds: `urbantwin import gtfs` (routes, trips, distances, days)",
    catalogue_datasets=("<feed>-stops", "<feed>-lines"),
    cli=commands,
)
