"""Another city in a real browser: a platform set up for Dresden from its profile and files alone (the
commands of docs/new-city.md), served on a free port, and the Playwright tests of `web/tests/city.test.mjs`
run against it (the harness: tests/web/browser.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cities.test_dresden_setup import ROOT, set_up_dresden
from tests.web.browser import Served, need_browser, run_browser_tests, serve


@pytest.fixture(scope="module")
def dresden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin serve` of a store set up for Dresden, until the module's tests are done."""
    need_browser()
    folder = tmp_path_factory.mktemp("dresden")
    database_url = f"sqlite:///{folder / 'dresden.sqlite'}"
    here = Path.cwd()
    os.chdir(ROOT)  # the page's commands name the files from the repository's root
    try:
        set_up_dresden(database_url)
    finally:
        os.chdir(here)
    with serve(folder, "--database-url", database_url) as served:
        yield served


@pytest.mark.long  # a city set up and served, and the browser's tests
def test_a_second_city_in_chromium(dresden: Served) -> None:
    run_browser_tests("city.test.mjs", dresden)
