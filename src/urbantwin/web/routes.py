"""Serve the built viewer at `/`, its hashed assets with long-lived caching, and its configuration.

Caching follows what the build guarantees: files under `assets/` carry a content hash in their
name, so a browser may keep them forever (`immutable`); `index.html` names the current hashes, so it
is revalidated on every load (`no-cache` with an ETag) and a new build is seen at once. The build
writes a gzip copy beside each asset; it is sent to browsers that accept gzip, so the server does no
compression work per request. When the viewer has not been built (a checkout without Node.js), `/`
answers with a page that says how to build it instead of a bare 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import mimetypes
from collections.abc import AsyncIterator, Sequence
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from urbantwin import __version__
from urbantwin.city_profile import NO_CITY, CityProfile
from urbantwin.errors import NotFound
from urbantwin.settings import Settings
from urbantwin.web.warm import warm_first_view

log = logging.getLogger("urbantwin.web")

#: Where `web/`'s build puts the viewer (see web/vite.config.js).
STATIC = Path(__file__).parent / "static"
#: The push stream of new Observations; the viewer polls the latest values while it is absent.
LIVE_PATH = "/api/live/observations"
#: The energy quarter's runs (urbantwin.energy); the viewer offers its energy view where they are.
ENERGY_PATH = "/api/energy/runs"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>urbantwin: the viewer is not built</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:3em auto;max-width:40em;padding:0 1em;color:#1d2733}}
code{{background:#eef1f4;padding:.1em .3em;border-radius:3px}}</style></head>
<body><h1>The viewer has not been built</h1>
<p>This server runs, but the web viewer's files are missing from <code>{static}</code>.
<code>make demo</code> builds them (it needs Node.js 20.19 or newer); by hand:
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The APIs work without it: <a href="v1.1/">SensorThings API</a>, <a href="ogcapi/">OGC API Features and
Tiles</a>, <a href="catalog">catalogue</a>, <a href="docs">OpenAPI</a>.</p></body></html>"""


def viewer_folder(settings: Settings) -> Path:
    """Where the built web app is served from: the setting `viewer_dir`, else the package's own."""
    return Path(settings.viewer_dir) if settings.viewer_dir else STATIC


def missing_build(static: Path) -> HTMLResponse:
    """The 503 page that says how to build the web app, for a page of it that is not built."""
    return HTMLResponse(_MISSING.format(static=escape(str(static))), 503, headers=_no_store())


def mount_viewer(
    app: FastAPI, settings: Settings, static: Path | None = None, *, panels: Sequence[str] = ()
) -> None:
    """Add `/`, `/assets/…` and `/api/viewer/config` to the app, serving the build in `static`, else
    in the setting `viewer_dir`, else the package's own; `panels` are those the app's modules
    contribute (`urbantwin.modules.viewer_panels`)."""
    folder = static or viewer_folder(settings)
    app.include_router(build_router(settings, folder, panels))


