"""The participation page in a real browser: a store with the demo's portfolio, served on a free
port, and the Playwright tests of `web/tests/participation.test.mjs` run against it (the harness:
tests/web/browser.py; axe-core checks WCAG 2.1 AA)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.browser import Served, need_browser, run_browser_tests, serve
from urbantwin.demo.portfolio import load_demo_portfolio
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

TOKEN = "participation-browser-admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin serve` of a store holding the demo's portfolio, until the module's tests are done."""
    need_browser("axe-core")  # the accessibility check
    folder = tmp_path_factory.mktemp("participation")
    database_url = f"sqlite:///{folder / 'store.sqlite'}"
    settings = Settings(database_url=database_url)
    engine = make_engine(settings)
    upgrade(engine)
    load_demo_portfolio(engine, settings)
    engine.dispose()
    # The browser tests of this server send, from one address, more ideas, contributions, comments
    # and votes together than a citizen's submission budget allows (5 at once): a budget they do
    # not exhaust (the guard itself: tests/participation/test_guard.py).
    budget = {"URBANTWIN_PARTICIPATION_SUBMISSION_BURST": "100"}
    with serve(
        folder, "--database-url", database_url, env={"URBANTWIN_ADMIN_TOKEN": TOKEN, **budget}
    ) as served:
        yield served


@pytest.mark.long  # a server and the browser's tests
def test_participation_in_chromium(server: Served) -> None:
    run_browser_tests("participation.test.mjs", server, {"URBANTWIN_ADMIN_TOKEN": TOKEN})


@pytest.mark.long  # the browser's tests on the same server
def test_participation_by_keyboard_with_lines_areas_and_comments_in_chromium(server: Served) -> None:
    """The forms by keyboard alone, lines and areas drawn on the map, and comments with their
    moderation: `web/tests/participation-shapes.test.mjs`."""
    run_browser_tests("participation-shapes.test.mjs", server, {"URBANTWIN_ADMIN_TOKEN": TOKEN})


@pytest.mark.long  # the browser's tests on the same server
def test_a_page_per_campus_event_in_chromium(server: Served) -> None:
    """From the listing to an event's page, its head for search engines, its iCalendar file
    downloaded and parsed, the unknown and the unpublished event's 404 page, German and English, a
    phone's width: `web/tests/campus-event.test.mjs`."""
    run_browser_tests("campus-event.test.mjs", server, {"URBANTWIN_ADMIN_TOKEN": TOKEN})
