"""Land use of the synthetic city (conftest.py), computed by hand: the city has no block collection,
so blocks are 100 m grid cells where the buildings are; then a block collection of its own.

Buildings, all in the west: A 100 m × 100 m, 2 levels, centred at (200, 700); B 100 m × 100 m, 6 m
high (2 storeys, a measured height), centred at (800, 500); C 10 m × 10 m at (505, 105), neither.
Each of A and B straddles four 100 m cells, a quarter (50 m × 50 m) in each."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.districts.conftest import City, box, store

INFILL = "/api/districts/quarters/landuse/infill"


def test_per_district(city: City, client: TestClient) -> None:
    answer = client.get("/api/districts/quarters/landuse")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["blocks"] == {"source": "grid", "collections": [], "grid_m": 100.0, "count": 3}
    west = next(d for d in body["districts"] if d["id"] == "west")
    # built over: 100 × 100 + 100 × 100 + 10 × 10 of 1 km²; floor area: A and B 2 storeys each, C unknown
    assert west["footprint_m2"] == 20_100 and west["grz"] == pytest.approx(0.0201, abs=1e-4)
    assert west["floor_area_m2"] == 40_000 and west["gfz"] == pytest.approx(0.04)
    assert west["storeys_from"] == {
        "buildings": 3,
        "levels": 1,
        "measured_height": 1,
        "estimated_height": 0,
        "unknown": 1,
    }
    # the three cells that hold a building's centre: 3 ha of the west's 100
    assert west["built_up_share"] == pytest.approx(0.03)
    # trees t1, t2, t3 of the west's corners and centre, per hectare
    assert west["trees"] == 3 and west["trees_per_ha"] == pytest.approx(0.03)
    east = next(d for d in body["districts"] if d["id"] == "east")
    assert east["grz"] is None and east["buildings_coverage"] == 0  # no building data there: not a zero
    assert body["labels"]["gfz"]["de"] == "Geschossflächenzahl (GFZ)"


def test_blocks_as_geojson(city: City, client: TestClient) -> None:
    answer = client.get("/api/districts/quarters/landuse/blocks")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/geo+json"
    cells = {f["id"]: f["properties"] for f in answer.json()["features"]}
    # C's cell; A's and B's centres lie on cell corners, so which of four cells holds each is a
    # matter of rounding, but each holds a quarter (50 m × 50 m, 2 storeys)
    assert "100m-E400500-N5760100" in cells and len(cells) == 3
    assert sorted((p["grz"], p["gfz"]) for p in cells.values()) == [(0.01, 0.0), (0.25, 0.5), (0.25, 0.5)]
    assert {p["district"] for p in cells.values()} == {"west"}


def _blocks(city: City) -> None:
    """Two blocks of the city's own: b1 (200 m × 200 m) holds all of A, b2 all of B."""
    blocks = [("b1", box(100, 600, 200), {}), ("b2", box(700, 400, 200), {})]
    store(city.engine, "baubloecke", ["blocks"], blocks)


def test_infill_candidates_ranked_and_explained(city: City, client: TestClient) -> None:
    _blocks(city)
    answer = client.get(INFILL)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # b1: GFZ 0.5 < 0.6, its centre (200, 700) 200 m from S1 (200, 900): 240 m on foot, 12 an hour.
    # b2's centre lies 721 m from S1 (865 m on foot).
    assert [f["id"] for f in body["features"]] == ["b1"]
    only = body["features"][0]["properties"]
    assert only["rank"] == 1 and only["walk_to_stop_m"] == 240 and only["departures_per_hour"] == 12.0
    assert only["score"] == pytest.approx((1 - 0.5 / 0.6) / 2 + (1 - 240 / 300) / 2, abs=1e-3)
    assert only["reasons"][0]["en"] == (
        "GFZ 0.50, under 0.6; a stop 240 m away on foot (within 300 m, 12 departures an hour)"
    )
    assert only["reasons"][0]["de"].startswith("GFZ 0.50, unter 0.6; eine Haltestelle 240 m zu Fuß")
    # a stricter density limit leaves none; a wider radius finds b2 too, ranked after b1
    assert client.get(INFILL, params={"max_gfz": "0.4"}).json()["features"] == []
    wide = client.get(INFILL, params={"radius": "1000"}).json()
    assert [(f["id"], f["properties"]["rank"]) for f in wide["features"]] == [("b1", 1), ("b2", 2)]


@pytest.mark.parametrize(
    ("name", "value"), [("max_gfz", "dense"), ("radius", "5"), ("min_departures", "-1"), ("limit", "0")]
)
def test_bad_parameters_are_named(city: City, client: TestClient, name: str, value: str) -> None:
    answer = client.get(INFILL, params={name: value})
    assert answer.status_code == 400 and f"{name}: expected" in answer.text


def test_a_block_collection_of_the_city_comes_first(city: City, client: TestClient) -> None:
    _blocks(city)
    body = client.get("/api/districts/quarters/landuse/blocks").json()
    assert body["blocks"]["source"] == "collection" and body["blocks"]["collections"] == ["baubloecke"]
    found = {f["id"]: f["properties"] for f in body["features"]}
    # b1 (200 m × 200 m) holds all of A: 10,000 m² built over of 40,000, 20,000 m² of floor area
    assert found["b1"]["grz"] == pytest.approx(0.25) and found["b1"]["gfz"] == pytest.approx(0.5)
    assert client.get("/api/districts/nowhere/landuse").status_code == 404
