"""A partner's feature collection read through, with its caching headers honoured.

The partner here is a small HTTP server of the test's own that answers a FeatureCollection with
the caching headers the test chooses and counts what it was asked (our own OGC API sends none)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import statements

LAYER = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": 1,
            "geometry": {"type": "Point", "coordinates": [9.99, 53.55]},
            "properties": {},
        }
    ],
}


class Partner:
    """What the partner answers (status, headers), and the requests it saw (path, If-None-Match)."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body: bytes = orjson.dumps(LAYER)
        self.seen: list[tuple[str, str | None]] = []
        self.url = ""


@pytest.fixture
def partner() -> Iterator[Partner]:
    state = Partner()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            state.seen.append((self.path, self.headers.get("If-None-Match")))
            etag = state.headers.get("ETag")
            if etag and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(state.status)
            self.send_header("Content-Type", "application/geo+json")
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/ogcapi"
    yield state
    server.shutdown()
    server.server_close()


def register(client: TestClient, url: str, **more: Any) -> None:
    body = {
        "name": "hamburg-geo",
        "url": url,
        "kind": "ogcapi",
        "attribution": "Freie und Hansestadt Hamburg",
        "licence": "dl-de/by-2-0",
        **more,
    }
    assert client.post("/api/remotes", json=body).status_code == 201


URL = "/api/remotes/hamburg-geo/collections/trees/items"


def test_the_layer_is_read_through_attributed_and_kept_as_long_as_the_partner_allows(
    client: TestClient, anonymous: TestClient, partner: Partner
) -> None:
    partner.headers = {"Cache-Control": "public, max-age=300"}
    register(client, partner.url)
    first = anonymous.get(URL, params={"bbox": "9,53,10,54", "limit": "10"})
    assert first.status_code == 200, first.text
    assert first.json()["attribution"] == "Freie und Hansestadt Hamburg"
    assert first.json()["licence"] == "dl-de/by-2-0"
    assert first.json()["features"] == LAYER["features"]
    assert first.headers["x-cache"] == "miss"
    second = anonymous.get(URL, params={"limit": "10", "bbox": "9,53,10,54"})
    assert second.headers["x-cache"] == "hit"
    assert int(second.headers["cache-control"].rsplit("=", 1)[1]) <= 300
    assert partner.seen == [("/ogcapi/collections/trees/items?bbox=9%2C53%2C10%2C54&limit=10", None)]


def test_no_store_is_asked_every_time_and_an_etag_is_revalidated(
    client: TestClient, partner: Partner
) -> None:
    partner.headers = {"Cache-Control": "no-store"}
    register(client, partner.url)
    client.get(URL)
    client.get(URL)
    assert len(partner.seen) == 2

    partner.headers = {"Cache-Control": "no-cache", "ETag": '"v1"'}
    client.get(URL, params={"limit": "5"})
    again = client.get(URL, params={"limit": "5"})
    assert again.status_code == 200
    assert again.headers["x-cache"] == "hit"
    assert again.json()["features"] == LAYER["features"]
    assert partner.seen[-1][1] == '"v1"'


def test_what_the_partner_gets_wrong_is_a_502_naming_it(client: TestClient, partner: Partner) -> None:
    partner.body = b"<html>maintenance</html>"
    register(client, partner.url)
    answer = client.get(URL)
    assert answer.status_code == 502
    assert "not JSON" in answer.json()["message"]


def test_bad_requests_and_hidden_partners(
    client: TestClient, anonymous: TestClient, partner: Partner
) -> None:
    register(client, partner.url, access_level="internal")
    assert client.get(URL, params={"sortby": "x"}).status_code == 400
    assert client.get(URL, params=[("limit", "1"), ("limit", "2")]).status_code == 400
    assert anonymous.get(URL).status_code == 404
    assert partner.seen == []


def health(client: TestClient) -> dict[str, Any]:
    return client.get("/api/remotes/hamburg-geo").json()


def test_the_proxy_keeps_the_partners_health_writing_only_on_a_change(
    client: TestClient, partner: Partner, engine: Engine
) -> None:
    register(client, partner.url)
    assert health(client)["health"] == "unknown"

    partner.status = 503
    assert client.get(URL).status_code == 502
    failing = health(client)
    assert failing["health"] == "failing"
    assert "HTTP 503" in failing["last_error"]

    partner.status = 200
    assert client.get(URL).status_code == 200
    healthy = health(client)
    assert healthy["health"] == "ok"
    assert healthy["last_error"] is None
    assert healthy["last_sync"] is not None

    # While nothing changes, reading through writes nothing (the partner is asked every time:
    # its answers are not to be kept).
    with statements(engine) as seen:
        for _ in range(5):
            assert client.get(URL).status_code == 200
    assert not [s for s in seen if "UPDATE remotes" in s]

    # A malformed answer is a failure too, with its reason; a 4xx to the visitor's query is not.
    partner.body = b"<html>maintenance</html>"
    client.get(URL)
    assert "not JSON" in health(client)["last_error"]
    partner.status = 404
    client.get(URL)
    assert "not JSON" in health(client)["last_error"]
