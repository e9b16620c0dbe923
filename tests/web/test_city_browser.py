"""Another city in a real browser: a platform set up for Dresden from its profile and files alone (the
commands of docs/new-city.md), served on a free port, and the Playwright tests of `web/tests/city.test.mjs`
run with Node.js against it (Debian's Chromium, headless). Skips, or fails in CI, as the demo's browser
test does when a piece is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cities.test_dresden_setup import ROOT, set_up_dresden
from tests.conftest import backend_missing
from tests.web.test_viewer_browser import NODE_TIMEOUT_S, WEB, _free_port, _missing


@pytest.fixture(scope="module")
def dresden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`urbantwin serve` of a store set up for Dresden, until the module's tests are done."""
    problem = _missing()
    if problem:
        backend_missing(f"the browser tests need {problem}")
    folder = tmp_path_factory.mktemp("dresden")
    database_url = f"sqlite:///{folder / 'dresden.sqlite'}"
    here = Path.cwd()
    os.chdir(ROOT)  # the page's commands name the files from the repository's root
    try:
        set_up_dresden(database_url)
    finally:
        os.chdir(here)
    port = _free_port()
    environment = {**os.environ, "URBANTWIN_LOG_LEVEL": "warning"}
    log = (folder / "server.log").open("w")
    command = [
        sys.executable,
        "-m",
        "urbantwin.cli",
        "serve",
        "--port",
        str(port),
        "--database-url",
        database_url,
    ]
    server = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"the server ended: {(folder / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "api/viewer/config", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the server did not answer within 60 s")
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.mark.long  # a city set up and served, and the browser's tests
def test_a_second_city_in_chromium(dresden: str) -> None:
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "tests/city.test.mjs"],
        cwd=WEB,
        env={**os.environ, "URBANTWIN_VIEWER_URL": dresden},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    report = run.stdout + run.stderr
    print(report)
    if run.returncode != 0:
        pytest.fail(f"browser tests failed:\n{report[-8000:]}")
