"""The platform's Prometheus metrics, declared once, for every part that counts something.

The well-kept client of the field, prometheus-client, holds them, so `/metrics` speaks the
exposition format every scraper reads, and its multiprocess mode adds up the server processes of
`urbantwin serve --workers N`, which share one port, so a scraper cannot reach each alone:
`serve` gives the workers a folder in `PROMETHEUS_MULTIPROC_DIR` where each writes its figures
(docs/operations.md). Gauges say there how the processes' values are combined (`multiprocess_mode`).

Labels are bounded: a request's route is its template (`/v1.1/Things({id})`), never the path it
was asked for, and the ingest paths, queues and pool states are the few named here.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

#: How long requests take, by method, route template and status code.
REQUEST_SECONDS = Histogram(
    "urbantwin_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template and status.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

#: Where Observations come in: `http_single` (POST of one Observation), `http_data_array`
#: (`CreateObservations`), `mqtt` (the creation topics) and `importer` (the importers and the demo,
#: writing in their own process).
INGEST_PATHS = ("http_single", "http_data_array", "mqtt", "importer")

INGESTED = Counter(
    "urbantwin_ingested_observations",
    "Observations stored, by the path they came in by.",
    ("path",),
)

#: Items waiting in the queues of the server processes, added up over the processes.
QUEUE_DEPTH = Gauge(
    "urbantwin_queue_depth",
    "Items waiting: single Observation POSTs for their group commit, changes for the live hub and "
    "for NOTIFY, broker messages to store.",
    ("queue",),
    multiprocess_mode="livesum",
)

#: 1 when the MQTT broker is connected, 0 when not; with several processes, the lowest (0 if any
#: process has lost its connection).
BROKER_CONNECTED = Gauge(
    "urbantwin_mqtt_connected",
    "Whether the server is connected to the MQTT broker (1) or not (0); absent when MQTT is off.",
    multiprocess_mode="livemin",
)

#: What happened to the MQTT ingest's broker sessions (label `session`: the client id, one per server
#: process): `connected` (a connection made, the first and each one after a loss), `taken_over` (the
#: broker gave the session to another connection with the same client id), `resent_stored` (a
#: message sent again, DUP, that was stored already: acknowledged, not stored twice), `resent_new`
#: (sent again and not stored before: stored now), `stale_dropped` (a message of an earlier
#: connection dropped unstored: the broker sends it again), `store_retried` (a batch whose
#: transaction failed, tried again) and `commit_found` (a batch whose commit's answer was lost,
#: found committed and not stored again).
MQTT_SESSION_EVENTS = (
    "connected",
    "taken_over",
    "resent_stored",
    "resent_new",
    "stale_dropped",
    "store_retried",
    "commit_found",
)

MQTT_SESSION = Counter(
    "urbantwin_mqtt_session_events",
    "What happened to the MQTT ingest's broker sessions: connections, takeovers, messages sent "
    "again (stored already or new), stale copies dropped, store retries and lost commit answers.",
    ("session", "event"),
)

#: The database connections of the processes' pools: `size` (kept open), `checked_out` (in use),
#: `overflow` (opened beyond the size), added up over the processes.
DB_POOL = Gauge(
    "urbantwin_db_pool_connections",
    "Database connections of the server processes' pools, by state.",
    ("state",),
    multiprocess_mode="livesum",
)

#: Each read replica (`database_replica_urls`, by host, port and database): 1 when this process
#: reads from it, 0 when it skips it (down, not a replica, or beyond the lag limit); with several
#: processes, the lowest.
REPLICA_READABLE = Gauge(
    "urbantwin_db_replica_readable",
    "Whether the server processes read from the replica (1) or skip it (0).",
    ("replica",),
    multiprocess_mode="livemin",
)

#: Seconds each read replica is behind the primary, as the last check measured it (absent while not
#: known); with several processes, the highest.
REPLICA_LAG = Gauge(
    "urbantwin_db_replica_lag_seconds",
    "How far the replica's replay is behind the primary, in seconds.",
    ("replica",),
    multiprocess_mode="livemax",
)


def ingested(path: str, count: int) -> None:
    """Count `count` Observations stored by `path` (one of `INGEST_PATHS`)."""
    if count > 0:
        INGESTED.labels(path=path).inc(count)


def session_event(session: str, event: str, count: int = 1) -> None:
    """Count `count` events (one of `MQTT_SESSION_EVENTS`) of the MQTT session `session`."""
    if count > 0:
        MQTT_SESSION.labels(session=session, event=event).inc(count)


def created_observations(method: str, path: str, status: int, body: Any) -> int:
    """How many Observations a SensorThings answer says were created: one for a 201 to a POST of
    an Observation, the rows not refused (`"error"`) of a `CreateObservations`, else none."""
    if method != "POST" or status != 201:
        return 0
    if path.rstrip("/") == "CreateObservations":
        return sum(1 for link in body if link != "error") if isinstance(body, list) else 0
    return 1 if path.rstrip("/").endswith("Observations") else 0
