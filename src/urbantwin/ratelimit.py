"""Rate limits per client: a token bucket for each client address and each API token.

A client without a token is known by its address (a trusted proxy's `X-Forwarded-For` is believed, no
one else's); a client with a token by the token's hash, so a city's ingest client or a partner with a
token gets its own, higher budget however many addresses it comes from. Credentials the server
refuses (401) are charged to their address at the limits of a client without a token, and while
that budget is spent the address's requests with credentials are refused: inventing tokens or
guessing passwords buys nothing. A request over the budget is answered 429 with `Retry-After` (whole
seconds until the bucket holds a request again) and the platform's JSON error body. Buckets live in
the memory of each server process (no shared store to ask per request): with several workers a
client's budget is that many times the setting, which the reverse proxy in front can cap if needed.

Why a small bucket of our own and not `limits`/`slowapi`: their strategies are counting windows
(fixed, moving, sliding), which cannot express "a sustained rate with a burst on top" that a map
viewer needs (dozens of tiles at once, then quiet), their in-memory storage keeps every key until it
expires with no bound on how many there are (a flood of distinct IPv6 addresses grows it), and
slowapi hooks into routes rather than being a plain ASGI middleware. The bucket below is the textbook
algorithm in a bounded LRU map, and touches neither the body nor the response stream, so Server-Sent
Events pass untouched.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from urbantwin.http import error_body, is_trusted_address, is_trusted_proxy
from urbantwin.settings import Settings

#: The client address of the server's own requests to itself (the viewer's tile warm-up, web/warm.py):
#: never limited. No TCP peer has it (peers are IP addresses), so no client outside can claim it.
INTERNAL_CLIENT = "urbantwin.internal"


@dataclass(frozen=True)
class Limit:
    """A sustained rate (requests per second) with a burst of `burst` requests on top of it."""

    per_second: float
    burst: int

    @property
    def active(self) -> bool:
        return self.per_second > 0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets by key, at most `capacity` of them (the least recently used go first).

    A forgotten bucket was idle for longer than any other; it starts full again, which is what an
    idle client's bucket would have been anyway unless it was evicted within seconds of its last
    request — only a flood of more than `capacity` distinct clients can cause that.
    """

    def __init__(self, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = max(1, capacity)
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        # Several worker threads of one server process never run the middleware at once (it runs on
        # the event loop), but a test client or an embedding app may: the lock keeps the map whole.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: tuple[str, str], limit: Limit) -> float:
        """Take one request from the key's bucket: 0 when allowed, else the seconds until it would be."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(float(limit.burst), now)
                self._buckets[key] = bucket
                while len(self._buckets) > self.capacity:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                refilled = bucket.tokens + (now - bucket.updated) * limit.per_second
                bucket.tokens = min(float(limit.burst), refilled)
                bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / limit.per_second

    def wait(self, key: tuple[str, str], limit: Limit) -> float:
        """The seconds until the key's bucket holds a request, taking nothing (0 for a full one)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            tokens = min(float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.per_second)
        return 0.0 if tokens >= 1 else (1 - tokens) / limit.per_second


def client_address(connection: HTTPConnection, settings: Settings) -> str:
    """The client's address: the peer, or from a trusted proxy the last address in `X-Forwarded-For`
    that no trusted proxy added (walking from the right, as each proxy appends its own peer)."""
    peer = connection.client.host if connection.client else "unknown"
    if not is_trusted_proxy(connection, settings):
        return peer
    hops = [hop.strip() for hop in connection.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted_address(hop, settings):
            return hop
    return hops[0] if hops else peer


def token_identity(authorization: str) -> str:
    """A stable name for the credentials of an `Authorization` header that does not reveal them."""
    return hashlib.sha256(authorization.encode("utf-8", "replace")).hexdigest()[:32]


class RateLimitMiddleware:
    """Pure ASGI middleware: 429 for a client over its budget, otherwise the request passes untouched."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.anonymous = Limit(settings.rate_limit_per_second, settings.rate_limit_burst)
        self.with_token = Limit(settings.rate_limit_token_per_second, settings.rate_limit_token_burst)
        self.buckets = TokenBuckets(settings.rate_limit_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or (client and client[0] == INTERNAL_CLIENT):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        address = client_address(connection, self.settings)
        authorization = connection.headers.get("authorization", "").strip()
        wait = self._charge(address, authorization)
        if wait > 0:
            await _too_many(send, wait)
            return
        if authorization and self.anonymous.active:
            send = self._noting_refusals(send, address)
        await self.app(scope, receive, send)

    def _noting_refusals(self, send: Send, address: str) -> Send:
        """`send`, charging the address's budget of refused credentials when the answer is 401."""

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.buckets.take(("refused", address), self.anonymous)
            await send(message)

        return send_and_note

    def _charge(self, address: str, authorization: str) -> float:
        """Charge the request to its bucket; the seconds to wait when it is empty, else 0."""
        if not authorization:
            return self.buckets.take(("address", address), self.anonymous) if self.anonymous.active else 0.0
        refused = self.buckets.wait(("refused", address), self.anonymous) if self.anonymous.active else 0.0
        if refused > 0:
            return refused
        if not self.with_token.active:
            return 0.0
        return self.buckets.take(("token", token_identity(authorization)), self.with_token)


async def _too_many(send: Send, wait: float) -> None:
    """Answer 429 with `Retry-After` in whole seconds and the platform's error body."""
    retry_after = max(1, math.ceil(wait))
    message = f"too many requests from this client: try again in {retry_after} s"
    body = orjson.dumps(error_body(429, message))
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def rate_limits_configured(settings: Settings) -> bool:
    """Whether any rate limit is on (the app adds the middleware only then)."""
    return settings.rate_limit_per_second > 0 or settings.rate_limit_token_per_second > 0
