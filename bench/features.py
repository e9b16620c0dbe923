"""OGC API Features benchmark in one sitting: urbantwin on PostgreSQL (and SQLite) beside pygeoapi.

The same data and the same workload for every server, one server at a time on 127.0.0.1:

1. the shared generator (`../shared/bench/gen_polygons.py`, run by path, never copied) writes its
   50,000 polygons as GeoJSON and, with `--pg`, into the PostGIS table `buildings` of the peer's
   database (`--peer-db`, dropped and recreated); it runs with the peer's Python (it needs psycopg2);
2. urbantwin loads that GeoJSON through `urbantwin import geojson … --collection buildings_pg` into a
   fresh PostgreSQL database (`--pg-url`, dropped and recreated) and, unless skipped, a fresh SQLite
   file;
3. both PostgreSQL tables are then `VACUUM ANALYZE`d, as PostgreSQL's autovacuum does with a freshly
   loaded table within a minute (statistics, and the visibility map that index-only scans need);
   this machine's cluster runs with autovacuum off (`--no-analyze` leaves them as loaded);
4. pygeoapi (built by `bench/peers/pygeoapi/setup.sh` in `--peer-dir`, outside the repository: by
   default `peers/pygeoapi` beside the main checkout, made on first use; its OpenAPI document is
   written once the table of step 1 exists, as its provider reads the table for it) serves the table
   with its PostgreSQL provider under gunicorn;
5. each server is started by this script on a free port (urbantwin: `urbantwin serve --workers N`;
   pygeoapi: gunicorn with N sync workers), the shared client `../shared/bench/features_bench.py` runs
   against it, and the server is stopped.

Last, `bench/tiles.py` times the densest Leipzig building tile at z15 on PostgreSQL, uncached and
in-process (the tile target), in the same sitting (`--no-tiles` skips it).

Before each workload the script waits for a quiet machine; CPU used meanwhile by other processes is
measured (as in bench/sta.py) and a contended run is repeated. It also times the access check every
OGC API request makes in-process. Results land in `bench/results/` (git-ignored); the side-by-side
table is printed as Markdown, with the CPU model it was measured on.

    .venv/bin/python bench/features.py --runs 30 --wait-idle 1200
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from host import machine
from sta import (  # the helpers of the SensorThings benchmark: one way to start, watch and stop servers
    CpuWatch,
    dig,
    free_port,
    git,
    loadavg,
    pg_version,
    recreate_pg_database,
    server_errors,
    stop,
    wait_quiet,
    wait_up,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def _checkout() -> Path:
    """The main checkout of this repository (this one, or the one whose worktree this is): the shared
    workload and the peers' builds sit beside it."""
    common = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(common).parent if common else REPO


SHARED = _checkout().parent / "shared" / "bench"
#: Where pygeoapi is built unless `--peer-dir` says otherwise (made when missing).
PEER_DIR = _checkout().parent / "peers" / "pygeoapi"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_features_bench"
COLLECTION = "buildings_pg"
QUERIES = ("q1_bbox", "q2_plain", "q3_deep_offset", "q4_one")
LABELS = {
    "q1_bbox": "q1 `items?limit=1000&bbox=…` (8,000 match)",
    "q2_plain": "q2 `items?limit=1000`",
    "q3_deep_offset": "q3 `items?limit=1000&offset=40000`",
    "q4_one": "q4 `items/25000`",
}
TARGET_MS, TARGET_RATIO = 25.0, 5.0  # q1 on PostgreSQL: median at most, and times faster than pygeoapi
TILE_TARGET_MS = 20.0  # the densest z15 building tile, uncached, on PostgreSQL
COLUMNS = [("postgresql", "urbantwin PostgreSQL"), ("sqlite", "urbantwin SQLite"), ("pygeoapi", "pygeoapi")]


@dataclass
class Run:
    key: str
    label: str
    attempt: int = 1
    result: dict[str, Any] | None = None
    failure: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.key if self.attempt == 1 else f"{self.key}-try{self.attempt}"

    @property
    def other_cores(self) -> float:
        return dig(self.meta, "cpu", "cores", "other") or 0.0


# ------------------------------------------------------------------------------------------ the data


