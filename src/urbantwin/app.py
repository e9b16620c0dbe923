"""The web application: every API of the platform on one server, and the one place that turns
errors into HTTP answers."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack, asynccontextmanager
from typing import get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, InternalError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from urbantwin import __version__
from urbantwin.access.audit import AuditLog
from urbantwin.access.authenticate import Authenticator
from urbantwin.access.bootstrap import ensure_defaults
from urbantwin.access.gate import Access
from urbantwin.access.policy import AccessPolicy
from urbantwin.city.setup import city_settings
from urbantwin.errors import PlatformError
from urbantwin.headers import SecurityHeadersMiddleware
from urbantwin.http import RefuseNulInRequestLine, error_body
from urbantwin.memory import limit_malloc_arenas
from urbantwin.module import Context, Listing, Module, Mounted
from urbantwin.modules import MODULES, checked, conformance, viewer_panels
from urbantwin.operations.collect import Sampler
from urbantwin.operations.middleware import RequestContextMiddleware
from urbantwin.ratelimit import RateLimitMiddleware, rate_limits_configured
from urbantwin.readafter import HEADER as READ_AFTER_HEADER
from urbantwin.readafter import ReadYourWritesMiddleware
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings
from urbantwin.store.city import read_profile
from urbantwin.store.engine import is_query_timeout, make_engine
from urbantwin.store.replicas import attach_replicas
from urbantwin.web import mount_viewer
from urbantwin.web.docs import docs_router

log = logging.getLogger("urbantwin")


def create_app(
    settings: Settings, engine: Engine | None = None, modules: Sequence[Module] = MODULES
) -> FastAPI:
    """The app of `modules` (the registry's, `urbantwin.modules.MODULES`, unless told otherwise)."""
    limit_malloc_arenas(settings.malloc_arenas)  # before the request threads start (memory.py)
    engine = engine or make_engine(settings)
    modules = checked(modules)
    mounted: list[Mounted] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The modules' lifespan work (live updates' threads and connections, the energy runs a
        # stopped server left behind) starts in the registry's order and stops in the reverse.
        with ExitStack() as running:
            for part in mounted:
                if part.start is not None:
                    part.start()
                if part.stop is not None:
                    running.callback(part.stop)
            # This process's gauges for /metrics (operations/collect.py), sampled from what the
            # modules started, until before they stop.
            sampler = Sampler(app.state)
            sampler.start()
            running.callback(sampler.stop)
            yield
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
        docs_url=None,  # /docs is the platform's own page (web/docs.py): no CDN, no inline script
        redoc_url=None,
    )
    # The city's profile (`urbantwin city init`) names the publisher of the default dataset.
    city = read_profile(engine)
    settings = city_settings(settings, city)
    app.state.settings = settings
    app.state.engine = engine
    # Reads at the services' read points go to replicas from now on (store/replicas.py).
    app.state.replicas = replicas = attach_replicas(engine, settings)
    app.state.city = city
    ensure_defaults(engine, settings)
    policy = AccessPolicy(settings)
    audit = AuditLog(engine)
    access = Access(engine, policy, audit)
    app.state.access = access
    app.state.audit = audit
    app.state.authenticator = Authenticator(settings, engine)
    listed = {listing: conformance(listing, settings, modules) for listing in get_args(Listing)}
    service = SensorThingsService(engine, settings, access, listed["sensorthings"])
    app.state.sensorthings = service
    app.state.modules = modules
    context = Context(settings, engine, access, app.state.authenticator, service, listed, city)
    mounted.extend(module.mount(context) for module in modules if module.mount is not None)
    for part in mounted:
        for name, value in part.state.items():
            setattr(app.state, name, value)  # named by the module's declaration (`app.state.live`)
    if rate_limits_configured(settings):
        app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(RefuseNulInRequestLine)  # inside CORS, so its 400 reaches browsers too
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["Location", READ_AFTER_HEADER],
    )
    # The last added runs first: security headers on every answer, then CORS (so a browser on
    # another origin can read a 429 too), then the rate limit, before any work is done.
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    if replicas is not None:
        # Around everything that may write: a write's answer carries the primary's position after it.
        app.add_middleware(ReadYourWritesMiddleware, router=replicas)
    # Outermost: the request's id in every log line and answer, its duration in the metrics.
    app.add_middleware(RequestContextMiddleware)

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

    for part in mounted:
        for router in part.routers:
            app.include_router(router)

    mount_viewer(app, settings, panels=viewer_panels(modules))  # the twin viewer at `/`
    app.include_router(docs_router(app.title))  # the OpenAPI document in the browser at /docs
    # The modules' plain routes of hot paths before everything else (`Mounted.routes`).
    app.router.routes[0:0] = [route for part in mounted for route in part.routes]

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
