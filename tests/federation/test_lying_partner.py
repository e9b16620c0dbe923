"""Partners that answer what the standard does not allow never break the local platform: the
mirror stops for that partner with the reason, keeps what it stored, and records the partner as
failing. The partner is a small HTTP server of the test's own that answers as told."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from sqlalchemy import func, select

from tests.federation.conftest import Local
from urbantwin.access.gate import Caller
from urbantwin.store import schema

DATASTREAM = {
    "@iot.id": 7,
    "name": "lying stream",
    "description": "d",
    "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
    "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
    "Thing": {
        "@iot.id": 1,
        "name": "t",
        "description": "d",
        "Locations": [
            {
                "name": "l",
                "description": "d",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [9.9, 53.5]},
            }
        ],
    },
    "Sensor": {"@iot.id": 1, "name": "s", "description": "d", "encodingType": "text/plain", "metadata": "m"},
    "ObservedProperty": {
        "@iot.id": 1,
        "name": "p",
        "description": "d",
        "definition": "https://example.org/p",
    },
}


def page(first: int, count: int, next_link: str | None) -> dict[str, Any]:
    rows = [[i, f"2026-01-01T{i:02d}:00:00Z", float(i)] for i in range(first, first + count)]
    answer: dict[str, Any] = {
        "value": [{"components": ["id", "phenomenonTime", "result"], "dataArray": rows}]
    }
    if next_link is not None:
        answer["@iot.nextLink"] = next_link
    return answer


@pytest.fixture
def liar() -> Iterator[dict[str, Any]]:
    """`observations(base, path)` answers the Observations requests (as JSON, or bytes as they are)."""
    told: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            base = told["base"]
            path = urlsplit(self.path).path
            if path == "/v1.1":
                body: Any = {
                    "value": [],
                    "serverSettings": {
                        "conformance": [
                            "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array"
                        ]
                    },
                }
            elif path == "/v1.1/Datastreams(7)":
                body = {**DATASTREAM, "@iot.selfLink": f"{base}/v1.1/Datastreams(7)"}
            else:
                body = told["observations"](base, self.path)
            raw = body if isinstance(body, bytes) else orjson.dumps(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    told["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield told
    server.shutdown()
    server.server_close()


def mirror_with(local: Local, liar: dict[str, Any], observations: Callable[[str, str], Any]) -> list[str]:
    liar["observations"] = observations
    local.federation.registry.add(
        Caller.system(), "liar", f"{liar['base']}/v1.1", "sensorthings", attribution="x", licence="y"
    )
    return local.federation.mirror(Caller.system(), "liar", ids=["7"]).errors


def stored(local: Local) -> int:
    with local.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(schema.observations)).scalar_one())


def test_a_nextlink_to_another_host_is_not_followed(local: Local, liar: dict[str, Any]) -> None:
    errors = mirror_with(local, liar, lambda base, path: page(0, 3, "http://example.org/v1.1/steal"))
    assert errors and "outside itself" in errors[0]
    assert stored(local) == 3  # the good page is kept
    assert local.federation.registry.get(Caller.system(), "liar").health == "failing"


def test_a_nextlink_that_repeats_the_page_ends_the_run(local: Local, liar: dict[str, Any]) -> None:
    errors = mirror_with(
        local, liar, lambda base, path: page(0, 3, f"{base}/v1.1/Datastreams(7)/Observations?again")
    )
    assert errors and "no new Observations" in errors[0]
    assert stored(local) == 3


@pytest.mark.parametrize(
    "answer",
    [
        b"<html>not json</html>",
        {"value": "not a list"},
        {
            "value": [
                {"components": ["id", "phenomenonTime", "result"], "dataArray": [[1, "2026-01-01T00:00:00Z"]]}
            ]
        },
        {"value": [{"components": ["id", "phenomenonTime", "result"], "dataArray": [[1, "yesterday", 1.0]]}]},
        {"value": [{"components": ["id", "result"], "dataArray": [[1, 1.0]]}]},
    ],
)
def test_malformed_pages_are_reported_not_stored(local: Local, liar: dict[str, Any], answer: Any) -> None:
    errors = mirror_with(local, liar, lambda base, path: answer)
    assert errors
    assert stored(local) == 0
