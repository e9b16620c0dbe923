"""`/health`, `/ready` and `/metrics`: thin routes over `health.py` and `collect.py`."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from urbantwin.access.http import request_access, request_principal
from urbantwin.operations.collect import exposition
from urbantwin.operations.health import Readiness, check_broker, check_store

#: Longest a readiness check may take before the store counts as not answering, in seconds.
READY_TIMEOUT = 5.0


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


@cache
def build_router() -> APIRouter:
    """The routes, built once per process; they find the app's objects through the request."""
    router = APIRouter(tags=["Operations"])

    @router.get("/health", summary="Liveness: the process answers (checks nothing else)")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "alive"}, headers={"Cache-Control": "no-store"})

    @router.get(
        "/ready",
        summary="Readiness: the store answers at the current schema, the broker is connected (if any)",
        responses={503: {"description": "not ready; `checks` says why"}},
    )
    async def ready(request: Request) -> JSONResponse:
        state = request.app.state
        try:
            checks = await asyncio.wait_for(run_in_threadpool(check_store, state.engine), READY_TIMEOUT)
        except TimeoutError:
            checks = {"database": f"no answer within {READY_TIMEOUT:g} s", "migrations": "unknown"}
        outcome = Readiness({**checks, **check_broker(getattr(state, "live", None))})
        body: dict[str, Any] = {"status": "ready" if outcome.ready else "not ready", "checks": outcome.checks}
        replicas = getattr(state, "replicas", None)
        if replicas is not None:
            # Shown, not checked: without its replicas a node reads from the primary and stays ready.
            body["replicas"] = await run_in_threadpool(replicas.report)
        if not outcome.ready:
            body["reason"] = outcome.problems()
        return JSONResponse(body, 200 if outcome.ready else 503, headers={"Cache-Control": "no-store"})

    @router.get(
        "/metrics",
        summary="Prometheus metrics (the metrics token or an administrator's token)",
        response_class=Response,
    )
    async def metrics(request: Request) -> Response:
        request_access(request).authorize_metrics(
            _bearer(request.headers.get("authorization")), lambda: request_principal(request)
        )
        figures = await run_in_threadpool(exposition, request.app.state)
        return Response(figures, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return router