def build_router(settings: Settings, static: Path = STATIC, panels: Sequence[str] = ()) -> APIRouter:
    @contextlib.asynccontextmanager
    async def warm_while_serving(app: FastAPI) -> AsyncIterator[None]:
        """While the server runs: warm the tile cache of the viewer's first view (warm.py) in the
        background, when the viewer is built; stopped with the server."""
        task = asyncio.create_task(_warm(app)) if (static / "index.html").is_file() else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    router = APIRouter(lifespan=warm_while_serving)
    assets = (static / "assets").resolve()

    def page(request: Request, name: str) -> Response:
        """A page of the build, or a page that says how to build it."""
        path = static / name
        if not path.is_file():
            return missing_build(static)
        return file_response(request, path, REVALIDATE)

    @router.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return page(request, "index.html")

    @router.get("/goals", include_in_schema=False)
    async def goals(request: Request) -> Response:
        """The goals page (web/goals.html): the city's indicators and targets (/api/indicators)."""
        return page(request, "goals.html")

    @router.get("/participate", include_in_schema=False)
    async def participate(request: Request) -> Response:
        """The participation page (web/participate.html): portfolio, ideas, procedures on the map,
        the Digitalcampus (each event's own page is the campus module's)."""
        return page(request, "participate.html")

    @router.get("/assets/{name:path}", include_in_schema=False)
    async def asset(request: Request, name: str) -> Response:
        path = (assets / name).resolve()
        # Only files inside assets/ (no `..`), and never the gzip copies by their own name.
        if not path.is_relative_to(assets) or not path.is_file() or path.suffix == ".gz":
            raise NotFound(f"no viewer asset {name!r}")
        return file_response(request, path, IMMUTABLE)

    @router.get(
        "/api/viewer/config",
        tags=["Viewer"],
        summary="What the web viewer needs to know at start",
        description="The optional external base-map style (`URBANTWIN_VIEWER_STYLE_URL`; null: the "
        "viewer draws its base map from the platform's own layers) and where the push stream of new "
        "Observations is (null while this server has none; the viewer then polls the latest values), "
        "and where the energy quarter's runs are (null without them: no energy view), and the "
        "panels the platform's modules contribute (`energy`: the energy view is offered; `transit`: the "
        "public-transport view, when a feed is imported; `air`: the clean-air view), and the "
        "city the platform is for (its profile, `urbantwin city init`): its name, languages, time "
        "zone, extent, attribution and which collections are its districts (`null` without a profile).",
    )
    async def config(request: Request) -> JSONResponse:
        live = _has_path(request.app, LIVE_PATH)
        body = {
            "version": __version__,
            "styleUrl": settings.viewer_style_url or None,
            "liveUrl": LIVE_PATH.lstrip("/") if live else None,
            "energyUrl": ENERGY_PATH.lstrip("/") if _has_path(request.app, ENERGY_PATH) else None,
            "panels": list(panels),
            "city": viewer_city(getattr(request.app.state, "city", NO_CITY)),
        }
        return JSONResponse(body, headers={"Cache-Control": REVALIDATE})

    return router


async def _warm(app: FastAPI) -> None:
    try:
        await warm_first_view(app)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - a head start only; the server serves without it
        log.exception("warming the tile cache of the viewer's first view failed")


def _has_path(app: FastAPI, path: str) -> bool:
    """Whether the app serves `path`, as its OpenAPI document says (built once, then cached by the
    app); read there because included routers are not a flat list of routes in every FastAPI."""
    try:
        return path in app.openapi().get("paths", {})
    except Exception:  # noqa: BLE001 - a broken document elsewhere must not break the viewer: poll
        return False


def file_response(request: Request, path: Path, cache_control: str) -> Response:
    """The file (its gzip copy where the browser accepts it), with an ETag and the given caching."""
    stat = path.stat()
    stamp = f"{path.name}:{stat.st_mtime_ns}:{stat.st_size}".encode()
    etag = '"' + hashlib.md5(stamp, usedforsecurity=False).hexdigest() + '"'
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type in ("application/javascript", "image/svg+xml"):
        media_type += "; charset=utf-8"
    packed = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and packed.is_file():
        headers["Content-Encoding"] = "gzip"
        return FileResponse(packed, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store"}


def viewer_city(city: CityProfile) -> dict[str, Any] | None:
    """What the viewer needs of the city's profile; None for a platform without one."""
    if city is NO_CITY:
        return None
    return {
        "id": city.id,
        "name": city.name,
        "languages": list(city.languages),
        "timeZone": city.time_zone,
        "extent": list(city.extent) if city.extent else None,
        "attribution": city.attribution or None,
        "districts": [
            {
                "collection": d.collection,
                "nameProperty": d.name_property,
                "populationProperty": d.population_property or None,
                "label": d.label,
            }
            for d in city.districts
        ],
    }
