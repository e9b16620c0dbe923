"""Memory under load: 50 concurrent readers of mixed endpoints against a real server on SQLite with
the Leipzig demo, the server's resident memory (RSS) sampled over time.

Loads the demo into `--data-dir` (once; `urbantwin demo --load-only`, no energy runs), starts
`urbantwin serve` on it with rate limits off (every reader comes from 127.0.0.1), and runs
`--readers` clients for `--minutes`, each asking in turn for a random one of:

- SensorThings lists with `$expand` (Things with Datastreams and their newest Observations,
  Datastreams with Thing/Sensor/ObservedProperty, Observations with a filter and FeatureOfInterest),
- OGC API Features items (a random bbox and page of a random collection),
- vector tiles (a random tile at z12–16 over the collections' extent: many distinct tiles, so the
  tile cache fills up),
- the DCAT catalogue (JSON-LD and Turtle) and its search.

`--workload large-pages` asks only for pages of 5,000 buildings or street trees (GeoJSON of several
MB each): large answers in every thread of the server at once. RSS is read from /proc every
`--every` seconds. The figures: RSS when the warm-up ends, at the end,
and after `--idle` seconds without load; the growth after warm-up in per cent. JSON to `--json`.

    .venv/bin/python bench/memory.py --minutes 10 --warmup 120 --json bench/results/memory.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from host import cpu_model

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    """Resident memory of the process in MB, from /proc (no dependency)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    col = int((lon + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return row, col


class Workload:
    """The mixed requests, built from what the server says it has."""

    def __init__(self, client: httpx.Client, large_pages: bool = False) -> None:
        self.large_pages = large_pages
        self.collections = [
            (c["id"], c["extent"]["spatial"]["bbox"][0])
            for c in client.get("/ogcapi/collections").json()["collections"]
            if c.get("extent", {}).get("spatial")
        ]
        self.datastreams = [
            d["@iot.id"] for d in client.get("/v1.1/Datastreams?$select=id&$top=1000").json()["value"]
        ]

    def sta(self, rnd: random.Random) -> str:
        ds = rnd.choice(self.datastreams)
        return rnd.choice(
            [
                f"/v1.1/Things?$top={rnd.choice([10, 50, 100])}&$skip={rnd.randrange(0, 200)}"
                "&$expand=Datastreams($expand=Observations($top=3;$orderby=phenomenonTime desc)),Locations",
                "/v1.1/Datastreams?$top=100&$expand=Thing,Sensor,ObservedProperty",
                f"/v1.1/Datastreams({ds})/Observations?$top=200&$filter=result ge {rnd.randrange(0, 50)}"
                "&$expand=FeatureOfInterest&$orderby=phenomenonTime desc",
            ]
        )

    def items(self, rnd: random.Random) -> str:
        collection, (west, south, east, north) = rnd.choice(self.collections)
        x, y = rnd.uniform(west, east), rnd.uniform(south, north)
        size = rnd.choice([0.005, 0.02, 0.05])
        bbox = f"{x - size:.5f},{y - size:.5f},{x + size:.5f},{y + size:.5f}"
        return f"/ogcapi/collections/{collection}/items?bbox={bbox}&limit={rnd.choice([10, 100, 500])}"

    def tile(self, rnd: random.Random) -> str:
        collection, (west, south, east, north) = rnd.choice(self.collections)
        z = rnd.randint(12, 16)
        row, col = tile_of(rnd.uniform(west, east), rnd.uniform(south, north), z)
        return f"/ogcapi/collections/{collection}/tiles/WebMercatorQuad/{z}/{row}/{col}"

    def catalogue(self, rnd: random.Random) -> str:
        return rnd.choice(["/catalog?f=jsonld", "/catalog?f=ttl", "/catalog?q=leipzig&f=json", "/catalog"])

    def large_page(self, rnd: random.Random) -> str:
        collection = rnd.choice([c for c, _ in self.collections if c in ("buildings", "street_trees")])
        return f"/ogcapi/collections/{collection}/items?limit=5000&offset={rnd.randrange(0, 500)}"

    def next(self, rnd: random.Random) -> str:
        if self.large_pages:
            return self.large_page(rnd)
        kind = rnd.choices([self.sta, self.items, self.tile, self.catalogue], weights=[3, 2, 4, 1])[0]
        return kind(rnd)


async def reader(number: int, base: str, workload: Workload, until: float, counts: dict[str, int]) -> None:
    rnd = random.Random(number)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while time.monotonic() < until:
            path = workload.next(rnd)
            try:
                response = await client.get(path)
                key = str(response.status_code)
            except httpx.HTTPError as error:
                key = type(error).__name__
            counts[key] = counts.get(key, 0) + 1


async def load(base: str, workload: Workload, readers: int, seconds: float, counts: dict[str, int]) -> None:
    until = time.monotonic() + seconds
    await asyncio.gather(*(reader(n, base, workload, until, counts) for n in range(readers)))


async def sample(pid: int, every: float, samples: list[tuple[float, float]], started: float) -> None:
    while True:
        samples.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1)))
        print(f"{samples[-1][0]:7.1f} s  {samples[-1][1]:8.1f} MB", flush=True)
        await asyncio.sleep(every)


