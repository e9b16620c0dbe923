"""The clean-air assessment engine on 26 million hourly values (issue 18, point 9: a first figure).

Workload: 2,968 series-years of hourly means (2,968 × 8,760 = 26.0 million values; random gamma
values with 3 % of the hours missing), one pollutant per series in turn (PM10, PM2.5, NO2, O3, SO2),
each assessed for 2023 under Directive 2008/50/EC, Directive (EU) 2024/2881 and the WHO 2021
guidelines: valid hours, daily means, running 8-hour means and their daily maxima, annual means and
every value's verdict (`urbantwin.airquality.engine`). In-process, wall clock; the engine alone, without
reading the store (the service reads each series through the time-series rollups).

    .venv/bin/python bench/airquality.py                 # 2,968 series-years, best of 3
    .venv/bin/python bench/airquality.py --series 300 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta

import numpy as np
import pandas as pd
from host import describe

from urbantwin.airquality.engine import Calendar, assess, valid_hours, year_statistics
from urbantwin.airquality.standards import POLLUTANTS, standards

YEAR = 2023
OFFSET = timedelta(hours=1)


def workload(count: int, seed: int = 18) -> list[tuple[str, pd.DataFrame]]:
    """`count` hourly series of the year (as the rollups answer them: mean and count per hour)."""
    rng = np.random.default_rng(seed)
    grid = Calendar(YEAR, OFFSET).grid(8)
    series = []
    for k in range(count):
        keep = rng.random(len(grid)) >= 0.03
        frame = pd.DataFrame(
            {"mean": rng.gamma(2.0, 15.0, int(keep.sum())), "count": np.ones(int(keep.sum()), dtype="int64")},
            index=grid[keep],
        )
        series.append((POLLUTANTS[k % len(POLLUTANTS)], frame))
    return series


def run(series: list[tuple[str, pd.DataFrame]]) -> int:
    checks = 0
    every = standards()
    capture = every[0].capture
    for pollutant, hourly in series:
        statistics_ = {YEAR: year_statistics(valid_hours(hourly, 1, capture), YEAR, OFFSET, capture)}
        for standard in every:
            checks += len(assess(standard, pollutant, statistics_, YEAR))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2968)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    series = workload(args.series)
    values = sum(len(frame) for _, frame in series)
    print(f"{describe()}; load average {os.getloadavg()[0]:.2f} before")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        checks = run(series)
        times.append(time.perf_counter() - start)
    print(
        f"{args.series} series-years, {values:,} valid hourly values, {checks} checks: "
        f"best {min(times):.2f} s, median {statistics.median(times):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in times)}); load average {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
