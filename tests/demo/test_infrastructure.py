"""The demo's WLAN sites: the Freifunk Leipzig nodes of 2020-03-03 (demo/SOURCES.md) as sites of
`/api/infrastructure/sites`, their client counts as the Observations of the node's Thing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import DemoStore
from urbantwin.app import create_app
from urbantwin.settings import Settings


def test_the_freifunk_nodes_are_the_demos_wlan_sites(demo_store: DemoStore, tmp_path: Path) -> None:
    url = demo_store.copy(tmp_path)  # the app writes its defaults at start
    with TestClient(create_app(Settings(database_url=url))) as client:
        registries = client.get("/api/infrastructure/registries").json()["registries"]
        sites = client.get("/api/infrastructure/sites", params={"technology": "wlan"}).json()
        node = client.get("/api/infrastructure/sites/freifunk-nodes/f4f26d8eda8e").json()
        thing = client.get(
            "/v1.1/Things",
            params={
                "$filter": "properties/import_key eq 'freifunk:node:f4f26d8eda8e'",
                "$expand": "Datastreams/Observations",
            },
        ).json()["value"]
    assert [(r["id"], r["operator"], r["sites"]) for r in registries] == [
        ("freifunk-nodes", "Freifunk Leipzig", 209)
    ]
    assert sites["numberMatched"] == 209
    props = node["properties"]
    assert props["site_id"] == "f4f26d8eda8e" and props["technology"] == "wlan"
    assert props["operator"] == "Freifunk Leipzig" and props["model"] == "TP-Link CPE510 v1.1"
    assert node["geometry"]["coordinates"] == [12.276264, 51.311623]
    [stream] = thing[0]["Datastreams"]
    assert [(o["phenomenonTime"], o["result"]) for o in stream["Observations"]] == [
        ("2020-03-03T13:26:09Z", 0)
    ]
