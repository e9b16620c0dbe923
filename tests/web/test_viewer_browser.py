"""The viewer in a real browser, as part of the suite: starts the Leipzig demo on a free port and runs
the Playwright tests of `web/tests/viewer.test.mjs` with Node.js against it (Debian's Chromium,
headless). Their report is printed; any failing browser test fails this test.

Without Chromium, Node.js or the viewer's build this skips with a notice saying what to install or
run; in CI (`CI=true`, where `.ci/run` installs Chromium and `make test` builds the viewer) a missing
piece is a failure instead, so the browser tests cannot silently stop running.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import backend_missing, serving
from urbantwin.web.routes import STATIC

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("URBANTWIN_CHROMIUM", "/usr/bin/chromium"))
TOKEN = "viewer-browser-test-token"
#: Whole run of the browser tests (8 tests, a software-rendered map on 2 cores: about 40 s).
NODE_TIMEOUT_S = 600


def _missing() -> str | None:
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`urbantwin demo` on a free port in a fresh folder, until the module's tests are done."""
    problem = _missing()
    if problem:
        backend_missing(f"the browser tests need {problem}")
    port = _free_port()
    folder = tmp_path_factory.mktemp("viewer-demo")
    environment = {**os.environ, "URBANTWIN_ADMIN_TOKEN": TOKEN, "URBANTWIN_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "urbantwin.cli", "demo", "--port", str(port), "--data-dir", str(folder)]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, folder, url + "api/viewer/config", 180, environment):
        yield url, folder / "server.log"


@pytest.mark.long  # the whole demo served and the browser's tests
def test_the_viewer_in_chromium(demo: tuple[str, Path]) -> None:
    url, server_log = demo
    environment = {**os.environ, "URBANTWIN_VIEWER_URL": url, "URBANTWIN_ADMIN_TOKEN": TOKEN}
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "tests/viewer.test.mjs"],
        cwd=WEB,
        env=environment,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    report = run.stdout + run.stderr
    print(report)
    if run.returncode != 0:
        server = server_log.read_text(errors="replace")[-4000:]
        pytest.fail(f"browser tests failed:\n{report[-8000:]}\n--- the demo server's log (end):\n{server}")
