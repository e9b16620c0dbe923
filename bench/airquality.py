"""The clean-air assessment on 26 million hourly values (issue 18, point 9): the engine alone, and the
service reading them from a store (`--store`).

Workload: 2,968 series-years of hourly means (2,968 × 8,760 = 26.0 million values; random gamma
values with 3 % of the hours missing), one pollutant per series in turn (PM10, PM2.5, NO2, O3, SO2),
each assessed for 2023 under Directive 2008/50/EC, Directive (EU) 2024/2881 and the WHO 2021
guidelines: valid hours, daily means, running 8-hour means and their daily maxima, annual means and
every value's verdict (`urbantwin.airquality.engine`), the series as (series × hours) arrays of counts
and means as the store's read gives them, `CHUNK_SERIES` at a time. In-process, wall clock and CPU
time; the engine alone, without reading the store and without the answer documents.

    .venv/bin/python bench/airquality.py                 # 2,968 series-years, best of 3
    .venv/bin/python bench/airquality.py --series 300 --repeat 5

**Store mode** (`--store sqlite` or `--store postgresql://…`): 1,000 stations with hourly PM10,
PM2.5 and NO2 Datastreams (3,000 series-years of 2023, 26.3 million hours, 3 % missing) are loaded
once, not timed, into a fresh store as a warmed store holds them: the hourly rollups (one row
per hour: count 1, sum = the value), their year rows which the service reads (`store/hour_years.py`,
as a merge writes them) and a current watermark — the Observations themselves are not written, the
service never reads them once rolled up. Timed: `AirService.assessments(2023)` — the visible
stations found, the hours of 200 stations' series at a time read in one statement from the year
rows (`store/hourly.py`), each station assessed under the three standards, every answer
document built — and, for comparison, the same through the per-station path (`assessment`, one
rollup query per series) on the first `--per-station` stations — meaningless here, because that
path's guard finds no Observations under the rollups written and rebuilds them (bench/README.md).

    .venv/bin/python bench/airquality.py --store sqlite --repeat 3
    .venv/bin/python bench/airquality.py --store postgresql+psycopg://postgres@127.0.0.1:5432/bench_air
    .venv/bin/python bench/airquality.py --store sqlite:////tmp/air.sqlite   # kept: loaded once, reused

A store given by URL that already holds the stations (a run before loaded them) is reused as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from datetime import timedelta

import numpy as np
from host import describe
from sqlalchemy import Engine, func, insert, select

from urbantwin.access.gate import Caller
from urbantwin.access.principal import ANONYMOUS
from urbantwin.airquality.engine import (
    CHUNK_SERIES,
    LEAD_HOURS,
    Calendar,
    assess,
    valid_means,
    year_statistics_of,
)
from urbantwin.airquality.service import BATCH_STATIONS, AirService
from urbantwin.airquality.standards import POLLUTANTS, standards
from urbantwin.ingest.vocabulary import OBSERVED_PROPERTIES
from urbantwin.settings import Settings
from urbantwin.store import hour_years
from urbantwin.store.engine import for_writes, make_engine, upgrade
from urbantwin.store.hourly import hourly
from urbantwin.store.schema import datastreams, observed_properties, sensors, things
from urbantwin.store.timeseries_schema import observation_hour_years, observation_rollup_state

YEAR = 2023
OFFSET = timedelta(hours=1)


def workload(count: int, seed: int = 18) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`count` hourly series of the year as the store's read hands them to the engine: the pollutant
    of each, and the count and mean of every hour of the year and the 8 before (one row a series)."""
    rng = np.random.default_rng(seed)
    hours = len(Calendar(YEAR, OFFSET).grid(8))
    counts = (rng.random((count, hours)) >= 0.03).astype("int32")
    means = np.where(counts > 0, rng.gamma(2.0, 15.0, (count, hours)), np.nan)
    return [POLLUTANTS[k % len(POLLUTANTS)] for k in range(count)], counts, means


def run(pollutants: list[str], counts: np.ndarray, means: np.ndarray) -> int:
    """Every series assessed under every standard: `CHUNK_SERIES` rows at a time through
    `valid_means` and `year_statistics_of`, each series' checks."""
    checks = 0
    every = standards()
    capture = every[0].capture
    for low in range(0, len(pollutants), CHUNK_SERIES):
        high = low + CHUNK_SERIES
        valid = valid_means(counts[low:high], means[low:high], 1, capture)[:, 8 - LEAD_HOURS :]
        for pollutant, statistics_ in zip(
            pollutants[low:high], year_statistics_of(valid, YEAR, OFFSET, capture), strict=True
        ):
            for standard in every:
                checks += len(assess(standard, pollutant, {YEAR: statistics_}, YEAR))
    return checks


