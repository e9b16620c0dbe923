"""The HTTP kit every API of the platform shares: the public base URL of links, reading a JSON body
within its limits, and the error body.

No API module imports another API module's routes or service to get these; each imports this one.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import orjson
from starlette.requests import HTTPConnection, Request

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
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_depth(document: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON document (a scalar is depth 0).

    Iterative, so a document of any depth is measured without touching the recursion limit.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            depth += 1
            stack.extend((child, depth) for child in value.values())
        elif isinstance(value, list):
            depth += 1
            stack.extend((child, depth) for child in value)
        else:
            continue
        deepest = max(deepest, depth)
    return deepest


def check_json_depth(document: Any, limit: int, what: str = "the JSON document") -> None:
    """400 when arrays and objects in `document` nest deeper than `limit` levels.

    The one limit of JSON nesting on input, checked the same way for every API, importer and broker
    message; it lies well below what can be written back (orjson writes at most 254 levels), so every
    accepted document can be stored, read and embedded in a response.
    """
    if json_depth(document) > limit:
        raise BadRequest(f"{what} nests deeper than {limit} levels of arrays and objects")


def parse_json(raw: bytes | str, settings: Settings, what: str = "the body") -> Any:
    """A JSON text parsed and checked against the nesting limit; 400 naming the problem otherwise."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "recursion" in str(exc).lower():
            raise BadRequest(
                f"{what} nests deeper than {settings.max_json_depth} levels of arrays and objects"
            ) from None
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    check_json_depth(document, settings.max_json_depth, what)
    return document


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
