"""Mirror a partner's Datastreams (SensorThings API) into local ones.

For each remote Datastream chosen (by id, or by a `$filter` on the partner's Datastreams) the mirror
makes a local Thing, Sensor, ObservedProperty and Datastream once (keyed by the remote's selfLink in
`properties["import_key"]`, with a `remote` object linking back and naming the attribution and
licence), in the partner's local dataset. Then it reads the remote Observations after its cursor,
oldest first, page by page:

* ordered by (time, id) and filtered `time gt T or (time eq T and id gt I)`, so a page never
  repeats what is stored and Observations sharing a time are not skipped (keyset paging: the
  remote walks its index, where `$skip` would make it count past everything already read);
* with `$resultFormat=dataArray` when the partner lists the data-array conformance class, else as
  plain entities;
* following the `@iot.nextLink`s the remote answers, as long as they stay on the remote and the
  page moves past the cursor (a remote that lies about its nextLink ends the run with an error);
* each page stored through the SensorThings service's bulk path (`CreateObservations`: COPY on
  PostgreSQL) in one transaction together with the new cursor. A mirror killed at any moment
  resumes after its last commit: nothing lost, nothing stored twice. Running it again stores
  only what the partner has added since.

Pages are read by a second thread while the previous ones are being stored, at most
`requests_per_second` requests to the partner; the pages read meanwhile are stored together, in
one transaction of at most `TRANSACTION_ROWS` rows with each page's cursor.

Late data: an Observation the partner adds with a time before the cursor is not seen by a
phenomenonTime mirror; mirror by `resultTime` (`cursor_field`) where the partner adds late data.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from urbantwin.access.principal import SYSTEM
from urbantwin.errors import BadRequest, PlatformError
from urbantwin.federation.registry import Remote
from urbantwin.federation.remote_http import RemoteFailure, RemoteHttp
from urbantwin.ingest.sta_client import LocalClient, odata_string
from urbantwin.ingest.sta_loader import Catalogue, ImportReport
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings
from urbantwin.store.engine import for_writes
from urbantwin.store.federation_schema import remote_mirrors
from urbantwin.times import format_instant, parse_instant

DATA_ARRAY_CLASS = "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array"
#: The Observation properties mirrored (the id is read for the cursor, not stored).
_COMPONENTS = ("phenomenonTime", "resultTime", "result", "resultQuality", "validTime", "parameters")
CURSOR_FIELDS = ("phenomenonTime", "resultTime")
#: Observations asked per page (a server may answer fewer, and a nextLink).
DEFAULT_PAGE = 10_000
#: Rows stored in one transaction at most, when several pages are waiting.
TRANSACTION_ROWS = 50_000
_EXPAND = "Thing($expand=Locations),Sensor,ObservedProperty"


@dataclass
class MirrorReport:
    """What a mirror run did."""

    datastreams: int = 0
    created: int = 0
    observations: int = 0
    pages: int = 0
    errors: list[str] = field(default_factory=list)
    #: Whether the run stopped at its time budget with more to read (run it again to go on).
    more: bool = False

    def summary(self) -> str:
        text = (
            f"{self.datastreams} Datastream(s) mirrored ({self.created} new), "
            f"{self.observations} Observations stored in {self.pages} page(s)"
        )
        if self.more:
            text += "; stopped at the time budget, more to come"
        return text + "".join(f"\n  error: {e}" for e in self.errors)


@dataclass(frozen=True)
class _Mirror:
    """One mirrored Datastream: its row of `remote_mirrors`."""

    id: int
    remote_link: str
    datastream_id: int
    cursor_field: str
    cursor_time: datetime | None
    cursor_id: str | None
    #: The partner's id of the Datastream (its MQTT topic names it).
    remote_id: str = ""


@dataclass
class _Page:
    mirror: _Mirror
    rows: list[list[Any]]
    last: tuple[datetime, str] | None
    error: str | None = None
    #: The cursor the page was read after (None: from the start).
    after: tuple[datetime, str] | None = None
    #: Each row's remote id and cursor time as read (parsed only when the cursor moved meanwhile).
    keys: list[tuple[str, Any]] = field(default_factory=list)


def _key(remote: Remote, link: str) -> str:
    return f"remote:{remote.name}:{link}"


def _id_literal(ident: str) -> str:
    return ident if ident.lstrip("-").isdigit() else odata_string(ident)


def _after(cursor_field: str, moment: datetime | None, ident: str | None) -> str | None:
    if moment is None or ident is None:
        return None
    at = format_instant(moment)
    return f"{cursor_field} gt {at} or ({cursor_field} eq {at} and id gt {_id_literal(ident)})"


def _later(a: tuple[datetime, str], b: tuple[datetime, str]) -> bool:
    """(time, id) `a` comes after `b` (ids compared as numbers where both are)."""
    if a[0] != b[0]:
        return a[0] > b[0]
    if a[1].lstrip("-").isdigit() and b[1].lstrip("-").isdigit():
        return int(a[1]) > int(b[1])
    return a[1] > b[1]


def _start(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise RemoteFailure(f"{where}: a time is not a string: {str(value)[:80]!r}")
    try:
        return parse_instant(value.partition("/")[0], where, dates=False)
    except BadRequest as exc:
        raise RemoteFailure(f"{where}: {exc.message}") from None


class DatastreamMirror:
    """Mirrors the Datastreams of one SensorThings partner into the local store."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        service: SensorThingsService,
        remote: Remote,
        *,
        page: int = DEFAULT_PAGE,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if remote.kind != "sensorthings":
            raise BadRequest(f"remote {remote.name!r} is a {remote.kind} endpoint, not a SensorThings API")
        if not 1 <= page <= 100_000:
            raise BadRequest("page must be between 1 and 100000 Observations")
        self.engine = engine
        self.settings = settings
        self.service = service
        self.remote = remote
        self.page = page
        self.progress = progress
        #: The local SensorThings root the service answers links under (they are not kept).
        self.base = "/v1.1"

    # --- which Datastreams -----------------------------------------------------------------------

    def add(
        self,
        http: RemoteHttp,
        report: MirrorReport,
        ids: list[str] | None = None,
        where: str | None = None,
        cursor_field: str = "phenomenonTime",
    ) -> None:
        """Register the chosen remote Datastreams (by `ids`, or those `where` selects) for mirroring,
        creating their local entities once."""
        if cursor_field not in CURSOR_FIELDS:
            raise BadRequest(f"cursor field {cursor_field!r}: one of {', '.join(CURSOR_FIELDS)}")
        if not ids and not where:
            raise BadRequest("choose remote Datastreams: by id, or by a $filter")
        found: list[dict[str, Any]] = []
        for ident in ids or []:
            found.append(http.json(http.url(f"Datastreams({_id_literal(ident)})"), {"$expand": _EXPAND}))
        if where:
            found += list(
                self._entities(http, http.url("Datastreams"), {"$filter": where, "$expand": _EXPAND})
            )
        client = LocalClient(self.engine, self.settings)
        imported = ImportReport()
        catalogue = Catalogue(client, imported)
        for remote_ds in found:
            self._register(http, catalogue, remote_ds, cursor_field)
        members = {name: ids for name, ids in catalogue.created.items() if ids}
        if members:
            client.place_in_dataset(self.remote.dataset_id, {}, members)
        report.created += imported.created["Datastreams"]
        client.close()

    def _entities(
        self, http: RemoteHttp, url: str, params: dict[str, str] | None
    ) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        page = http.json(url, params)
        while True:
            if not isinstance(page, dict) or not isinstance(page.get("value"), list):
                raise RemoteFailure(f"{url}: not a SensorThings collection")
            yield from page["value"]
            link = page.get("@iot.nextLink")
            if not link:
                return
            if link in seen:
                raise RemoteFailure(f"{url}: the nextLink repeats a page")
            seen.add(link)
            page = http.json(http.check_link(link))

    def _register(self, http: RemoteHttp, catalogue: Catalogue, remote_ds: Any, cursor_field: str) -> None:
        if not isinstance(remote_ds, dict) or "@iot.id" not in remote_ds:
            raise RemoteFailure(f"{self.remote.url}: a Datastream without @iot.id")
        remote_id = str(remote_ds["@iot.id"])
        link = http.check_link(
            remote_ds.get("@iot.selfLink") or http.url(f"Datastreams({_id_literal(remote_id)})")
        )
        provenance = {
            "remote": self.remote.name,
            "selfLink": link,
            "attribution": self.remote.attribution,
            "licence": self.remote.licence,
        }

        def entity(kind: str, fields: tuple[str, ...]) -> dict[str, Any]:
            given = remote_ds.get(kind)
            if not isinstance(given, dict):
                raise RemoteFailure(f"{link}: no {kind} expanded")
            body = {name: given[name] for name in fields if name in given}
            ref = given.get("@iot.selfLink") or f"{link}/{kind}"
            body["properties"] = {
                **(given.get("properties") or {}),
                "remote": {**provenance, "selfLink": ref},
            }
            return body

        thing = entity("Thing", ("name", "description"))
        thing["Locations"] = [
            {k: loc[k] for k in ("name", "description", "encodingType", "location") if k in loc}
            for loc in (remote_ds.get("Thing") or {}).get("Locations") or []
            if isinstance(loc, dict)
        ]
        if not thing["Locations"]:
            # Without a Location, the local Thing could not give its Observations a default
            # FeatureOfInterest: it gets one where the partner's first Observation was made.
            thing["Locations"] = [self._location_of_first_feature(http, link)]
        thing_key = _key(self.remote, str(thing["properties"]["remote"]["selfLink"]))
        thing_id = catalogue.ensure("Things", thing_key, thing)
        sensor = entity("Sensor", ("name", "description", "encodingType", "metadata"))
        sensor_id = catalogue.ensure(
            "Sensors", _key(self.remote, sensor["properties"]["remote"]["selfLink"]), sensor
        )
        observed = entity("ObservedProperty", ("name", "description", "definition"))
        if not isinstance(observed.get("definition"), str):
            raise RemoteFailure(f"{link}: its ObservedProperty has no definition")
        observed_id = catalogue.ensure_observed_property(observed)
        body = {
            name: remote_ds[name]
            for name in ("name", "description", "unitOfMeasurement", "observationType")
            if name in remote_ds
        }
        body["properties"] = {**(remote_ds.get("properties") or {}), "remote": provenance}
        body["Sensor"] = {"@iot.id": sensor_id}
        body["ObservedProperty"] = {"@iot.id": observed_id}
        body["Thing"] = {"@iot.id": thing_id}
        local = catalogue.ensure("Datastreams", _key(self.remote, link), body, parent=f"Things({thing_id})")
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            exists = connection.execute(
                select(remote_mirrors.c.id).where(
                    remote_mirrors.c.remote == self.remote.name, remote_mirrors.c.remote_id == remote_id
                )
            ).first()
            if exists is None:
                connection.execute(
                    remote_mirrors.insert().values(
                        remote=self.remote.name,
                        remote_id=remote_id,
                        remote_link=link,
                        datastream_id=local,
                        cursor_field=cursor_field,
                        observations=0,
                        updated=now,
                    )
                )

    def _location_of_first_feature(self, http: RemoteHttp, link: str) -> dict[str, Any]:
        answer = http.json(f"{link}/Observations", {"$top": "1", "$expand": "FeatureOfInterest"})
        values = answer.get("value") if isinstance(answer, dict) else None
        feature = values[0].get("FeatureOfInterest") if values and isinstance(values[0], dict) else None
        if not isinstance(feature, dict) or not isinstance(feature.get("feature"), dict):
            raise RemoteFailure(
                f"{link}: its Thing has no Location, and no FeatureOfInterest to take one from"
            )
        return {
            "name": str(feature.get("name") or "location"),
            "description": "where the partner's first Observation of this Datastream was made",
            "encodingType": "application/geo+json",
            "location": feature["feature"],
        }

    # --- the Observations ------------------------------------------------------------------------

    def mirrors(self) -> list[_Mirror]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(remote_mirrors)
                .where(remote_mirrors.c.remote == self.remote.name)
                .order_by(remote_mirrors.c.id)
            ).all()
        return [
            _Mirror(
                r.id, r.remote_link, r.datastream_id, r.cursor_field, r.cursor_time, r.cursor_id, r.remote_id
            )
            for r in rows
        ]

    def sync(self, http: RemoteHttp, report: MirrorReport, budget: float | None = None) -> None:
        """Store what each mirrored Datastream has after its cursor; errors go to `report`. With a
        `budget` (seconds), stop after the page that exceeds it (`report.more`)."""
        deadline = time.monotonic() + budget if budget is not None else None
        data_array = self._offers_data_array(http)
        pages: queue.Queue[_Page | None] = queue.Queue(maxsize=4)
        stop = threading.Event()
        mirrors = self.mirrors()
        report.datastreams += len(mirrors)

        failed: list[BaseException] = []

        def read() -> None:
            try:
                for mirror in mirrors:
                    if stop.is_set():
                        return
                    for page in self._pages(http, mirror, data_array):
                        if stop.is_set():
                            return
                        pages.put(page)
            except BaseException as exc:  # re-raised below: a run whose reader died is no success
                failed.append(exc)
            finally:
                pages.put(None)

        reader = threading.Thread(target=read, name=f"mirror-{self.remote.name}", daemon=True)
        reader.start()
        try:
            finished = False
            while not finished and (page := pages.get()) is not None:
                # The pages read meanwhile go into the same transaction (up to TRANSACTION_ROWS):
                # the reader is usually ahead, and a commit costs about as much as many rows.
                group = [page]
                size = len(page.rows)
                while size < TRANSACTION_ROWS:
                    try:
                        following = pages.get_nowait()
                    except queue.Empty:
                        break
                    if following is None:
                        finished = True
                        break
                    group.append(following)
                    size += len(following.rows)
                good = [p for p in group if p.error is None and p.rows]
                report.errors += [p.error for p in group if p.error is not None]
                if good:
                    size = self._store(good)
                    report.observations += size
                    report.pages += len(good)
                    if self.progress is not None:
                        self.progress(size)
                    if deadline is not None and time.monotonic() > deadline:
                        report.more = True
                        return
        finally:
            stop.set()
            while reader.is_alive():
                with contextlib.suppress(queue.Empty):
                    pages.get(timeout=0.1)
            reader.join()
        if failed:
            raise failed[0]

    def _offers_data_array(self, http: RemoteHttp) -> bool:
        root = http.json(http.url(""))
        settings = root.get("serverSettings") if isinstance(root, dict) else None
        classes = settings.get("conformance") if isinstance(settings, dict) else None
        return isinstance(classes, list) and DATA_ARRAY_CLASS in classes

    def _pages(self, http: RemoteHttp, mirror: _Mirror, data_array: bool) -> Iterator[_Page]:
        """The pages of `mirror`'s new Observations, as rows of `_COMPONENTS` (oldest first)."""
        order = mirror.cursor_field
        cursor = (
            (mirror.cursor_time, mirror.cursor_id)
            if mirror.cursor_time is not None and mirror.cursor_id is not None
            else None
        )
        params = {"$orderby": f"{order} asc,id asc", "$top": str(self.page)}
        params["$select"] = ",".join(("id", *_COMPONENTS))
        if data_array:
            params["$resultFormat"] = "dataArray"
        after = _after(order, *cursor) if cursor else None
        if after:
            params["$filter"] = after
        url: str | None = f"{mirror.remote_link}/Observations"
        query: dict[str, str] | None = params
        seen: set[str] = set()
        try:
            while url is not None:
                answer = http.json(url, query)
                rows, link = self._rows(url, answer, order, data_array)
                if rows and cursor is not None:
                    first = (_start(rows[0][1], url), rows[0][0])
                    if not _later(first, cursor):
                        rows = [r for r in rows if _later((_start(r[1], url), r[0]), cursor)]
                if rows:
                    last_row = rows[-1]
                    last = (_start(last_row[1], url), last_row[0])
                    if cursor is not None and not _later(last, cursor):
                        raise RemoteFailure(f"{url}: the page does not move past the cursor")
                    before, cursor = cursor, last
                    keys = [(r[0], r[1]) for r in rows]
                    yield _Page(mirror, [r[2:] for r in rows], last, None, before, keys)
                if not link:
                    return
                if link in seen or not rows:
                    raise RemoteFailure(f"{url}: the nextLink leads to no new Observations")
                seen.add(link)
                url, query = http.check_link(link), None
        except RemoteFailure as failure:
            yield _Page(mirror, [], None, failure.message)

    def _rows(
        self, url: str, answer: Any, order: str, data_array: bool
    ) -> tuple[list[list[Any]], str | None]:
        """Rows `[id, cursor time, *_COMPONENTS]` of a page, and its nextLink."""
        if not isinstance(answer, dict) or not isinstance(answer.get("value"), list):
            raise RemoteFailure(f"{url}: not a SensorThings collection")
        link = answer.get("@iot.nextLink")
        if link is not None and not isinstance(link, str):
            raise RemoteFailure(f"{url}: the nextLink is not a string")
        rows: list[list[Any]] = []
        if data_array:
            for group in answer["value"]:
                components = group.get("components") if isinstance(group, dict) else None
                values = group.get("dataArray") if isinstance(group, dict) else None
                if not isinstance(components, list) or not isinstance(values, list) or "id" not in components:
                    raise RemoteFailure(f"{url}: a malformed dataArray group")
                at = {name: components.index(name) for name in components}
                if order not in at:
                    raise RemoteFailure(f"{url}: the dataArray has no {order}")
                picks = [at["id"], at[order], *(at.get(name, -1) for name in _COMPONENTS)]
                for row in values:
                    if not isinstance(row, list) or len(row) != len(components):
                        raise RemoteFailure(f"{url}: a dataArray row does not match its components")
                    rows.append(
                        [str(row[i]) if n == 0 else (row[i] if i >= 0 else None) for n, i in enumerate(picks)]
                    )
        else:
            for entity in answer["value"]:
                if not isinstance(entity, dict) or "@iot.id" not in entity:
                    raise RemoteFailure(f"{url}: an Observation without @iot.id")
                rows.append(
                    [str(entity["@iot.id"]), entity.get(order), *(entity.get(n) for n in _COMPONENTS)]
                )
        return rows, link

    def store_live(self, mirror: _Mirror, received: list[tuple[tuple[datetime, str], list[Any]]]) -> int:
        """Store Observations received live for `mirror` — those after its cursor as it stands in
        the store (read under a row lock, so a mirror run that stored them meanwhile is seen), in
        (time, id) order — in one transaction with the new cursor; how many were stored. What lies
        at or before the cursor is stored already (or is late data, which the mirror does not take)."""
        with for_writes(self.engine).begin() as connection:
            current = connection.execute(
                select(remote_mirrors.c.cursor_time, remote_mirrors.c.cursor_id)
                .where(remote_mirrors.c.id == mirror.id)
                .with_for_update()
            ).first()
            if current is None:
                return 0  # no longer mirrored
            last = (
                (current.cursor_time, current.cursor_id)
                if current.cursor_time is not None and current.cursor_id is not None
                else None
            )
            rows: list[list[Any]] = []
            for key, row in sorted(received, key=lambda item: _order(item[0])):
                if last is None or _later(key, last):
                    rows.append(row)
                    last = key
            if not rows or last is None:
                return 0
            page = _Page(mirror, rows, last)
            self._create(connection, [page])
            _advance(connection, mirror, last, len(rows))
            return len(rows)

    def _create(self, connection: Connection, group: list[_Page]) -> None:
        """The pages' rows through the SensorThings service's bulk path, on `connection`."""
        body = [
            {
                "Datastream": {"@iot.id": page.mirror.datastream_id},
                "components": list(_COMPONENTS),
                "dataArray": page.rows,
            }
            for page in group
        ]
        where = ", ".join(dict.fromkeys(page.mirror.remote_link for page in group))
        try:
            answer = self.service.handle(
                "POST", "CreateObservations", "", body, self.base, SYSTEM, connection=connection
            )
        except PlatformError as exc:
            raise RemoteFailure(f"{where}: the partner's Observations: {exc.message}") from None
        refused = sum(1 for link in answer.body if link == "error")
        if refused:
            raise RemoteFailure(f"{where}: {refused} of the partner's Observations are not valid")

    def _store(self, group: list[_Page]) -> int:
        """The pages' rows and the new cursors, in one transaction; how many rows were stored.

        The mirrors' cursors are read under a row lock first: where one is no longer the cursor its
        first page was read after (a follower, or another run, stored Observations meanwhile), only
        the rows after the stored cursor are taken, so nothing is stored twice."""
        ids = sorted({page.mirror.id for page in group})
        with for_writes(self.engine).begin() as connection:
            stored = {
                row.id: (row.cursor_time, row.cursor_id) if row.cursor_time is not None else None
                for row in connection.execute(
                    select(remote_mirrors.c.id, remote_mirrors.c.cursor_time, remote_mirrors.c.cursor_id)
                    .where(remote_mirrors.c.id.in_(ids))
                    .with_for_update()
                )
            }
            expected: dict[int, tuple[datetime, str] | None] = {}
            for page in group:
                expected.setdefault(page.mirror.id, page.after)
            moved = {ident for ident in ids if stored.get(ident) != expected.get(ident)}
            pages: list[_Page] = []
            for page in group:
                if page.mirror.id not in stored:
                    continue  # no longer mirrored
                kept = self._past_cursor(page, stored[page.mirror.id]) if page.mirror.id in moved else page
                if kept is not None:
                    pages.append(kept)
            if pages:
                self._create(connection, pages)
            for page in pages:
                assert page.last is not None
                _advance(connection, page.mirror, page.last, len(page.rows))
            return sum(len(page.rows) for page in pages)

    def _past_cursor(self, page: _Page, cursor: tuple[datetime, str] | None) -> _Page | None:
        """`page` without its rows at or before `cursor` (None when none is left)."""
        if cursor is None:
            return page
        where = page.mirror.remote_link
        kept = [
            (row, key)
            for row, key in zip(page.rows, page.keys, strict=True)
            if _later((_start(key[1], where), str(key[0])), cursor)
        ]
        if not kept:
            return None
        return _Page(page.mirror, [row for row, _ in kept], page.last, None, cursor, [k for _, k in kept])


