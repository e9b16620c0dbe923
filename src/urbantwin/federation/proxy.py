"""A partner's feature collections read through (OGC API Features), so the viewer shows a partner's
layers beside ours, attributed.

`collections` asks the partner's `/collections` and answers what the viewer lists of each (id,
title, description, keywords), with the partner's `attribution` and `licence`. `items` asks the
partner's `/collections/{id}/items` with the few query parameters of OGC API Features Part 1 and 3
that select features (bbox, datetime, limit, offset, filter …) and answers a GeoJSON
FeatureCollection with the partner's `attribution` and `licence` added. What the partner says about
caching is honoured (RFC 9111, for a shared cache): an answer is kept as long as its
`Cache-Control: max-age` (or `s-maxage`) allows, never when it says `no-store` or `private`, and
revalidated with `If-None-Match` / `If-Modified-Since` when it has gone stale (or was `no-cache`),
so a 304 answers from the cache. The answer to our client carries how long it may still be kept.
The cache is in memory, per process, bounded (`MAX_ENTRIES`, least recently used out first).

Every answer the partner gives (not one from the cache) is told to `on_outcome`: a failure (no
answer, a timeout, a 5xx, an answer that is not what the standard says) with its reason, a success
with None; a 4xx to a visitor's query says nothing about the partner and is not told. The service
records it as the partner's health (`RemoteRegistry.note`, which writes only on a change).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from urbantwin.errors import BadRequest
from urbantwin.federation.registry import Remote
from urbantwin.federation.remote_http import RemoteFailure, RemoteHttp

#: The query parameters passed on to the partner; anything else is refused (400).
PASSED = ("bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "filter", "filter-lang", "filter-crs")
MAX_ENTRIES = 256
#: The largest partner answer proxied (a layer for a map, not a bulk download).
MAX_BYTES = 16 * 1024 * 1024
_COLLECTION = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_DIRECTIVE = re.compile(r"([a-z-]+)(?:=\"?(\d+)\"?)?")


@dataclass
class _Entry:
    body: dict[str, Any]
    fresh_until: float
    etag: str | None
    last_modified: str | None
    revalidate: bool


@dataclass(frozen=True)
class Proxied:
    """A proxied page: the document, how many seconds a client may keep it, and whether it came
    from the cache."""

    document: dict[str, Any]
    max_age: int
    cached: bool


def _cache_control(header: str | None) -> dict[str, int | None]:
    directives: dict[str, int | None] = {}
    for part in (header or "").lower().split(","):
        found = _DIRECTIVE.match(part.strip())
        if found:
            directives[found.group(1)] = int(found.group(2)) if found.group(2) else None
    return directives


class FeatureProxy:
    """The read-through cache of partners' feature collections (one per app)."""

    def __init__(self, on_outcome: Callable[[Remote, str | None], None] | None = None) -> None:
        #: Told of each answer the partner gave: None (it worked) or the reason it failed.
        self.on_outcome = on_outcome
        self._cache: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        #: One client per partner (and registration), so its rate limit holds across requests.
        self._clients: dict[tuple[str, str, float], RemoteHttp] = {}

    def _client(self, remote: Remote) -> RemoteHttp:
        key = (remote.name, remote.url, remote.requests_per_second)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                for old in [k for k in self._clients if k[0] == remote.name]:
                    self._clients.pop(old).close()
                client = self._clients[key] = RemoteHttp(remote.url, remote.requests_per_second, timeout=20.0)
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def collections(self, remote: Remote) -> Proxied:
        """The partner's collections (id, title, description, keywords) with its attribution."""
        if remote.kind != "ogcapi":
            raise BadRequest(f"remote {remote.name!r} is a {remote.kind} endpoint, not an OGC API")
        url = f"{remote.url}/collections"

        def shaped(document: Any) -> dict[str, Any]:
            found = document.get("collections") if isinstance(document, dict) else None
            if not isinstance(found, list):
                raise RemoteFailure(f"{url}: the answer has no list of collections")
            listed = []
            for collection in found:
                if not isinstance(collection, dict) or not _COLLECTION.match(str(collection.get("id", ""))):
                    continue  # one the items route could not ask for: not offered
                keywords = collection.get("keywords")
                listed.append(
                    {
                        "id": collection["id"],
                        "title": str(collection.get("title") or collection["id"]),
                        "description": str(collection.get("description") or ""),
                        "keywords": [str(k) for k in keywords] if isinstance(keywords, list) else [],
                    }
                )
            return {
                "remote": remote.name,
                "title": remote.title,
                "collections": listed,
                "attribution": remote.attribution,
                "licence": remote.licence,
            }

        return self._read(remote, (remote.name, "", ""), url, [], shaped, "application/json")

    def items(self, remote: Remote, collection: str, params: list[tuple[str, str]]) -> Proxied:
        """A page of one of the partner's collections, with its attribution."""
        if remote.kind != "ogcapi":
            raise BadRequest(f"remote {remote.name!r} is a {remote.kind} endpoint, not an OGC API")
        if not _COLLECTION.match(collection):
            raise BadRequest(f"collection {collection[:80]!r}: letters, digits and _.:- only")
        unknown = sorted({name for name, _ in params if name not in PASSED})
        if unknown:
            raise BadRequest(f"unknown parameter {unknown[0]!r}; passed on: {', '.join(PASSED)}")
        query = sorted(params)
        if len({name for name, _ in query}) != len(query):
            raise BadRequest("a query parameter is given twice")
        url = f"{remote.url}/collections/{quote(collection, safe='')}/items"

        def shaped(document: Any) -> dict[str, Any]:
            if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
                raise RemoteFailure(f"{url}: the answer is not a GeoJSON FeatureCollection")
            return {**document, "attribution": remote.attribution, "licence": remote.licence}

        return self._read(remote, (remote.name, collection, repr(query)), url, query, shaped)

    def _read(
        self,
        remote: Remote,
        key: tuple[str, str, str],
        url: str,
        query: list[tuple[str, str]],
        shaped: Callable[[Any], dict[str, Any]],
        accept: str = "application/geo+json, application/json;q=0.9",
    ) -> Proxied:
        """The partner's answer at `url`, shaped, from the cache while the partner allows."""
        now = time.monotonic()
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
        if entry is not None and not entry.revalidate and entry.fresh_until > now:
            return Proxied(entry.body, int(entry.fresh_until - now), True)
        try:
            proxied = self._ask(remote, key, url, query, shaped, accept, entry)
        except RemoteFailure as failure:
            if failure.partner_fault and self.on_outcome is not None:
                self.on_outcome(remote, failure.message)
            raise
        if self.on_outcome is not None:
            self.on_outcome(remote, None)
        return proxied

    def _ask(
        self,
        remote: Remote,
        key: tuple[str, str, str],
        url: str,
        query: list[tuple[str, str]],
        shaped: Callable[[Any], dict[str, Any]],
        accept: str,
        entry: _Entry | None,
    ) -> Proxied:
        """The partner asked (revalidating `entry` where there is one), its answer shaped and kept."""
        headers = {"Accept": accept}
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        if entry is not None and entry.last_modified:
            headers["If-Modified-Since"] = entry.last_modified
        answer = self._client(remote).get(url, dict(query), headers)
        if answer.status == 304 and entry is not None:
            body = entry.body
        elif answer.status >= 400:
            # A 4xx refuses the visitor's query (a collection it does not have, a filter it does not
            # take); the partner answered, so its health is not changed by it.
            raise RemoteFailure(f"{url}: HTTP {answer.status}", partner_fault=answer.status >= 500)
        else:
            if len(answer.content) > MAX_BYTES:
                raise RemoteFailure(f"{url}: the layer is larger than {MAX_BYTES} bytes")
            try:
                document = orjson.loads(answer.content)
            except orjson.JSONDecodeError:
                raise RemoteFailure(f"{url}: the answer is not JSON") from None
            body = shaped(document)
        directives = _cache_control(answer.headers.get("cache-control"))
        if "no-store" in directives or "private" in directives:
            with self._lock:
                self._cache.pop(key, None)
            return Proxied(body, 0, False)
        max_age = directives.get("s-maxage") or directives.get("max-age") or 0
        age = answer.headers.get("age", "0")
        max_age = max(0, max_age - (int(age) if age.isdigit() else 0))
        stored = _Entry(
            body,
            time.monotonic() + max_age,
            answer.headers.get("etag") or (entry.etag if entry and answer.status == 304 else None),
            answer.headers.get("last-modified")
            or (entry.last_modified if entry and answer.status == 304 else None),
            "no-cache" in directives,
        )
        if max_age > 0 or stored.etag or stored.last_modified:
            with self._lock:
                self._cache[key] = stored
                self._cache.move_to_end(key)
                while len(self._cache) > MAX_ENTRIES:
                    self._cache.popitem(last=False)
        return Proxied(body, 0 if stored.revalidate else max_age, answer.status == 304)
