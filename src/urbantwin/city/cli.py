"""`urbantwin city init|show`: the city a platform is for, from its profile (docs/new-city.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from urbantwin.errors import PlatformError
from urbantwin.settings import load_settings

city_app = typer.Typer(
    help="The city the platform is for: its profile (docs/new-city.md).", no_args_is_help=True
)

Database = Annotated[
    str | None,
    typer.Option("--database-url", help="sqlite:///file.sqlite or postgresql+psycopg://user@host/db"),
]
Config = Annotated[Path | None, typer.Option("--config", help="TOML settings file")]


def register(app: typer.Typer) -> None:
    app.add_typer(city_app, name="city")


@city_app.command("init")
def init(
    profile: Annotated[Path, typer.Argument(help="the city's profile (TOML)")],
    database_url: Database = None,
    config: Config = None,
) -> None:
    """Set the platform up for the city of PROFILE: store the profile, make its publisher and the
    default dataset. Run again after changing the profile; restart a running server to apply it."""
    from urbantwin.city.setup import init_city
    from urbantwin.city_profile import load_profile
    from urbantwin.store.engine import make_engine

    settings = load_settings(config).with_overrides(database_url=database_url)
    try:
        city = load_profile(profile)
        engine = make_engine(settings)
        done = init_city(engine, settings, city)
    except PlatformError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from None
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
def show(database_url: Database = None, config: Config = None) -> None:
    """Print the stored profile (JSON)."""
    from urbantwin.store.city import read_profile
    from urbantwin.store.engine import make_engine, upgrade

    engine = make_engine(load_settings(config).with_overrides(database_url=database_url))
    upgrade(engine)
    typer.echo(json.dumps(read_profile(engine).to_document(), indent=2, ensure_ascii=False))
