"""Security headers on every answer of the platform."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from urbantwin.app import create_app
from urbantwin.headers import SecurityHeadersMiddleware, content_security_policy
from urbantwin.settings import Settings


def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


def test_every_answer_carries_the_security_headers(anonymous: TestClient) -> None:
    for path in ("/", "/v1.1/", "/v1.1/Things(999)", "/ogcapi/collections", "/docs", "/openapi.json"):
        answer = anonymous.get(path)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        policy = _directives(answer.headers["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], path
        assert policy["frame-ancestors"] == ["'self'"], path


def test_the_policy_allows_no_inline_script_and_what_maplibre_needs() -> None:
    policy = _directives(content_security_policy(Settings()))
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert {"data:", "blob:"} <= set(policy["img-src"])
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]


def test_frame_ancestors_and_the_base_maps_origins_come_from_the_settings() -> None:
    settings = Settings(
        frame_ancestors=("'self'", "https://portal.city.example"),
        viewer_style_url="https://maps.city.example/styles/basemap.json",
        viewer_sources=("https://tiles.city.example",),
    )
    policy = _directives(content_security_policy(settings))
    assert policy["frame-ancestors"] == ["'self'", "https://portal.city.example"]
    assert policy["connect-src"] == ["'self'", "https://tiles.city.example", "https://maps.city.example"]
    assert "https://maps.city.example" in policy["img-src"]


def test_an_answer_that_sets_a_header_itself_keeps_it() -> None:
    def framed(_request: object) -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": "frame-ancestors *"})

    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/", framed)]), Settings())
    answer = TestClient(app).get("/")
    assert answer.headers.get_list("Content-Security-Policy") == ["frame-ancestors *"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_configured_in_the_environment(engine: Engine, settings: Settings) -> None:
    with TestClient(create_app(settings.with_overrides(frame_ancestors=("'none'",)), engine)) as client:
        policy = _directives(client.get("/v1.1/").headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"]
