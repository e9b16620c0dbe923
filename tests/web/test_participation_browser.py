"""The participation page in a real browser: a store with the demo's portfolio, served on a free
port, and the Playwright tests of `web/tests/participation.test.mjs` run with Node.js against it
(Debian's Chromium, headless, axe-core for WCAG 2.1 AA). Skips, or fails in CI, as the viewer's
browser test does when a piece is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import backend_missing, serving
from tests.web.test_viewer_browser import NODE_TIMEOUT_S, WEB, _free_port, _missing
from urbantwin.demo.portfolio import load_demo_portfolio
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

TOKEN = "participation-browser-admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`urbantwin serve` of a store holding the demo's portfolio, until the module's tests are done."""
    problem = _missing()
    if problem:
        backend_missing(f"the browser tests need {problem}")
    if not (WEB / "node_modules" / "axe-core").is_dir():
        backend_missing("the accessibility check needs axe-core: `make viewer` (npm ci in web/) installs it")
    folder = tmp_path_factory.mktemp("participation")
    database_url = f"sqlite:///{folder / 'store.sqlite'}"
    settings = Settings(database_url=database_url)
    engine = make_engine(settings)
    upgrade(engine)
    load_demo_portfolio(engine, settings)
    engine.dispose()
    port = _free_port()
    environment = {**os.environ, "URBANTWIN_LOG_LEVEL": "warning", "URBANTWIN_ADMIN_TOKEN": TOKEN}
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--port", str(port)]
    command += ["--database-url", database_url]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, folder, url + "api/viewer/config", 60, environment):
        yield url


@pytest.mark.long  # a server and the browser's tests
def test_participation_in_chromium(server: str) -> None:
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "tests/participation.test.mjs"],
        cwd=WEB,
        env={**os.environ, "URBANTWIN_VIEWER_URL": server, "URBANTWIN_ADMIN_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    report = run.stdout + run.stderr
    print(report)
    if run.returncode != 0:
        pytest.fail(f"browser tests failed:\n{report[-8000:]}")