def peak_memory() -> str:
    """The process's peak resident memory so far (Linux: VmHWM), for the figures."""
    with contextlib.suppress(OSError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return f"{int(line.split()[1]) / 1024:.0f} MB"
    return "unknown"


STORE_POLLUTANTS = ("pm10", "pm25", "no2")
UG = {"name": "microgram per cubic metre", "symbol": "µg/m³", "definition": "ucum:ug/m3"}


def load(engine: Engine, stations: int, seed: int = 18) -> int:
    """The stations, their Datastreams and their hourly rollups of 2023 (module docstring)."""
    rng = np.random.default_rng(seed)
    grid = Calendar(YEAR, OFFSET).grid(8)
    micros = grid.as_unit("us").asi8.astype("int64")  # µs since 1970, whatever unit the grid has
    with for_writes(engine).begin() as connection:
        sensor = connection.execute(
            insert(sensors)
            .values(name="analyser", description="synthetic", encoding_type="text/plain", metadata="m")
            .returning(sensors.c.id)
        ).scalar_one()
        properties = {}
        for code in STORE_POLLUTANTS:
            document = OBSERVED_PROPERTIES[code].observed_property
            properties[code] = connection.execute(
                insert(observed_properties)
                .values(name=document["name"], definition=document["definition"], description="synthetic")
                .returning(observed_properties.c.id)
            ).scalar_one()
        thing_ids = (
            connection.execute(
                insert(things).returning(things.c.id),
                [{"name": f"Station {k}", "description": "synthetic"} for k in range(stations)],
            )
            .scalars()
            .all()
        )
        streams = [
            {
                "name": f"{code} at {thing}",
                "description": "synthetic",
                "observation_type": "OM_Measurement",
                "unit_of_measurement": UG,
                "properties": {"kind": "measurement", "aggregation": "PT1H", "synthetic": True},
                "thing_id": thing,
                "sensor_id": sensor,
                "observed_property_id": properties[code],
            }
            for thing in thing_ids
            for code in STORE_POLLUTANTS
        ]
        ids = connection.execute(insert(datastreams).returning(datastreams.c.id), streams).scalars().all()
        connection.execute(
            insert(observation_rollup_state), [{"datastream_id": i, "merged_through": 0} for i in ids]
        )
    written = 0
    postgres = engine.dialect.name == "postgresql"
    connection = engine.connect()
    for n, datastream_id in enumerate(ids):
        if n % 100 == 0:  # a transaction per 100 series: a commit per series cost a flush each
            connection.commit()
        keep = rng.random(len(grid)) >= 0.03
        values = rng.gamma(2.0, 15.0, int(keep.sum()))
        hours = micros[keep]
        written += len(values)
        if postgres:
            data = _copy_rows(datastream_id, hours, values)
            raw = connection.connection.driver_connection
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    "COPY observation_rollups (datastream_id, hour_start, all_count, value_count, "
                    "value_sum, value_min, value_max) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.write(data)
        else:
            rows = [
                (datastream_id, int(h), 1, 1, float(v), float(v), float(v))
                for h, v in zip(hours.tolist(), values.tolist(), strict=True)
            ]
            raw = connection.connection.driver_connection
            raw.executemany(
                "INSERT INTO observation_rollups (datastream_id, hour_start, all_count, value_count, "
                "value_sum, value_min, value_max) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        hour_years.patch(connection, datastream_id, hours, np.ones(len(hours), "int64"), values)
    connection.commit()
    connection.close()
    return written


#: A row of PostgreSQL's binary COPY into observation_rollups: the field count, then each field's
#: length and value (int8 id, timestamptz as µs since 2000, int8 counts, float8 sum, min, max).
_COPY_ROW = np.dtype(
    [("fields", ">i2")]
    + [
        item
        for k, kind in enumerate((">i8", ">i8", ">i8", ">i8", ">f8", ">f8", ">f8"))
        for item in ((f"length{k}", ">i4"), (f"value{k}", kind))
    ]
)
_SINCE_2000 = 946_684_800_000_000  # µs from 1970 to 2000, PostgreSQL's epoch of timestamptz


def _copy_rows(datastream_id: int, hours: np.ndarray, values: np.ndarray) -> bytes:
    """One Datastream's rollups in PostgreSQL's binary COPY format, built by numpy (26 million rows
    formatted as text took longer than everything the benchmark times)."""
    rows = np.zeros(len(hours), _COPY_ROW)
    rows["fields"] = 7
    for k in range(7):
        rows[f"length{k}"] = 8
    rows["value0"], rows["value1"], rows["value2"], rows["value3"] = datastream_id, hours - _SINCE_2000, 1, 1
    rows["value4"], rows["value5"], rows["value6"] = values, values, values
    header = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
    return header + rows.tobytes() + b"\xff\xff"


def loaded(engine: Engine, stations: int) -> int:
    """The hourly values already held when the store holds exactly the benchmark's stations (a store
    given by URL is then reused as it is: loading 1,000 stations takes many minutes), else 0."""
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(things)).scalar_one()
        if count == 0:
            return 0
        if count != stations:
            raise SystemExit(f"the store holds {count} Things, not the {stations} stations asked for")
        # Streamed (a server-side cursor on PostgreSQL): all rows at once would be the process's peak.
        rows = connection.execute(
            select(observation_hour_years.c.value_counts).execution_options(yield_per=64)
        ).scalars()
        return sum(int(np.frombuffer(row, hour_years.COUNT).sum()) for row in rows)


def store_mode(url: str, stations: int, repeat: int, per_station: int) -> None:
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    upgrade(engine)
    print(f"{describe()}; {engine.dialect.name}; load average {os.getloadavg()[0]:.2f} before")
    values = loaded(engine, stations)
    if values:
        print(f"already loaded: {stations} stations, {values:,} hourly values (the store is reused)")
    else:
        began = time.perf_counter()
        values = load(engine, stations)
        print(f"loaded {stations} stations, {values:,} hourly values in {time.perf_counter() - began:.1f} s")
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    air = AirService(engine, settings)
    loaded_peak = peak_memory()
    times = []
    # The process's CPU time beside the wall clock: on a shared machine it tells the work from the
    # waiting for a core (it leaves out the PostgreSQL server's own CPU time).
    cpu = []
    checks = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        answers = air.assessments(YEAR, Caller(ANONYMOUS, "bench"))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        checks = sum(len(a.body["checks"]) for a in answers)
    print(
        f"assessments: {len(answers)} stations, {values:,} values, {checks} checks: best {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}); "
        f"CPU time of this process {', '.join(f'{t:.2f}' for t in cpu)} s; "
        f"load average {os.getloadavg()[0]:.2f} after; peak memory of the process {peak_memory()} "
        f"(after loading: {loaded_peak})"
    )
    # The store's part alone: the same hours read as `assessments` reads them, a batch at a time.
    with engine.connect() as connection:
        series = connection.execute(select(datastreams.c.id).order_by(datastreams.c.id)).scalars().all()
    start, end = AirService._window(range(YEAR, YEAR + 1), OFFSET)
    batch = BATCH_STATIONS * len(STORE_POLLUTANTS)
    began, began_cpu = time.perf_counter(), time.process_time()
    held = 0
    for low in range(0, len(series), batch):
        hours = hourly(engine, series[low : low + batch], start, end)
        held += sum(int(np.count_nonzero(counts)) for counts in hours.counts.values())
    print(
        f"read alone (store/hourly.py, {batch} series a statement): {held:,} hours in "
        f"{time.perf_counter() - began:.2f} s (CPU time of this process "
        f"{time.process_time() - began_cpu:.2f} s); "
        f"load average {os.getloadavg()[0]:.2f} after"
    )
    if per_station:
        ids = [a.body["station"]["@iot.id"] for a in answers[:per_station]]
        start = time.perf_counter()
        for thing_id in ids:
            air.assessment(thing_id, YEAR, Caller(ANONYMOUS, "bench"))
        took = time.perf_counter() - start
        print(
            f"per station (assessment, one rollup query per series): {per_station} stations in {took:.2f} s, "
            f"{took / per_station * len(answers):.1f} s for {len(answers)} by extrapolation; "
            f"load average {os.getloadavg()[0]:.2f} after"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2968)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", help="sqlite (a fresh file) or a PostgreSQL URL of an empty database")
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--per-station", type=int, default=20)
    args = parser.parse_args()
    if args.store:
        if args.store == "sqlite":
            with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
                store_mode(f"sqlite:///{folder}/air.sqlite", args.stations, args.repeat, args.per_station)
        else:
            store_mode(args.store, args.stations, args.repeat, args.per_station)
        return
    pollutants, counts, means = workload(args.series)
    values = int(np.count_nonzero(counts[:, 8:]))
    print(f"{describe()}; load average {os.getloadavg()[0]:.2f} before")
    times, cpu = [], []
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        checks = run(pollutants, counts, means)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(
        f"{args.series} series-years, {values:,} valid hourly values, {checks} checks: "
        f"best {min(times):.2f} s, median {statistics.median(times):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in times)}); CPU time {', '.join(f'{t:.2f}' for t in cpu)} s; "
        f"load average {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
