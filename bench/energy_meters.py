"""Meters of every block of Leipzig-West and the run's plan beside them (issue 23, point 3).

Loads the demo's layers and city into a temporary SQLite store, runs `pv_batteries_rule` on its
5,524 buildings as the API's worker does, then times, in-process:

1. the plan of all blocks' meters for `--hours` hours (the run simulated again with every block
   watched, `meters.group_plan`);
2. writing them through the SensorThings API (`meters.write_group_meters`, local client): one
   Thing a block with its Location and ten Datastreams (five meters, five plans), then the
   meters' and plans' Observations in dataArray requests;
3. writing the same period again (nothing new: the idempotency check).

    .venv/bin/python bench/energy_meters.py --hours 24
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from host import describe

from urbantwin.access.principal import SYSTEM
from urbantwin.city_profile import load_profile
from urbantwin.demo import ENERGY_SCENARIOS, PROFILE
from urbantwin.demo.features import load_feature_layers
from urbantwin.energy import scenario as scenarios
from urbantwin.energy.jobs import EnergyRuns
from urbantwin.energy.meters import Deviation, MeterPlace, PlanRun, Selection, group_plan, write_group_meters
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.settings import Settings
from urbantwin.store.city import write_profile
from urbantwin.store.engine import make_engine, upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24, help="hours of meters (and of plan) per block")
    args = parser.parse_args()
    library = scenarios.Library.at(ENERGY_SCENARIOS)
    city = load_profile(PROFILE)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        engine = make_engine(settings)
        upgrade(engine)
        load_feature_layers(engine, progress=False)
        with engine.begin() as connection:
            write_profile(connection, city)
        print(f"Machine: {describe()}")
        runs = EnergyRuns(engine, library=library)
        run_id = runs.submit(SYSTEM, {"scenario": "pv_batteries_rule"}, start=False)
        started = time.perf_counter()
        runs.execute(runs.claim() or "")
        print(f"run pv_batteries_rule stored: {time.perf_counter() - started:.1f} s")
        row, _, series = runs.series(run_id)
        end = datetime(2026, 6, 15, 12, tzinfo=UTC)
        start = end - timedelta(hours=args.hours)
        wall, cpu = time.perf_counter(), time.process_time()
        group = group_plan(engine, library, row, series, Selection("block"), start, end)
        print(
            f"1. plan of {len(group.keys)} blocks × {group.hours} h: "
            f"{time.perf_counter() - wall:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU"
        )
        place = MeterPlace.of(library, city)
        plan = PlanRun.of(row, runs.dataset_of(run_id))
        client = LocalClient(engine, settings)
        for label in ("2. written", "3. written again"):
            wall, cpu = time.perf_counter(), time.process_time()
            report = write_group_meters(client, plan, group, Deviation(), place.name, end)
            seconds = time.perf_counter() - wall
            print(
                f"{label}: {sum(report.created.values())} entities made, {report.observations} observations "
                f"added, {report.already_present} already present: {seconds:.1f} s wall, "
                f"{time.process_time() - cpu:.1f} s CPU"
            )
        client.close()


if __name__ == "__main__":
    main()
