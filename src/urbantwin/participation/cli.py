"""`urbantwin participation …`: a person's data on request (export, deletion), by contact address."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported

participation_app = typer.Typer(help="Participation: ideas and procedures on the map.", no_args_is_help=True)
personal_app = typer.Typer(help="A person's data on request, by their contact address.", no_args_is_help=True)
participation_app.add_typer(personal_app, name="personal-data")

Contact = Annotated[str, typer.Argument(help="the e-mail address the person gave as contact")]


@personal_app.command("export")
def export(contact: Contact, database_url: DatabaseUrl = None, config: Config = None) -> None:
    """Print everything stored under CONTACT (JSON)."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.participation.privacy import PersonalData

    with open_store(config, database_url) as (settings, engine), reported():
        found = PersonalData(engine, Access.of(engine, settings)).export(
            Caller.system("urbantwin participation personal-data export"), contact
        )
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))


@personal_app.command("delete")
def delete(contact: Contact, database_url: DatabaseUrl = None, config: Config = None) -> None:
    """Delete everything stored under CONTACT (ideas and contributions, with comments and votes)."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.participation.privacy import PersonalData

    with open_store(config, database_url) as (settings, engine), reported():
        gone = PersonalData(engine, Access.of(engine, settings)).delete(
            Caller.system("urbantwin participation personal-data delete"), contact
        )
        typer.echo(f"Deleted {gone['ideas']} ideas and {gone['contributions']} contributions.")
