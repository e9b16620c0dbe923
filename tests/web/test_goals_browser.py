"""The goals page and the district figures, land use and comparison in a real browser: a copy of the
demo's store (`urbantwin demo --load-only`, with its goals registry) served on a free port, and the
Playwright tests of `web/tests/goals.test.mjs` run against it (the harness: tests/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import DemoStore
from tests.web.browser import Served, need_browser, run_browser_tests, serve

pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture(scope="module")
def goals_server(demo_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin serve` of a copy of the demo's store, until the module's tests are done."""
    need_browser()
    folder = tmp_path_factory.mktemp("goals")
    database_url = demo_store.copy(folder)
    with serve(folder, "--database-url", database_url) as served:
        yield served


@pytest.mark.long  # the demo loaded and served, and the browser's tests
def test_goals_and_district_figures_in_chromium(goals_server: Served) -> None:
    run_browser_tests("goals.test.mjs", goals_server)
