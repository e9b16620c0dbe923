"""The conformance checker's full SensorThings run against our own server (issue 22: at most 60 s).

Starts `urbantwin serve` on a fresh store (a SQLite file in a temporary folder, or `--database-url`)
with MQTT on against the machine's Mosquitto (`--mqtt-url`, under a topic prefix of its own), then
runs `urbantwin check` in writing mode against its `/v1.1` `--runs` times: every SensorThings class
with the MQTT extension, the run's own entities made and deleted each time. Prints the seconds of
each run and their median, the counts of verdicts, and the slowest checks.

    .venv/bin/python bench/conformance.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from urbantwin.conformance.core import Options
from urbantwin.conformance.runner import run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="urbantwin-check-bench-"))
    token = secrets.token_urlsafe(16)
    prefix = f"bench{secrets.token_hex(4)}/"
    port = free_port()
    env = {
        **os.environ,
        "URBANTWIN_DATABASE_URL": args.database_url or f"sqlite:///{folder / 'store.sqlite'}",
        "URBANTWIN_ADMIN_TOKEN": token,
        "URBANTWIN_MQTT_URL": args.mqtt_url,
        "URBANTWIN_MQTT_WRITE_TOKEN": token,
        "URBANTWIN_MQTT_TOPIC_PREFIX": prefix,
        "URBANTWIN_MQTT_CLIENT_ID": f"check-bench-{prefix.rstrip('/')}",
        "URBANTWIN_MQTT_SELECT_TOPICS": "Observations?$select=result,phenomenonTime",
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
        "URBANTWIN_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (folder / "server.log").open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1.1/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit(f"the server did not start; see {folder / 'server.log'}")
            time.sleep(0.2)
        options = Options(write=True, token=token, mqtt_topic_prefix=prefix)
        seconds = []
        for number in range(1, args.runs + 1):
            report = run(f"http://127.0.0.1:{port}/v1.1", options, apis=("sensorthings",))
            counts = report.counts()
            seconds.append(report.seconds)
            slowest = sorted(report.results, key=lambda r: r.seconds, reverse=True)[:3]
            print(
                f"run {number}: {report.seconds:.1f} s, {len(report.results)} checks: "
                f"{counts['pass']} passed, "
                f"{counts['fail']} failed, {counts['skip']} skipped; slowest: "
                + ", ".join(f"{r.check.id} {r.seconds:.1f} s" for r in slowest)
            )
        print(f"median {statistics.median(seconds):.1f} s over {args.runs} runs")
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