def live_row(mirror: _Mirror, body: Any, where: str) -> tuple[tuple[datetime, str], list[Any]]:
    """An Observation as the partner published it (MQTT) as the cursor key (time, id) and the row
    of `_COMPONENTS` the mirror stores; RemoteFailure naming what is wrong with it."""
    if not isinstance(body, dict) or "@iot.id" not in body:
        raise RemoteFailure(f"{where}: not an Observation with an @iot.id")
    if "result" not in body:
        raise RemoteFailure(f"{where}: an Observation without a result")
    key = (_start(body.get(mirror.cursor_field), where), str(body["@iot.id"]))
    return key, [body.get(name) for name in _COMPONENTS]


def _order(key: tuple[datetime, str]) -> tuple[datetime, int, int, str]:
    ident = key[1]
    return (key[0], 0, int(ident), "") if ident.lstrip("-").isdigit() else (key[0], 1, 0, ident)


def _advance(connection: Connection, mirror: _Mirror, last: tuple[datetime, str], count: int) -> None:
    connection.execute(
        update(remote_mirrors)
        .where(remote_mirrors.c.id == mirror.id)
        .values(
            cursor_time=last[0],
            cursor_id=last[1],
            observations=remote_mirrors.c.observations + count,
            updated=datetime.now(UTC),
        )
    )


def mirror_remote(
    engine: Engine,
    settings: Settings,
    service: SensorThingsService,
    remote: Remote,
    *,
    ids: list[str] | None = None,
    where: str | None = None,
    cursor_field: str = "phenomenonTime",
    page: int = DEFAULT_PAGE,
    progress: Callable[[int], None] | None = None,
    budget: float | None = None,
) -> MirrorReport:
    """Add the chosen Datastreams (if any) and bring every mirrored Datastream of `remote` up to date.

    A failure of the partner ends up in the report (and so in the partner's health), never as an
    exception the local platform has to handle.
    """
    report = MirrorReport()
    mirror = DatastreamMirror(engine, settings, service, remote, page=page, progress=progress)
    with RemoteHttp(remote.url, remote.requests_per_second) as http:
        try:
            if ids or where:
                mirror.add(http, report, ids, where, cursor_field)
            mirror.sync(http, report, budget)
        except RemoteFailure as failure:
            report.errors.append(failure.message)
    return report


__all__ = ["DatastreamMirror", "MirrorReport", "live_row", "mirror_remote"]
