"""The harness of the browser tests: a server on a free port, and the Playwright tests of one
`web/tests/*.test.mjs` file run with Node.js against it (Debian's Chromium, headless, driven by
playwright-core). Each browser test module prepares a store and serves it with `serve`, then runs its
script with `run_browser_tests`; the browser's report is printed, and any failing browser test fails
the pytest test, with the end of the server's log.

Without Chromium, Node.js or the viewer's build a browser test skips with a notice saying what to
install or run; in CI (`CI=true`, where `.ci/run` installs Chromium and `make test` builds the viewer) a
missing piece is a failure instead, so the browser tests cannot silently stop running.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import backend_missing, serving
from urbantwin.web.routes import STATIC

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("URBANTWIN_CHROMIUM", "/usr/bin/chromium"))
#: Whole run of one file of browser tests (the viewer's: a software-rendered map on 2 cores, about 40 s).
NODE_TIMEOUT_S = 600
#: The command line of the platform, run by the interpreter of the tests.
CLI = [sys.executable, "-m", "urbantwin.cli"]


def missing() -> str | None:
    """What is missing to run the browser tests, as a notice that says how to get it; else None."""
    if not CHROMIUM.is_file():
        return f"Chromium is not at {CHROMIUM}: `apt-get install -y chromium` (or set URBANTWIN_CHROMIUM)"
    if shutil.which("node") is None:
        return "Node.js is not installed (20.19 or newer): the browser tests run with `node --test`"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return "web/node_modules is missing: `make viewer` (npm ci in web/) installs playwright-core"
    if not (STATIC / "index.html").is_file():
        return f"the viewer is not built in {STATIC}: `make viewer` builds it"
    return None


def need_browser(*packages: str) -> None:
    """Skip (in CI: fail) the test when a piece the browser tests need is missing, or one of the
    further `packages` of web/node_modules its script imports."""
    problem = missing()
    if problem:
        backend_missing(f"the browser tests need {problem}")
    for package in packages:
        if not (WEB / "node_modules" / package).is_dir():
            backend_missing(f"the browser tests need {package}: `make viewer` (npm ci in web/) installs it")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A server of the platform under test: its base URL (ending in `/`) and its log."""

    url: str
    log: Path


@contextmanager
def serve(
    folder: Path,
    *arguments: str,
    env: dict[str, str] | None = None,
    seconds: float = 180,
    command: str = "serve",
) -> Iterator[Served]:
    """`urbantwin serve` (or `command`, e.g. `demo`) with `arguments` on a free port of 127.0.0.1, its
    log in `folder`, until the block ends; ready once it answers the viewer's configuration."""
    port = free_port()
    environment = {**os.environ, "URBANTWIN_LOG_LEVEL": "warning", **(env or {})}
    url = f"http://127.0.0.1:{port}/"
    with serving(
        [*CLI, command, "--port", str(port), *arguments],
        folder,
        url + "api/viewer/config",
        seconds,
        environment,
    ):
        yield Served(url, folder / "server.log")


def run_browser_tests(script: str, server: Served, env: dict[str, str] | None = None) -> None:
    """Run `web/tests/<script>` against `server` (`env`: more variables, a token say); print the
    browser's report, and fail with its end and the end of the server's log when a browser test failed."""
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", f"tests/{script}"],
        cwd=WEB,
        env={**os.environ, "URBANTWIN_VIEWER_URL": server.url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    report = run.stdout + run.stderr
    print(report)
    if run.returncode != 0:
        log = server.log.read_text(errors="replace")[-4000:]
        pytest.fail(f"browser tests failed:\n{report[-8000:]}\n--- the server's log (end):\n{log}")
