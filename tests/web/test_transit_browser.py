"""The public-transport view in a real browser: a small store holding Plzeň's real GTFS feed and two
scenario runs on it, served on a free port, and the Playwright tests of `web/tests/transit.test.mjs` run
with Node.js against it (Debian's Chromium, headless). Skips, or fails in CI, as the demo's browser
test does when a piece is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import backend_missing, serving
from tests.transit.conftest import PLZEN
from tests.web.test_viewer_browser import NODE_TIMEOUT_S, WEB, _free_port, _missing
from urbantwin.access.gate import Access, Caller
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade
from urbantwin.transit.energy import TransitEnergy
from urbantwin.transit.gtfs_import import import_gtfs
from urbantwin.transit.runs import TransitRuns

FEED = "plzen-pmdp-2026-02"
#: Two runs to compare (titles the browser test looks for).
RUNS = (
    {
        "scenario": {"feed": FEED, "title": "Battery buses on 30"},
        "electrify": {"lines": ["30"], "vehicle_day_km": 250},
    },
    {"scenario": {"feed": FEED, "title": "Energy-saving driving"}, "driving": {"saving_share": 0.1}},
)


@pytest.fixture(scope="module")
def transit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`urbantwin serve` of a store with the feed and its runs, until the module's tests are done."""
    problem = _missing()
    if problem:
        backend_missing(f"the browser tests need {problem}")
    folder = tmp_path_factory.mktemp("transit")
    settings = Settings(database_url=f"sqlite:///{folder / 'transit.sqlite'}")
    engine = make_engine(settings)
    upgrade(engine)
    import_gtfs(engine, PLZEN, feed_id=FEED, title="Plzeň (CZ), PMDP", licence="CC BY 4.0")
    access = Access.of(engine, settings)
    runs = TransitRuns(engine, TransitEnergy(engine, access))
    for body in RUNS:
        runs.submit(Caller.system(), body)
    access.audit.flush()
    engine.dispose()
    port = _free_port()
    environment = {**os.environ, "URBANTWIN_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--port", str(port)]
    command += ["--database-url", settings.database_url]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, folder, url + "api/viewer/config", 60, environment):
        yield url


@pytest.mark.long  # a feed imported and served, and the browser's tests
def test_the_transit_view_in_chromium(transit_server: str) -> None:
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "tests/transit.test.mjs"],
        cwd=WEB,
        env={**os.environ, "URBANTWIN_VIEWER_URL": transit_server},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    report = run.stdout + run.stderr
    print(report)
    if run.returncode != 0:
        pytest.fail(f"browser tests failed:\n{report[-8000:]}")
