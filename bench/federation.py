"""Mirror a partner's Observations: 1,000,000 Observations of 100 Datastreams, end to end.

The partner is a second urbantwin (`urbantwin serve --workers W` on a PostgreSQL database of its
own), loaded over HTTP with `--datastreams` Datastreams of `--per` Observations each (one a minute,
through CreateObservations). The local twin is a third database; `urbantwin remote add` registers
the partner and `urbantwin remote mirror NAME --filter "id gt 0"` (a process of its own, as an
operator runs it) mirrors every Datastream: the partner's entities, then its Observations in pages
of `--page` with `$resultFormat=dataArray`, each page stored with its cursor in one transaction.

1. **Throughput**: one uninterrupted mirror into an empty local store; the command's wall time
   (its start, the entities and every Observation) and Observations a second.
2. **Crash**: into a second empty local store, a mirror killed with SIGKILL once the local store
   holds half the Observations, then the same command again. Checked afterwards: the local store
   has exactly one Observation per partner Observation — the count, no (Datastream, time) twice,
   and the sum of results per Datastream equal to the partner's (0 lost, 0 duplicated).

    .venv/bin/python bench/federation.py                   # 100 x 10,000, PostgreSQL
    .venv/bin/python bench/federation.py --datastreams 10 --per 1000   # a quick look
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from bulk_post import bodies, check_answer, fresh_store, server, set_up
from host import describe
from sqlalchemy import create_engine, text

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
URBANTWIN = str(Path(sys.executable).parent / "urbantwin")


def load_partner(base: str, token: str, datastreams: int, per: int) -> float:
    """The partner's Datastreams and Observations (over HTTP); seconds it took."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:

        def post(path: str, document: dict[str, Any]) -> int:
            answer = client.post(f"/{path}", content=orjson.dumps(document))
            if answer.status_code != 201:
                raise SystemExit(f"POST {path}: {answer.status_code} {answer.text[:300]}")
            return int(answer.headers["location"].rsplit("(", 1)[1].rstrip(")"))

        ids, feature = set_up(post, datastreams)
        for rows, body in bodies(ids, feature, per, 10_000):
            answer = client.post("/CreateObservations", content=body)
            check_answer(answer.status_code, answer.content, rows)
    return time.perf_counter() - started


def command(local: str, *args: str) -> list[str]:
    return [URBANTWIN, "remote", *args, "--database-url", local]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("URBANTWIN_")}


def register(local: str, base: str, folder: str) -> None:
    subprocess.run([URBANTWIN, "db", "upgrade", "--database-url", local], env=env(), cwd=folder, check=True)
    add = command(local, "add", "partner", base, "--kind", "sensorthings", "--attribution", "bench partner")
    subprocess.run([*add, "--licence", "CC-BY-4.0", "--rate", "1000"], env=env(), cwd=folder, check=True)


def mirror(local: str, page: int) -> list[str]:
    return command(local, "mirror", "partner", "--filter", "id gt 0", "--page", str(page))


def count(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT count(*) FROM observations")).scalar_one()
    engine.dispose()
    return int(found)


def sums(url: str, by_name: bool) -> dict[str, tuple[int, float]]:
    """Per Datastream (its name): Observations, distinct times and the sum of results."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT d.name, count(*), count(DISTINCT o.phenomenon_time_start), sum(o.result_number) "
                "FROM observations o JOIN datastreams d ON d.id = o.datastream_id GROUP BY d.name"
            )
        ).all()
    engine.dispose()
    return {name: (n, distinct, round(total, 6)) for name, n, distinct, total in rows}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datastreams", type=int, default=100)
    parser.add_argument("--per", type=int, default=10_000, help="Observations per Datastream")
    parser.add_argument("--page", type=int, default=10_000, help="Observations asked per request")
    parser.add_argument("--workers", type=int, default=1, help="the partner server's uvicorn workers")
    parser.add_argument("--no-crash", action="store_true", help="the throughput run only")
    args = parser.parse_args()
    total = args.datastreams * args.per
    print(f"{describe()}, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as folder:
        partner = fresh_store("postgresql", PG + "urbantwin_bench_fed_partner", folder)
        with server(partner, args.workers, folder) as (base, token, _group):
            seconds = load_partner(base, token, args.datastreams, args.per)
            print(
                f"partner loaded: {total:,} Observations of {args.datastreams} Datastreams in {seconds:.1f} s"
            )
            expected = sums(partner, True)

            # 1. throughput
            local = fresh_store("postgresql", PG + "urbantwin_bench_fed_local", folder)
            register(local, base, folder)
            load = os.getloadavg()[0]
            started = time.perf_counter()
            run = subprocess.run(
                mirror(local, args.page), env=env(), cwd=folder, capture_output=True, text=True
            )
            wall = time.perf_counter() - started
            print(run.stdout.strip())
            if run.returncode != 0:
                raise SystemExit(run.stderr[-3000:])
            stored = count(local)
            print(
                f"mirror: {stored:,} Observations in {wall:.2f} s end to end = {stored / wall:,.0f} obs/s "
                f"(load average {load:.2f} before, {os.getloadavg()[0]:.2f} after)"
            )
            assert sums(local, True) == expected, "the mirror differs from the partner"

            if args.no_crash:
                return
            # 2. killed halfway, resumed
            local = fresh_store("postgresql", PG + "urbantwin_bench_fed_local2", folder)
            register(local, base, folder)
            process = subprocess.Popen(
                mirror(local, args.page), env=env(), cwd=folder, stdout=subprocess.DEVNULL
            )
            while (now := count(local)) < total // 2:
                if process.poll() is not None:
                    raise SystemExit("the mirror ended before it was killed")
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
            process.wait()
            at_kill = count(local)
            print(f"killed (SIGKILL) with {at_kill:,} Observations stored (seen {now:,})")
            run = subprocess.run(
                mirror(local, args.page), env=env(), cwd=folder, capture_output=True, text=True
            )
            print(run.stdout.strip())
            if run.returncode != 0:
                raise SystemExit(run.stderr[-3000:])
            got = sums(local, True)
            stored = sum(n for n, _, _ in got.values())
            distinct = sum(d for _, d, _ in got.values())
            lost = total - distinct
            same = "equal to" if got == expected else "DIFFERENT from"
            print(
                f"after the resumed run: {stored:,} stored of {total:,}: {lost} lost, "
                f"{stored - distinct} duplicated, sums per Datastream {same} the partner's"
            )
            if got != expected:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
