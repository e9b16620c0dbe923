"""Another city in a real browser: a platform set up for Dresden from its profile and files alone (the
commands of docs/new-city.md), served on a free port, and the Playwright tests of `web/tests/city.test.mjs`
run with Node.js against it (Debian's Chromium, headless). Skips, or fails in CI, as the demo's browser
test does when a piece is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cities.test_dresden_setup import ROOT, set_up_dresden
from tests.conftest import backend_missing, serving
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
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--port", str(port)]
    command += ["--database-url", database_url]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, folder, url + "api/viewer/config", 60, environment):
        yield url


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
