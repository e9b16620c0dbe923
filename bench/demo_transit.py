"""What the demo's public transport adds to `urbantwin demo`'s load time: Plzeň's feed imported into a
fresh SQLite store (stops, lines, trips, service days and the departures per stop and hour) and the
demo's two scenario runs on it (`urbantwin.demo.gtfs.load_demo_transit`), timed in-process, then the
same again on the store that has the feed (the import finds it unchanged; the runs are computed anew).

    PYTHONPATH=src .venv/bin/python bench/demo_transit.py --repeat 3

The load average is printed before and after: the machine's 2 cores are shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from urbantwin.demo.catalog import publish_demo_catalogue
from urbantwin.demo.gtfs import load_demo_transit
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(database_url=f"sqlite:///{Path(folder) / 'demo.sqlite'}")
            engine = make_engine(settings)
            upgrade(engine)
            publish_demo_catalogue(engine)  # the feed's publisher is an organisation of the catalogue
            start = time.perf_counter()
            load_demo_transit(engine, settings)
            fresh = time.perf_counter() - start
            start = time.perf_counter()
            load_demo_transit(engine, settings)
            again = time.perf_counter() - start
            engine.dispose()
        print(f"run {n + 1}: fresh store {fresh:.2f} s, feed already there {again:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
