"""Land use of the synthetic city (conftest.py), computed by hand: the city has no block collection,
so blocks are 100 m grid cells where the buildings are; then a block collection of its own.

Buildings, all in the west: A 100 m × 100 m, 2 levels, centred at (200, 700); B 100 m × 100 m, 6 m
high (2 storeys, a measured height), centred at (800, 500); C 10 m × 10 m at (505, 105), neither.
Each of A and B straddles four 100 m cells, a quarter (50 m × 50 m) in each."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.districts.conftest import City, box, store, store_dated

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


def test_a_building_built_in_2010_raises_the_gfz_after(city: City, client: TestClient) -> None:
    """D, 100 m × 100 m with 4 storeys (40,000 m² of floor area), built in June 2010 on the 100 m cell
    (300, 300) of the west; the residents' series gives 2005 and 2015 too. As of 2005 the west has A,
    B and C (GFZ 40,000 m² ÷ 1 km² = 0.04, three cells built up); as of 2015 D as well (0.08, four)."""
    store_dated(
        city.engine,
        "quarters",
        ["districts"],
        [
            (
                "west",
                box(0, 0, 1000),
                {
                    "title": "West",
                    "people_2005": 900,
                    "people_2015": 950,
                    "people_2020": 1000,
                    "people_2024": 1200,
                },
            ),
            ("east", box(1000, 0, 1000), {"title": "East", "people_2020": 2000, "people_2024": 1800}),
            ("far/away", box(50_000, 0, 100), {"title": "Far away"}),
        ],
    )
    store_dated(
        city.engine,
        "houses",
        ["buildings"],
        [("D", box(300, 300, 100), {"levels": 4, "built": "2010-06-01"})],
    )

    def west(year: str) -> tuple[dict, dict]:
        answer = client.get("/api/districts/quarters/landuse", params={"year": year})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return next(d for d in body["districts"] if d["id"] == "west"), body

    before, body = west("2005")
    assert before["gfz"] == pytest.approx(0.04) and before["storeys_from"]["buildings"] == 3
    assert before["built_up_share"] == pytest.approx(0.03)
    assert body["as_of"]["year"] == 2005 and body["as_of"]["inputs"]["buildings"] == {"historic": True}
    assert body["as_of"]["inputs"]["trees"] == {"historic": False}
    assert "Gebäude: Stand 2005 (Gültigkeit in den Daten)" in [
        label["de"] for label in body["as_of"]["labels"]
    ]
    after, _ = west("2015")
    assert after["gfz"] == pytest.approx(0.08) and after["floor_area_m2"] == 80_000
    assert after["built_up_share"] == pytest.approx(0.04)
    # without a year: every building the data holds
    assert client.get("/api/districts/quarters/landuse").json()["as_of"] is None
    # the blocks as of 2005 have no cell of D
    cells = client.get("/api/districts/quarters/landuse/blocks", params={"year": "2005"}).json()["features"]
    assert "100m-E400300-N5760300" not in [cell["id"] for cell in cells]
    cells = client.get("/api/districts/quarters/landuse/blocks", params={"year": "2015"}).json()["features"]
    assert "100m-E400300-N5760300" in [cell["id"] for cell in cells]


@pytest.mark.parametrize("tail", ["", "/blocks", "/infill"])
def test_a_year_outside_the_population_data_is_refused(city: City, client: TestClient, tail: str) -> None:
    answer = client.get(f"/api/districts/quarters/landuse{tail}", params={"year": "2019"})
    assert answer.status_code == 400
    assert "year: 2019 is outside the data's range, 2020 to 2024" in answer.text
