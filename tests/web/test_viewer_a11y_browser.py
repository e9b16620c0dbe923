"""The viewer with the whole Leipzig demo loaded, checked with axe-core's WCAG 2.1 A and AA rules
in every state a visitor reaches (the tree, a sensor's chart, a district's profile, each side
view), by the Playwright tests of `web/tests/viewer-a11y.test.mjs` run with Node.js against the
demo the viewer's browser test serves (`test_viewer_browser.demo`). Skips, or fails in CI, as that
test does when a piece is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.web.test_viewer_browser import NODE_TIMEOUT_S, TOKEN, WEB, demo

__all__ = ["demo"]  # the fixture, used by name


@pytest.mark.long  # the whole demo served and the browser's tests
def test_the_whole_demo_in_the_viewer_passes_axe_core(demo: tuple[str, Path]) -> None:
    url, server_log = demo
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "tests/viewer-a11y.test.mjs"],
        cwd=WEB,
        env={**os.environ, "URBANTWIN_VIEWER_URL": url, "URBANTWIN_ADMIN_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    report = run.stdout + run.stderr
    print(report)
    if run.returncode != 0:
        server = server_log.read_text(errors="replace")[-4000:]
        pytest.fail(f"browser tests failed:\n{report[-8000:]}\n--- the demo server's log (end):\n{server}")
