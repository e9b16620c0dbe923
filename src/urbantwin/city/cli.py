"""`urbantwin city init|show`: the city a platform is for, from its profile (docs/new-city.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported

city_app = typer.Typer(
    help="The city the platform is for: its profile (docs/new-city.md).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(city_app, name="city")


@city_app.command("init")
def init(
    profile: Annotated[Path, typer.Argument(help="the city's profile (TOML)")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Set the platform up for the city of PROFILE: store the profile, make its publisher and the
    default dataset. Run again after changing the profile; restart a running server to apply it."""
    from urbantwin.city.setup import init_city
    from urbantwin.city_profile import load_profile

    with reported(), open_store(config, database_url, migrate=False) as (settings, engine):
        city = load_profile(profile)
        done = init_city(engine, settings, city)  # migrates the store itself
    served = ", ".join(city.served_crs())
    typer.echo(f"The platform is set up for {city.name} ({city.id}).")
    publisher = "made" if done.publisher_created else "brought up to the profile"
    moved = " (handed over to it)" if done.default_dataset_moved else ""
    typer.echo(f"Publisher: {done.publisher} ({publisher}); default dataset: {done.default_dataset}{moved}.")
    typer.echo(f"CRSs served: {served}.")
    for districts in city.districts:
        typer.echo(
            f"Districts: collection {districts.collection!r} (import them with `urbantwin import geojson`)."
        )


@city_app.command("show")
def show(database_url: DatabaseUrl = None, config: Config = None) -> None:
    """Print the stored profile (JSON)."""
    from urbantwin.store.city import read_profile

    with open_store(config, database_url) as (_, engine):
        profile = read_profile(engine)
    typer.echo(json.dumps(profile.to_document(), indent=2, ensure_ascii=False))
