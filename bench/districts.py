"""District profiles and public-transport access, timed from the store (docs/districts.md).

`demo`: every profile of the demo's 63 Ortsteile and 10 Stadtbezirke, and their access figures, and
the Ortsteile's profiles as of each year 2000–2024 (the time slider), from a store `urbantwin demo
--load-only` made (SQLite, or PostgreSQL with `--database-url` there):

    .venv/bin/urbantwin demo --data-dir /tmp/dist-demo --load-only
    PYTHONPATH=src .venv/bin/python bench/districts.py demo --store sqlite:////tmp/dist-demo/leipzig-demo.sqlite
    .venv/bin/urbantwin demo --data-dir /tmp/dist-pg --load-only \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_districts_demo
    PYTHONPATH=src .venv/bin/python bench/districts.py demo \
        --store postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_districts_demo

`synthetic`: access for 100,000 resident points against 10,000 stops, on a fresh store of the given
URL (SQLite or PostgreSQL): 250 districts of 1 km² (a 25 × 10 km grid, 4,000 residents each, no
buildings: each spread over a grid of 400 points) and a GTFS feed of 10,000 stops at random places
on 100 lines of 100 stops, ten trips each way between 06:00 and 20:00 (synthetic, seeded):

    PYTHONPATH=src .venv/bin/python bench/districts.py synthetic --database-url sqlite:////tmp/dist-bench.sqlite
    PYTHONPATH=src .venv/bin/python bench/districts.py synthetic \
        --database-url postgresql+psycopg://postgres@127.0.0.1/urbantwin_bench

Each timing is the whole service call (reading the store, projecting, placing, the nearest-stop
queries, the sums); the load average is printed before and after, since the machine's 2 cores are
shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

from urbantwin.access.gate import Access, Caller
from urbantwin.city_profile import parse_profile
from urbantwin.districts.service import DistrictProfiles
from urbantwin.ingest.pipeline import CollectionInfo, Source, build_rows, store_rows
from urbantwin.settings import Settings
from urbantwin.store.city import read_profile, write_profile
from urbantwin.store.engine import for_writes, make_engine, upgrade
from urbantwin.transit.gtfs_import import import_gtfs

X0, Y0 = 400_000.0, 5_760_000.0
TO_WGS84 = Transformer.from_crs("EPSG:25833", "EPSG:4326", always_xy=True)


def timed(label: str, repeat: int, call) -> None:  # noqa: ANN001
    """Wall and CPU time of this process per call (the CPU time is what a figure under load is judged
    by: the database server's work on PostgreSQL is in the wall time only)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(
        f"{label}: "
        + ", ".join(f"{t:.2f} s" for t in times)
        + f" (best {min(times):.2f} s; CPU "
        + ", ".join(f"{c:.2f}" for c in cpu)
        + " s)"
    )


def demo(url: str, repeat: int) -> None:
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    access, city = Access.of(engine, settings), read_profile(engine)
    caller = Caller.system()

    def fresh() -> DistrictProfiles:
        """A service of its own per call: nothing counted before is kept."""
        return DistrictProfiles(engine, settings, access, city)

    for collection in ("ortsteile", "stadtbezirke"):
        timed(f"profiles of {collection}", repeat, lambda c=collection: fresh().profiles(caller, c))
        kept = fresh()
        kept.profiles(caller, collection)
        timed(
            f"profiles of {collection}, asked again (counts kept)",
            repeat,
            lambda c=collection, k=kept: k.profiles(caller, c),
        )
        timed(
            f"access of {collection} (every stop)",
            repeat,
            lambda c=collection: fresh().transit_access(caller, c, "0", None),
        )
    # The time slider: every year of the population series asked once, as of that year (asof.py), on
    # one service (the layers read once, counted per year) and on a fresh one per year.
    years = [str(y) for y in range(2000, 2025)]

    def every_year(service: DistrictProfiles, collection: str) -> None:
        for year in years:
            service.profiles(caller, collection, year=year)

    timed(
        "profiles of the 63 Ortsteile as of each year 2000-2024 (one service)",
        repeat,
        lambda: every_year(fresh(), "ortsteile"),
    )
    timed(
        "profiles of the 63 Ortsteile as of 2010 (fresh)",
        repeat,
        lambda: fresh().profiles(caller, "ortsteile", year="2010"),
    )
    timed(
        "access of the 63 Ortsteile as of 2010 (every stop, fresh)",
        repeat,
        lambda: fresh().transit_access(caller, "ortsteile", "0", None, "2010"),
    )


