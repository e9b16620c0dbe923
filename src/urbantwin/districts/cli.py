"""`urbantwin districts …`: the district profiles published as a feature collection."""

from __future__ import annotations

from typing import Annotated

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported

districts_app = typer.Typer(help="District profiles and access to public transport.", no_args_is_help=True)


@districts_app.command("publish")
def publish(
    collection: Annotated[str, typer.Argument(help="a district collection of the city profile")],
    min_departures: Annotated[
        str | None, typer.Option(help="departures per hour a stop needs for the access shares (default 1)")
    ] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Compute every district's profile and access figures and publish them as `<collection>-profiles`."""
    from urbantwin.access.gate import Access
    from urbantwin.districts.service import DistrictProfiles
    from urbantwin.districts.service import publish as publish_profiles
    from urbantwin.store.city import read_profile

    with open_store(config, database_url) as (settings, engine), reported():
        service = DistrictProfiles(engine, settings, Access.of(engine, settings), read_profile(engine))
        report = publish_profiles(service, collection, min_departures)
        typer.echo(f"Collection {report.collection!r}: {report.summary()}.")


@districts_app.command("publish-landuse")
def publish_landuse(
    collection: Annotated[str, typer.Argument(help="a district collection of the city profile")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Publish the land use per block and the infill candidates as `<collection>-landuse-blocks` and
    `<collection>-infill`."""
    from urbantwin.access.gate import Access
    from urbantwin.districts.landuse import LandUse
    from urbantwin.districts.landuse import publish as publish_land_use
    from urbantwin.districts.service import DistrictProfiles
    from urbantwin.store.city import read_profile

    with open_store(config, database_url) as (settings, engine), reported():
        service = DistrictProfiles(engine, settings, Access.of(engine, settings), read_profile(engine))
        for report in publish_land_use(LandUse(service), collection):
            typer.echo(f"Collection {report.collection!r}: {report.summary()}.")
