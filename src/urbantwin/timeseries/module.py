"""The time-series extension's declaration in the module registry (see `urbantwin.module`)."""

from __future__ import annotations

from urbantwin.module import Context, Module, Mounted


def mount(context: Context) -> Mounted:
    from urbantwin.timeseries.routes import Timeseries, build_router

    parts = Timeseries.of(context.engine, context.settings, context.access, context.city)
    return Mounted(routers=[build_router()], state={"timeseries": parts})


MODULE = Module(
    name="timeseries",
    summary="Aggregates, latest values and district statistics of the sensor data at /api/timeseries/",
    mount=mount,
    viewer_panels=("districts",),
)
