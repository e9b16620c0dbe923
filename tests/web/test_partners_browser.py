"""A partner city's layers in the viewer, in a real browser: a small OGC API partner of the test's
own (its stations' occupancy changes with every read, and it allows a second's caching), a second
twin (`urbantwin serve` of a store of its own, with a collection imported), and a partner that is
down, are registered with the participation tests' server (`test_participation_browser.server`);
the Playwright tests of `web/tests/partners.test.mjs` run
with Node.js against it (Debian's Chromium, headless, axe-core). Skips, or fails in CI, as the
viewer's browser test does when a piece is missing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from tests.web.browser import Served, run_browser_tests, serve
from tests.web.test_participation_browser import TOKEN, server

__all__ = ["server"]  # the fixture, used by name

COLLECTIONS = {
    "collections": [
        {"id": "stations", "title": "Bike-sharing stations", "description": "Stations and their bikes now"},
        {"id": "cycle-routes", "title": "Cycle routes"},
    ],
    "links": [],
}
ROUTES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": 1,
            "geometry": {"type": "LineString", "coordinates": [[9.98, 53.55], [10.0, 53.56]]},
            "properties": {"name": "Alster route"},
        }
    ],
}


def _stations(read: int) -> dict[str, Any]:
    """The partner's live layer: the bikes at each station change with every read."""
    places = [("Jungfernstieg", 9.993, 53.553), ("Dammtor", 9.989, 53.560)]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": i + 1,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"name": name, "bikes": read * 10 + i},
            }
            for i, (name, lon, lat) in enumerate(places)
        ],
    }


@pytest.fixture(scope="module")
def partner_city() -> Iterator[str]:
    """The partner's OGC API root, served on a free port until the module's tests are done."""
    reads = {"stations": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            path = urlsplit(self.path).path
            if path == "/ogcapi/collections":
                body: dict[str, Any] = COLLECTIONS
            elif path == "/ogcapi/collections/stations/items":
                reads["stations"] += 1
                body = _stations(reads["stations"])
            elif path == "/ogcapi/collections/cycle-routes/items":
                body = ROUTES
            else:
                self.send_error(404)
                return
            content = orjson.dumps(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/geo+json")
            self.send_header("Cache-Control", "public, max-age=1")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *_args: Any) -> None:
            pass

    partner = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=partner.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{partner.server_address[1]}/ogcapi"
    partner.shutdown()
    partner.server_close()


#: The second twin's collection: the squares of the partner city.
SQUARES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": f"square-{i}",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[lon, 53.55], [lon + 0.004, 53.55], [lon + 0.004, 53.553], [lon, 53.553], [lon, 53.55]]
                ],
            },
            "properties": {"name": name},
        }
        for i, (name, lon) in enumerate(
            [("Rathausmarkt", 9.99), ("Gänsemarkt", 9.985), ("Hansaplatz", 10.01)]
        )
    ],
}


@pytest.fixture(scope="module")
def second_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another `urbantwin serve`, of a store of its own holding the collection `squares`; its OGC API
    root, until the module's tests are done."""
    folder = tmp_path_factory.mktemp("second-twin")
    database_url = f"sqlite:///{folder / 'store.sqlite'}"
    (folder / "squares.geojson").write_bytes(orjson.dumps(SQUARES))
    environment = {**os.environ, "URBANTWIN_LOG_LEVEL": "warning", "URBANTWIN_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "urbantwin.cli"]
    imported = subprocess.run(
        [*command, "import", "geojson", str(folder / "squares.geojson"), "--collection", "squares"]
        + ["--title", "Squares", "--licence", "CC-BY-4.0", "--attribution", "Second twin"],
        env=environment,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    with serve(folder, "--database-url", database_url) as served:
        yield served.url + "ogcapi"


def _closed_port() -> int:
    """A port nothing listens on (bound and released): the partner that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.long  # a server, a partner and the browser's tests
def test_a_partners_layers_in_chromium(server: Served, partner_city: str, second_twin: str) -> None:
    run_browser_tests(
        "partners.test.mjs",
        server,
        {
            "URBANTWIN_ADMIN_TOKEN": TOKEN,
            "URBANTWIN_PARTNER_URL": partner_city,
            "URBANTWIN_SECOND_TWIN_URL": second_twin,
            "URBANTWIN_PARTNER_DOWN_URL": f"http://127.0.0.1:{_closed_port()}/ogcapi",
        },
    )
