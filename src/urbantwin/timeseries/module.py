"""The time-series extension's declaration in the module registry (see `urbantwin.module`)."""

from __future__ import annotations

from urbantwin.module import Context, Module, Mounted


def mount(context: Context) -> Mounted:
    from urbantwin.timeseries.routes import timeseries_router

    return Mounted(routers=[timeseries_router(context.engine, context.settings, context.access)])


MODULE = Module(
    name="timeseries",
    summary="Aggregates, latest values and district statistics of the sensor data at /api/timeseries/",
    mount=mount,
    viewer_panels=("districts",),
)
