"""The HTTP kit every API of the platform shares: the public base URL of links, reading a JSON body
within its limits, and the error body.

No API module imports another API module's routes or service to get these; each imports this one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Coroutine
from itertools import chain
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from urbantwin.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from urbantwin.settings import Settings

#: A host (name, IPv4 or bracketed IPv6) with an optional port: what a forwarded host may be.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
#: A path prefix a proxy may mount the platform under.
_PREFIX = re.compile(r"^(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?$")


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON body of every error answer of the platform."""
    return {"code": status, "type": "error", "message": message}


def is_trusted_proxy(connection: HTTPConnection, settings: Settings) -> bool:
    """Whether the direct peer of the connection is one of the configured trusted proxies.

    Only a trusted proxy may tell the server its public address (`X-Forwarded-*`): any other client
    could otherwise make the server write links to an address of its choosing.
    """
    if connection.client is None:
        return False
    return is_trusted_address(connection.client.host, settings)


def is_trusted_address(peer: str, settings: Settings) -> bool:
    """Whether an address (a peer, or a hop of `X-Forwarded-For`) is one of the trusted proxies."""
    if not settings.trusted_proxies:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        address = None
    for entry in settings.trusted_proxies:
        if entry == "*" or entry == peer:
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def public_base(connection: HTTPConnection, settings: Settings) -> str:
    """The public URL of the server root, which every link of every API starts with.

    The configured `public_base_url` wins; otherwise the forwarded headers of a trusted proxy; otherwise
    the address the request was sent to.
    """
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    headers = connection.headers
    proto = connection.url.scheme
    host = headers.get("host") or connection.url.netloc
    prefix = ""
    if is_trusted_proxy(connection, settings):
        forwarded_proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded_proto in ("http", "https"):
            proto = forwarded_proto
        forwarded_host = headers.get("x-forwarded-host", "").split(",")[0].strip()
        if forwarded_host and _HOST.match(forwarded_host):
            host = forwarded_host
        forwarded_prefix = headers.get("x-forwarded-prefix", "").strip()
        if forwarded_prefix and _PREFIX.match(forwarded_prefix):
            prefix = forwarded_prefix.rstrip("/")
    if not _HOST.match(host):
        host = connection.url.netloc
    return f"{proto}://{host}{prefix}"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it grows beyond `limit` bytes.

    The body is read chunk by chunk, so a chunked upload without a length is stopped at the limit
    rather than held in memory whole.
    """
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


#: The deepest nesting any JSON input may have, whatever `max_json_depth` is set to: orjson writes at
#: most 254 levels, and a stored document is embedded a few levels deeper in responses (a value list,
#: an expanded entity, a batch answer), so every accepted document must stay well below that.
DEEPEST_WRITABLE_JSON = 200


def check_text(text: str, what: str) -> None:
    """400 when a text holds a NUL character: PostgreSQL cannot store one, so no backend accepts it."""
    if "\x00" in text:
        raise BadRequest(f"{what} contains a NUL character (\\u0000), which no text may hold")


def check_json_input(
    document: Any, limit: int, what: str = "the JSON document", *, texts: bool = True
) -> None:
    """400 when `document` nests deeper than `limit` levels of arrays and objects, or when one of its
    keys or strings holds a NUL character.

    The one rule for JSON input, checked in one pass the same way for every API, importer and broker
    message. The depth limit lies below what can be written back (see `DEEPEST_WRITABLE_JSON`), so
    every accepted document can be stored, read and embedded in a response; NUL is refused because
    PostgreSQL cannot store it and SQLite would, and both backends must give the same answer.
    `texts=False` skips the NUL check, for a document whose JSON text is known to hold none.
    """
    limit = min(limit, DEEPEST_WRITABLE_JSON)
    if texts and isinstance(document, str):
        check_text(document, f"a string in {what}")
    # Level by level, and only containers go on to the next level: a dataArray body of ten thousand
    # rows is ten thousand small lists of scalars, and this walk is on the bulk path of every write.
    # Without strings to check, the types of a whole level are gathered in one pass in C, and a level
    # of scalars only (the rows' values) is not visited again.
    level = [document] if isinstance(document, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise BadRequest(f"{what} nests deeper than {limit} levels of arrays and objects")
        if not texts:
            children = [value.values() if isinstance(value, dict) else value for value in level]
            kinds = set(map(type, chain.from_iterable(children)))
            if not any(issubclass(kind, dict | list) for kind in kinds):
                return
            level = [child for child in chain.from_iterable(children) if isinstance(child, dict | list)]
            continue
        deeper: list[Any] = []
        for value in level:
            if isinstance(value, dict):
                for key in value:
                    if isinstance(key, str):
                        check_text(key, f"a key in {what}")
                children_of: Any = value.values()
            else:
                children_of = value
            for child in children_of:
                if isinstance(child, dict | list):
                    deeper.append(child)
                elif isinstance(child, str):
                    check_text(child, f"a string in {what}")
        level = deeper


def parse_json(raw: bytes | str, settings: Settings | int, what: str = "the body") -> Any:
    """A JSON text parsed and checked by `check_json_input`; 400 naming the problem otherwise.

    `settings` gives the depth limit (`max_json_depth`); callers without settings at hand (a parser
    of a query parameter) may pass the limit itself.
    """
    limit = settings if isinstance(settings, int) else settings.max_json_depth
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower() or "recursion" in str(exc).lower():  # beyond orjson's 1,024
            raise BadRequest(
                f"{what} nests deeper than {min(limit, DEEPEST_WRITABLE_JSON)} levels of arrays and objects"
            ) from None
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    # The only way JSON writes a NUL is the escape `\u0000` (a raw control character is not valid
    # JSON): without it in the text, no string of the document can hold one.
    may_hold_nul = "\\u0000" in raw if isinstance(raw, str) else b"\\u0000" in raw
    check_json_input(document, limit, what, texts=may_hold_nul)
    return document


def dumps_json(value: Any, option: int = 0) -> bytes:
    """`value` as JSON bytes, also when it nests deeper than orjson writes in one go (254 levels).

    Input is limited far below that, but a document stored before the limit existed (up to 253
    levels) is embedded a few levels deeper in a listing, an expansion or a batch answer; one such
    entity must not break the answer for every reader. Those answers are written in pieces: each
    subtree below `_PIECE_DEPTH` levels is written on its own and embedded as a finished fragment, so
    no single call to orjson goes deeper than the stored document itself (pre-written fragments in
    the value stay as they are, which the standard library's encoder could not do).
    """
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError as exc:
        if "recursion" not in str(exc).lower():
            raise
    return orjson.dumps(_in_pieces(value, option, _PIECE_DEPTH), option=option)


#: Levels of a response kept whole when it is written in pieces (see `dumps_json`).
_PIECE_DEPTH = 16


def _in_pieces(value: Any, option: int, levels: int) -> Any:
    if not isinstance(value, dict | list | tuple):
        return value
    if levels == 0:
        return orjson.Fragment(orjson.dumps(value, option=option))
    if isinstance(value, dict):
        return {key: _in_pieces(child, option, levels - 1) for key, child in value.items()}
    return [_in_pieces(child, option, levels - 1) for child in value]


def body_media_type(request: Request) -> str:
    """The media type of the request body, without parameters, in lower case."""
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


async def read_json(request: Request, settings: Settings) -> Any:
    """The request's JSON body: at most `max_body_bytes`, at most `max_json_depth` levels deep."""
    raw = await read_body(request, settings.max_body_bytes)
    if not raw.strip():
        raise BadRequest("the request needs a JSON body")
    content_type = body_media_type(request)
    if content_type and "json" not in content_type and content_type not in ("text/plain", "*/*"):
        raise UnsupportedMediaType(f"the body must be JSON, not {content_type}")
    return parse_json(raw, settings)


class RefuseNulInRequestLine:
    """ASGI middleware answering 400 when the path or the query string holds a NUL character.

    Query values and path segments reach the database as text (filters, ids, names): PostgreSQL cannot
    hold NUL and SQLite would store it, so the one rule for strings is enforced for all of them here,
    before any route, in the same words as for JSON bodies.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = _nul_in_request_line(scope)
            if where is not None:
                message = f"the {where} contains a NUL character (\\u0000), which no text may hold"
                response = JSONResponse(error_body(400, message), 400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_in_request_line(scope: Scope) -> str | None:
    """Which part of the request line holds a NUL ("path", "query string"), or None."""
    if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b""):
        return "path"
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        return "query string"
    return None


class CheckedJsonRoute(APIRoute):
    """A FastAPI route whose body is read by this kit before FastAPI parses it into the route's model.

    FastAPI reads a body whole and parses it with the standard library, so a route with a pydantic
    body would take any size, any depth and NUL in strings; this route reads it within
    `max_body_bytes` while streaming and parses it with `parse_json`, and FastAPI then validates the
    document it finds cached on the request. Schemas and validation messages stay FastAPI's.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            settings: Settings = request.app.state.settings
            raw = await read_body(request, settings.max_body_bytes)
            request._body = raw  # what `request.body()` answers from now on
            if raw.strip() and "json" in body_media_type(request):
                request._json = parse_json(raw, settings)  # what `request.json()` answers
            return await handler(request)

        return checked
