"""The SensorThings API as connectors see it: a client, in process or over HTTP.

Connectors never insert into the SensorThings tables themselves; they send requests:

* `LocalClient` calls the SensorThings service of the local store in process (through
  `SensorThingsService.handle`), so access rules, validation and notifications apply exactly as for
  a client of the server;
* `HttpClient` sends them to a running server (urbantwin or any SensorThings 1.1 server).

Both answer plain JSON values and raise `ClientError` for a refused request. The sensor connectors
(`stations.py`, `sensorcommunity.py`, `cams.py`, `replay.py`) and the energy quarter's meters use it.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
from sqlalchemy import Engine

from urbantwin.access.principal import SYSTEM, Principal
from urbantwin.errors import BadRequest, PlatformError
from urbantwin.metrics import created_observations, ingested
from urbantwin.settings import Settings
from urbantwin.times import format_instant, parse_instant

JSON = dict[str, Any]

API_VERSION = "v1.1"

__all__ = [
    "API_VERSION",
    "JSON",
    "ClientError",
    "HttpClient",
    "LocalClient",
    "SensorThingsClient",
    "iso",
    "odata_string",
    "parse_iso",
    "phenomenon_start",
]


class ClientError(Exception):
    """A request to the SensorThings API failed; `status` is the HTTP status (0: not reachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class SensorThingsClient:
    """The few things a connector asks of a SensorThings API: GET (with paging) and POST."""

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        """Send one request to `path` (relative to the API root, e.g. `Things(1)/Datastreams`)."""
        raise NotImplementedError

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        return self.request("GET", path, query)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, None, body)

    def entities(self, path: str, query: dict[str, str] | None = None) -> Iterator[JSON]:
        """Every entity of a collection, following `@iot.nextLink` (the server pages large answers)."""
        page = self.get(path, query)
        while True:
            yield from page.get("value", [])
            link = page.get("@iot.nextLink")
            if not link:
                return
            page = self.follow(link)

    def follow(self, link: str) -> Any:
        """GET a link the server answered (a nextLink)."""
        raise NotImplementedError

    def check_dataset(self, ident: str, fields: JSON) -> None:
        """Raise (ClientError) unless dataset `ident` exists or could be made with `fields`."""
        raise ClientError(0, f"{self.describe()} keeps no datasets; import without --dataset")

    def place_in_dataset(self, ident: str, fields: JSON, members: dict[str, list[int]]) -> None:
        """Put entities (`{"Things": [ids]}`) into dataset `ident`, made with `fields` if missing."""
        raise ClientError(0, f"{self.describe()} keeps no datasets; import without --dataset")

    def close(self) -> None:
        """Release what the client holds (a connection); it may not be used afterwards."""

    def describe(self) -> str:
        """Where the client writes, for messages."""
        raise NotImplementedError


def _query_string(query: dict[str, str] | str | None) -> str:
    if query is None:
        return ""
    if isinstance(query, str):
        return query
    return urlencode(query, quote_via=quote, safe="$,/()")


