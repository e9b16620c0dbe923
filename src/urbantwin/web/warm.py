"""Warm the tile cache of the viewer's first view while the server starts.

The viewer opens on the largest building collection, tilted in 3D (web/src/main.js, `homeView`); on
a fresh server every tile of that view is made on the first request (on SQLite in Python: the z13
building tile alone takes about half a second), so the first visitor waits for it. Here the server
asks for those tiles itself, in the background, through its own app (in process, as an anonymous
reader: the same access rules and the same cache as a browser's requests; a plain ASGI call, so the
server needs no HTTP client library): the zooms the viewer
opens at on a desktop and on a phone, over the building collection's extent with a margin for the
tilted view, every collection with tiles, buildings first.

Small models are left alone: their tiles are made in milliseconds, and warming would only add work
to every short-lived app (tests).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool
from starlette.types import Message

from urbantwin.ratelimit import INTERNAL_CLIENT
from urbantwin.store.features_schema import collections, features

log = logging.getLogger("urbantwin.web")

#: Below this many features in all collections the cache is not warmed.
WARM_MIN_FEATURES = 10_000
#: The map sizes the first view is computed for (CSS pixels): a desktop map beside the sidebar, a phone.
VIEWPORTS = ((960, 720), (375, 600))
#: Margin around the buildings' extent, as a share of its size: the tilted view shows more.
MARGIN = 0.25
#: At most this many tiles per collection and zoom (a huge extent is not warmed whole).
MAX_TILES = 64
_BUILDINGS = re.compile(r"building|gebäude", re.IGNORECASE)


@dataclass(frozen=True)
class Collection:
    id: str
    count: int
    bbox: tuple[float, float, float, float] | None
    buildings: bool


def read_collections(engine: Engine) -> list[Collection]:
    """Every collection with its size, extent and whether it holds buildings (as the viewer decides)."""
    counts = (
        select(features.c.collection_id, func.count().label("n"))
        .group_by(features.c.collection_id)
        .subquery()
    )
    statement = select(
        collections.c.id, collections.c.title, collections.c.keywords, collections.c.extent_bbox, counts.c.n
    ).join(counts, counts.c.collection_id == collections.c.id)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    out = []
    for row in rows:
        words = " ".join([row.id, row.title or "", *(row.keywords or [])])
        bbox = tuple(row.extent_bbox) if row.extent_bbox and len(row.extent_bbox) == 4 else None
        out.append(Collection(row.id, int(row.n), bbox, bool(_BUILDINGS.search(words))))
    return out


def _mercator_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / (2 * math.pi)


def home_zoom(bbox: tuple[float, float, float, float], width: int, height: int) -> float:
    """The zoom the viewer opens at to show `bbox` in a map of width × height (main.js, `homeView`)."""
    west, south, east, north = bbox
    zx = math.log2(max(width - 80, 200) * 360 / (max(east - west, 1e-9) * 512))
    zy = math.log2(max(height - 80, 200) / (max(_mercator_y(north) - _mercator_y(south), 1e-12) * 512))
    return min(zx, zy, 17) + 0.15


def tiles_over(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """(z, row, col) of the WebMercatorQuad tiles over `bbox`, from its centre outwards."""
    west, south, east, north = bbox
    n = 2**z

    def col(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180) / 360 * n)))

    def row(lat: float) -> int:
        lat = max(min(lat, 85.0511), -85.0511)
        return min(n - 1, max(0, int((0.5 - _mercator_y(lat)) * n)))

    cols = range(col(west), col(east) + 1)
    rows = range(row(north), row(south) + 1)
    middle = ((cols.start + cols.stop - 1) / 2, (rows.start + rows.stop - 1) / 2)
    found = sorted(
        ((r, c) for r in rows for c in cols), key=lambda t: (t[1] - middle[0]) ** 2 + (t[0] - middle[1]) ** 2
    )
    return [(z, r, c) for r, c in found]


def first_view_tiles(found: list[Collection]) -> list[tuple[str, int, int, int]]:
    """(collection, z, row, col) of the first view's tiles, most wanted first; empty for a small model."""
    if sum(c.count for c in found) < WARM_MIN_FEATURES:
        return []
    homes = sorted((c for c in found if c.buildings and c.bbox), key=lambda c: -c.count)
    if not homes:
        return []
    west, south, east, north = homes[0].bbox  # type: ignore[misc]
    dx, dy = (east - west) * MARGIN, (north - south) * MARGIN
    area = (west - dx, south - dy, east + dx, north + dy)
    zooms = list(dict.fromkeys(math.floor(home_zoom(homes[0].bbox, w, h)) for w, h in VIEWPORTS))  # type: ignore[arg-type]
    ordered = [homes[0], *(c for c in found if c is not homes[0])]
    wanted = []
    for z in zooms:
        for collection in ordered:
            wanted += [(collection.id, *tile) for tile in tiles_over(area, z)[:MAX_TILES]]
    return wanted


async def warm_first_view(app: FastAPI) -> int:
    """Ask the app for the first view's tiles (one at a time, so a visitor is never queued behind a
    burst); returns how many were asked. Failures are logged and skipped: this is only a head start."""
    engine = getattr(app.state, "engine", None)
    if engine is None:  # an app without the platform's store (the viewer alone)
        return 0
    found = await run_in_threadpool(read_collections, engine)
    wanted = first_view_tiles(found)
    if not wanted:
        return 0
    for collection, z, row, col in wanted:
        path = f"/ogcapi/collections/{collection}/tiles/WebMercatorQuad/{z}/{row}/{col}"
        try:
            status = await get_status(app, path)
            if status >= 500:
                log.warning("warming the tile cache: %s answered %s", path, status)
        except Exception as error:  # noqa: BLE001 - a head start only; the server keeps running
            log.warning("warming the tile cache: %s failed: %s", path, error)
    log.info("warmed %d tiles of the viewer's first view", len(wanted))
    return len(wanted)


async def get_status(app: FastAPI, path: str) -> int:
    """GET `path` from `app` in process, as the server's own client (the rate limit of local visitors,
    127.0.0.1, is not spent on it); the response's status, its body read and dropped."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"warm.invalid")],
        "client": (INTERNAL_CLIENT, 0),
        "server": ("warm.invalid", 80),
    }
    status = 0
    answered = asyncio.Event()
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()  # the client stays until the whole response is sent, then leaves
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            answered.set()

    await app(scope, receive, send)
    answered.set()
    return status