def pg_dsn(url: str, database: str | None = None) -> str:
    """A libpq connection string (for psycopg2) from a SQLAlchemy URL, optionally of another database."""
    parts = urlsplit(url)
    dsn = (
        f"host={parts.hostname or '127.0.0.1'} port={parts.port or 5432} user={parts.username or 'postgres'}"
    )
    if parts.password:
        dsn += f" password={parts.password}"
    return dsn + f" dbname={database or parts.path.lstrip('/')}"


def peer_env(args: argparse.Namespace, port: int) -> dict[str, str]:
    """The environment of pygeoapi's setup script: its port and database."""
    parts = urlsplit(args.pg_url)
    return {
        **os.environ,
        "PYGEOAPI_PORT": str(port),
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": parts.username or "postgres",
        "PGPASSWORD": parts.password or "",
        "PGDATABASE": args.peer_db,
    }


def setup_peer(args: argparse.Namespace, port: int) -> Path:
    """Build (once) or refresh pygeoapi's venv and write its config for `port`; its Python. The OpenAPI
    document waits for the table (`peer_openapi`): pygeoapi's provider connects to it to write it."""
    args.peer_dir.mkdir(parents=True, exist_ok=True)
    script = REPO / "bench" / "peers" / "pygeoapi" / "setup.sh"
    command = ["bash", str(script), str(args.peer_dir), "--no-openapi"]
    subprocess.run(command, env=peer_env(args, port), check=True)
    return args.peer_dir / "venv" / "bin" / "python"


def peer_openapi(args: argparse.Namespace, port: int) -> None:
    """pygeoapi's OpenAPI document (which its server reads at start), once its table exists."""
    script = REPO / "bench" / "peers" / "pygeoapi" / "setup.sh"
    subprocess.run(["bash", str(script), str(args.peer_dir)], env=peer_env(args, port), check=True)


def generate(args: argparse.Namespace, folder: Path, peer_python: Path | None) -> Path:
    """The shared generator's GeoJSON (and, with a peer, its PostGIS table)."""
    out = folder / "polygons.geojson"
    if peer_python is None:
        cmd = [args.python, str(args.generator), "--out", str(out)]
    else:
        recreate_pg_database(args.pg_url.rsplit("/", 1)[0] + "/" + args.peer_db)
        cmd = [
            str(peer_python),
            str(args.generator),
            "--out",
            str(out),
            "--pg",
            pg_dsn(args.pg_url, args.peer_db),
        ]
    print("generating:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=folder, check=True)
    if peer_python is not None and args.analyze:
        vacuum_analyze(args.pg_url.rsplit("/", 1)[0] + "/" + args.peer_db, "buildings")
    return out


def urbantwin_env(args: argparse.Namespace, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("URBANTWIN_DATABASE_URL", "STA_BENCH_TOKEN")}
    env["URBANTWIN_DATABASE_URL"] = url
    # Rate limits off: every client of the benchmark comes from 127.0.0.1 (and it measures the server).
    env.update(URBANTWIN_RATE_LIMIT_PER_SECOND="0", URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND="0")
    if args.src_dir:  # the code of --rev, ahead of the editable install's working tree
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.src_dir, env.get("PYTHONPATH")]))
    return env


