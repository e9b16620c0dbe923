"""`urbantwin indicators …`: load a city's registry of indicators and targets, and bring the
computed values up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported

indicators_app = typer.Typer(help="Goals and indicators (Zielüberprüfung).", no_args_is_help=True)


@indicators_app.command("load")
def load(
    registry: Annotated[
        Path, typer.Argument(help="a TOML file of [[indicator]] tables (docs/indicators.md)")
    ],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Replace the registry of indicators and targets with the file's, then compute the indicators."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.indicators.registry import load_registry
    from urbantwin.indicators.service import build
    from urbantwin.store.city import read_profile

    with open_store(config, database_url) as (settings, engine), reported():
        service = build(engine, settings, Access.of(engine, settings), read_profile(engine))
        counts = service.load(Caller.system("urbantwin indicators load"), load_registry(registry))
        computed = service.refresh()
        typer.echo(
            f"Loaded {counts['indicators']} indicators ({counts['removed']} removed); "
            f"computed {len(computed)}."
        )


@indicators_app.command("update")
def update(
    force: Annotated[bool, typer.Option(help="compute every indicator, changed data or not")] = False,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Compute again the indicators whose data changed (every one with --force)."""
    from urbantwin.access.gate import Access
    from urbantwin.indicators.service import build
    from urbantwin.store.city import read_profile

    with open_store(config, database_url) as (settings, engine), reported():
        service = build(engine, settings, Access.of(engine, settings), read_profile(engine))
        computed = service.refresh(force=force)
        typer.echo(f"Computed {len(computed)} indicators: {', '.join(computed) or 'none changed'}.")
