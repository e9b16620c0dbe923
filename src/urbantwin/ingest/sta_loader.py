"""The idempotent SensorThings loader every sensor connector writes through.

* `Catalogue` finds Things, Sensors, ObservedProperties and Datastreams by a stable key kept in
  `properties["import_key"]` and creates only what is missing, so importing twice creates nothing
  the second time. Every writer of the platform keys what it makes (the demo uses the connectors'
  keys, so an import into the demo store joins the demo's stations). Names are never matched: two
  stations may share a name. The one natural identity is an ObservedProperty's `definition` URI,
  which says what is observed whoever created it (by hand, or any client);
* `ObservationWriter` stores only the observations a Datastream does not have yet (matched by
  Datastream and phenomenonTime start), in dataArray requests (`CreateObservations`, the service's
  bulk path: COPY on PostgreSQL) of at most `MAX_ROWS_PER_REQUEST` rows;
* `ImportReport` is the report of an import (counts and bad rows with file and line).

Everything goes through a `SensorThingsClient` (`sta_client.py`), in process or over HTTP.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from urbantwin.ingest.sta_client import (
    JSON,
    ClientError,
    SensorThingsClient,
    iso,
    odata_string,
    phenomenon_start,
)
from urbantwin.ingest.vocabulary import Quantity

#: The key under `properties` that identifies an entity made by a connector, across imports.
KEY = "import_key"
#: Largest number of Observation rows sent in one dataArray request.
MAX_ROWS_PER_REQUEST = 5_000
#: Components of every dataArray row sent (STA 1.1 "create observations" extension).
OBSERVATION_COMPONENTS = ["phenomenonTime", "resultTime", "result"]
#: Entities asked for per page when a `Catalogue` preloads a collection.
PRELOAD_PAGE = 1_000

__all__ = [
    "KEY",
    "MAX_ROWS_PER_REQUEST",
    "OBSERVATION_COMPONENTS",
    "Catalogue",
    "ImportAborted",
    "ImportReport",
    "ObservationWriter",
    "OnError",
    "Reading",
    "RowProblem",
    "data_array_batches",
    "observed_property_key",
]


def observed_property_key(definition: str) -> str:
    """The key of the ObservedProperty with this `definition` URI (one per phenomenon, for all)."""
    return f"observed-property:{definition}"


class OnError(StrEnum):
    """What a bad row does: skipped (and reported), or it stops the import."""

    skip = "skip"
    abort = "abort"


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class ImportAborted(Exception):
    """A bad row with `OnError.abort`: nothing of the file it is in has been written."""

    def __init__(self, problem: RowProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class ImportReport:
    """What an import did; `summary()` is what the command prints."""

    files: int = 0
    #: Data rows read (header lines not counted).
    rows: int = 0
    #: Entities created, by entity set ("Things", "Sensors", …).
    created: Counter[str] = field(default_factory=Counter)
    #: Observations stored by this import.
    observations: int = 0
    #: Observations of the input the store already had (same Datastream and phenomenonTime).
    already_present: int = 0
    #: Observations given twice in the input (the first one counts).
    duplicates: int = 0
    #: Values left empty in the input (no observation: nothing was measured).
    empty_values: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    #: Columns of the input that no mapping covers, by file (not imported; reported once).
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    #: What else the import did, one line each (e.g. the feature collection a table also filled).
    notes: list[str] = field(default_factory=list)

    def problem(self, on_error: OnError, file: str, line: int, message: str) -> None:
        found = RowProblem(file, line, message)
        self.problems.append(found)
        if on_error is OnError.abort:
            raise ImportAborted(found)

    def summary(self, max_problems: int = 20) -> str:
        created = ", ".join(
            f"{self.created[name]} {name}"
            for name in ("Things", "Sensors", "ObservedProperties", "Datastreams")
            if self.created[name]
        )
        lines = [
            f"{self.files} file(s), {self.rows} rows: {self.observations} observations added, "
            f"{self.already_present} already present, {self.duplicates} repeated in the input, "
            f"{self.empty_values} empty values, {len(self.problems)} bad rows skipped.",
            f"Created: {created or 'nothing new'}.",
        ]
        lines += self.notes
        for file, columns in self.ignored_columns.items():
            lines.append(f"{file}: columns not imported (no mapping): {', '.join(columns)}")
        for problem in self.problems[:max_problems]:
            lines.append(f"  {problem}")
        if len(self.problems) > max_problems:
            lines.append(f"  … and {len(self.problems) - max_problems} more bad rows")
        return "\n".join(lines)


class Catalogue:
    """Finds entities by their `import_key` and creates the missing ones.

    Ids found are remembered for the import run, so a file of a thousand rows asks once per entity.
    A writer that meets many entities of one collection (hundreds of stations) `preload`s it: one
    paged read instead of one query per entity.
    """

    def __init__(self, client: SensorThingsClient, report: ImportReport) -> None:
        self.client = client
        self.report = report
        #: Ids by (collection, key): a Sensor and a Thing may have the same key.
        self._ids: dict[tuple[str, str], int] = {}
        #: The entities by (entity set, id): ids are per entity set (Thing 1, Sensor 1).
        self._entities: dict[tuple[str, int], JSON] = {}
        #: Collections read whole by `preload`: a key missing from `_ids` is missing from the store.
        self._preloaded: set[str] = set()
        #: Ids of the entities this catalogue created, by entity set (to put them into a dataset).
        self.created: dict[str, list[int]] = defaultdict(list)

    def find(self, collection: str, key: str, definition: str | None = None) -> JSON | None:
        """The entity of `collection` (a path such as `Things(3)/Datastreams`) with this key, else
        (for ObservedProperties, given `definition`) the first one without a key that has that
        definition URI (an entity another writer made, with a key of its own, is never taken over)."""
        query = {"$filter": f"properties/{KEY} eq {odata_string(key)}", "$orderby": "id", "$top": "1"}
        for entity in self.client.get(collection, query).get("value", []):
            return entity
        if definition is None:
            return None
        return self._by_definition(collection, definition)

    def _by_definition(self, collection: str, definition: str) -> JSON | None:
        query = {"$filter": f"definition eq {odata_string(definition)}", "$orderby": "id", "$top": "20"}
        for entity in self.client.get(collection, query).get("value", []):
            if KEY not in (entity.get("properties") or {}):
                return entity
        return None

    def preload(self, entity_set: str, *, parent: str | None = None) -> None:
        """Read every keyed entity of the collection once (paged; id, name and properties only), so
        that `ensure` answers from memory and creates without asking when the key is not there.

        Only for a collection this catalogue alone writes to while it runs (an import): an entity
        another client creates meanwhile would not be seen, and would be made twice.
        """
        collection = f"{parent}/{entity_set}" if parent else entity_set
        query = {
            "$filter": f"properties/{KEY} ne null",
            "$select": "id,name,properties",
            "$orderby": "id",
            "$top": str(PRELOAD_PAGE),
        }
        for entity in self.client.entities(collection, query):
            key = (entity.get("properties") or {}).get(KEY)
            if isinstance(key, str) and (collection, key) not in self._ids:  # the oldest one wins
                self._remember(collection, key, entity)
        self._preloaded.add(collection)

    def known(self, entity_set: str, *, parent: str | None = None) -> set[str]:
        """The keys of the collection's entities found or made so far."""
        collection = f"{parent}/{entity_set}" if parent else entity_set
        return {key for (where, key) in self._ids if where == collection}

    def id_of(self, entity_set: str, key: str, *, parent: str | None = None) -> int | None:
        """The id of the entity with `key`, or None (nothing is created)."""
        collection = f"{parent}/{entity_set}" if parent else entity_set
        known = self._ids.get((collection, key))
        if known is not None or collection in self._preloaded:
            return known
        found = self.find(collection, key)
        if found is None:
            return None
        return self._remember(collection, key, found)

    def ensure(
        self,
        entity_set: str,
        key: str,
        payload: JSON,
        *,
        parent: str | None = None,
        definition: str | None = None,
    ) -> int:
        """The id of the entity with `key`, created from `payload` (its key added) if missing.

        `parent` scopes the search (`Things(3)` for a Thing's Datastreams); `definition` (for an
        ObservedProperty) finds one without a key by its definition URI when none has the key.
        """
        collection = f"{parent}/{entity_set}" if parent else entity_set
        known = self._ids.get((collection, key))
        if known is not None:
            return known
        if collection in self._preloaded:
            found = self._by_definition(collection, definition) if definition is not None else None
        else:
            found = self.find(collection, key, definition)
        if found is None:
            body = deepcopy(payload)
            body["properties"] = {**(body.get("properties") or {}), KEY: key}
            found = self.client.post(entity_set, body)
            self.report.created[entity_set] += 1
            self.created[entity_set].append(int(found["@iot.id"]))
        return self._remember(collection, key, found)

    def _remember(self, collection: str, key: str, entity: JSON) -> int:
        ident = int(entity["@iot.id"])
        self._ids[(collection, key)] = ident
        self._entities[(collection.rpartition("/")[2], ident)] = entity
        return ident

    def entity(self, entity_set: str, ident: int) -> JSON:
        """The entity as found or created (for its properties, e.g. a Datastream's aggregation;
        a preloaded one has its id, name and properties only)."""
        return self._entities[(entity_set, ident)]

    def observed_property(self, quantity: Quantity) -> int:
        return self.ensure_observed_property(quantity.observed_property)

    def ensure_observed_property(self, payload: JSON) -> int:
        """The ObservedProperty of `payload["definition"]`: keyed by it, or one made by hand with it."""
        definition = payload["definition"]
        return self.ensure(
            "ObservedProperties", observed_property_key(definition), payload, definition=definition
        )