def load_urbantwin(args: argparse.Namespace, url: str, geojson: Path, folder: Path) -> dict[str, Any]:
    """A fresh store at `url` with the polygons imported by the CLI; timings of the steps."""
    if url.startswith("postgresql"):
        recreate_pg_database(url)
    urbantwin = str(Path(args.python).parent / "urbantwin")
    env = urbantwin_env(args, url)
    subprocess.run([urbantwin, "db", "upgrade", "--database-url", url], env=env, cwd=folder, check=True)
    started = time.monotonic()
    imported = subprocess.run(
        [urbantwin, "import", "geojson", str(geojson), "--collection", COLLECTION],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if imported.returncode != 0:
        raise RuntimeError(f"urbantwin import failed: {(imported.stderr or imported.stdout)[-2000:]}")
    info: dict[str, Any] = {
        "import_s": round(time.monotonic() - started, 1),
        "import": imported.stdout.strip().splitlines()[-1:],
    }
    if url.startswith("postgresql") and args.analyze:
        vacuum_analyze(url, "features")
        info["vacuum_analyze"] = True
    return info


def vacuum_analyze(url: str, table: str) -> None:
    """`VACUUM ANALYZE table` in the database of `url`, as autovacuum does after a bulk load."""
    parts = urlsplit(url)
    subprocess.run(
        ["psql", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U",
         parts.username or "postgres", "-d", parts.path.lstrip("/"), "-qc", f"VACUUM ANALYZE {table}"],
        env={**os.environ, "PGPASSWORD": parts.password or ""},
        check=True,
    )  # fmt: skip


# --------------------------------------------------------------------------------------- the workload


def run_workload(
    run: Run, base: str, args: argparse.Namespace, stamp: str, own: set[int], dbs: set[str]
) -> None:
    out = RESULTS / f"features-{stamp}-{run.name}.json"
    log = RESULTS / f"features-{stamp}-{run.name}.client.log"
    cmd = [args.python, str(args.workload), "--base", base, "--collection", COLLECTION,
           "--runs", str(args.runs), "--out", str(out)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "STA_BENCH_TOKEN"}  # anonymous readers, as the peer's
    time.sleep(args.settle)
    run.meta.update(client_command=" ".join(cmd), cpu_busy_before_pct=wait_quiet(run.label, args))
    run.meta["loadavg_before"] = loadavg()
    print(f"[{run.label}] workload against {base}", flush=True)
    started = time.monotonic()
    watch = CpuWatch().start()
    with open(log, "w") as fh:
        client = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=RESULTS, env=env)
        try:
            code = client.wait()
        finally:
            if client.poll() is None:
                client.kill()
    run.meta["cpu"] = watch.stop(own | {client.pid}, dbs)
    run.meta.update(workload_s=round(time.monotonic() - started, 1), loadavg_after=loadavg())
    if code != 0 or not out.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        run.failure = f"workload exited with code {code}: " + " | ".join(tail)
        print(f"[{run.label}] FAILED: {run.failure}", flush=True)
        return
    run.result = json.loads(out.read_text())
    print(f"[{run.label}] done in {run.meta['workload_s']} s", flush=True)


def serve_and_run(
    run: Run,
    args: argparse.Namespace,
    stamp: str,
    cmd: list[str],
    env: dict[str, str],
    ready: str,
    dbs: set[str],
) -> None:
    """Start a server (its own process group), wait for `ready`, run the workload, stop it."""
    log = RESULTS / f"features-{stamp}-{run.name}.server.log"
    run.meta["server_command"] = " ".join(cmd)
    print(f"[{run.label}] starting: {' '.join(cmd)}", flush=True)
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_up(ready, proc, 120, log)
        base = ready.split("/collections/")[0]
        run_workload(run, base, args, stamp, {proc.pid}, dbs)
    except RuntimeError as exc:
        run.failure = str(exc)
        print(f"[{run.label}] FAILED: {exc}", flush=True)
    finally:
        stop(proc)
    run.meta["server_log"] = server_errors(log)


def run_urbantwin(run: Run, args: argparse.Namespace, stamp: str, url: str) -> None:
    port = free_port()
    urbantwin = str(Path(args.python).parent / "urbantwin")
    cmd = [urbantwin, "serve", "--host", "127.0.0.1", "--port", str(port), "--database-url", url]
    if args.workers > 1:
        cmd += ["--workers", str(args.workers)]
    dbs = {urlsplit(url).path.lstrip("/")} if url.startswith("postgresql") else set()
    ready = f"http://127.0.0.1:{port}/ogcapi/collections/{COLLECTION}"
    serve_and_run(run, args, stamp, cmd, urbantwin_env(args, url), ready, dbs)


