"""Time-series extension on 10 million Observations (PostgreSQL): aggregates and latest values.

Workload (issue 3, point 4 and 6):

- load: `--minute-streams` Datastreams (default 19) with one year (2024) of minute data each
  (527,040 Observations per Datastream, 10.0 million in all), written time-major as sensors
  report (every minute one row per Datastream), plus `--small-streams` Datastreams (default 981)
  with a day of hourly data, so that 1,000 Datastreams have a latest value; then VACUUM ANALYZE;
- (a) daily mean over the year of one minute Datastream in Europe/Berlin: *cold* (its rollups
  dropped with `invalidate` first, so the query merges all 527,040 Observations into 8,784 hourly
  rollups) and *warm* (rollups current);
- (b) the same after 60 new Observations arrived (the incremental merge of one hour);
- (c) hourly values (count, mean, min, max) for one week; (d) monthly for the year;
- (e) latest Observation of 1,000 Datastreams with their locations (`GET /latest`, no filter);
- (f) the daily mean over the year in Asia/Kolkata (+05:30): the 366 hours cut by its midnights
  from the Observations, the rest from the rollups; (g) hourly values for a week in Asia/Kolkata,
  where every UTC hour is cut: the Observations alone;
- (h) `$count` of one minute Datastream's Observations and (i) of all Observations, through the
  SensorThings API (`?$count=true&$top=1`), beside what counting the rows costs (`SELECT count(*)`).

Each figure is timed in-process twice: the service call (SQL and building the JSON document) and
the whole HTTP request through the ASGI app (FastAPI routing, access scope, JSON encoding; no socket).
Warm figures are the median and 95th percentile of `--repeat` runs after one warm-up. The database
(`--pg-url`, default `urbantwin_timeseries_bench`) is dropped and loaded again unless `--reuse` finds
it loaded. Nothing is written to bench/README.md; the table is printed as Markdown.

    .venv/bin/python bench/timeseries.py --repeat 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from host import describe
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from urbantwin.access.policy import EVERYTHING  # noqa: E402
from urbantwin.settings import Settings  # noqa: E402
from urbantwin.store import rollups  # noqa: E402
from urbantwin.store.engine import for_writes, make_engine, upgrade  # noqa: E402
from urbantwin.timeseries.service import TimeseriesService, parse_aggregate, parse_latest  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_timeseries_bench"
YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)
MINUTES = 366 * 24 * 60  # 2024 is a leap year
ADMIN_TOKEN = "bench-admin-token"

#: The entities of the load: a Thing with a Location per Datastream (on a grid over Leipzig), one
#: Sensor, two ObservedProperties (PM10 and temperature, alternating), one FeatureOfInterest.
SETUP = [
    "INSERT INTO things (name, description) SELECT 'station ' || i, 'bench' FROM generate_series(1, :n) i",
    "INSERT INTO locations (name, description, encoding_type, location, geom) "
    "SELECT 'site ' || i, 'bench', 'application/geo+json', jsonb_build_object('type', 'Point', "
    "'coordinates', jsonb_build_array(12.2 + (i % 40) * 0.008, 51.25 + (i / 40) * 0.006)), "
    "ST_SetSRID(ST_MakePoint(12.2 + (i % 40) * 0.008, 51.25 + (i / 40) * 0.006), 4326) "
    "FROM generate_series(1, :n) i",
    "INSERT INTO thing_locations (thing_id, location_id) SELECT id, id FROM things",
    "INSERT INTO sensors (name, description, encoding_type, metadata) "
    "VALUES ('sensor', 'bench', 'text/plain', 'm')",
    "INSERT INTO observed_properties (name, definition, description) "
    "VALUES ('PM10', 'd', 'd'), ('temperature', 'd', 'd')",
    "INSERT INTO datastreams (name, description, observation_type, unit_of_measurement, thing_id, "
    "sensor_id, observed_property_id) SELECT 'series ' || id, 'bench', 'OM_Measurement', "
    "jsonb_build_object('name', 'microgram per cubic metre', 'symbol', 'µg/m³'), id, 1, 1 + id % 2 "
    "FROM things ORDER BY id",
    "INSERT INTO features_of_interest (name, description, encoding_type, feature) "
    "VALUES ('site', 'bench', 'application/geo+json', "
    "jsonb_build_object('type', 'Point', 'coordinates', jsonb_build_array(12.37, 51.34)))",
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> float:
    return os.getloadavg()[0]


def wait_idle(limit: float, seconds: float) -> None:
    """Wait until the 1-minute load average is below `limit` (other work on the machine)."""
    deadline = time.monotonic() + seconds
    while load_average() > limit and time.monotonic() < deadline:
        log(f"load average {load_average():.2f} > {limit}: waiting")
        time.sleep(15)


def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def is_loaded(url: str, expected: int) -> bool:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM datastreams")).scalar_one()
        engine.dispose()
        return count == expected
    except Exception:  # noqa: BLE001 - no database, no tables: not loaded
        return False


def load(url: str, minute_streams: int, small_streams: int) -> None:
    """Datastreams straight in the store, Observations generated by the server (INSERT … SELECT
    from generate_series: the fastest way in, equivalent to COPY of the same rows)."""
    recreate_database(url)
    engine = make_engine(Settings(database_url=url, query_timeout_seconds=3600))
    upgrade(engine)
    total = minute_streams + small_streams
    with engine.begin() as connection:
        for statement in SETUP:
            connection.execute(text(statement), {"n": total})
    # Minute data, one week per transaction, time-major (each minute one row per Datastream).
    week = 7 * 24 * 60
    started = time.monotonic()
    for first in range(0, MINUTES, week):
        last = min(first + week, MINUTES)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO observations (phenomenon_time_start, result_type, result_number, "
                    "datastream_id, feature_of_interest_id) "
                    "SELECT :start + m * interval '1 minute', 0, "
                    "round((20 + 10 * sin(m / 720.0 + d) + (m * d % 17) / 4.0)::numeric, 2)::float8, d, 1 "
                    "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer) - 1) m "
                    "CROSS JOIN generate_series(1, CAST(:streams AS integer)) d ORDER BY m, d"
                ),
                {"start": YEAR_START, "first": first, "last": last, "streams": minute_streams},
            )
        log(f"minute data: {last / MINUTES:.0%} ({time.monotonic() - started:.0f} s)")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO observations (phenomenon_time_start, result_type, result_number, "
                "datastream_id, feature_of_interest_id) "
                "SELECT CAST(:day AS timestamptz) + h * interval '1 hour', 0, h + d / 1000.0, d, 1 "
                "FROM generate_series(0, 23) h "
                "CROSS JOIN generate_series(CAST(:low AS integer), CAST(:high AS integer)) d ORDER BY h, d"
            ),
            {"day": datetime(2024, 12, 31, tzinfo=UTC), "low": minute_streams + 1, "high": total},
        )
    log("VACUUM ANALYZE")
    raw = create_engine(url, isolation_level="AUTOCOMMIT")
    with raw.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    raw.dispose()
    engine.dispose()
    log(f"loaded in {time.monotonic() - started:.0f} s")


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and 95th percentile in milliseconds after one warm-up run."""
    call()
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        call()
        samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def once(call: Callable[[], Any]) -> float:
    begin = time.perf_counter()
    call()
    return (time.perf_counter() - begin) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--minute-streams", type=int, default=19)
    parser.add_argument("--small-streams", type=int, default=981)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=3, help="cold runs, each on another Datastream")
    parser.add_argument("--reuse", action="store_true", help="keep the database when it is loaded already")
    parser.add_argument("--wait-idle", type=float, default=1.0, help="wait for a load average below this")
    args = parser.parse_args()

    total = args.minute_streams + args.small_streams
    if not (args.reuse and is_loaded(args.pg_url, total)):
        load(args.pg_url, args.minute_streams, args.small_streams)
    settings = Settings(
        database_url=args.pg_url,
        admin_token=ADMIN_TOKEN,
        max_top=10_000,
        rate_limit_per_second=0,  # the benchmark measures the server, not the limits
        rate_limit_token_per_second=0,
    )
    engine = make_engine(settings)
    upgrade(engine)  # a reused database from before a migration (the observation counts) gets it
    service = TimeseriesService(engine, settings)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM observations")).scalar_one()
        version = connection.execute(text("SHOW server_version")).scalar_one()
    log(f"{count:,} Observations in {total} Datastreams (PostgreSQL {version})")

    from fastapi.testclient import TestClient

    from urbantwin.app import create_app

    client = TestClient(create_app(settings, engine))
    client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"

    def aggregate_query(ds: int, interval: str, start: str, end: str, stats: str, tz: str = "Europe/Berlin"):  # noqa: ANN202
        query = parse_aggregate(ds, interval, stats, start, end, tz)
        params = {"interval": interval, "start": start, "end": end, "stats": stats, "tz": tz}
        url = f"/api/timeseries/datastreams/{ds}/aggregate"

        def via_service() -> Any:
            return service.aggregate(query, EVERYTHING)

        def via_http() -> Any:
            response = client.get(url, params=params)
            assert response.status_code == 200, response.text
            return response

        return via_service, via_http

    def drop_rollups(ds: int) -> None:
        with for_writes(engine).begin() as connection:
            rollups.invalidate(connection, [ds])

    wait_idle(args.wait_idle, 1800)
    load_before = load_average()
    rows: list[tuple[str, str, str, str]] = []

    # (a) cold: each run on a Datastream whose rollups were dropped.
    cold_service, cold_http = [], []
    for ds in range(1, args.cold_runs + 1):
        drop_rollups(ds)
        service_call, _ = aggregate_query(ds, "day", "2024-01-01", "2025-01-01", "mean")
        cold_service.append(once(service_call))
    for ds in range(1, args.cold_runs + 1):
        drop_rollups(ds)
        _, http_call = aggregate_query(ds, "day", "2024-01-01", "2025-01-01", "mean")
        cold_http.append(once(http_call))
    rows.append(
        (
            "(a) daily mean, 1 year of minute data, cold (fills 8,784 rollups from 527,040 rows)",
            f"{statistics.median(cold_service):.0f} (runs: {', '.join(f'{v:.0f}' for v in cold_service)})",
            f"{statistics.median(cold_http):.0f} (runs: {', '.join(f'{v:.0f}' for v in cold_http)})",
            "–",
        )
    )

    def warm(label: str, calls: tuple[Callable[[], Any], Callable[[], Any]], target: str = "–") -> None:
        service_median, service_p95 = timed(calls[0], args.repeat)
        http_median, http_p95 = timed(calls[1], args.repeat)
        rows.append(
            (
                label,
                f"{service_median:.1f} / {service_p95:.1f}",
                f"{http_median:.1f} / {http_p95:.1f}",
                target,
            )
        )
        log(f"{label}: {service_median:.1f} ms service, {http_median:.1f} ms HTTP")

    daily = aggregate_query(1, "day", "2024-01-01", "2025-01-01", "mean")
    warm("(a) daily mean, 1 year of minute data, warm", daily, "≤ 50 ms")

    # (b) 60 new Observations (an hour of 2025) before every run: the merge of one new hour.
    minute = [0]

    def arrive() -> None:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO observations (phenomenon_time_start, result_type, result_number, "
                    "datastream_id, feature_of_interest_id) SELECT CAST(:start AS timestamptz) "
                    "+ m * interval '1 minute', 0, 20.0, 1, 1 "
                    "FROM generate_series(CAST(:first AS integer), CAST(:first AS integer) + 59) m"
                ),
                {"start": datetime(2025, 1, 1, tzinfo=UTC), "first": minute[0]},
            )
        minute[0] += 60

    def incremental(call: Callable[[], Any]) -> tuple[float, float]:
        samples = []
        for _ in range(args.repeat):
            arrive()
            samples.append(once(call))
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]

    inc_service = incremental(daily[0])
    inc_http = incremental(daily[1])
    rows.append(
        (
            "(b) the same after 60 new Observations (merge of one hour)",
            f"{inc_service[0]:.1f} / {inc_service[1]:.1f}",
            f"{inc_http[0]:.1f} / {inc_http[1]:.1f}",
            "–",
        )
    )
    warm(
        "(c) hourly count/mean/min/max, one week",
        aggregate_query(2, "hour", "2024-06-03", "2024-06-10", "count,mean,min,max"),
    )
    warm("(d) monthly mean, one year", aggregate_query(3, "month", "2024-01-01", "2025-01-01", "mean"))

    latest_query = parse_latest(None, None, None, None, "1000", None, 10_000)

    def latest_service() -> Any:
        answer = service.latest(latest_query, EVERYTHING)
        assert answer.body["numberReturned"] == 1000
        return answer

    def latest_http() -> Any:
        response = client.get("/api/timeseries/latest", params={"limit": "1000"})
        assert response.status_code == 200 and len(response.json()["features"]) == 1000
        return response

    warm("(e) latest Observation of 1,000 Datastreams, with locations", (latest_service, latest_http))
    kolkata = aggregate_query(4, "day", "2024-01-01", "2025-01-01", "mean", tz="Asia/Kolkata")
    warm("(f) daily mean, 1 year, Asia/Kolkata (rollups and 366 cut hours)", kolkata)
    kolkata_hours = aggregate_query(
        5, "hour", "2024-06-03", "2024-06-10", "count,mean,min,max", tz="Asia/Kolkata"
    )
    warm("(g) hourly, one week, Asia/Kolkata (Observations only)", kolkata_hours)

    def sta_count(path: str) -> Callable[[], Any]:
        def call() -> Any:
            response = client.get(path, params={"$count": "true", "$top": "1"})
            assert response.status_code == 200 and response.json()["@iot.count"] > 0, response.text
            return response

        return call

    def rows_count(sql: str) -> Callable[[], Any]:
        def call() -> Any:
            with engine.connect() as connection:
                return connection.execute(text(sql)).scalar_one()

        return call

    for label, path, sql in (
        (
            "(h) `$count` of one Datastream's 527,040 Observations",
            "/v1.1/Datastreams(1)/Observations",
            "SELECT count(*) FROM observations WHERE datastream_id = 1",
        ),
        (
            f"(i) `$count` of all {count:,} Observations",
            "/v1.1/Observations",
            "SELECT count(*) FROM observations",
        ),
    ):
        rows_median, _ = timed(rows_count(sql), min(args.repeat, 5))
        http_median, http_p95 = timed(sta_count(path), args.repeat)
        rows.append(
            (label, f"counting the rows: {rows_median:.1f}", f"{http_median:.1f} / {http_p95:.1f}", "–")
        )
        log(f"{label}: {http_median:.1f} ms HTTP, {rows_median:.1f} ms counting the rows")
    load_after = load_average()

    print()
    print(
        f"{count:,} Observations, {total} Datastreams, PostgreSQL {version}; {describe()}; "
        f"load average {load_before:.2f} "
        f"before, {load_after:.2f} after; {args.repeat} runs (median / p95, ms)"
    )
    print()
    print("| query | service, ms | HTTP in-process, ms | target |")
    print("|---|---:|---:|---|")
    for label, service_figure, http_figure, target in rows:
        print(f"| {label} | {service_figure} | {http_figure} | {target} |")
    client.close()
    engine.dispose()


if __name__ == "__main__":
    main()