class LocalClient(SensorThingsClient):
    """The SensorThings service of the local store, called in process (no server needed).

    Writes go through `SensorThingsService.handle` as the requests of a server would, with the
    principal given (by default `SYSTEM`, the operator running the command on the machine).
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        principal: Principal = SYSTEM,
        dispose_engine: bool = False,
    ) -> None:
        from urbantwin.access.bootstrap import ensure_defaults
        from urbantwin.sensorthings.service import SensorThingsService

        # As at the start of a server: the default dataset new entities join must exist.
        ensure_defaults(engine, settings)
        self.engine = engine
        self.service = SensorThingsService(engine, settings)
        self.principal = principal
        self.base = f"/{API_VERSION}"
        #: Whether `close` disposes of the engine (when the client was made for one command).
        self.dispose_engine = dispose_engine

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        from urbantwin.sensorthings.serialize import dumps

        try:
            answer = self.service.handle(method, path, _query_string(query), body, self.base, self.principal)
        except PlatformError as exc:
            raise ClientError(exc.status, exc.message) from None
        ingested("importer", created_observations(method, path, answer.status, answer.body))
        if answer.body is None:
            return None
        # The service may answer pre-serialised fragments; one round trip makes plain JSON values.
        return orjson.loads(dumps(answer.body))

    def follow(self, link: str) -> Any:
        parts = urlsplit(link)
        path = parts.path
        if path.startswith(self.base):
            path = path[len(self.base) :]
        return self.request("GET", path.lstrip("/"), parts.query)

    def check_dataset(self, ident: str, fields: JSON) -> None:
        from sqlalchemy import select

        from urbantwin.access.datasets import check_id, dataset_values
        from urbantwin.store.access_schema import datasets

        try:
            with self.engine.connect() as connection:
                if connection.execute(select(datasets.c.id).where(datasets.c.id == ident)).first():
                    return
                check_id("dataset", ident)
                dataset_values(connection, fields)
        except PlatformError as exc:
            raise ClientError(exc.status, f"dataset {ident!r}: {exc.message}") from None

    def place_in_dataset(self, ident: str, fields: JSON, members: dict[str, list[int]]) -> None:
        from sqlalchemy import select

        from urbantwin.access.datasets import create_dataset, move_entities
        from urbantwin.store.access_schema import datasets
        from urbantwin.store.engine import for_writes

        try:
            with for_writes(self.engine).begin() as connection:
                if not connection.execute(select(datasets.c.id).where(datasets.c.id == ident)).first():
                    create_dataset(connection, ident, **fields)
                for entity_set, ids in members.items():
                    move_entities(connection, ident, entity_set, ids)
        except PlatformError as exc:
            raise ClientError(exc.status, f"dataset {ident!r}: {exc.message}") from None

    def close(self) -> None:
        # The service counts reads in memory and a timer stores them later; a command ends sooner.
        audit = getattr(self.service, "audit", None)
        if audit is not None:
            audit.flush()
        if self.dispose_engine:
            self.engine.dispose()

    def describe(self) -> str:
        return f"the local store ({self.engine.url.render_as_string(hide_password=True)})"


class HttpClient(SensorThingsClient):
    """A running urbantwin (or any SensorThings 1.1) server, over HTTP with a bearer token.

    One persistent connection (http.client from the standard library: the command needs no extra
    dependency). A request on a kept-alive connection that the server closed meanwhile is sent
    once more on a new connection; any other failure is a `ClientError`.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {url!r}")
        prefix = parts.path.rstrip("/")
        if not prefix.endswith(f"/{API_VERSION}"):
            prefix += f"/{API_VERSION}"
        self.url = f"{parts.scheme}://{parts.netloc}{prefix}"
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, prefix
        self.token = token
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.netloc, timeout=self.timeout)

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        target = f"{self.prefix}/{path.lstrip('/')}"
        query_string = _query_string(query)
        if query_string:
            target += "?" + query_string
        return self._send(method, target, body)

    def follow(self, link: str) -> Any:
        parts = urlsplit(link)
        return self._send("GET", parts.path + (f"?{parts.query}" if parts.query else ""), None)

    def _send(self, method: str, target: str, body: Any) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or self._connect()
            try:
                connection.request(method, target, data, headers)
                response = connection.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                connection.close()
                self._connection = None
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: send again
                raise ClientError(0, f"{self.url}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                self._connection = None
                raise ClientError(0, f"cannot reach {self.url}: {exc}") from None
            self._connection = connection
            if response.status >= 400:
                raise ClientError(response.status, _error_message(raw, response.reason))
            return orjson.loads(raw) if raw.strip() else None
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def api(self) -> str:
        """The platform's own API beside the SensorThings root (`/api`, datasets and access)."""
        return self.prefix[: -len(f"/{API_VERSION}")] + "/api"

    def _datasets(self, ident: str) -> list[JSON]:
        try:
            return list(self._send("GET", f"{self.api}/admin/datasets", None))
        except ClientError as exc:
            if exc.status in (401, 403):
                raise ClientError(
                    exc.status,
                    f"dataset {ident!r}: only an administrator's token can make datasets and move entities "
                    "into them over --url; import with --dataset none to let what is created join your own "
                    "default dataset",
                ) from None
            raise

    def check_dataset(self, ident: str, fields: JSON) -> None:
        if any(row.get("id") == ident for row in self._datasets(ident)):
            return
        publisher = fields.get("publisher_id")
        if publisher is not None and not any(
            row.get("id") == publisher for row in self._send("GET", f"{self.api}/admin/organisations", None)
        ):
            raise ClientError(400, f"dataset {ident!r}: publisher_id: no organisation {publisher!r}")

    def place_in_dataset(self, ident: str, fields: JSON, members: dict[str, list[int]]) -> None:
        if not any(row.get("id") == ident for row in self._datasets(ident)):
            self._send("POST", f"{self.api}/admin/datasets", {"id": ident, **fields})
        for entity_set, ids in members.items():
            body = {"entity_set": entity_set, "ids": ids}
            self._send("POST", f"{self.api}/datasets/{quote(ident, safe='')}/members", body)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def describe(self) -> str:
        return self.url


def _error_message(raw: bytes, reason: str) -> str:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")[:200] or reason
    if isinstance(document, dict):
        return str(document.get("message") or document.get("detail") or reason)
    return reason


def odata_string(text: str) -> str:
    """An OData string literal (a quote inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"


#: ISO 8601 in UTC with `Z`, as the SensorThings API writes times.
iso = format_instant


def parse_iso(text: str) -> datetime:
    """An ISO 8601 instant in UTC; ValueError (an importer's row problem) when it is none."""
    try:
        return parse_instant(text, "time")
    except BadRequest as problem:
        raise ValueError(problem.message) from None


def phenomenon_start(value: str) -> datetime:
    """The start of a phenomenonTime (an instant, or an interval `start/end`)."""
    return parse_iso(value.partition("/")[0])
