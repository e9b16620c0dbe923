"""Single Observations (`POST /Observations`, `POST /Datastreams(id)/Observations`), committed in groups.

The commonest write of a sensor platform is one Observation per request. Made alone, each costs a
transaction of its own: the checks, the insert, the audit record and a commit, each a round trip to
the database and a pass through SQLAlchemy. Here the requests that arrive while one group is being
committed wait together and go in as the next group: one transaction with one query for their
Datastreams, one multi-row insert of the Observations, one of their audit records and one commit.
Each request is answered only once its group has committed: nothing is acknowledged that is not
stored, exactly as when it is made alone.

Only plain requests are grouped (`write.plain_observation`): valid values, the Datastream and
FeatureOfInterest given by `@iot.id`, a (Datastream, FeatureOfInterest) pair whose feature is known
to lie in the Datastream's observedArea already. Each is checked against the same rules the writer
applies (`Access.shared_writes`: what the caller may see and write). Everything else — and every
request whose check fails here — is made by the general writer (`SensorThingsService.handle`) in a
transaction of its own, so the errors are worded in one place, and a request that fails never takes
others with it: a group whose insert fails is made again request by request.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from urbantwin.access.audit import record as audit_record
from urbantwin.access.gate import Caller
from urbantwin.access.principal import Principal
from urbantwin.errors import PlatformError
from urbantwin.sensorthings.model import OBSERVATION
from urbantwin.sensorthings.paths import MAX_ID
from urbantwin.sensorthings.record import CREATED, WriteRecord
from urbantwin.sensorthings.serialize import RowWriter
from urbantwin.sensorthings.write import plain_observation
from urbantwin.store import grouped_writes, schema
from urbantwin.store.group_commit import ALONE, Alone, GroupCommitter

if TYPE_CHECKING:
    from urbantwin.sensorthings.service import ApiResponse, SensorThingsService

log = logging.getLogger("urbantwin.sensorthings")


@dataclass(eq=False)
class SinglePost:
    """One plain Observation to create, waiting for its group."""

    #: The path below the API root, as the general writer takes it ("Datastreams(5)/Observations").
    path: str
    body: Any
    base: str
    caller: Caller
    datastream: int
    feature: int
    columns: dict[str, Any]
    future: Future[ApiResponse] = field(default_factory=Future)
    #: The Datastream's dataset (for the audit record), once checked.
    dataset: str | None = None
    row: dict[str, Any] | None = None


class ObservationPosts:
    """Groups the plain single Observation POSTs of one server process (one committing thread)."""

    def __init__(self, service: SensorThingsService) -> None:
        self.service = service
        self._groups: GroupCommitter[SinglePost, ApiResponse] = GroupCommitter(
            "urbantwin-observation-posts", self._commit, self._make_alone, log=log
        )

    # --- the requests ---------------------------------------------------------------------------

    def prepare(
        self, path: str, datastream: str | None, body: Any, base: str, principal: Principal
    ) -> SinglePost | None:
        """The request as a plain Observation to group, or None: the general writer makes it.

        `datastream` is the id given by the path (`Datastreams(id)/Observations`), as sent.
        """
        in_path = None
        if datastream is not None:
            # Only the canonical form; anything else is parsed (and refused) by the general path.
            if not (datastream.isascii() and datastream.isdigit() and str(int(datastream)) == datastream):
                return None
            in_path = int(datastream)
            if in_path > MAX_ID:
                return None
        caller = Caller(principal)
        try:
            self.service.access.require_writer(caller, "writing Observations")
        except PlatformError:
            return None  # refused by the general path, in its words
        plain = plain_observation(body, in_path, datetime.now(UTC))
        if plain is None:
            return None
        columns, ds, feature = plain
        if (ds, feature) not in self.service.covered:
            return None  # the observedArea may have to grow: the writer does that
        return SinglePost(path, body, base, caller, ds, feature, columns)

    @property
    def depth(self) -> int:
        """How many requests wait for their group (the metrics' queue depth)."""
        return self._groups.depth

    def submit(self, post: SinglePost) -> Future[ApiResponse]:
        """Queue `post` for the next group; the future is done once its group has committed."""
        self.submit_all([post])
        return post.future

    def submit_all(self, posts: list[SinglePost]) -> None:
        """Queue posts that arrived together (they go into one group, up to `group_commit.MAX_GROUP`)."""
        self._groups.submit_all(posts, [post.future for post in posts])

    def close(self) -> None:
        """Commit what is queued, then stop the committing thread (the app's shutdown)."""
        self._groups.close()

    # --- on the committing thread ---------------------------------------------------------------

    def _commit(self, group: list[SinglePost]) -> list[ApiResponse | Alone]:
        """One transaction for the posts that pass the checks here; the others are made `ALONE`."""
        alone: list[SinglePost] = []
        with self.service.write_engine.begin() as connection:
            accepted = self._check(connection, group, alone)
            if accepted:
                self._insert(connection, accepted)
        return [ALONE if post.row is None else self._created(post) for post in group]

    def _check(
        self, connection: Connection, group: list[SinglePost], alone: list[SinglePost]
    ) -> list[SinglePost]:
        """The posts the caller may make as they are; the others go to `alone`."""
        shared = self.service.access.shared_writes(connection)
        datasets = grouped_writes.datastream_datasets(connection, sorted({p.datastream for p in group}))
        restricted = [post for post in group if not shared.scope(post.caller).unrestricted]
        features: dict[int, str | None] = {}
        if restricted:
            foi = schema.features_of_interest
            wanted = sorted({post.feature for post in restricted})
            query = select(foi.c.id, foi.c.dataset_id).where(foi.c.id.in_(wanted))
            features = {ident: dataset for ident, dataset in connection.execute(query)}
        accepted = []
        for post in group:
            scope = shared.scope(post.caller)
            if post.datastream not in datasets:
                alone.append(post)
                continue
            dataset = datasets[post.datastream]
            # What the writer checks: both references visible to the caller, the Datastream's
            # dataset writable by them (unrestricted callers: the foreign keys check existence).
            visible = scope.unrestricted or (
                scope.allows(dataset) and post.feature in features and scope.allows(features[post.feature])
            )
            if not visible or not shared.may_write(post.caller, dataset):
                alone.append(post)
                continue
            post.dataset = dataset
            accepted.append(post)
        return accepted

    def _insert(self, connection: Connection, posts: list[SinglePost]) -> None:
        audit = [
            audit_record(
                post.caller.principal, "create", "sensorthings", post.dataset, f"POST {post.path}", 201
            )
            for post in posts
        ]
        rows = grouped_writes.insert_observations(connection, [post.columns for post in posts], audit)
        for post, row in zip(posts, rows, strict=True):
            post.row = row
        if self.service.on_write is not None:
            created = WriteRecord()
            created.add(CREATED, OBSERVATION.name, (post.row["id"] for post in posts if post.row is not None))
            self.service.on_write(connection, created)

    def _created(self, post: SinglePost) -> ApiResponse:
        from urbantwin.sensorthings.service import ApiResponse

        assert post.row is not None
        body = RowWriter(OBSERVATION, post.base, None)(post.row)
        return ApiResponse(201, body, {"Location": f"{post.base}/{OBSERVATION.set_name}({post.row['id']})"})

    def _make_alone(self, post: SinglePost) -> ApiResponse:
        """The general writer makes the request in a transaction of its own (and words its error)."""
        return self.service.handle("POST", post.path, "", post.body, post.base, post.caller.principal)


__all__ = ["ObservationPosts", "SinglePost"]
