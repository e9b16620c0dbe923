"""The SensorThings API as a function of a request: `handle(method, path, query, body)`.

It knows nothing of the web framework: it takes the parts of a request and answers an
`ApiResponse` (status, headers, JSON-ready body). The HTTP routes are a thin binding of it, and
`$batch` calls it for each request of a batch, inside the batch's transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import jsonpatch
import jsonpointer
from sqlalchemy import Connection, Engine, select

from urbantwin.access.gate import Access, Caller
from urbantwin.access.principal import Principal
from urbantwin.errors import BadRequest, MethodNotAllowed, PlatformError
from urbantwin.http import check_json_input
from urbantwin.sensorthings.dataarray import create_observations
from urbantwin.sensorthings.guard import WriteGuard
from urbantwin.sensorthings.model import BY_SET_NAME
from urbantwin.sensorthings.paths import ResourcePath, Step, parse_path
from urbantwin.sensorthings.posts import ObservationPosts
from urbantwin.sensorthings.query import QueryLimits, QuerySyntaxError, parse_query_options
from urbantwin.sensorthings.read import Paging, Reader
from urbantwin.sensorthings.record import WriteRecord, begin_record, end_record
from urbantwin.sensorthings.serialize import RowWriter
from urbantwin.sensorthings.visibility import Visibility, dataset_of
from urbantwin.sensorthings.write import BrokenReference, Writer
from urbantwin.settings import Settings
from urbantwin.store.access_schema import users
from urbantwin.store.engine import for_writes
from urbantwin.store.replicas import read_connection

VERSION = "v1.1"

_REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req"

#: The requirement classes of STA 1.1 part 1 (OGC 18-088) this service implements, for the service
#: root's `serverSettings.conformance`. A class claims every requirement under it; the optional
#: requirements of create-update-delete (PUT, JSON Patch, HistoricalLocations created by clients)
#: are named as well, so that a reader matching whole URIs sees them too. Not claimed:
#: multi-datastream (there are no MultiDatastreams). The MQTT extension's classes are declared by
#: `urbantwin.live` and listed only when it is on.
CONFORMANCE = [
    f"{_REQ}/datamodel",
    f"{_REQ}/resource-path/resource-path-to-entities",
    f"{_REQ}/request-data",
    f"{_REQ}/create-update-delete",
    f"{_REQ}/create-update-delete/update-entity-put",
    f"{_REQ}/create-update-delete/update-entity-jsonpatch",
    f"{_REQ}/create-update-delete/historical-location-manual-creation",
    f"{_REQ}/batch-request/batch-request",
    f"{_REQ}/data-array/data-array",
]


@dataclass(frozen=True)
class JsonPatch:
    """A PATCH body in JSON Patch form (RFC 6902, `application/json-patch+json`)."""

    operations: Any


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


_MISSING = object()


class SensorThingsService:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        access: Access | None = None,
        conformance: list[str] | None = None,
    ) -> None:
        self.engine = engine
        #: Who may see and change which dataset, and the account of reads: every read and write asks.
        self.access = access or Access.of(engine, settings)
        self.write_engine = for_writes(engine)
        self.settings = settings
        self.paging = Paging(settings.default_top, settings.max_top)
        self.query_limits = QueryLimits.of(settings)
        #: (Datastream, FeatureOfInterest) pairs known to lie inside the Datastream's observedArea.
        self.covered: set[tuple[int, int]] = set()
        #: Told of every write that changed something, inside its transaction, with the writer's
        #: record of what it created, updated and deleted; the live updates (`urbantwin.live`) pass it
        #: on once the transaction commits. None: nobody listens.
        self.on_write: Callable[[Connection, WriteRecord], None] | None = None
        #: The conformance classes the service root lists: those the app's modules declare for it
        #: that apply with these settings (`urbantwin.modules`; the MQTT extension's only when on).
        self.conformance = list(CONFORMANCE if conformance is None else conformance)
        #: serverSettings entries of extensions (the MQTT extension's broker, or why it is off).
        self.extra_server_settings: dict[str, Any] = {}
        #: Plain single Observation POSTs, committed in groups (see `posts.py`).
        self.observation_posts = ObservationPosts(self)

    # --- the entry point ------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query_string: str,
        body: Any,
        base: str,
        principal: Principal,
        connection: Connection | None = None,
    ) -> ApiResponse:
        """Answer one request. `base` is the public URL of the API root (…/v1.1)."""
        method = method.upper()
        path = unquote(path).strip("/")
        if path == "":
            if method != "GET":
                raise MethodNotAllowed(f"{method} is not allowed on the service root")
            return ApiResponse(200, self.service_root(base))
        if path == "$batch":
            if method != "POST":
                raise MethodNotAllowed("$batch takes POST")
            from urbantwin.sensorthings.batch import run_batch

            return ApiResponse(200, run_batch(self, body, base, principal))
        if path == "CreateObservations":
            if method != "POST":
                raise MethodNotAllowed("CreateObservations takes POST")
            self._may_write_at_all(principal, "Observations")
            return self._in_transaction(
                connection,
                lambda c: self._create_observations(c, body, base, principal),
                principal,
                f"POST {path}",
            )
        resource = parse_path(path)
        if method == "GET":
            options = _options(query_string, self.query_limits)
            return self._read(
                connection, lambda c: self._get(c, resource, options, path, query_string, base, principal)
            )
        if method not in ("POST", "PATCH", "PUT", "DELETE"):
            raise MethodNotAllowed(f"{method} is not allowed here")
        self._may_write_at_all(principal, resource.target.entity.set_name)
        target = f"{method} {path}"
        if method == "POST":
            return self._in_transaction(
                connection, lambda c: self._post(c, resource, body, base, principal), principal, target
            )
        if method in ("PATCH", "PUT"):
            return self._in_transaction(
                connection,
                lambda c: self._update(c, resource, body, base, method == "PUT", principal),
                principal,
                target,
            )
        return self._in_transaction(
            connection, lambda c: self._delete(c, resource, principal), principal, target
        )

    def service_root(self, base: str) -> dict[str, Any]:
        return {
            "value": [{"name": name, "url": f"{base}/{name}"} for name in BY_SET_NAME],
            "serverSettings": {
                "conformance": list(self.conformance),
                **self.extra_server_settings,
            },
        }

    # --- access ---------------------------------------------------------------------------------

    def _may_write_at_all(self, principal: Principal, what: str) -> None:
        """Refuse at once those who may write nothing (before any work); datasets are asked later."""
        self.access.require_writer(Caller(principal), f"writing {what}")

    def _guard(self, connection: Connection, principal: Principal) -> WriteGuard:
        visibility = Visibility(self.access.scope(Caller(principal), connection))
        home = None
        if principal.user_id is not None:
            home = connection.execute(
                select(users.c.default_dataset_id).where(users.c.id == principal.user_id)
            ).scalar()
        touched = connection.info.setdefault(_TOUCHED, set())
        home = home or self.settings.default_dataset
        return WriteGuard(self.access.policy, principal, visibility, home, touched)

    # --- operations -----------------------------------------------------------------------------

    def _reader(self, connection: Connection, base: str, visibility: Visibility) -> Reader:
        return Reader(connection, base, self.paging, visibility=visibility)

    def _get(
        self,
        connection: Connection,
        resource: ResourcePath,
        options: Any,
        path: str,
        query_string: str,
        base: str,
        principal: Principal,
    ) -> ApiResponse:
        caller = Caller(principal, f"GET {path}?{query_string}".rstrip("?"))
        scope = self.access.scope(caller, connection)
        reader = self._reader(connection, base, Visibility(scope))
        answer = reader.get(resource, options, query_string)
        # Counted against the dataset of the entity the path starts at, or across datasets.
        first = resource.steps[0]
        if first.id is None:
            dataset = None
        elif reader.first_dataset_read:
            dataset = reader.first_dataset
        else:
            dataset = dataset_of(connection, first.entity, first.id)
        self.access.record_read(caller, "sensorthings", [dataset])
        return ApiResponse(200, answer)

    def _post(
        self, connection: Connection, resource: Any, body: Any, base: str, principal: Principal
    ) -> ApiResponse:
        writer = Writer(connection, self._guard(connection, principal), self.covered)
        entity, ident = writer.create(resource, body)
        writer.finish()
        if ident in writer.inserted and entity.name == "Observation":
            created = RowWriter(entity, base, None)(writer.inserted[ident])
        else:
            # Read back with the writer's own visibility: the datasets were looked up once already.
            created = self._reader(connection, base, writer.guard.visibility).get(
                ResourcePath((Step(entity, ident),)), parse_query_options({})
            )
        return ApiResponse(201, created, {"Location": f"{base}/{entity.set_name}({ident})"})

    def _update(
        self, connection: Connection, resource: Any, body: Any, base: str, replace: bool, principal: Principal
    ) -> ApiResponse:
        guard = self._guard(connection, principal)
        if isinstance(body, JsonPatch):
            body = self._apply_json_patch(connection, resource, body, base, guard.visibility)
        writer = Writer(connection, guard, self.covered)
        entity, ident = writer.update(resource, body, replace)
        writer.finish()
        updated = self._reader(connection, base, guard.visibility).get(
            ResourcePath((Step(entity, ident),)), parse_query_options({})
        )
        return ApiResponse(200, updated)

    def _apply_json_patch(
        self, connection: Connection, resource: Any, patch: JsonPatch, base: str, visibility: Visibility
    ) -> Any:
        """The JSON merge body equal to applying `patch` to the entity as it is now."""
        if resource.property_name is not None or resource.ref or resource.target.is_collection:
            raise BadRequest("a JSON Patch addresses one entity, e.g. /Things(1)")
        current = self._reader(connection, base, visibility).get(resource, parse_query_options({}))
        try:
            changed = jsonpatch.apply_patch(current, patch.operations)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError) as exc:
            raise BadRequest(f"the JSON Patch cannot be applied: {exc}") from None
        if not isinstance(changed, dict):
            raise BadRequest("the JSON Patch must leave an object")
        # A patch may nest values within values the limit let through one at a time: what it leaves
        # must hold the same limit as any body, or the entity could no longer be written back.
        check_json_input(changed, self.settings.max_json_depth, "the entity the JSON Patch leaves")
        body = {key: value for key, value in changed.items() if current.get(key, _MISSING) != value}
        body.update({key: None for key in current if key not in changed})
        return body

    def _delete(self, connection: Connection, resource: Any, principal: Principal) -> ApiResponse:
        Writer(connection, self._guard(connection, principal), self.covered).delete(resource)
        return ApiResponse(200, None)

    def _create_observations(
        self, connection: Connection, body: Any, base: str, principal: Principal
    ) -> ApiResponse:
        writer = Writer(connection, self._guard(connection, principal), self.covered)
        links = create_observations(writer, body, base)
        writer.finish()
        return ApiResponse(201, links)

    # --- transactions ---------------------------------------------------------------------------

    def _in_transaction(
        self, connection: Connection | None, action: Any, principal: Principal, target: str
    ) -> ApiResponse:
        """Run a write in its own transaction, or in the caller's (a batch change set), and record
        it in the audit log in the same transaction."""

        def audited(c: Connection) -> ApiResponse:
            c.info[_TOUCHED] = set()
            begin_record(c)
            try:
                answer = action(c)
                touched = sorted(c.info[_TOUCHED], key=lambda d: d or "") or [None]
            finally:
                del c.info[_TOUCHED]
                record = end_record(c)
            action_name = _AUDIT_ACTIONS.get(target.split(" ", 1)[0], "create")
            for dataset in touched:
                self.access.audit.write(
                    c,
                    principal,
                    action_name,
                    "sensorthings",
                    dataset_id=dataset,
                    target=target,
                    status=answer.status,
                )
            if self.on_write is not None and record:
                self.on_write(c, record.settled())
            return answer

        try:
            if connection is not None:
                with connection.begin_nested():
                    return audited(connection)
            with self.write_engine.begin() as own:
                return audited(own)
        except BrokenReference as broken:
            # Looked up on a fresh connection: the failed transaction cannot run queries any more.
            with self.engine.connect() as fresh:
                raise broken.diagnose(fresh) from None

    def _read(self, connection: Connection | None, action: Any) -> ApiResponse:
        """A GET on the caller's connection (a batch's), else on one of its own in autocommit: under
        PostgreSQL's READ COMMITTED each statement sees its own snapshot inside a transaction too,
        so the transaction added only its BEGIN and ROLLBACK, two of a page's five round trips."""
        if connection is not None:
            return action(connection)
        with read_connection(self.engine) as own:
            return action(own)


#: Where the datasets a write touches are collected, on its connection, for the audit record.
_TOUCHED = "urbantwin.touched_datasets"

_AUDIT_ACTIONS = {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}


def _options(query_string: str, limits: QueryLimits) -> Any:
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise BadRequest(f"malformed query string: {exc}") from None
    for key, value in pairs:
        if key in params:
            raise BadRequest(f"the query option {key} is given twice")
        params[key] = value
    try:
        return parse_query_options(params, limits)
    except QuerySyntaxError as exc:
        raise BadRequest(str(exc)) from None


__all__ = ["ApiResponse", "PlatformError", "SensorThingsService"]
