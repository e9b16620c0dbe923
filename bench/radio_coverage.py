"""Coverage and siting on the demo's real data (bench/README.md, "Coverage and siting").

Workload: the 5,524 OSM buildings of Leipzig-West (footprints and heights as the demo stores them),
the 209 located Freifunk Leipzig nodes as 2.4 GHz WLAN sites, the Ortsteile with their residents of
2024; (a) the coverage of the buildings' extent at RESOLUTION m with building obstruction, people
placed and the per-district table; (b) siting K new WLAN sites among the 765 LVB stops to cover the
most people not covered: greedy and the exact programme (HiGHS), compared.

    .venv/bin/python bench/radio_coverage.py [--resolution 10] [--k 20] [--time-limit 60] [--repeat 3]

The model runs as the service runs it (`infrastructure.raster`, `population`, `siting`), on the
files of src/urbantwin/demo/data/ rather than through a store, so that the figures are the
model's own (reading 5,524 rows from SQLite adds about a tenth of a second).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

from urbantwin.demo.features import BUILDING_FILES, DATA, building_height
from urbantwin.infrastructure import siting
from urbantwin.infrastructure.planning import DEFAULT_BUILDING_M, RESIDENTIAL
from urbantwin.infrastructure.population import Building, District, district_table, place_people
from urbantwin.infrastructure.radio import BANDS
from urbantwin.infrastructure.raster import Grid, Obstacles, Transmitter, coverage, site_power


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolution", type=float, default=10.0)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--band", default="wlan-2.4")
    args = parser.parse_args()
    band = BANDS[args.band]
    to_metric = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True)

    def project(geoms: list) -> np.ndarray:
        return shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1])),
        )

    seen, footprints, heights, homes = set(), [], [], []
    for file in BUILDING_FILES:
        for f in _features(DATA / file):
            key = f["properties"].get("id")
            if key in seen or f["geometry"] is None:
                continue
            seen.add(key)
            props, height, _, _ = building_height(f["properties"])
            footprints.append(shapely.geometry.shape(f["geometry"]))
            heights.append(height if height else DEFAULT_BUILDING_M)
            homes.append(str(props.get("building", "")) in RESIDENTIAL)
    footprints = list(project(footprints))
    nodes = _features(DATA / "freifunk_leipzig_nodes_2020-03-03.geojson")
    stops = _features(DATA / "lvb_stops_2018.geojson")
    districts_raw = _features(DATA / "leipzig_ortsteile.geojson")
    population = {}
    import csv

    with (DATA / "leipzig_einwohner_2000-2024.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["ebene"] == "ortsteil" and row["jahr"] == "2024":
                population[row["ot_nr"]] = float(row["einwohner"])
    districts = [
        District(
            d["properties"]["name"],
            project([shapely.geometry.shape(d["geometry"])])[0],
            population.get(str(d["properties"]["ot_nr"]), 0.0),
        )
        for d in districts_raw
    ]
    bounds = shapely.total_bounds(np.asarray(footprints, dtype=object))
    grid = Grid.covering(bounds, args.resolution)
    margin = band.reach_m()
    wide = (bounds[0] - margin, bounds[1] - margin, bounds[2] + margin, bounds[3] + margin)
    sites = []
    for i, n in enumerate(nodes):
        x, y = to_metric.transform(*n["geometry"]["coordinates"][:2])
        sites.append(Transmitter(str(i), x, y, band.antenna_m))
    near = [s for s in sites if wide[0] <= s.x <= wide[2] and wide[1] <= s.y <= wide[3]]
    buildings = [Building(f, h, r) for f, h, r in zip(footprints, heights, homes, strict=True)]

    timings: dict[str, list[float]] = {"obstacles": [], "people": [], "coverage": [], "total": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        obstacles = Obstacles.of(Grid.covering(wide, min(args.resolution, 5.0)), footprints, heights)
        t1 = time.perf_counter()
        people = place_people(grid, districts, buildings)
        t2 = time.perf_counter()
        today = coverage(grid, obstacles, band, sites)
        table = district_table(districts, people, today.covered)
        t3 = time.perf_counter()
        for name, value in (
            ("obstacles", t1 - t0),
            ("people", t2 - t1),
            ("coverage", t3 - t2),
            ("total", t3 - t0),
        ):
            timings[name].append(value)
    print(f"CPU: {_cpu()}; load average before: {os.getloadavg()}")
    print(
        f"(a) coverage, {band.id}, {len(footprints)} buildings, {len(sites)} sites "
        f"({len(near)} within reach of the area), grid {grid.nx}×{grid.ny} = {grid.size:,} cells "
        f"at {args.resolution:g} m, reach {band.reach_m():.0f} m"
    )
    for name, values in timings.items():
        print(
            f"    {name:10s} median {statistics.median(values):7.3f} s  "
            f"(runs: {', '.join(f'{v:.3f}' for v in values)})"
        )
    covered_people = float(people.per_cell[today.covered].sum())
    print(
        f"    covered: {today.covered.mean():.1%} of the area, {covered_people:,.0f} of "
        f"{people.per_cell.sum():,.0f} people in the area"
    )
    for row in table:
        if row["area_km2"] > 0.5:
            print(
                f"      {row['name']:20s} {row['covered_population_share']!s:8s} "
                f"of {row['population_in_area']:>9,.0f}"
            )

    t0 = time.perf_counter()
    weight = np.where(today.covered, 0.0, people.per_cell)
    covers = []
    for i, s in enumerate(stops):
        x, y = to_metric.transform(*s["geometry"]["coordinates"][:2])
        r, c, power = site_power(grid, obstacles, band, Transmitter(str(i), x, y, band.antenna_m), weight > 0)
        ok = power >= band.threshold_dbm
        covers.append(r[ok] * grid.nx + c[ok])
    t1 = time.perf_counter()
    problem = siting.Problem.of(covers, weight)
    t2 = time.perf_counter()
    greedy = siting.greedy(problem, args.k)
    exact = siting.exact(problem, args.k, time_limit=args.time_limit)
    print(
        f"(b) siting k={args.k} among {len(stops)} stops: candidates' cover {t1 - t0:.2f} s, "
        f"problem {t2 - t1:.2f} s ({problem.weights.size:,} elements, {problem.pair_element.size:,} pairs), "
        f"uncovered {weight.sum():,.0f} people"
    )
    print(f"    greedy {greedy.seconds:.3f} s: {greedy.value:,.0f} people")
    print(
        f"    exact  {exact.seconds:.3f} s: {exact.value:,.0f} people, "
        f"optimal={exact.optimal} ({exact.notes['status']})"
    )
    print(
        f"    greedy / exact = {greedy.value / exact.value:.4f}" if exact.value else "    exact found nothing"
    )


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
