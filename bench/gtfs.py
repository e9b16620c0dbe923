"""A city-size GTFS feed from zip to per-line hourly energy, beside gtfs-kit's trip statistics.

The workload: Plzeň's real feed (PMDP, CC BY 4.0; `src/urbantwin/demo/transit/`) replicated `--copies`
times with new ids (every stop, route, trip, service, block, shape and zone id prefixed `c<n>-`; times and
coordinates unchanged), so a weekday runs `copies` × Plzeň's trips. The result is labelled
**replicated** wherever it is printed: it is a real timetable repeated, not a bigger city's.

Timed in one run, on the same zip, in this process (wall clock and CPU; on PostgreSQL its backends'
CPU too, read from /proc):

- urbantwin: `import_gtfs` (zip → store: read and checked, trips measured, routes, trips, service
  days, departures per stop and hour and the three feature collections written in one transaction)
  then `TransitEnergy.energy` for the typical weekday and its per-line hourly table
  (`EnergyResult.hours_table`): on fresh SQLite files and fresh PostgreSQL databases, `--repeat`
  runs each (best and median);
- gtfs-kit: `read_feed` then `compute_trip_stats` (per trip: distance, duration, speed, …), once.

Then the distances per trip, ours (as stored) against gtfs-kit's, on the replicated feed and on the
other two real feeds of the transit tests (Madrid Metro Ligero, with shapes; the Pforzheim/Enzkreis
extract, without): how many gtfs-kit measured, how many agree within 1 %, the largest gap. Last,
gtfs-kit on the hand-made feeds of `tests/transit/test_distance.py` where it is wrong, beside the
value computed by hand and ours.

    PYTHONPATH=src .venv/bin/python bench/gtfs.py --copies 5 --repeat 3 \
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_gtfs_bench

The PostgreSQL database named by `--pg` is dropped and created anew (its name must contain "bench").
gtfs-kit comes with the `bench` extra: `.venv/bin/pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url

from urbantwin.access.gate import Access, Caller
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade
from urbantwin.store.transit_schema import transit_trips
from urbantwin.transit.distance import DETOUR_FACTOR, trip_table
from urbantwin.transit.energy import TransitEnergy
from urbantwin.transit.feed import read_feed
from urbantwin.transit.gtfs_import import import_gtfs

REPO = Path(__file__).resolve().parent.parent
PLZEN = REPO / "src" / "urbantwin" / "demo" / "transit" / "plzen_pmdp_2026-02.gtfs.zip"
FIXTURES = REPO / "tests" / "transit" / "data"
OTHER_FEEDS = {
    "Madrid Metro Ligero (real, shapes)": FIXTURES / "madrid_crtm_metro_ligero_2025-11.gtfs.zip",
    "Pforzheim/Enzkreis extract (real)": FIXTURES / "vpe_pforzheim_enzkreis_extract_2024-12.gtfs.zip",
}
#: Columns holding ids that a copy renames, in any GTFS file.
ID_COLUMNS = (
    "stop_id",
    "parent_station",
    "route_id",
    "trip_id",
    "service_id",
    "block_id",
    "shape_id",
    "from_stop_id",
    "to_stop_id",
    "from_route_id",
    "to_route_id",
    "from_trip_id",
    "to_trip_id",
    "zone_id",
)
#: Files that are the feed's own, not a copy's (one agency, one feed_info).
SHARED = ("agency.txt", "feed_info.txt")

T = TypeVar("T")


def replicate(source: Path, copies: int, target: Path) -> dict[str, int]:
    """`target`: the feed at `source` `copies` times over, each copy's ids prefixed `c<n>-`; the rows
    per file of the result."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for name in archive.namelist():
            raw = archive.read(name).decode("utf-8-sig")
            frame = pd.read_csv(io.StringIO(raw), dtype=str, keep_default_na=False)
            if name in SHARED:
                parts = [frame]
            else:
                parts = []
                for n in range(copies):
                    copy = frame.copy()
                    for column in ID_COLUMNS:
                        if column in copy:
                            values = copy[column]
                            copy[column] = values.where(values == "", f"c{n}-" + values)
                    parts.append(copy)
            whole = pd.concat(parts, ignore_index=True)
            counts[name] = len(whole)
            out.writestr(name, whole.to_csv(index=False))
    return counts


