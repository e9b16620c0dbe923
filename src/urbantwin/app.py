"""The web application: every API of the platform on one server, and the one place that turns
errors into HTTP answers."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, InternalError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from urbantwin import __version__
from urbantwin.access.audit import AuditLog
from urbantwin.access.authenticate import Authenticator
from urbantwin.access.bootstrap import ensure_defaults
from urbantwin.access.manage import AccessAdmin
from urbantwin.access.policy import AccessPolicy
from urbantwin.access.routes import build_router as access_router
from urbantwin.catalog.routes import catalog_router
from urbantwin.energy.routes import energy_router
from urbantwin.errors import PlatformError
from urbantwin.features.routes import build_router as features_router
from urbantwin.features.service import FeaturesService
from urbantwin.http import RefuseNulInRequestLine, error_body
from urbantwin.live import Live
from urbantwin.live.sse import live_router
from urbantwin.sensorthings.routes import build_router
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings
from urbantwin.store.engine import is_query_timeout, make_engine
from urbantwin.timeseries.routes import timeseries_router
from urbantwin.web import mount_viewer

log = logging.getLogger("urbantwin")


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    engine = engine or make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Live updates (MQTT, Server-Sent Events, the other processes): their threads and connections
        # live as long as the server does.
        app.state.live.start()
        # Energy runs a stopped server left behind fail; the queued ones resume in this process.
        try:
            app.state.energy_runs.recover()
        except DBAPIError as exc:  # a store not migrated yet (`urbantwin db upgrade`) has no runs
            log.warning("energy runs were not recovered: %s", exc.orig)
        try:
            yield
        finally:
            app.state.live.stop()
        # Read records and usage counts are batched; write what is pending before the process ends.
        app.state.audit.flush()

    app = FastAPI(
        lifespan=lifespan,
        title="urbantwin",
        version=__version__,
        description=(
            "Open urban data platform and digital twin: OGC SensorThings API 1.1 at /v1.1/. "
            "Writes need a token (Authorization: Bearer, or as the password of HTTP Basic auth)."
        ),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    ensure_defaults(engine, settings)
    policy = AccessPolicy(settings)
    audit = AuditLog(engine)
    app.state.access = policy
    app.state.audit = audit
    app.state.authenticator = Authenticator(settings, engine)
    service = SensorThingsService(engine, settings, policy, audit)
    app.state.sensorthings = service
    app.state.live = Live(settings, engine, service, policy, app.state.authenticator)
    app.add_middleware(RefuseNulInRequestLine)  # inside CORS, so its 400 reaches browsers too
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["Location"],
    )

    @app.exception_handler(PlatformError)
    async def platform_error(_request: Request, exc: PlatformError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="urbantwin"'} if exc.status == 401 else None
        return JSONResponse(error_body(exc.status, exc.message), exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path', 'body'))}: "
            f"{e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return JSONResponse(error_body(400, f"invalid request: {problems}"), 400)

    @app.exception_handler(DataError)
    async def data_error(_request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold; the request is at fault, not the server. The database's
        # own text ("bigint out of range", "Python int too large") is not shown: it names neither the
        # value nor what to do.
        log.info("a value the database cannot hold: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
        return JSONResponse(error_body(400, data_error_message(exc)), 400)

    @app.exception_handler(OverflowError)
    async def overflow_error(_request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver cannot bind an integer beyond 64 bits, where PostgreSQL answers a DataError:
        # the same 400 on both backends for a number that escaped the checks on input.
        if "too large" not in str(exc):
            raise exc
        return JSONResponse(error_body(400, data_error_message(None)), 400)

    @app.exception_handler(OperationalError)
    async def operational_error(_request: Request, exc: OperationalError) -> JSONResponse:
        limit = _limit_exceeded(exc)
        if limit is not None:
            # A statement nested deeper than the database parses (a $filter of 30 nested functions
            # on SQLite): the request is at fault, and was a 500.
            return JSONResponse(error_body(400, f"the query is too complex for the database: {limit}"), 400)
        if not is_query_timeout(exc):
            raise exc
        message = (
            f"the query was stopped after {settings.query_timeout_seconds} s: it is too expensive; "
            "narrow the filter or ask for smaller pages"
        )
        return JSONResponse(error_body(400, message), 400)

    @app.exception_handler(InternalError)
    async def internal_error(_request: Request, exc: InternalError) -> JSONResponse:
        # GEOS refusing a geometry operation inside PostGIS (ST_Relate of a stored
        # GeometryCollection): the operands are at fault, not the server.
        message = str(exc.orig).splitlines()[0] if exc.orig is not None else ""
        if not message.startswith("GEOS"):
            raise exc
        return JSONResponse(error_body(400, f"the geometry operation failed: {message}"), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), exc.status_code)

    app.include_router(build_router(service))
    app.include_router(live_router())
    app.include_router(features_router(FeaturesService(engine, settings, policy, audit)))
    app.include_router(catalog_router(engine, settings))
    app.include_router(timeseries_router(engine, settings))
    app.include_router(access_router(AccessAdmin(engine, audit)))
    app.include_router(energy_router(app.state))  # the energy quarter at /api/energy/

    mount_viewer(app, settings)  # the twin viewer at `/`

    return app


_NUMBER_OUT_OF_RANGE = (
    "a number is out of range: ids and integers must lie between "
    "-9223372036854775808 and 9223372036854775807, other numbers must be finite"
)


def data_error_message(exc: DataError | None) -> str:
    """The message for a value the database refused (None: a number too large to bind), in the
    platform's words."""
    if exc is None:
        return _NUMBER_OUT_OF_RANGE
    text = str(exc.orig).lower() if exc.orig is not None else ""
    if "date" in text or "time" in text:
        return "a date or time is out of the range the store can hold (years 1 to 9999)"
    if "out of range" in text or "too large" in text or "overflow" in text:
        return _NUMBER_OUT_OF_RANGE
    return "a value cannot be stored: it is out of range or of the wrong type"


#: SQLite's messages for a statement beyond its limits (PostgreSQL's have SQLSTATE class 54).
_SQLITE_LIMITS = ("parser stack overflow", "Expression tree is too large", "too many ")


def _limit_exceeded(exc: OperationalError) -> str | None:
    """The database's message when a statement exceeds its limits of nesting or size, else None."""
    original = exc.orig
    text = str(original).splitlines()[0] if original is not None else ""
    if str(getattr(original, "sqlstate", "") or "").startswith("54"):  # program_limit_exceeded
        return text
    if isinstance(original, sqlite3.OperationalError) and any(s in text for s in _SQLITE_LIMITS):
        return text
    return None


def create_app_from_environment() -> FastAPI:
    """The app for settings from `URBANTWIN_*` (the factory each uvicorn worker process calls)."""
    from urbantwin.settings import load_settings

    return create_app(load_settings())
