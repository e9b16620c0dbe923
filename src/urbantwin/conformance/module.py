"""The conformance checker's declaration in the module registry (see `urbantwin.module`): a command
only, `urbantwin check URL`; it mounts no routes (it is a client of any server, ours included)."""

from __future__ import annotations

import typer

from urbantwin.module import Module


def commands(cli: typer.Typer) -> None:
    from urbantwin.conformance.cli import check

    cli.command("check")(check)


MODULE = Module(
    name="conformance",
    summary="`urbantwin check URL`: a conformance checker of SensorThings API 1.1 and OGC API Features 1-4",
    cli=commands,
)
