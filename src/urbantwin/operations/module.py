"""The operations module: liveness, readiness and metrics for those who run the platform."""

from __future__ import annotations

from urbantwin.module import Context, Module, Mounted


def mount(_context: Context) -> Mounted:
    from urbantwin.operations.routes import build_router

    return Mounted(routers=[build_router()])


MODULE = Module(
    name="operations",
    summary="Running the platform: /health, /ready and Prometheus metrics at /metrics",
    mount=mount,
    settings=("metrics_token",),
)
