"""Read-your-writes when reads go to replicas: a client's next reads see its own writes, on any node.

A request that wrote (committed on the primary) is answered with the primary's WAL position after
it, in the header `Urbantwin-Read-After` and the cookie `urbantwin_read_after`; the node also keeps
it for the request's credentials (a hash of its `Authorization` header). A later request brings the
position back — a browser its cookie, any client the header of the same name — and its reads go to
a replica only once the replica has replayed that position (`store/replicas.py`), so they see the
write through whichever node behind nginx answers them. A client with a token that keeps neither
cookie nor header still reads its writes on the node that took them. The position is no secret
(it is a byte offset in the primary's log); a client that sends one far ahead only makes its own
reads go to the primary until the cookie expires.

The cookie lives as long as a replica within the lag limit may lack the write
(`ReadRouter.position_lifetime_seconds`); after that every replica in use has it anyway.

Pure ASGI, so streamed answers pass through; added by the app only when replicas are configured.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from contextlib import suppress

from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from urbantwin.http import error_body
from urbantwin.store.replicas import ReadRouter, format_lsn, parse_lsn, reading_after

log = logging.getLogger("urbantwin")

#: The response header with the position after a write, and the request header that brings it back.
HEADER = "Urbantwin-Read-After"
#: The cookie of the same, for browsers.
COOKIE = "urbantwin_read_after"
#: Most credentials whose last write position a node keeps (the least recently written are dropped).
REMEMBERED_CREDENTIALS = 10_000

_HEADER_KEY = HEADER.lower().encode()
#: The methods that write nothing (RFC 9110, 9.2.1).
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class ReadYourWritesMiddleware:
    def __init__(self, app: ASGIApp, router: ReadRouter) -> None:
        self.app = app
        self.router = router
        #: Hash of the credentials -> (position, monotonic moment after which it is no longer needed).
        self._written: OrderedDict[bytes, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered_header = cookie = authorization = None
        for name, value in scope.get("headers", ()):
            if name == _HEADER_KEY:
                offered_header = value.decode("latin-1")
            elif name == b"cookie":
                cookie = cookie_parser(value.decode("latin-1")).get(COOKIE)
            elif name == b"authorization":
                authorization = hashlib.sha256(value).digest()
        after = 0
        if offered_header is not None:
            try:
                after = parse_lsn(offered_header)
            except ValueError:
                message = (
                    f"the header {HEADER} is not a WAL position as this server sends it (two "
                    f"hexadecimal numbers separated by a slash, like 16/B374D848): {offered_header[:40]!r}"
                )
                await JSONResponse(error_body(400, message), 400)(scope, receive, send)
                return
        if cookie:
            # A cookie is not typed by hand: a malformed one (of another server once at this address)
            # is ignored rather than refused, which would lock the browser out until it expires.
            with suppress(ValueError):
                after = max(after, parse_lsn(cookie))
        if authorization is not None:
            after = max(after, self._remembered(authorization))

        unsafe = scope.get("method", "GET") not in _SAFE_METHODS
        with reading_after(after) as state:

            async def send_with_position(message: Message) -> None:
                # A write acknowledged by another thread's commit (single Observation POSTs are
                # committed in groups by a thread of their own) is not seen by the commit hook: an
                # unsafe method that succeeded counts as a write too.
                if message["type"] == "http.response.start" and (
                    state.wrote or (unsafe and message["status"] < 400)
                ):
                    headers = await self._position_headers(authorization)
                    message["headers"] = [*message.get("headers", ()), *headers]
                await send(message)

            await self.app(scope, receive, send_with_position)

    async def _position_headers(self, authorization: bytes | None) -> list[tuple[bytes, bytes]]:
        try:
            position = await run_in_threadpool(self.router.primary_position)
        except Exception as exc:  # noqa: BLE001 - the write is done; only its read-your-writes hint is lost
            log.warning("the primary's WAL position after a write is not known: %s", type(exc).__name__)
            return []
        lifetime = self.router.position_lifetime_seconds
        if authorization is not None:
            self._remember(authorization, position, time.monotonic() + lifetime)
        value = format_lsn(position)
        cookie = f"{COOKIE}={value}; Max-Age={lifetime}; Path=/; SameSite=Lax; HttpOnly"
        return [(_HEADER_KEY, value.encode()), (b"set-cookie", cookie.encode())]

    def _remembered(self, credential: bytes) -> int:
        with self._lock:
            found = self._written.get(credential)
            if found is None:
                return 0
            position, until = found
            if until < time.monotonic():
                del self._written[credential]
                return 0
            return position

    def _remember(self, credential: bytes, position: int, until: float) -> None:
        with self._lock:
            self._written[credential] = (max(position, self._written.get(credential, (0, 0.0))[0]), until)
            self._written.move_to_end(credential)
            while len(self._written) > REMEMBERED_CREDENTIALS:
                self._written.popitem(last=False)
