"""The city profile's declaration in the module registry (see `urbantwin.module`): the `city`
commands. What the profile says is read by the other modules from the store (`store/city.py`)."""

from __future__ import annotations

import typer

from urbantwin.module import Module


def commands(cli: typer.Typer) -> None:
    from urbantwin.city.cli import register

    register(cli)


MODULE = Module(
    name="city",
    summary="The city the platform is for: its profile (`urbantwin city init`)",
    cli=commands,
)
