"""Rate limits per client: a token bucket per address, and per token for clients with one."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from urbantwin import ratelimit
from urbantwin.app import create_app
from urbantwin.ratelimit import (
    INTERNAL_CLIENT,
    Limit,
    RateLimitMiddleware,
    TokenBuckets,
    rate_limits_configured,
)
from urbantwin.settings import Settings


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


#: The one credential the small app below accepts; any other gets 401, as the platform answers.
VALID = "Bearer secret-token-of-a-partner"


def _hello(request: Any) -> PlainTextResponse:
    authorization = request.headers.get("authorization")
    if authorization and authorization != VALID:
        return PlainTextResponse("the token is not valid", status_code=401)
    return PlainTextResponse("hello")


def _stream(_request: Any) -> StreamingResponse:
    async def parts():  # noqa: ANN202
        for part in (b"event: one\n\n", b"event: two\n\n", b"event: three\n\n"):
            yield part

    return StreamingResponse(parts(), media_type="text/event-stream")


def _limited(**limits: Any) -> RateLimitMiddleware:
    settings = Settings(**{"rate_limit_per_second": 1, "rate_limit_burst": 2, **limits})
    inner = Starlette(routes=[Route("/", _hello), Route("/stream", _stream)])
    return RateLimitMiddleware(inner, settings)


def _call(
    app: Any, path: str = "/", headers: dict[str, str] | None = None, client: str = "192.0.2.1"
) -> tuple[int, dict[str, str], list[bytes]]:
    """One request straight through the ASGI app: status, headers and each body message's bytes."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (client, 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer is done
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], head, [m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body"]


# --- the bucket ------------------------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_the_sustained_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(10, clock)
    limit = Limit(per_second=2, burst=3)
    assert [buckets.take(("address", "a"), limit) for _ in range(3)] == [0, 0, 0]
    assert buckets.take(("address", "a"), limit) == 0.5  # half a second until one request refills
    clock.now += 0.5
    assert buckets.take(("address", "a"), limit) == 0
    clock.now += 60  # an idle client's bucket fills up to its burst, not beyond
    assert [buckets.take(("address", "a"), limit) for _ in range(4)][-1] > 0


def test_buckets_are_bounded_and_forget_the_longest_idle_first() -> None:
    buckets = TokenBuckets(100, Clock())
    limit = Limit(per_second=1, burst=1)
    buckets.take(("address", "first"), limit)
    for n in range(1000):
        buckets.take(("address", f"198.51.100.{n}"), limit)
        buckets.take(("address", "first"), limit)  # kept busy, so never the one forgotten
    assert len(buckets) == 100
    assert buckets.take(("address", "first"), limit) > 0


# --- the middleware --------------------------------------------------------------------------------


def test_a_client_over_its_budget_gets_429_with_retry_after_and_the_error_body() -> None:
    app = _limited()
    assert [_call(app)[0] for _ in range(2)] == [200, 200]
    status, headers, body = _call(app)
    assert status == 429
    assert headers["retry-after"] == "1"
    assert headers["content-type"] == "application/json"
    assert orjson.loads(b"".join(body)) == {
        "code": 429,
        "type": "error",
        "message": "too many requests from this client: try again in 1 s",
    }


def test_each_address_has_its_own_budget() -> None:
    app = _limited()
    for _ in range(2):
        _call(app, client="192.0.2.1")
    assert _call(app, client="192.0.2.1")[0] == 429
    assert _call(app, client="192.0.2.2")[0] == 200


def test_forwarded_addresses_are_believed_from_trusted_proxies_only() -> None:
    untrusted = _limited()
    for n in range(2):
        _call(untrusted, headers={"X-Forwarded-For": f"203.0.113.{n}"})
    # A client cannot escape its budget by claiming another address.
    assert _call(untrusted, headers={"X-Forwarded-For": "203.0.113.99"})[0] == 429

    behind_proxy = _limited(trusted_proxies=("10.0.0.0/8",))
    for _ in range(2):
        _call(behind_proxy, headers={"X-Forwarded-For": "203.0.113.1"}, client="10.0.0.5")
    assert _call(behind_proxy, headers={"X-Forwarded-For": "203.0.113.1"}, client="10.0.0.5")[0] == 429
    # Another client behind the same proxy, and the client's own claim before the proxy's hop ignored.
    assert _call(behind_proxy, headers={"X-Forwarded-For": "203.0.113.2"}, client="10.0.0.5")[0] == 200
    spoofed = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}
    assert _call(behind_proxy, headers=spoofed, client="10.0.0.5")[0] == 429