def synthetic_feed(path: Path, rng: np.random.Generator) -> Path:
    xs = rng.uniform(0, 25_000, 10_000)
    ys = rng.uniform(0, 10_000, 10_000)
    lon, lat = TO_WGS84.transform(X0 + xs, Y0 + ys)
    stops = ["stop_id,stop_name,stop_lat,stop_lon"] + [
        f"S{n},Stop {n},{lat[n]:.6f},{lon[n]:.6f}" for n in range(10_000)
    ]
    routes = ["route_id,route_short_name,route_long_name,route_type"]
    trips = ["route_id,service_id,trip_id,direction_id"]
    times = ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    for line in range(100):
        routes.append(f"R{line},{line},Synthetic line {line},{3 if line % 3 else 0}")
        order = [f"S{line * 100 + k}" for k in range(100)]
        for n in range(10):
            start = 6 * 3600 + n * 4800
            for direction, sequence in ((0, order), (1, order[::-1])):
                trip = f"T{line}-{direction}-{n}"
                trips.append(f"R{line},WK,{trip},{direction}")
                for k, stop in enumerate(sequence):
                    at = start + k * 60
                    clock = f"{at // 3600:02d}:{at % 3600 // 60:02d}:00"
                    times.append(f"{trip},{clock},{clock},{stop},{k + 1}")
    files = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Synthetic,https://example.org,Europe/Berlin\n",
        "stops.txt": "\n".join(stops) + "\n",
        "routes.txt": "\n".join(routes) + "\n",
        "trips.txt": "\n".join(trips) + "\n",
        "stop_times.txt": "\n".join(times) + "\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
        "start_date,end_date\n"
        "WK,1,1,1,1,1,0,0,20260105,20260118\n",
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def synthetic(url: str, repeat: int) -> None:
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    upgrade(engine)
    profile = parse_profile(
        {
            "name": "Synthetic bench city",
            "crs": ["EPSG:25833"],
            "districts": [{"collection": "bench-districts", "population_property": "people_{year}"}],
        }
    )
    with for_writes(engine).begin() as connection:
        write_profile(connection, profile)
    sources = [
        Source(
            n,
            f"d{n}",
            shapely.box(
                X0 + (n % 25) * 1000,
                Y0 + (n // 25) * 1000,
                X0 + (n % 25 + 1) * 1000,
                Y0 + (n // 25 + 1) * 1000,
            ),
            {"name": f"District {n}", "people_2024": 4000},
        )
        for n in range(250)
    ]
    from pyproj import CRS

    rows = build_rows(Path("bench-districts"), sources, CRS.from_epsg(25833))
    store_rows(
        engine, rows, CollectionInfo("bench-districts", "Synthetic districts"), "EPSG:25833", progress=False
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        feed = synthetic_feed(Path(folder) / "bench.zip", np.random.default_rng(21))
        import_gtfs(engine, feed, feed_id="bench")
        print(f"setup (feed written and imported): {time.perf_counter() - start:.1f} s")
    access = Access.of(engine, settings)

    def fresh() -> DistrictProfiles:
        """A service of its own per call: nothing counted before is kept."""
        return DistrictProfiles(engine, settings, access, profile)

    service = fresh()
    caller = Caller.system()
    result = service.transit_access(caller, "bench-districts", "1", None)
    residents = sum(row["residents"] for row in result["districts"])
    print(
        f"{len(result['districts'])} districts, {residents:,.0f} residents, "
        f"stop categories {result['stop_categories']}"
    )
    timed(
        "access, 100,000 points × 10,000 stops",
        repeat,
        lambda: service.transit_access(caller, "bench-districts", "1", None),
    )
    timed("profiles of the 250 districts", repeat, lambda: fresh().profiles(caller, "bench-districts"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("demo")
    one.add_argument("--store", required=True)
    two = sub.add_parser("synthetic")
    two.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if args.what == "demo":
        demo(args.store, args.repeat)
    else:
        synthetic(args.database_url, args.repeat)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
