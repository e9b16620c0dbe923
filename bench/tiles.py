"""Vector tile timings: the densest Leipzig building tile at z15, uncached and cached, on both backends.

Loads the demo layers into a fresh SQLite file and a fresh PostgreSQL database (`--pg-url`, dropped
and recreated), finds the z15 tile with the most buildings around the buildings' extent, and times
its rendering in-process (no HTTP): on PostgreSQL both the database's `ST_AsMVT` and the Python
encoder, on SQLite the Python encoder, and a cached answer. Medians of `--repeat` runs, in ms.

    .venv/bin/python bench/tiles.py --repeat 30
    .venv/bin/python bench/tiles.py --repeat 30 --backends postgresql --json tiles.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from host import cpu_model, describe
from sqlalchemy import create_engine, text

from urbantwin.access.gate import Caller
from urbantwin.demo.features import load_feature_layers
from urbantwin.ogcapi.service import FeaturesService
from urbantwin.ogcapi.tiles import TileService
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _densest(tiles: TileService, z: int) -> tuple[int, int, int]:
    extent = tiles.features.collection("", "buildings", Caller.system()).body["extent"]["spatial"]["bbox"][0]
    n = 2**z

    def tile_of(lon: float, lat: float) -> tuple[int, int]:
        col = int((lon + 180) / 360 * n)
        row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return row, col

    row0, col0 = tile_of(extent[0], extent[3])
    row1, col1 = tile_of(extent[2], extent[1])
    best = (0, row0, col0)
    for row in range(row0, row1 + 1):
        for col in range(col0, col1 + 1):
            size = len(tiles.render_in_python("buildings", z, row, col))
            best = max(best, (size, row, col))
    return best


def run(url: str, repeat: int, z: int) -> dict[str, float]:
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    upgrade(engine)
    load_feature_layers(engine, progress=False)
    tiles = TileService(FeaturesService(engine, settings))
    size, row, col = _densest(tiles, z)
    result = {"tile": f"{z}/{row}/{col}", "bytes": size}
    result["uncached (served path)"] = _median_ms(lambda: tiles.render("buildings", z, row, col), repeat)
    result["uncached (Python encoder)"] = _median_ms(
        lambda: tiles.render_in_python("buildings", z, row, col), repeat
    )
    # As the platform reads (the services take the caller since the access point asks them).
    tiles.tile("buildings", "WebMercatorQuad", str(z), str(row), str(col), Caller.system())
    result["cached"] = _median_ms(
        lambda: tiles.tile("buildings", "WebMercatorQuad", str(z), str(row), str(col), Caller.system()),
        repeat,
    )
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_tiles_bench"
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--z", type=int, default=15)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    backends = {b.strip() for b in args.backends.split(",") if b.strip()}
    results = {}
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as folder:
            results["sqlite"] = run(f"sqlite:///{Path(folder) / 'tiles.sqlite'}", args.repeat, args.z)
    if "postgresql" in backends:
        admin_url, name = args.pg_url.rsplit("/", 1)
        admin = create_engine(f"{admin_url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            results["postgresql"] = run(args.pg_url, args.repeat, args.z)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"Machine: {describe()}")
    for backend, figures in results.items():
        print(f"## {backend}")
        for key, value in figures.items():
            print(f"- {key}: {value:.2f}" if isinstance(value, float) else f"- {key}: {value}")
    if args.json:
        args.json.write_text(json.dumps({**results, "cpu": cpu_model()}, indent=1))


if __name__ == "__main__":
    main()
