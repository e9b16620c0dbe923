"""The public-transport view in a real browser: a small store holding Plzeň's real GTFS feed and two
scenario runs on it, served on a free port, and the Playwright tests of `web/tests/transit.test.mjs` run
against it (the harness: tests/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.transit.conftest import PLZEN
from tests.web.browser import Served, need_browser, run_browser_tests, serve
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
def transit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin serve` of a store with the feed and its runs, until the module's tests are done."""
    need_browser()
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
    with serve(folder, "--database-url", settings.database_url) as served:
        yield served


@pytest.mark.long  # a feed imported and served, and the browser's tests
def test_the_transit_view_in_chromium(transit_server: Served) -> None:
    run_browser_tests("transit.test.mjs", transit_server)
