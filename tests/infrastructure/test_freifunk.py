"""Freifunk node feeds: hand-made meshviewer.json and nodes.json (v2) documents in the shapes the
meshviewer (github.com/ffrgb/meshviewer) and ffmap/hopglass maps publish, with synthetic node ids
and positions near 10°E 50°N, loaded as WLAN sites and client counts, twice without a change;
polling repeats a round and survives a failed one."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from urbantwin.infrastructure.freifunk import load_nodes, poll, read_feed
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.settings import Settings

DATA = Path(__file__).parent / "data"


def test_both_feed_formats_are_read_without_contact_data() -> None:
    snapshot, nodes = read_feed(str(DATA / "meshviewer.json"))
    assert snapshot.isoformat() == "2020-03-03T13:26:09+00:00"
    first = nodes[0]
    assert (first.node_id, first.lon, first.lat, first.clients, first.online) == (
        "f4f26d8eda8e",
        10.001,
        50.001,
        3,
        True,
    )
    assert first.firmware == "gluon-v2018.2.3 1.2.3" and first.model == "TP-Link CPE510 v1.1"
    assert "not-kept" not in repr(nodes)
    assert nodes[2].lon is None  # no location: no site
    v2_snapshot, v2 = read_feed(str(DATA / "nodes_v2.json"))
    assert v2_snapshot == snapshot
    assert v2[0] == first.__class__(
        **{**first.__dict__, "firstseen": "2020-01-06T20:21:36", "lastseen": "2020-03-03T13:25:39"}
    )


def test_a_broken_feed_is_named(tmp_path: Path) -> None:
    feed = tmp_path / "nodes.json"
    feed.write_text('{"nodes": []}')
    with pytest.raises(ValueError, match="nodes.json: no 'timestamp'"):
        read_feed(str(feed))
    feed.write_text('{"timestamp": "2020-03-03T13:26:09Z", "nodes": [{"clients": 1}]}')
    with pytest.raises(ValueError, match="nodes.json: node 1: no node_id"):
        read_feed(str(feed))
    feed.write_text('{"links": []}')
    with pytest.raises(ValueError, match="not a Freifunk node feed"):
        read_feed(str(feed))


def test_nodes_become_sites_and_client_counts_once(
    engine: Engine, settings: Settings, anonymous: TestClient
) -> None:
    client = LocalClient(engine, settings)
    snapshot, nodes = read_feed(str(DATA / "meshviewer.json"))
    load = load_nodes(engine, client, snapshot, nodes, collection="ff-test", operator="Freifunk Test")
    assert load.without_position == 1 and load.sites is not None and load.sites.inserted == 2
    assert load.observations == 1  # the offline node's count is not one of the snapshot
    again = load_nodes(engine, client, snapshot, nodes, collection="ff-test", operator="Freifunk Test")
    assert again.observations == 0 and again.sites is not None and again.sites.unchanged == 2
    assert again.sensors is not None and sum(again.sensors.created.values()) == 0

    sites = anonymous.get("/api/infrastructure/sites", params={"registry": "ff-test"}).json()["features"]
    assert [s["properties"]["site_id"] for s in sites] == ["f4f26d8eda8e", "000000004521"]
    props = sites[0]["properties"]
    assert props["technology"] == "wlan" and props["operator"] == "Freifunk Test" and props["online"] is True
    assert props["labels"]["technology"] == {"de": "WLAN-Hotspot", "en": "Wi-Fi hotspot"}
    things = anonymous.get("/v1.1/Things", params={"$expand": "Datastreams/Observations"}).json()["value"]
    counts = {t["name"]: [o["result"] for d in t["Datastreams"] for o in d["Observations"]] for t in things}
    assert counts == {"Freifunk node f4f26d8eda8e": [3], "Freifunk node 000000004521": []}


def test_polling_repeats_and_survives_a_failed_round(tmp_path: Path) -> None:
    feed = tmp_path / "meshviewer.json"
    feed.write_bytes((DATA / "meshviewer.json").read_bytes())
    said: list[str] = []
    slept: list[float] = []
    loads: list[int] = []

    def run(snapshot: object, nodes: list[object]) -> object:
        loads.append(len(nodes))
        feed.write_text("{")  # the next round finds a broken file
        return type("Load", (), {"summary": lambda self: f"{len(nodes)} nodes"})()

    poll(str(feed), 60, run, said.append, sleep=slept.append, rounds=2)  # type: ignore[arg-type]
    assert loads == [3] and said[0] == "3 nodes" and said[1].startswith("Error: ")
    assert len(slept) == 1 and 0 <= slept[0] <= 60
    with pytest.raises(ValueError, match="not JSON"):
        poll(str(feed), None, run, said.append)  # type: ignore[arg-type]
