"""`urbantwin replay`: stored history streamed into the platform again, as if it were live.

A demo without internet still shows live data: the Observations of a time window of chosen
Datastreams are read in the order they were observed and POSTed again, one by one, timestamped
now, at a chosen speed (a speed factor of 60 plays one hour of history per minute) or at a fixed
rate (observations per second). Each new Observation says what it is in its `parameters`:

    {"synthetic": true,
     "replay": {"originalPhenomenonTime": "2014-10-01T12:00:00Z", "originalResultTime": …,
                "sourceDatastream": 3, "sourceObservation": 1234, "speed": 60.0}}

(the original `parameters`, if any, are kept beside these), so a client can filter replayed values
out (`$filter=parameters/synthetic ne true`) or show them apart. An Observation that is itself a
replay is never replayed again. An interval phenomenonTime (a daily mean) keeps its length and ends
now.

By default the replay writes into the source Datastreams; `targets` designate other ones (e.g. a
Datastream made for the demo). It writes through the SensorThings API: by default the local store's
service in this process (`LocalClient`: no server needed, access rules as for the operator), or a
running server over HTTP (`HttpClient`, with a token), which is what a demo needs when its live
subscribers (MQTT, browser push) are served by the embedded broker of that server process.
It stops at the end of the window (or, with `loop`, starts over), after `limit` observations, when
`stop` is set, or on Ctrl-C, and answers a `ReplayReport` in every case.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from urbantwin.ingest.sta_client import JSON, ClientError, SensorThingsClient, iso, parse_iso

__all__ = ["ReplayOptions", "ReplayReport", "replay", "select_datastreams"]

_PAGE = "1000"


@dataclass
class ReplayOptions:
    #: The source window: Observations whose phenomenonTime starts at or after `start` and ends
    #: before `end` (None: from the first; until the moment the replay starts).
    start: datetime | None = None
    end: datetime | None = None
    #: Seconds of history per second of replay; ignored when `rate` is given.
    speed: float = 60.0
    #: A fixed pace instead: observations per second, whatever their spacing in the history.
    rate: float | None = None
    #: Source Datastream id -> target Datastream id (others write into their source).
    targets: dict[int, int] = field(default_factory=dict)
    #: Start over at the end of the window, until stopped.
    loop: bool = False
    #: Stop after this many observations (None: no limit).
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.rate is None and not self.speed > 0:
            raise ValueError("the speed factor must be greater than 0")
        if self.rate is not None and not self.rate > 0:
            raise ValueError("the rate must be greater than 0 observations per second")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("the window ends before it starts")


@dataclass
class ReplayReport:
    datastreams: int = 0
    #: Observations posted.
    posted: int = 0
    #: Observations in the window that are replays themselves (not replayed again).
    skipped: int = 0
    #: Passes over the window started (more than one with `loop`).
    passes: int = 0
    #: Wall-clock seconds the replay ran.
    elapsed: float = 0.0
    #: How far the replay fell behind its schedule at worst, in seconds (a slow server).
    max_lag: float = 0.0
    #: The original phenomenonTime of the last observation posted.
    last_original: str | None = None
    interrupted: bool = False

    def summary(self) -> str:
        how = "stopped" if self.interrupted else "finished"
        text = (
            f"Replay {how}: {self.posted} observations posted into {self.datastreams} Datastream(s) "
            f"in {self.elapsed:.1f} s"
        )
        if self.last_original:
            text += f", up to the original time {self.last_original}"
        if self.skipped:
            text += f"; {self.skipped} replayed observations in the window left out"
        if self.max_lag > 1:
            text += f"; at worst {self.max_lag:.1f} s behind schedule"
        return text + "."


def select_datastreams(
    client: SensorThingsClient,
    datastreams: Sequence[int] = (),
    things: Sequence[int] = (),
    everything: bool = False,
) -> list[int]:
    """Datastream ids from a selection: given ids, all of some Things, or all; checked to exist."""
    chosen: list[int] = []
    if everything:
        chosen += [e["@iot.id"] for e in client.entities("Datastreams", {"$select": "id", "$orderby": "id"})]
    for thing in things:
        _exists(client, f"Things({thing})")
        chosen += [
            e["@iot.id"]
            for e in client.entities(f"Things({thing})/Datastreams", {"$select": "id", "$orderby": "id"})
        ]
    for datastream in datastreams:
        _exists(client, f"Datastreams({datastream})")
        chosen.append(datastream)
    return list(dict.fromkeys(chosen))


def _exists(client: SensorThingsClient, path: str) -> None:
    try:
        client.get(path, {"$select": "id"})
    except ClientError as exc:
        if exc.status == 404:
            raise ValueError(f"no {path}") from None
        raise


@dataclass(frozen=True)
class _Item:
    start: datetime
    datastream: int
    ident: int
    end: datetime | None
    observation: JSON


def _history(
    client: SensorThingsClient, datastream: int, start: datetime | None, end: datetime, report: ReplayReport
) -> Iterator[_Item]:
    """The window's Observations of one Datastream in time order, read page by page as needed."""
    conditions = [f"phenomenonTime lt {iso(end)}"]
    if start is not None:
        conditions.insert(0, f"phenomenonTime ge {iso(start)}")
    query = {
        "$filter": " and ".join(conditions),
        "$orderby": "phenomenonTime asc,id asc",
        "$select": "id,phenomenonTime,resultTime,result,resultQuality,parameters",
        "$top": _PAGE,
    }
    for observation in client.entities(f"Datastreams({datastream})/Observations", query):
        if "replay" in (observation.get("parameters") or {}):
            report.skipped += 1
            continue
        first, _, last = observation["phenomenonTime"].partition("/")
        yield _Item(
            parse_iso(first),
            datastream,
            observation["@iot.id"],
            parse_iso(last) if last else None,
            observation,
        )