def test_a_token_has_its_own_higher_budget_kept_under_its_hash() -> None:
    app = _limited(rate_limit_token_per_second=1, rate_limit_token_burst=5)
    for _ in range(2):
        _call(app)
    assert _call(app)[0] == 429
    token = {"Authorization": VALID}
    assert [_call(app, headers=token)[0] for _ in range(6)] == [200] * 5 + [429]
    keys = " ".join(" ".join(key) for key in app.buckets._buckets)
    assert "secret-token" not in keys


def test_inventing_tokens_buys_no_more_than_the_budget_without_one() -> None:
    """Each invented token used to get a fresh bucket of its own: unlimited requests for anyone who
    sends a new random token each time (and, with Basic auth, unlimited password guesses)."""
    app = _limited(rate_limit_token_per_second=100, rate_limit_token_burst=100)
    statuses = [_call(app, headers={"Authorization": f"Bearer made-up-{n}"})[0] for n in range(6)]
    assert statuses == [401, 401, 429, 429, 429, 429]
    guesses = [_call(app, headers={"Authorization": f"Basic {n}"}, client="192.0.2.9")[0] for n in range(4)]
    assert guesses == [401, 401, 429, 429]
    # Meanwhile, without credentials, the address keeps its own budget.
    assert _call(app)[0] == 200


def test_no_limit_for_tokens_when_their_rate_is_zero() -> None:
    app = _limited(rate_limit_token_per_second=0)
    assert {_call(app, headers={"Authorization": VALID})[0] for _ in range(20)} == {200}


def test_a_stream_passes_the_middleware_message_by_message() -> None:
    status, headers, parts = _call(_limited(), "/stream")
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert [p for p in parts if p] == [b"event: one\n\n", b"event: two\n\n", b"event: three\n\n"]


def test_the_servers_own_requests_are_not_limited() -> None:
    """The viewer's tile warm-up asks the app in process for hundreds of tiles at start; it used to
    come as 127.0.0.1 and spend the budget of every local visitor."""
    app = _limited()
    assert {_call(app, client=INTERNAL_CLIENT)[0] for _ in range(10)} == {200}
    assert _call(app, client="127.0.0.1")[0] == 200


def test_limits_are_off_at_zero() -> None:
    assert rate_limits_configured(Settings())
    assert not rate_limits_configured(Settings(rate_limit_per_second=0, rate_limit_token_per_second=0))


# --- in the platform -------------------------------------------------------------------------------


@pytest.fixture
def stopped_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform's buckets on a clock that does not move: on a loaded machine three requests can
    take longer than the second that refills a bucket at one request per second."""
    monkeypatch.setattr(ratelimit, "TokenBuckets", lambda capacity: TokenBuckets(capacity, Clock()))


@pytest.mark.usefixtures("stopped_clock")
def test_the_platform_answers_429_to_a_client_over_its_budget(settings: Settings, engine: Engine) -> None:
    limited = settings.with_overrides(rate_limit_per_second=1, rate_limit_burst=3)
    with TestClient(create_app(limited, engine)) as client:
        assert [client.get("/v1.1/").status_code for _ in range(3)] == [200] * 3
        refused = client.get("/v1.1/Things")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["code"] == 429
    assert refused.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.usefixtures("stopped_clock")
def test_the_platform_refuses_guessed_tokens_beyond_the_budget(settings: Settings, engine: Engine) -> None:
    limited = settings.with_overrides(rate_limit_per_second=1, rate_limit_burst=3)
    with TestClient(create_app(limited, engine)) as client:
        statuses = [
            client.get("/v1.1/Things", headers={"Authorization": f"Bearer guess-{n}"}).status_code
            for n in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
        admin = client.get("/v1.1/Things", headers={"Authorization": f"Bearer {settings.admin_token}"})
    assert admin.status_code == 429  # the address is refused credentials until its budget refills