def run_pygeoapi(run: Run, args: argparse.Namespace, stamp: str, port: int) -> None:
    peer = args.peer_dir
    env = {
        **os.environ,
        "PYGEOAPI_CONFIG": str(peer / "config.yml"),
        "PYGEOAPI_OPENAPI": str(peer / "openapi.yml"),
    }
    cmd = [str(peer / "venv" / "bin" / "gunicorn"), "--workers", str(args.workers), "--bind",
           f"127.0.0.1:{port}", "--log-level", "warning", "pygeoapi.flask_app:APP"]  # fmt: skip
    version = subprocess.run(
        [str(peer / "venv" / "bin" / "python"), "-c", "import pygeoapi; print(pygeoapi.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    run.meta["version"] = f"pygeoapi {version}"
    ready = f"http://127.0.0.1:{port}/collections/{COLLECTION}?f=json"
    serve_and_run(run, args, stamp, cmd, env, ready, {args.peer_db})


def with_retries(first: Run, args: argparse.Namespace, go: Any) -> Run:
    """Run until a run was not contended (other processes used at most --max-other cores), or out of
    retries; the least contended successful run."""
    tries: list[Run] = []
    for attempt in range(1, args.retries + 2):
        run = Run(first.key, first.label, attempt)
        go(run)
        tries.append(run)
        if run.result is None or run.other_cores <= args.max_other:
            break
        print(f"[{run.label}] other processes used {run.other_cores} cores: again", flush=True)
    done = [t for t in tries if t.result is not None]
    chosen = min(done, key=lambda t: t.other_cores) if done else tries[-1]
    chosen.meta["attempts"] = [{"attempt": t.attempt, "other_cores": t.other_cores} for t in tries]
    return chosen


def run_tiles(args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    """bench/tiles.py on PostgreSQL after a quiet moment: the densest z15 building tile, uncached."""
    out = RESULTS / f"features-{stamp}-tiles.json"
    cmd = [args.python, str(REPO / "bench" / "tiles.py"), "--repeat", "30", "--backends", "postgresql",
           "--json", str(out)]  # fmt: skip
    env = urbantwin_env(args, args.pg_url)
    meta: dict[str, Any] = {"command": " ".join(cmd), "cpu_busy_before_pct": wait_quiet("tiles", args)}
    meta["loadavg_before"] = loadavg()
    watch = CpuWatch().start()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate()
    meta["cpu"] = watch.stop({proc.pid}, {"urbantwin_tiles_bench"})
    meta["loadavg_after"] = loadavg()
    if proc.returncode != 0 or not out.exists():
        meta["failure"] = output[-2000:]
        print(f"[tiles] FAILED: {meta['failure']}", flush=True)
        return meta
    meta["postgresql"] = json.loads(out.read_text())["postgresql"]
    print(f"[tiles] {json.dumps(meta['postgresql'])}", flush=True)
    return meta


# ---------------------------------------------------------------------------------- the access check


def access_check_cost(url: str, repeat: int = 300) -> dict[str, float]:
    """Median ms of the access check every OGC API request about a collection of an anonymous reader
    runs before its answer, in-process against the loaded store: the whole check as served (the
    collection's dataset and the version of the access rules in one query, the scope kept under that
    version, the audit's read count), and for comparison the reader's scope worked out by the policy
    from the rules, as each request did before the scope was kept (bench/README.md)."""
    from urbantwin.access.gate import Caller
    from urbantwin.access.principal import ANONYMOUS
    from urbantwin.ogcapi.service import FeaturesService
    from urbantwin.settings import Settings
    from urbantwin.store.engine import make_engine

    settings = Settings(database_url=url)
    engine = make_engine(settings)
    service = FeaturesService(engine, settings)

    def uncached() -> Any:
        with engine.connect() as connection:
            return service.access.policy.read_scope(ANONYMOUS, connection)

    steps = {
        "access check (served)": lambda: service.readable(Caller(ANONYMOUS, "GET /x"), COLLECTION),
        "read scope from the rules (not kept)": uncached,
    }
    out = {}
    for name, call in steps.items():
        call()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        out[name] = round(statistics.median(times) * 1000, 3)
    engine.dispose()
    return out


# -------------------------------------------------------------------------------------------- table


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:,.1f}"


def table(runs: dict[str, Run]) -> tuple[str, list[str]]:
    heads = [label for key, label in COLUMNS if key in runs]
    lines = [
        "| request | " + " | ".join(heads) + " | pygeoapi ÷ urbantwin-PG | target (PostgreSQL) |",
        "|---|" + "---:|" * len(heads) + "---:|---|",
    ]
    missed = []
    for query in QUERIES:
        cells, values = [], {}
        for key, _ in COLUMNS:
            if key not in runs:
                continue
            run = runs[key]
            got = dig(run.result, COLLECTION, query) if run.result else None
            if got is None:
                cells.append("failed" if run.failure else "–")
                continue
            values[key] = got["ms_median"]
            note = "" if got.get("status") == 200 else f" (HTTP {got.get('status')})"
            cells.append(f"{fmt(got['ms_median'])} (p95 {fmt(got['ms_p95'])}){note}")
        pg, peer = values.get("postgresql"), values.get("pygeoapi")
        ratio = f"{peer / pg:.1f}×" if pg and peer else "–"
        goal = "–"
        if query == "q1_bbox":
            goal = f"≤ {TARGET_MS:g} ms and ≥ {TARGET_RATIO:g}×"
            if pg is not None:
                met = pg <= TARGET_MS and (peer is None or peer / pg >= TARGET_RATIO)
                goal += " — met" if met else " — **not met**"
                if not met:
                    missed.append(f"q1: {fmt(pg)} ms, {ratio} pygeoapi")
        lines.append(f"| {LABELS[query]} | " + " | ".join(cells) + f" | {ratio} | {goal} |")
    return "\n".join(lines), missed


def notes(runs: dict[str, Run]) -> list[str]:
    out = []
    for key, label in COLUMNS:
        run = runs.get(key)
        if run is None:
            continue
        if run.result is None:
            out.append(f"- {label}: {run.failure or 'no result'}")
            continue
        bits = [
            f"workload {run.meta.get('workload_s')} s",
            f"load average before {run.meta.get('loadavg_before')}, after {run.meta.get('loadavg_after')}",
            f"CPU: benchmark {dig(run.meta, 'cpu', 'cores', 'benchmark')} cores, other processes "
            f"{run.other_cores} cores",
            "bytes q1–q4 " + "/".join(str(dig(run.result, COLLECTION, q, "bytes")) for q in QUERIES),
            "numberMatched q1–q3 "
            + "/".join(str(dig(run.result, COLLECTION, q, "numberMatched")) for q in QUERIES[:3]),
        ]
        if len(run.meta.get("attempts", [])) > 1:
            bits.append(f"attempt {run.attempt} of {len(run.meta['attempts'])}")
        if run.meta.get("version"):
            bits.insert(0, run.meta["version"])
        if run.meta.get("load"):
            bits.append(f"load: {json.dumps(run.meta['load'])}")
        errors = dig(run.meta, "server_log", "non_2xx")
        if errors:
            bits.append(f"server errors: {errors}")
        out.append(f"- {label}: " + "; ".join(bits))
    return out


# --------------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30, help="timed requests per query")
    ap.add_argument("--workers", type=int, default=2, help="server processes of each server")
    ap.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="urbantwin's PostgreSQL store (DROPPED and recreated)"
    )
    ap.add_argument("--peer-db", default="pygeoapi_bench", help="pygeoapi's database (DROPPED and recreated)")
    ap.add_argument("--peer-dir", type=Path, default=PEER_DIR, help="pygeoapi's build (made when missing)")
    ap.add_argument("--skip", default="", help="comma-separated: postgresql,sqlite,pygeoapi")
    ap.add_argument(
        "--no-analyze", dest="analyze", action="store_false", help="no VACUUM ANALYZE after the loads"
    )
    ap.add_argument("--no-tiles", dest="tiles", action="store_false", help="leave out the tile timing")
    ap.add_argument(
        "--rev", default="", help="benchmark urbantwin at this git revision (git archive of src/)"
    )
    ap.add_argument("--workload", type=Path, default=SHARED / "features_bench.py")
    ap.add_argument("--generator", type=Path, default=SHARED / "gen_polygons.py")
    ap.add_argument("--max-other", type=float, default=0.3, help="repeat a run when others used more cores")
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--settle", type=float, default=3, help="seconds of rest before each run")
    ap.add_argument(
        "--wait-idle", type=float, default=600, help="longest wait for a quiet CPU before a run (s)"
    )
    ap.add_argument(
        "--idle-below", type=float, default=10, help="quiet: CPU busy %% (all cores) at most this"
    )
    default_python = REPO / ".venv" / "bin" / "python"
    ap.add_argument("--python", default=str(default_python if default_python.exists() else sys.executable))
    args = ap.parse_args()
    args.workload, args.generator = args.workload.resolve(), args.generator.resolve()
    args.peer_dir = args.peer_dir.resolve()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        args.src_dir = ""
        if args.rev:
            export = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="urbantwin-rev-")))
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", "--format=tar", args.rev, "src"],
                capture_output=True,
                check=True,
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(export, filter="data")
            args.src_dir = str(export / "src")
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="urbantwin-features-bench-")))
        return run_all(args, skip, folder)


