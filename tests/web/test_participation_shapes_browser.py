"""The participation page's forms by keyboard alone, lines and areas drawn on its map, and comments
with their moderation, in a real browser: the Playwright tests of
`web/tests/participation-shapes.test.mjs` run with Node.js against the participation tests' server
(`test_participation_browser.server`: a store with the demo's portfolio). Skips, or fails in CI,
as the viewer's browser test does when a piece is missing."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.web.test_participation_browser import TOKEN, server
from tests.web.test_viewer_browser import NODE_TIMEOUT_S, WEB

__all__ = ["server"]  # the fixture, used by name


@pytest.mark.long  # a server and the browser's tests
def test_participation_by_keyboard_with_lines_areas_and_comments_in_chromium(server: str) -> None:
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "tests/participation-shapes.test.mjs"],
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
