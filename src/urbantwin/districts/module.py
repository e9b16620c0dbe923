"""District profiles' declaration in the module registry (see `urbantwin.module`): every district of
the city profile's district collections with its figures, comparisons, exports and access to public
transport, at /api/districts/."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted


def mount(context: Context) -> Mounted:
    from urbantwin.airquality.service import AirService
    from urbantwin.districts import air_routes
    from urbantwin.districts.air import AirExposure
    from urbantwin.districts.landuse import LandUse
    from urbantwin.districts.routes import build_router
    from urbantwin.districts.service import DistrictProfiles

    service = DistrictProfiles(context.engine, context.settings, context.access, context.city)
    exposure = AirExposure(
        service, AirService(context.engine, context.settings, context.access, context.city)
    )
    # the exposure's routes first: the district router's `/{collection}/{district:path}` would take them
    return Mounted(
        routers=[air_routes.build_router(), build_router()],
        state={"districts": service, "air_exposure": exposure, "landuse": LandUse(service)},
    )


def commands(cli: typer.Typer) -> None:
    from urbantwin.districts.cli import districts_app

    cli.add_typer(districts_app, name="districts")


MODULE = Module(
    name="districts",
    summary="District profiles at /api/districts/: residents and trend, density, buildings and floor "
    "area, trees, charging points, WLAN sites, stops and departures, sensor means; CSV, GeoJSON and "
    "Parquet; access to public transport (ÖV-Güteklassen); residents' exposure to air pollution; land "
    "use per block and district (GRZ, GFZ, built-up share, tree density) and ranked infill candidates; "
    "`urbantwin districts publish`",
    mount=mount,
    catalogue_datasets=("<collection>-profiles",),
    cli=commands,
    settings=("district_layers", "district_observed_properties", "land_use_blocks", "land_use_grid_m"),
)
