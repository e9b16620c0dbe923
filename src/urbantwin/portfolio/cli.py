"""`urbantwin portfolio …`: the city's projects in from a JSON file, and the funding overview out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported

portfolio_app = typer.Typer(
    help="The project portfolio: projects, partners and funding.", no_args_is_help=True
)


@portfolio_app.command("import")
def import_projects(
    file: Annotated[Path, typer.Argument(help='a JSON file: {"projects": [...]} (see docs/portfolio.md)')],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Replace the portfolio with the projects of FILE."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.portfolio.service import PortfolioService

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"Error: {file} cannot be read as JSON ({exc})", err=True)
        raise typer.Exit(1) from None
    projects = document.get("projects") if isinstance(document, dict) else document
    with open_store(config, database_url) as (settings, engine), reported():
        service = PortfolioService(engine, Access.of(engine, settings))
        stored = service.replace(Caller.system(f"urbantwin portfolio import {file.name}"), projects)
        typer.echo(f"Stored {stored} projects in the portfolio (/api/portfolio/projects).")


@portfolio_app.command("funding")
def funding(database_url: DatabaseUrl = None, config: Config = None) -> None:
    """Print the funding overview (JSON)."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.portfolio.service import PortfolioService

    with open_store(config, database_url) as (settings, engine), reported():
        overview = PortfolioService(engine, Access.of(engine, settings)).funding(Caller.system())
        typer.echo(json.dumps(overview, ensure_ascii=False, indent=2))