async def run(args: argparse.Namespace, pid: int, base: str) -> dict:
    with httpx.Client(base_url=base, timeout=60) as client:
        workload = Workload(client, large_pages=args.workload == "large-pages")
    counts: dict[str, int] = {}
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    sampler = asyncio.create_task(sample(pid, args.every, samples, started))
    before = rss_mb(pid)
    await load(base, workload, args.readers, args.warmup, counts)
    after_warmup = rss_mb(pid)
    await load(base, workload, args.readers, args.minutes * 60 - args.warmup, counts)
    at_end = rss_mb(pid)
    await asyncio.sleep(args.idle)
    after_idle = rss_mb(pid)
    sampler.cancel()
    return {
        "cpu": cpu_model(),
        "workload": args.workload,
        "readers": args.readers,
        "minutes": args.minutes,
        "warmup_s": args.warmup,
        "rss_mb": {
            "start": round(before, 1),
            "after_warmup": round(after_warmup, 1),
            "end": round(at_end, 1),
            "after_idle": round(after_idle, 1),
            "growth_after_warmup_pct": round((at_end - after_warmup) / after_warmup * 100, 1),
            "peak": max(m for _, m in samples),
        },
        "requests": counts,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument(
        "--workload",
        choices=["mixed", "large-pages"],
        default="mixed",
        help="mixed (above), or only pages of 5,000 buildings or trees as GeoJSON (large answers)",
    )
    parser.add_argument("--minutes", type=float, default=10, help="whole run, warm-up included (at most 10)")
    parser.add_argument("--warmup", type=float, default=120, help="seconds of load before the reference RSS")
    parser.add_argument("--idle", type=float, default=30, help="seconds without load at the end")
    parser.add_argument("--every", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "results" / "memory-demo")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--env", action="append", default=[], help="NAME=value for the server (settings)")
    args = parser.parse_args()
    if args.minutes > 10:
        parser.error("--minutes: at most 10 (the machine is shared)")
    store = args.data_dir / "leipzig-demo.sqlite"
    python = sys.executable
    if not store.is_file():
        command = [python, "-m", "urbantwin.cli", "demo", "--load-only", "--data-dir", str(args.data_dir)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    environment = {
        **os.environ,
        "URBANTWIN_LOG_LEVEL": "warning",
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
        **dict(item.split("=", 1) for item in args.env),
    }
    server = subprocess.Popen(
        [python, "-m", "urbantwin.cli", "serve", "--port", str(port), "--database-url", f"sqlite:///{store}"],
        env=environment,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/v1.1/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.5)
        result = asyncio.run(run(args, server.pid, base))
    finally:
        server.terminate()
        server.wait(timeout=30)
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