def timed(label: str, call: Callable[[], T], times: dict[str, float]) -> T:
    """`call()`, its wall-clock seconds as `times[label]` and this process's CPU seconds as
    `times[label + " (CPU)"]` (the machine is shared: the CPU time is what other work cannot
    stretch; a PostgreSQL server's own work is in the wall-clock time only)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = call()
    times[label] = time.perf_counter() - start
    times[f"{label} (CPU)"] = time.process_time() - cpu
    return result


def total(times: dict[str, float], label: str) -> None:
    """`times[label]` (and its CPU time): the sum of the steps timed so far."""
    wall = sum(v for k, v in times.items() if not k.endswith("(CPU)"))
    cpu = sum(v for k, v in times.items() if k.endswith("(CPU)"))
    times[label], times[f"{label} (CPU)"] = wall, cpu


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def fresh_postgres(url: str) -> None:
    """Drop and create the database of `url` (its name must say it is a benchmark's)."""
    parsed = make_url(url)
    name = parsed.database or ""
    if "bench" not in name:
        raise SystemExit(f"--pg: the database name must contain 'bench' (it is dropped), got {name!r}")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def ours(url: str, feed: Path, feed_id: str) -> tuple[dict[str, float], pd.Series, dict[str, Any]]:
    """Zip → store → per-line hourly energy on the store at `url`: timings, distances per trip (km)
    and what the energy table holds."""
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    upgrade(engine)
    server_before = _server_cpu(engine)
    times: dict[str, float] = {}
    report = timed("import (zip → store)", lambda: import_gtfs(engine, feed, feed_id=feed_id), times)
    access = Access.of(engine, settings)
    service = TransitEnergy(engine, access)
    result = timed(
        "energy (store → per-line hourly)", lambda: service.energy(Caller.system(), feed_id), times
    )
    hours = timed("hours table", result.hours_table, times)
    total(times, "zip → per-line hourly energy")
    if server_before is not None:
        after = _server_cpu(engine) or {}
        times["PostgreSQL server CPU"] = sum(cpu - server_before.get(pid, 0.0) for pid, cpu in after.items())
    distances = _stored_distances(engine, feed_id)
    access.audit.flush()
    engine.dispose()
    facts = {
        "trips": report.summary["trips"],
        "stop_times": report.summary["stop_times"],
        "weekday": report.summary["typical_weekday"],
        "weekday_trips": report.summary["weekday_trips"],
        "lines": len(result.lines),
        "hour_rows": len(hours),
        "weekday_vehicle_km": float(result.lines["vehicle_km"].sum()),
        "weekday_final_energy_kwh": float(result.lines["final_energy_kwh"].sum()),
    }
    return times, distances, facts


def _server_cpu(engine: Engine) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL backend serving the store's database (None on SQLite):
    the server's share of the work, which this process's CPU time does not hold."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(pid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _stored_distances(engine: Engine, feed_id: str) -> pd.Series:
    with engine.connect() as connection:
        rows = connection.execute(
            select(transit_trips.c.trip_id, transit_trips.c.distance_km).where(
                transit_trips.c.feed_id == feed_id
            )
        ).all()
    return pd.Series({trip: float(km) for trip, km in rows}, dtype=float)


def gtfs_kit_stats(feed: Path) -> tuple[dict[str, float], pd.DataFrame]:
    import gtfs_kit

    times: dict[str, float] = {}
    loaded = timed("read_feed", lambda: gtfs_kit.read_feed(feed, dist_units="km"), times)
    stats = timed("compute_trip_stats", lambda: gtfs_kit.compute_trip_stats(loaded), times)
    total(times, "read_feed + compute_trip_stats")
    return times, stats


def compare(ours_km: pd.Series, theirs: pd.DataFrame) -> dict[str, Any]:
    """Per trip: how many trips both measured, how many agree within 1 %, the largest gap."""
    kit = theirs.set_index("trip_id")["distance"].astype(float)
    both = pd.DataFrame({"ours": ours_km, "kit": kit}).dropna(subset=["ours"])
    measured = both["kit"].notna()
    out: dict[str, Any] = {"trips": len(both), "gtfs_kit_measured": int(measured.sum())}
    if measured.any():
        a, b = both.loc[measured, "ours"], both.loc[measured, "kit"]
        gap = (a - b).abs() / b.where(b > 0, np.nan)
        out["within_1_percent"] = int((gap <= 0.01).sum())
        out["largest_gap_percent"] = round(float(gap.max() * 100), 2) if gap.notna().any() else None
        out["ours_km"] = round(float(a.sum()), 1)
        out["gtfs_kit_km"] = round(float(b.sum()), 1)
    return out


def cases(folder: Path) -> list[tuple[str, float, float, float]]:
    """The hand-made feeds of the distance tests where gtfs-kit is wrong: (case, hand-computed km,
    ours, gtfs-kit's) for the trip each test checks."""
    import gtfs_kit

    sys.path.insert(0, str(REPO))
    from tests.transit.conftest import straight_km, write_feed
    from tests.transit.test_distance import THERE_AND_BACK, TRIPS_3, shapes_txt, with_dist

    feeds = {
        "short-turn trip, shape_dist_traveled (T3: stops 2 to 3 of 4)": (
            write_feed(folder / "short.zip", stop_times_txt=with_dist(1.0), trips_txt=TRIPS_3),
            "T3",
            1.2,
        ),
        "shape_dist_traveled in metres (T1)": (
            write_feed(folder / "metres.zip", stop_times_txt=with_dist(1000.0), trips_txt=TRIPS_3),
            "T1",
            3.6,
        ),
        "short-turn trip on a shape running back on itself (S3, S4, S3)": (
            write_feed(
                folder / "back.zip",
                shapes_txt=shapes_txt(THERE_AND_BACK),
                trips_txt="route_id,service_id,trip_id,shape_id\nR1,WK,T1,SH1\n",
                stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                "T1,08:00:00,08:00:00,S3,1\nT1,08:02:00,08:02:00,S4,2\nT1,08:04:00,08:04:00,S3,3\n",
            ),
            "T1",
            2 * straight_km(2, 3),
        ),
        "no shapes (T1: stops 1 to 4, × detour factor)": (
            write_feed(folder / "plain.zip"),
            "T1",
            straight_km() * DETOUR_FACTOR,
        ),
    }
    out = []
    for case, (path, trip, expected) in feeds.items():
        mine = trip_table(read_feed(path)).trips.set_index("trip_id").loc[trip, "distance_km"]
        theirs = gtfs_kit.compute_trip_stats(gtfs_kit.read_feed(path, dist_units="km")).set_index("trip_id")
        out.append((case, expected, float(mine), float(theirs.loc[trip, "distance"])))
    return out


def _steps(times: dict[str, float]) -> str:
    return ", ".join(
        f"{k} {v:.2f} s (CPU {times[k + ' (CPU)']:.2f} s)" if k + " (CPU)" in times else f"{k} {v:.2f} s"
        for k, v in times.items()
        if not k.endswith("(CPU)")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--pg", help="a PostgreSQL URL for a database the benchmark drops and creates")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours per backend (best and median)")
    parser.add_argument("--skip-gtfs-kit", action="store_true")
    args = parser.parse_args()

    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores); load average before: {load()}")
    folder = Path(tempfile.mkdtemp(prefix="gtfs-bench-"))
    try:
        feed = folder / f"plzen_replicated_x{args.copies}.gtfs.zip"
        counts = replicate(PLZEN, args.copies, feed)
        print(
            f"Workload: Plzeň's real feed REPLICATED {args.copies}× with new ids (not a real city's feed): "
            f"{counts['trips.txt']:,} trips, {counts['stop_times.txt']:,} stop times, "
            f"{counts['stops.txt']:,} stops, {counts['routes.txt']:,} routes; "
            f"{feed.stat().st_size / 1e6:.1f} MB zipped"
        )
        backends = {"SQLite": "sqlite"}
        if args.pg:
            backends["PostgreSQL"] = args.pg
        results: dict[str, dict[str, float]] = {}
        distances = pd.Series(dtype=float)
        whole = "zip → per-line hourly energy"
        for name, url in backends.items():
            runs = []
            for run in range(args.repeat):
                if url == "sqlite":
                    store = f"sqlite:///{folder / f'bench-{run}.sqlite'}"
                else:
                    fresh_postgres(url)
                    store = url
                times, distances, facts = ours(store, feed, "bench")
                runs.append(times)
                print(f"urbantwin {name}, run {run + 1} (load {load()}): " + _steps(times))
            print(f"  {facts}")
            best = min(runs, key=lambda times: times[whole])
            results[f"urbantwin {name}"] = best
            walls = sorted(times[whole] for times in runs)
            print(
                f"urbantwin {name}, {whole}: best {walls[0]:.2f} s (CPU {best[whole + ' (CPU)']:.2f} s), "
                f"median {walls[len(walls) // 2]:.2f} s of {len(walls)} runs"
            )
        if not args.skip_gtfs_kit:
            kit_times, stats = gtfs_kit_stats(feed)
            results["gtfs-kit"] = kit_times
            print(f"gtfs-kit (load {load()}): " + _steps(kit_times))
            for name, times in results.items():
                if name.startswith("urbantwin"):
                    # on PostgreSQL, the server's CPU is part of the work
                    ours_s = times[whole]
                    ours_cpu = times[f"{whole} (CPU)"] + times.get("PostgreSQL server CPU", 0.0)
                    kit_s, kit_cpu = kit_times["compute_trip_stats"], kit_times["compute_trip_stats (CPU)"]
                    print(
                        f"  {name} (best run): {whole} {kit_s / ours_s:.1f}× faster than compute_trip_stats "
                        f"(wall clock; CPU, a server's included, {kit_cpu / ours_cpu:.1f}×)"
                    )
            print(f"Distances, replicated Plzeň: {compare(distances, stats)}")
            for label, path in OTHER_FEEDS.items():
                with tempfile.TemporaryDirectory(dir=folder) as other:
                    _, km, _ = ours(f"sqlite:///{Path(other) / 'other.sqlite'}", path, "other")
                _, kit = gtfs_kit_stats(path)
                print(f"Distances, {label}: {compare(km, kit)}")
            print("Where gtfs-kit is wrong (the hand-made feeds of tests/transit/test_distance.py; km):")
            for case, expected, mine, theirs in cases(folder):
                print(f"  {case}: hand-computed {expected:.3f}, urbantwin {mine:.3f}, gtfs-kit {theirs:.3f}")
        print(f"load average after: {load()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
