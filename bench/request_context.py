"""What the request id and the latency histogram cost each request (operations/middleware.py).

Calls a minimal ASGI app (a 200 with an empty body) N times in one process, directly (no server, no
sockets), bare and wrapped in `RequestContextMiddleware`, in prometheus-client's in-memory mode and
in its multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, as `urbantwin serve --workers N` runs it,
which writes each observation to a memory-mapped file). Prints microseconds per request, the best of
`--repeat` runs, and the difference: the middleware's cost, to hold against a request's own.

    .venv/bin/python bench/request_context.py --n 20000 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time


def measure(n: int, repeat: int) -> tuple[float, float]:
    """Best microseconds per request: bare, and through the middleware (in this process's mode)."""
    from urbantwin.operations.middleware import RequestContextMiddleware

    class Route:
        path = "/v1.1/Things({id})"

    async def endpoint(scope, receive, send) -> None:  # noqa: ANN001
        scope["route"] = Route  # what the router leaves in the scope
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        return None

    wrapped = RequestContextMiddleware(endpoint)

    async def run(app) -> float:  # noqa: ANN001
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(n):
                scope = {"type": "http", "method": "GET", "path": "/v1.1/Things(1)", "headers": []}
                await app(scope, receive, send)
            best = min(best, (time.perf_counter() - started) / n * 1e6)
        return best

    async def both() -> tuple[float, float]:
        return await run(endpoint), await run(wrapped)

    return asyncio.run(both())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        bare, wrapped = measure(args.n, args.repeat)
        print(f"{bare:.2f} {wrapped:.2f}")
        return
    print("| mode | bare µs/request | with the middleware µs/request | cost µs/request |")
    print("|---|---:|---:|---:|")
    for mode in ("in-memory (one process)", "multiprocess (--workers N)"):
        environment = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory() as folder:
            if mode.startswith("multiprocess"):
                environment["PROMETHEUS_MULTIPROC_DIR"] = folder
            command = [sys.executable, __file__, "--child", "--n", str(args.n), "--repeat", str(args.repeat)]
            output = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
        bare, wrapped = (float(x) for x in output.stdout.split())
        print(f"| {mode} | {bare:.2f} | {wrapped:.2f} | {wrapped - bare:.2f} |")


if __name__ == "__main__":
    main()