def _replayed(item: _Item, now: datetime, options: ReplayOptions) -> JSON:
    """The new Observation: the same result, timestamped now, labelled as a replay."""
    original = item.observation
    phenomenon = f"{iso(now - (item.end - item.start))}/{iso(now)}" if item.end is not None else iso(now)
    pace: dict[str, Any] = {"rate": options.rate} if options.rate is not None else {"speed": options.speed}
    body: JSON = {
        "phenomenonTime": phenomenon,
        "resultTime": iso(now),
        "result": original.get("result"),
        "parameters": {
            **(original.get("parameters") or {}),
            "synthetic": True,
            "replay": {
                "originalPhenomenonTime": original["phenomenonTime"],
                "originalResultTime": original.get("resultTime"),
                "sourceDatastream": item.datastream,
                "sourceObservation": item.ident,
                **pace,
            },
        },
    }
    if original.get("resultQuality") is not None:
        body["resultQuality"] = original["resultQuality"]
    return body


def replay(
    client: SensorThingsClient,
    datastreams: Sequence[int],
    options: ReplayOptions,
    stop: threading.Event | None = None,
    on_posted: Callable[[JSON], None] | None = None,
) -> ReplayReport:
    """Replay the window of `datastreams` (see the module's docstring); Ctrl-C ends it cleanly."""
    report = ReplayReport(datastreams=len(datastreams))
    stop = stop or threading.Event()
    for source, target in options.targets.items():
        _exists(client, f"Datastreams({source})")
        _exists(client, f"Datastreams({target})")
    end = options.end or datetime.now(UTC)
    began = time.monotonic()
    try:
        while not stop.is_set():
            report.passes += 1
            posted_before = report.posted
            _one_pass(client, datastreams, options, end, stop, on_posted, report)
            if not options.loop or report.posted == posted_before or _limit_reached(options, report):
                break
    except KeyboardInterrupt:
        report.interrupted = True
    report.elapsed = time.monotonic() - began
    report.interrupted = report.interrupted or stop.is_set()
    return report


def _limit_reached(options: ReplayOptions, report: ReplayReport) -> bool:
    return options.limit is not None and report.posted >= options.limit


def _one_pass(
    client: SensorThingsClient,
    datastreams: Sequence[int],
    options: ReplayOptions,
    end: datetime,
    stop: threading.Event,
    on_posted: Callable[[JSON], None] | None,
    report: ReplayReport,
) -> None:
    merged = heapq.merge(
        *(_history(client, ds, options.start, end, report) for ds in datastreams),
        key=lambda item: (item.start, item.datastream, item.ident),
    )
    wall_start: float | None = None
    origin: datetime | None = None
    for index, item in enumerate(merged):
        if _limit_reached(options, report):
            return
        if wall_start is None or origin is None:
            wall_start, origin = time.monotonic(), item.start
        if options.rate is not None:
            due = wall_start + index / options.rate
        else:
            due = wall_start + (item.start - origin) / timedelta(seconds=1) / options.speed
        wait = due - time.monotonic()
        if wait > 0:
            if stop.wait(wait):
                return
        else:
            report.max_lag = max(report.max_lag, -wait)
        target = options.targets.get(item.datastream, item.datastream)
        body = _replayed(item, datetime.now(UTC), options)
        created = client.post(f"Datastreams({target})/Observations", body)
        report.posted += 1
        report.last_original = item.observation["phenomenonTime"]
        if on_posted is not None:
            on_posted(created)
