"""LoRaWAN uplinks stored in groups: the webhook's requests that arrive while one group commits go
in together as the next.

A network server delivers every uplink as a request of its own, and a city's sends many a second.
Stored alone, each uplink cost a transaction and, per decoded field, a pass through the general
SensorThings writer (the Datastream's checks, the FeatureOfInterest of its Thing's Location, the
observed area, each a round trip): 148 uplinks a second on PostgreSQL (bench/README.md). Here, as
single Observation POSTs are (`sensorthings/posts.py`), a group is one transaction: one query for
the devices' fields, one for the retry keys already stored, one insert of the uplinks, one of their
receptions, and their Observations as one dataArray (`POST CreateObservations`: one bulk insert,
binary COPY on PostgreSQL, with the writer's checks and the platform's audit and live updates).

Each request is answered only once its group has committed: nothing is acknowledged that is not
stored. Refusals are each request's own (unknown device, a decoded field that is no value: 4xx as
when alone) and take nothing else with them. A group whose transaction fails (another server
process stored the same retry a moment earlier, a Datastream deleted meanwhile …) is made again one
uplink at a time, each in its own transaction with its own answer.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Double, Text, bindparam, select
from sqlalchemy.exc import IntegrityError

from urbantwin.access.principal import SYSTEM
from urbantwin.errors import BadRequest, NotFound, PlatformError
from urbantwin.infrastructure.lorawan import Uplink
from urbantwin.sensorthings.values import result_columns
from urbantwin.store.engine import for_writes
from urbantwin.store.group_commit import GroupCommitter
from urbantwin.store.infrastructure_schema import lorawan_receptions, lorawan_streams, lorawan_uplinks
from urbantwin.store.types import UtcTime
from urbantwin.times import format_instant

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from urbantwin.sensorthings.service import SensorThingsService

log = logging.getLogger("urbantwin.infrastructure")

#: Most uplinks in one group (their Observations go in as one dataArray of a few rows each).
MAX_GROUP = 500
#: The answer to a retry: the uplink is stored already.
DUPLICATE: dict[str, Any] = {"stored": False, "duplicate": True}
#: The components of the dataArray rows of an uplink's Observations.
_COMPONENTS = ["phenomenonTime", "resultTime", "result", "parameters"]


# The group's statements, built once (a statement built anew for each group costs more to key
# and bind than to run).
#: The Datastream of each mapped field of the group's devices.
_FIELDS = select(lorawan_streams.c.dev_eui, lorawan_streams.c.field, lorawan_streams.c.datastream_id).where(
    lorawan_streams.c.dev_eui.in_(bindparam("euis", expanding=True))
)
#: Which of the group's retry keys are stored already.
_STORED = select(lorawan_uplinks.c.dedupe_key).where(
    lorawan_uplinks.c.dedupe_key.in_(bindparam("keys", expanding=True))
)
#: A gateway's reception of an uplink, the uplink found by its retry key (stored just before).
_RECEPTIONS = lorawan_receptions.insert().from_select(
    ["uplink_id", "gateway_id", "dev_eui", "rssi", "snr", "received"],
    select(
        lorawan_uplinks.c.id,
        bindparam("gateway", type_=Text),
        bindparam("device", type_=Text),
        bindparam("rssi", type_=Double),
        bindparam("snr", type_=Double),
        bindparam("at", type_=UtcTime),
    ).where(lorawan_uplinks.c.dedupe_key == bindparam("key", type_=Text)),
)


class _Refused(Exception):
    """The store refused an Observation of the group (a row answered "error")."""

    def __init__(self, uplink: Uplink, name: str) -> None:
        super().__init__(name)
        self.uplink = uplink
        self.name = name


def store_uplinks(
    connection: Connection, sensorthings: SensorThingsService, uplinks: list[Uplink]
) -> list[dict[str, Any] | PlatformError]:
    """Store `uplinks` in the transaction of `connection`: for each, its answer, or the refusal
    (unknown device, a decoded field that is no value) that it alone takes.

    Raises when the transaction cannot go on (then nothing of it may be committed): a database
    error, or `_Refused` when the store refused an Observation that the checks here let through.
    """
    euis = sorted({uplink.dev_eui for uplink in uplinks})
    mapped: dict[str, dict[str, int]] = defaultdict(dict)
    for eui, name, datastream in connection.execute(_FIELDS, {"euis": euis}):
        mapped[eui][name] = datastream
    keys = sorted({uplink.dedupe_key for uplink in uplinks})
    known = set(connection.execute(_STORED, {"keys": keys}).scalars())
    answers: list[dict[str, Any] | PlatformError] = []
    new: list[tuple[Uplink, dict[str, Any]]] = []
    for uplink in uplinks:
        fields = mapped.get(uplink.dev_eui)
        if not fields:
            answers.append(
                NotFound(
                    f"unknown device {uplink.dev_eui}: map its fields to Datastreams first "
                    "(PUT /api/infrastructure/lorawan/devices/{dev_eui})"
                )
            )
            continue
        if uplink.dedupe_key in known:  # stored before, or earlier in this group
            answers.append(dict(DUPLICATE))
            continue
        values = {name: uplink.fields[name] for name in fields if name in uplink.fields}
        try:
            for name, value in values.items():
                if isinstance(value, dict | list) or value is None:
                    raise BadRequest(
                        f"malformed uplink: the decoded field {name!r} must be a number, text or boolean"
                    )
                result_columns(value)  # the writer's check of a result (a finite number …)
        except PlatformError as refusal:
            answers.append(refusal)
            continue
        known.add(uplink.dedupe_key)
        new.append((uplink, values))
        answers.append(
            {
                "stored": True,
                "observations": len(values),
                "fields": sorted(values),
                "ignored_fields": sorted(set(uplink.fields) - set(values)),
                "gateways": len(uplink.receptions),
            }
        )
    if not new:
        return answers
    # One statement each, executed for many rows (no RETURNING: an INSERT of many rows with
    # RETURNING is a statement of its own text for each group size, parsed anew by the driver).
    connection.execute(
        lorawan_uplinks.insert(),
        [
            {
                "dedupe_key": uplink.dedupe_key,
                "network": uplink.network,
                "dev_eui": uplink.dev_eui,
                "f_cnt": uplink.f_cnt,
                "received": uplink.received,
                "observations": len(values),
            }
            for uplink, values in new
        ],
    )
    receptions = [
        {
            "key": uplink.dedupe_key,
            "gateway": r.gateway_id,
            "device": uplink.dev_eui,
            "rssi": r.rssi,
            "snr": r.snr,
            "at": uplink.received,
        }
        for uplink, _ in new
        for r in uplink.receptions
    ]
    if receptions:
        connection.execute(_RECEPTIONS, receptions)
    # The Observations as one dataArray, a block per Datastream; each row remembers its uplink and
    # field, to name them should the store refuse it.
    blocks: dict[int, list[list[Any]]] = {}
    origins: dict[int, list[tuple[Uplink, str]]] = {}
    for uplink, values in new:
        stamp = format_instant(uplink.received)
        parameters = uplink.parameters()
        for name, value in values.items():
            datastream = mapped[uplink.dev_eui][name]
            blocks.setdefault(datastream, []).append([stamp, stamp, value, parameters])
            origins.setdefault(datastream, []).append((uplink, name))
    if blocks:
        body = [
            {"Datastream": {"@iot.id": datastream}, "components": _COMPONENTS, "dataArray": rows}
            for datastream, rows in blocks.items()
        ]
        # The network server is trusted by its token; its Observations are the platform's own
        # writes, into the Datastreams a writer of their datasets mapped the fields to.
        created = sensorthings.handle(
            "POST", "CreateObservations", "", body, "/v1.1", SYSTEM, connection=connection
        )
        made = [origin for datastream in blocks for origin in origins[datastream]]
        for link, (uplink, name) in zip(created.body, made, strict=True):
            if link == "error":
                raise _Refused(uplink, name)
    return answers


class UplinkPosts:
    """Groups the uplinks of one server process (one committing thread), as `ObservationPosts`."""

    def __init__(self, engine: Engine, sensorthings: SensorThingsService) -> None:
        self.engine = for_writes(engine)
        self.sensorthings = sensorthings
        self._groups: GroupCommitter[Uplink, dict[str, Any]] = GroupCommitter(
            "urbantwin-lorawan-uplinks", self._commit, self.store_one, max_group=MAX_GROUP, log=log
        )

    @property
    def depth(self) -> int:
        """How many uplinks wait for their group."""
        return self._groups.depth

    def submit(self, uplink: Uplink) -> Future[dict[str, Any]]:
        """Queue `uplink` for the next group; the future is done once its group has committed."""
        return self._groups.submit(uplink)

    def submit_all(self, uplinks: list[Uplink]) -> list[Future[dict[str, Any]]]:
        """Queue uplinks that arrived together (they go into one group, up to `MAX_GROUP`)."""
        return self._groups.submit_all(uplinks)

    def store_one(self, uplink: Uplink) -> dict[str, Any]:
        """Store one uplink in a transaction of its own; its refusal is raised."""
        try:
            with self.engine.begin() as connection:
                (answer,) = store_uplinks(connection, self.sensorthings, [uplink])
        except IntegrityError:
            # The same uplink, delivered twice at once: the other delivery stored it.
            return dict(DUPLICATE)
        except _Refused as refused:
            raise BadRequest(
                f"malformed uplink: the decoded field {refused.name!r} was refused as an Observation's result"
            ) from None
        if isinstance(answer, PlatformError):
            raise answer
        return answer

    def close(self) -> None:
        """Commit what is queued, then stop the committing thread (the app's shutdown)."""
        self._groups.close()

    def _commit(self, group: list[Uplink]) -> list[dict[str, Any] | PlatformError]:
        """The group in one transaction (a failure makes it again uplink by uplink: `store_one`)."""
        with self.engine.begin() as connection:
            return store_uplinks(connection, self.sensorthings, group)


__all__ = ["DUPLICATE", "MAX_GROUP", "UplinkPosts", "store_uplinks"]
