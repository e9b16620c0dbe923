"""The request id and the timing of every request (pure ASGI, so streamed answers pass through).

Each request gets an id — the client's or a proxy's `X-Request-Id` when it is a plain token, else a
new one — that every log line made while serving it carries (`urbantwin.logs.REQUEST_ID`) and the
answer echoes, so an operator finds a client's complaint in the logs. Its duration is observed by
route template (`/v1.1/Things({id})`, never the path asked for: the labels stay few whatever
clients ask), method and status.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from urbantwin.logs import REQUEST_ID, request_id
from urbantwin.metrics import REQUEST_SECONDS

#: Methods named in the metrics; others count as `other` (a client may send any word).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: The route label of a request no route matched (a 404, the viewer's files).
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, or `unmatched`."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    return UNMATCHED


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        #: The histogram's child of each label set seen, found by a dict lookup rather than by
        #: `labels()` (a lock and a sort each time) on every request; as few as the labels' values.
        self._timers: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                offered = value.decode("latin-1")
                break
        ident = request_id(offered)
        token = REQUEST_ID.set(ident)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", ident.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            method = scope.get("method", "")
            labels = (method if method in _METHODS else "other", route_template(scope), status)
            timer = self._timers.get(labels)
            if timer is None:
                timer = self._timers[labels] = REQUEST_SECONDS.labels(labels[0], labels[1], str(status))
            timer.observe(time.perf_counter() - started)
            REQUEST_ID.reset(token)