@dataclass(frozen=True)
class Reading:
    """One observation to store: phenomenonTime `start` (and `end` for a mean over a period)."""

    start: datetime
    end: datetime | None
    result: float
    line: int
    #: When the result was made (a forecast's: when it was computed); None: at the end of the period.
    result_time: datetime | None = None


class ObservationWriter:
    """Stores the observations a Datastream does not have yet, in dataArray requests.

    Rows wait in a buffer until `batch` of them (over any number of Datastreams) make one request,
    so many small Datastreams (a day of a citizen sensor) do not cost a request each.
    """

    components = OBSERVATION_COMPONENTS

    def __init__(
        self,
        client: SensorThingsClient,
        report: ImportReport,
        batch: int = MAX_ROWS_PER_REQUEST,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.report = report
        self.batch = batch
        self.progress = progress
        self._pending: list[JSON] = []
        self._size = 0
        #: phenomenonTime starts waiting in the buffer, by Datastream (not in the store yet).
        self._queued: dict[int, set[datetime]] = defaultdict(set)

    def existing_starts(self, datastream: int, first: datetime, last: datetime) -> set[datetime]:
        """phenomenonTime starts stored in the Datastream between `first` and `last` (inclusive)."""
        query = {
            "$filter": f"phenomenonTime ge {iso(first)}",
            "$orderby": "phenomenonTime asc",
            "$select": "phenomenonTime",
            "$top": "10000",
        }
        starts: set[datetime] = set()
        for observation in self.client.entities(f"Datastreams({datastream})/Observations", query):
            start = phenomenon_start(observation["phenomenonTime"])
            if start > last:
                break
            starts.add(start)
        return starts

    def add(self, datastream: int, readings: Iterable[Reading], fresh: bool = False) -> int:
        """Queue the new readings of one Datastream; answers how many are new. `fresh`: the
        Datastream was made by this import, so nothing is in the store to look for."""
        unique: dict[datetime, Reading] = {}
        queued = self._queued[datastream]
        for reading in readings:
            if reading.start in unique or reading.start in queued:
                self.report.duplicates += 1
                continue
            unique[reading.start] = reading
        if not unique:
            return 0
        present = set() if fresh else self.existing_starts(datastream, min(unique), max(unique))
        self.report.already_present += len(present & unique.keys())
        new = [unique[start] for start in sorted(unique) if start not in present]
        if self.progress is not None and len(unique) > len(new):
            self.progress(len(unique) - len(new))
        rows = [
            [
                f"{iso(r.start)}/{iso(r.end)}" if r.end is not None else iso(r.start),
                iso(r.result_time or (r.end if r.end is not None else r.start)),
                r.result,
            ]
            for r in new
        ]
        start = stored = 0
        while start < len(rows):
            take = min(self.batch - self._size, len(rows) - start)
            self._pending.append(
                {
                    "Datastream": {"@iot.id": datastream},
                    "components": list(self.components),
                    "dataArray": rows[start : start + take],
                }
            )
            self._size += take
            start += take
            if self._size >= self.batch:
                self.flush()
                stored = start
        # What waits in the buffer is not in the store yet: a later add() must not queue it twice.
        self._queued[datastream].update(reading.start for reading in new[stored:])
        return len(new)

    def flush(self) -> None:
        """Send what waits in the buffer (one dataArray request, one transaction)."""
        if not self._pending:
            return
        pending, size = self._pending, self._size
        self._pending, self._size = [], 0
        self._queued.clear()
        answer = self.client.post("CreateObservations", pending)
        failed = sum(1 for link in answer if link == "error")
        if failed:
            # Every row was checked before sending; a refusal here is a bug or a changed server.
            raise ClientError(400, f"CreateObservations refused {failed} of {size} rows")
        self.report.observations += size
        if self.progress is not None:
            self.progress(size)


def data_array_batches(
    streams: Iterable[tuple[int, list[list[Any]]]], limit: int = MAX_ROWS_PER_REQUEST
) -> Iterator[list[JSON]]:
    """`CreateObservations` request bodies of at most `limit` rows in all, from the rows
    (`OBSERVATION_COMPONENTS`) of each Datastream; a Datastream's rows may span two bodies."""
    batch: list[JSON] = []
    size = 0
    for datastream_id, rows in streams:
        start = 0
        while start < len(rows):
            take = min(limit - size, len(rows) - start)
            batch.append(
                {
                    "Datastream": {"@iot.id": datastream_id},
                    "components": list(OBSERVATION_COMPONENTS),
                    "dataArray": rows[start : start + take],
                }
            )
            size += take
            start += take
            if size == limit:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch
