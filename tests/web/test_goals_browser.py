"""The goals page and the district figures, land use and comparison in a real browser: a copy of the
demo's store (`urbantwin demo --load-only`, with its goals registry) served on a free port, and the
Playwright tests of `web/tests/goals.test.mjs` run with Node.js against it (Debian's Chromium,
headless). Skips, or fails in CI, as the demo's browser test does when a piece is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import DemoStore, backend_missing, serving
from tests.web.test_viewer_browser import NODE_TIMEOUT_S, WEB, _free_port, _missing

pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture(scope="module")
def goals_server(demo_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`urbantwin serve` of a copy of the demo's store, until the module's tests are done."""
    problem = _missing()
    if problem:
        backend_missing(f"the browser tests need {problem}")
    folder = tmp_path_factory.mktemp("goals")
    database_url = demo_store.copy(folder)
    port = _free_port()
    environment = {**os.environ, "URBANTWIN_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--port", str(port)]
    command += ["--database-url", database_url]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, folder, url + "api/viewer/config", 60, environment):
        yield url


@pytest.mark.long  # the demo loaded and served, and the browser's tests
def test_goals_and_district_figures_in_chromium(goals_server: str) -> None:
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "tests/goals.test.mjs"],
        cwd=WEB,
        env={**os.environ, "URBANTWIN_VIEWER_URL": goals_server},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    report = run.stdout + run.stderr
    print(report)
    if run.returncode != 0:
        pytest.fail(f"browser tests failed:\n{report[-8000:]}")