def run_all(args: argparse.Namespace, skip: set[str], folder: Path) -> int:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    started = dt.datetime.now().astimezone()
    info: dict[str, Any] = {
        **machine(), "postgresql": pg_version(args.pg_url),
        "urbantwin": (git("rev-parse", "--short", args.rev) + f" (--rev {args.rev})") if args.rev
        else git("describe", "--always", "--dirty") + " (working tree)",
        "src_changes": [] if args.rev else git("status", "--porcelain", "--", "src").splitlines(),
        "started": started.isoformat(timespec="seconds"), "command": " ".join(["python", *sys.argv]),
        "runs": args.runs, "workers": args.workers, "analyze": args.analyze,
    }  # fmt: skip
    print(f"OGC API Features benchmark {stamp}: {json.dumps(info)}", flush=True)
    peer_port = free_port()
    peer_python = setup_peer(args, peer_port) if "pygeoapi" not in skip else None
    geojson = generate(args, folder, peer_python)
    if peer_python is not None:
        peer_openapi(args, peer_port)
    runs: dict[str, Run] = {}
    if "postgresql" not in skip:
        info["load_postgresql"] = load_urbantwin(args, args.pg_url, geojson, folder)
        if not args.rev:
            info["access_check_ms"] = access_check_cost(args.pg_url)
        runs["postgresql"] = with_retries(
            Run("postgresql", "urbantwin PostgreSQL"),
            args,
            lambda r: run_urbantwin(r, args, stamp, args.pg_url),
        )
        runs["postgresql"].meta["load"] = info["load_postgresql"]
    if "sqlite" not in skip:
        url = f"sqlite:///{folder / 'bench.sqlite'}"
        info["load_sqlite"] = load_urbantwin(args, url, geojson, folder)
        runs["sqlite"] = with_retries(
            Run("sqlite", "urbantwin SQLite"), args, lambda r: run_urbantwin(r, args, stamp, url)
        )
    if "pygeoapi" not in skip:
        runs["pygeoapi"] = with_retries(
            Run("pygeoapi", "pygeoapi"), args, lambda r: run_pygeoapi(r, args, stamp, peer_port)
        )
    if args.tiles:
        tries = []
        for _ in range(args.retries + 1):  # as the workloads: again while others used the cores
            tries.append(run_tiles(args, stamp))
            if (dig(tries[-1], "cpu", "cores", "other") or 0) <= args.max_other:
                break
        done = [t for t in tries if "postgresql" in t] or tries
        info["tiles"] = min(done, key=lambda t: dig(t, "cpu", "cores", "other") or 0)
        info["tiles"]["attempts"] = [dig(t, "cpu", "cores", "other") for t in tries]
    info["total_s"] = round((dt.datetime.now().astimezone() - started).total_seconds(), 1)
    text, missed = table(runs)
    report = [
        f"OGC API Features benchmark, {started:%Y-%m-%d %H:%M %Z}: 50,000 polygons, {args.runs} timed "
        f"requests per query (fresh connection each; median, p95 ms), {args.workers} processes per server; "
        f"urbantwin {info['urbantwin']}; {info['nproc']} cores ({info['cpu']}); {info['postgresql']}; "
        f"total {info['total_s']} s.",
        "",
        text,
        "",
        *notes(runs),
    ]
    if info.get("access_check_ms"):
        report.append(f"- access check per request (in-process, ms): {json.dumps(info['access_check_ms'])}")
    tiles = dig(info, "tiles", "postgresql")
    if tiles:
        met = "met" if tiles["uncached (served path)"] <= TILE_TARGET_MS else "**not met**"
        report.append(
            f"- densest z15 building tile {tiles['tile']} on PostgreSQL, in-process: "
            f"{tiles['uncached (served path)']:.1f} ms uncached (target ≤ {TILE_TARGET_MS:g} ms — {met}), "
            f"{tiles['uncached (Python encoder)']:.1f} ms with the Python encoder, {tiles['cached']:.2f} ms "
            f"cached; other processes {dig(info, 'tiles', 'cpu', 'cores', 'other')} cores meanwhile"
        )
        if met != "met":
            missed.append(f"tile: {tiles['uncached (served path)']:.1f} ms")
    elif info.get("tiles"):
        report.append(f"- tiles: failed ({info['tiles'].get('failure', '')[-300:]})")
    if missed:
        report += ["", "Target not met (urbantwin PostgreSQL): " + "; ".join(missed) + "."]
    md = "\n".join(report)
    (RESULTS / f"features-{stamp}.md").write_text(md + "\n")
    for run in runs.values():
        (RESULTS / f"features-{stamp}-{run.key}.meta.json").write_text(json.dumps(run.meta, indent=1))
    (RESULTS / f"features-{stamp}-run.json").write_text(json.dumps(info, indent=1))
    print("\n" + md)
    return 0 if all(run.result is not None for run in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
