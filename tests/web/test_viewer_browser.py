"""The viewer in a real browser, as part of the suite: starts the Leipzig demo on a free port and runs
the Playwright tests of `web/tests/viewer.test.mjs` against it (the harness: tests/web/browser.py).
`urbantwin demo` is served whole, energy scenarios included: a browser test waits for a run of the
real energy API to be done."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.browser import Served, need_browser, run_browser_tests, serve

TOKEN = "viewer-browser-test-token"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin demo` on a free port in a fresh folder, until the module's tests are done."""
    need_browser("axe-core")  # the accessibility check
    folder = tmp_path_factory.mktemp("viewer-demo")
    environment = {"URBANTWIN_ADMIN_TOKEN": TOKEN}
    with serve(folder, "--data-dir", str(folder), env=environment, seconds=180, command="demo") as served:
        yield served


@pytest.mark.long  # the whole demo served and the browser's tests
def test_the_viewer_in_chromium(demo: Served) -> None:
    run_browser_tests("viewer.test.mjs", demo, {"URBANTWIN_ADMIN_TOKEN": TOKEN})


@pytest.mark.long  # the browser's tests on the whole demo
def test_the_whole_demo_in_the_viewer_passes_axe_core(demo: Served) -> None:
    """axe-core's WCAG 2.1 A and AA rules in every state a visitor reaches (the tree, a sensor's
    chart, a district's profile, each side view): `web/tests/viewer-a11y.test.mjs`."""
    run_browser_tests("viewer-a11y.test.mjs", demo, {"URBANTWIN_ADMIN_TOKEN": TOKEN})
