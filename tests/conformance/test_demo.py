"""The checker against the demo city served for real: real data (names with umlauts, polygons of
districts, thousands of Observations) and no check fails, reading or writing; what the writing run
made is gone afterwards."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, DemoStore, _free_port, serving
from urbantwin.conformance.core import Options
from urbantwin.conformance.runner import run


@pytest.mark.xdist_group("demo")
def test_the_demo_city_passes_reading_and_writing(demo_store: DemoStore, tmp_path: Path) -> None:
    url = demo_store.copy(tmp_path)
    port = _free_port()
    environment = {
        **os.environ,
        "URBANTWIN_LOG_LEVEL": "warning",
        "URBANTWIN_ADMIN_TOKEN": ADMIN_TOKEN,
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
    }
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--port", str(port), "--database-url", url]
    base = f"http://127.0.0.1:{port}"
    with serving(command, tmp_path, f"{base}/v1.1/", 120, environment):
        things = httpx.get(f"{base}/v1.1/Things", params={"$count": "true", "$top": "0"}).json()["@iot.count"]
        for options in (Options(), Options(write=True, token=ADMIN_TOKEN)):
            report = run(base, options)
            failed = [(r.check.id, r.reason) for r in report.results if r.verdict == "fail"]
            assert report.ok, (report.problems, report.left_behind, failed)
        passed = {r.check.id for r in report.results if r.verdict == "pass"}
        # The CQL2 checks found a feature with a string and a number among the demo's.
        assert {"features.cql2.basic", "features.cql2.advanced", "features.cql2.arithmetic"} <= passed
        assert (
            httpx.get(f"{base}/v1.1/Things", params={"$count": "true", "$top": "0"}).json()["@iot.count"]
            == things
        )
