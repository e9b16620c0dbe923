"""The SensorThings API's declaration in the module registry (see `urbantwin.module`)."""

from __future__ import annotations

from urbantwin.module import Conformance, Context, Module, Mounted
from urbantwin.sensorthings.service import CONFORMANCE


def mount(context: Context) -> Mounted:
    """The routes of the service the app built (other modules read and write through it too); they
    find it as `app.state.sensorthings`, which `app.py` sets."""
    from urbantwin.sensorthings.routes import build_router

    service = context.sensorthings
    # Groups of single Observations still queued are committed before the server stops.
    return Mounted(routers=[build_router()], stop=service.observation_posts.close)


MODULE = Module(
    name="sensorthings",
    summary="OGC SensorThings API 1.1 at /v1.1/: entities, queries, create/update/delete, batch, dataArray",
    mount=mount,
    conformance=tuple(Conformance(uri, "sensorthings") for uri in CONFORMANCE),
    catalogue_datasets=("<default_dataset>",),
    settings=("max_top", "default_top", "allow_anonymous_writes"),
    viewer_panels=("sensors",),
)
