"""The importers' declaration in the module registry (see `urbantwin.module`): no routes, the
`import …` and `replay` commands."""

from __future__ import annotations

import typer

from urbantwin.module import Module


def commands(cli: typer.Typer) -> None:
    from urbantwin.ingest.cli import import_app
    from urbantwin.ingest.sensors_cli import replay, sensor_import_app

    if all(group.typer_instance is not sensor_import_app for group in import_app.registered_groups):
        # `import sensor-community`, `import stations`, `import cams` (once: a test may build a second CLI)
        import_app.add_typer(sensor_import_app)
    cli.add_typer(import_app, name="import")
    cli.command("replay")(replay)


MODULE = Module(
    name="ingest",
    summary="Importers of files and connectors to remote APIs: `urbantwin import …`, `urbantwin replay`",
    cli=commands,
)
