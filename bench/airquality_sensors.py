"""The low-cost sensor checks (issue 18, point 3): the engine on a year of one sensor's readings, and a
check run on the store over the longest window (92 days).

Workload (synthetic values, labelled so): one SDS011 and one DHT22 at one sensor.community site,
a reading every 150 s (the network's usual interval) — a year is 210,240 PM readings, 92 days 52,992.
PM2.5 is a gamma-distributed random walk with a few spikes and a frozen stretch, relative humidity a
daily cycle between 45 and 98 %.

1. `engine`: `sensors.check` (humidity matched, correction, the six flags) on the year, in-process.
2. `store`: the 92 days imported by the archive importer (not timed), then `SensorChecks.run` over
   them, first without writing (`write=False`: read, check), then writing the flags into each
   Observation's resultQuality and parameters (one transaction).

    .venv/bin/python bench/airquality_sensors.py                       # SQLite in a temporary folder
    .venv/bin/python bench/airquality_sensors.py --database-url postgresql+psycopg://…/bench_air
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from host import describe

from urbantwin.access.gate import Caller
from urbantwin.airquality.sensor_service import SensorChecks, Window
from urbantwin.airquality.sensors import check
from urbantwin.airquality.service import AirService
from urbantwin.ingest.sensorcommunity import import_sensor_community
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

STEP = 150  # seconds
START = datetime(2024, 1, 1, tzinfo=UTC)


def readings(count: int, seed: int = 3) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = pd.date_range(START, periods=count, freq=f"{STEP}s")
    level = np.clip(12 + np.cumsum(rng.normal(0, 0.4, count)) % 40, 1, None)
    pm = np.round(level * rng.gamma(20, 0.05, count), 2)
    pm[rng.integers(1, count - 1, count // 5000)] += 150  # spikes
    frozen = count // 3
    pm[frozen : frozen + 100] = 7.3  # a frozen stretch of 4 h 10 min
    hours = (times.hour + times.minute / 60).to_numpy()
    rh = np.round(71.5 + 26.5 * np.cos((hours - 5) / 24 * 2 * np.pi), 1)
    return times, pm, rh


def write_archive(folder: Path, times: pd.DatetimeIndex, pm: np.ndarray, rh: np.ndarray) -> list[Path]:
    stamps = times.strftime("%Y-%m-%dT%H:%M:%S")
    dust = folder / "bench_sds011_sensor_9001.csv"
    climate = folder / "bench_dht22_sensor_9002.csv"
    head = "sensor_id;sensor_type;location;lat;lon;timestamp;"
    with dust.open("w") as out:
        out.write(head + "P1;durP1;ratioP1;P2;durP2;ratioP2\n")
        for t, v in zip(stamps, pm, strict=True):
            out.write(f"9001;SDS011;900;51.340;12.370;{t};{v * 1.4:.2f};;;{v:.2f};;\n")
    with climate.open("w") as out:
        out.write(head + "temperature;humidity\n")
        for t, v in zip(stamps, rh, strict=True):
            out.write(f"9002;DHT22;900;51.340;12.370;{t};10.0;{v:.1f}\n")
    return [dust, climate]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{describe()}; load average {os.getloadavg()[0]:.2f} before")

    year = 366 * 86400 // STEP
    times, pm, rh = readings(year)
    raw = pd.Series(pm, index=times)
    humidity = pd.Series(rh, index=times + pd.Timedelta(seconds=20))
    runs = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        checked = check(raw, humidity)
        runs.append(time.perf_counter() - began)
    counts = {k: v for k, v in checked.counts().items() if v}
    listed = ", ".join(f"{r:.2f}" for r in runs)
    print(f"engine: {year:,} readings (a year): best {min(runs):.2f} s, runs {listed}; flags {counts}")

    days = 92
    window = Window(START, START + timedelta(days=days))
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        settings = Settings(database_url=url)
        engine = make_engine(settings)
        upgrade(engine)
        count = days * 86400 // STEP
        files = write_archive(Path(folder), times[:count], pm[:count], rh[:count])
        began = time.perf_counter()
        client = LocalClient(engine, settings)
        import_sensor_community(client, files, progress=False)
        client.close()
        where = f"store ({engine.dialect.name})"
        print(f"{where}: imported 2 × {count:,} readings in {time.perf_counter() - began:.1f} s")
        checks = SensorChecks(AirService(engine, settings))
        system = Caller.system("bench")
        for write in (False, True):
            began = time.perf_counter()
            result = checks.run(system, window, write=write)
            took = time.perf_counter() - began
            pm25 = next(s for s in result["sensors"] if s["pollutant"] == "pm25")
            usable = pm25["usable"]
            run = f"run over {days} days, 2 × {count:,} readings, write={write}"
            print(f"{where}: {run}: {took:.2f} s; PM2.5 usable {usable:,}")
        engine.dispose()
    print(f"load average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
