""" "What it takes" in the viewer's energy view in a real browser: the small test quarter of the
energy tests served on a free port, and the Playwright tests of `web/tests/energy-plan.test.mjs` run
against it (the harness: tests/web/browser.py; axe-core checks WCAG 2.1 AA). The plan is submitted
from the view and run by the server's own run queue, on the quarter's seven buildings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.energy.test_api import load_small_quarter
from tests.web.browser import Served, need_browser, run_browser_tests, serve
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

TOKEN = "energy-browser-admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin serve` of a store holding the small quarter, until the module's tests are done."""
    need_browser("axe-core")  # the accessibility check
    folder = tmp_path_factory.mktemp("energy")
    database_url = f"sqlite:///{folder / 'store.sqlite'}"
    engine = make_engine(Settings(database_url=database_url))
    upgrade(engine)
    load_small_quarter(engine)
    engine.dispose()
    with serve(folder, "--database-url", database_url, env={"URBANTWIN_ADMIN_TOKEN": TOKEN}) as served:
        yield served


@pytest.mark.long  # a server, a plan computed by its run queue, and the browser's tests
def test_what_it_takes_in_chromium(server: Served) -> None:
    run_browser_tests("energy-plan.test.mjs", server, {"URBANTWIN_ADMIN_TOKEN": TOKEN})
