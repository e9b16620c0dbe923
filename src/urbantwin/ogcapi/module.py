"""OGC API Features and Tiles' declaration in the module registry (see `urbantwin.module`)."""

from __future__ import annotations

from urbantwin.module import Conformance, Context, Module, Mounted
from urbantwin.ogcapi.service import CONFORMANCE


def mount(context: Context) -> Mounted:
    from urbantwin.ogcapi.routes import OgcApi, build_router
    from urbantwin.ogcapi.service import FeaturesService

    service = FeaturesService(
        context.engine, context.settings, context.access, context.conformance["ogcapi"], context.city
    )
    return Mounted(routers=[build_router()], state={"ogcapi": OgcApi.of(service)})


MODULE = Module(
    name="ogcapi",
    summary="OGC API Features (Parts 1-3) and Tiles (Mapbox Vector Tiles) of the city model at /ogcapi/",
    mount=mount,
    conformance=tuple(Conformance(uri, "ogcapi") for uri in CONFORMANCE),
    catalogue_datasets=("<collection>",),
    settings=("features_max_age_seconds",),
    viewer_panels=("layers",),
)
