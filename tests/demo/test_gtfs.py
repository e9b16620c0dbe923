"""The demo's public transport: Plzeň's real feed (Leipzig's is not open), labelled as another city's
wherever it is shown, with two scenario runs on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DemoStore
from urbantwin.app import create_app
from urbantwin.settings import Settings


@pytest.mark.xdist_group("demo")
def test_the_demo_shows_plzens_feed_as_another_citys(demo_store: DemoStore, tmp_path: Path) -> None:
    assert (
        "Imported the transit feed 'plzen-pmdp-2026-02' (54 routes, 7942 trips; Plzeň's" in demo_store.output
    )
    url = demo_store.copy(tmp_path)
    with TestClient(create_app(Settings(database_url=url))) as client:
        feeds = client.get("/api/transit/feeds").json()["feeds"]
        collections = {c["id"]: c for c in client.get("/ogcapi/collections").json()["collections"]}
        lines = client.get("/catalog/datasets/plzen-pmdp-2026-02-lines", params={"f": "json"}).json()
        runs = client.get("/api/transit/runs").json()["runs"]
        departures = client.get("/api/transit/feeds/plzen-pmdp-2026-02/stops/194/departures")
    assert [(f["id"], f["title"]) for f in feeds] == [
        ("plzen-pmdp-2026-02", "Plzeň (CZ), PMDP — another city's feed, not Leipzig's")
    ]
    for kind in ("stops", "lines"):
        assert "Plzeň (CZ)" in collections[f"plzen-pmdp-2026-02-{kind}"]["title"]
        assert "not Leipzig's" in collections[f"plzen-pmdp-2026-02-{kind}"]["title"]
    assert lines["publisher"]["id"] == "pmdp" and lines["licence"]["code"] == "cc-by/4.0"
    assert sorted(r["title"] for r in runs) == [
        "Plzeň: bus lines 30 and 33 with battery buses",
        "Plzeň: energy-saving driving (−8 %)",
    ]
    assert all(r["status"] == "done" and r["model"] for r in runs)
    assert departures.status_code == 200 and departures.json()["departures"] > 0
