"""Access to public transport: the ARE tables, where residents are placed, and the shares per district
of the synthetic city (conftest.py), computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine

from tests.districts.conftest import PROFILE, City, box, store, store_dated
from urbantwin.access.gate import Access, Caller
from urbantwin.city_profile import parse_profile
from urbantwin.districts.access import (
    nearest_distance,
    place_residents,
    quality_classes,
    spread_points,
    stop_categories,
    storeys,
)
from urbantwin.districts.service import DistrictProfiles
from urbantwin.errors import BadRequest
from urbantwin.settings import Settings


def test_stop_categories_follow_the_are_table() -> None:
    """Interval = 840 min ÷ (departures 06–20 h ÷ 2); category by interval band and mode group."""
    modes = ["bus", "rail", "tram"]
    by_mode = np.array(
        [
            [336, 0, 0],  # bus every 5 min (each way): band 5–10 → III
            [0, 336, 0],  # rail every 5 min: I
            [0, 0, 84],  # tram every 20 min: band 20–40 → IV
            [0, 0, 168],  # tram every 10 min: III
            [28, 0, 0],  # bus every hour: band 40–60 → VI
            [14, 0, 0],  # bus every two hours: band 60–120 → VII
            [10, 0, 0],  # rarer still: none
            [84, 28, 0],  # bus every 20 min (V) and rail every hour (IV): the better, IV
            [0, 0, 0],
        ],
        dtype=float,
    )
    assert stop_categories(by_mode, modes).tolist() == [3, 1, 4, 3, 6, 7, 0, 4, 0]


def test_quality_classes_by_distance_band() -> None:
    """Category I gives A to 500 m, B to 750 m, C to 1 km; category III gives B to 300 m, C to
    500 m, D to 750 m; the best over the stops counts."""
    stops = shapely.points([[0, 0], [5000, 0]])
    categories = np.array([3, 1])
    points = shapely.points([[100, 0], [400, 0], [700, 0], [900, 0], [4100, 0], [4600, 0], [2500, 0]])
    assert quality_classes(points, stops, categories).tolist() == [2, 3, 4, 0, 3, 1, 0]


def test_storeys_from_levels_else_height() -> None:
    levels = np.array([2.0, np.nan, np.nan, np.nan])
    heights = np.array([30.0, 7.0, 1.0, np.nan])
    assert storeys(levels, heights)[:3].tolist() == [2.0, 2.0, 1.0]
    assert np.isnan(storeys(levels, heights)[3])


def test_residents_on_buildings_where_they_hold_enough_floor_area() -> None:
    """The left district's 400 residents on two buildings (10,000 m² of floor area: 25 m² each, above
    the 20 m² threshold) by floor area; the right district has too little floor area: spread."""
    districts = np.array([shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)])
    buildings = shapely.points([[100, 100], [500, 500], [1500, 500]])
    floor = np.array([2500.0, 7500.0, 100.0])
    placed = place_residents(districts, np.array([400.0, 300.0]), buildings, floor)
    assert placed.methods == ["buildings", "area"]
    left = placed.district == 0
    assert placed.weights[left].tolist() == [100.0, 300.0]
    assert placed.weights[~left].sum() == pytest.approx(300.0)
    assert (~left).sum() == 400  # a 50 m grid over 1 km²


def test_spread_points_stay_inside_an_odd_shape() -> None:
    triangle = shapely.Polygon([(0, 0), (1000, 0), (0, 1000)])
    points = spread_points(triangle)
    assert shapely.contains(triangle, points).all()
    assert 350 <= len(points) <= 450  # about SPREAD_POINTS, whatever the shape


def test_nearest_distance_without_stops_is_infinite() -> None:
    points = shapely.points([[0, 0]])
    assert nearest_distance(points, np.array([], dtype=object)).tolist() == [np.inf]


def access(city: City, settings: Settings, **parameters: str) -> dict[str, dict]:
    service = DistrictProfiles(
        city.engine, settings, Access.of(city.engine, settings), parse_profile(PROFILE)
    )
    result = service.transit_access(
        Caller.system(),
        "quarters",
        parameters.get("min_departures"),
        parameters.get("detour"),
        parameters.get("year"),
    )
    return {row["id"]: row for row in result["districts"]} | {"": result}


def test_shares_and_classes_per_district(city: City, settings: Settings) -> None:
    """West: 1,200 residents on A and B (20,000 m² of floor area each: 600 each); A lies 200 m from
    S1 (240 m walking), B 721 m (865 m walking). S1 is a category III stop (tram every 10 min): A is
    in class B, B (500–750 m) in class D. East: spread over its area, all more than 800 m from S1."""
    found = access(city, settings)
    west, east = found["west"], found["east"]
    assert west["method"] == "buildings" and east["method"] == "area"
    assert west["method_label"]["de"].startswith("Einwohner auf die Wohngeschossfläche")
    assert west["residents"] == 1200 and east["residents"] == 1800
    assert west["within"] == {"300": 0.5, "500": 0.5}
    assert west["classes"] == {"A": 0.0, "B": 0.5, "C": 0.0, "D": 0.5, "none": 0.0}
    assert east["within"] == {"300": 0.0, "500": 0.0}
    assert east["classes"]["none"] == 1.0
    assert found[""]["stop_categories"] == {"III": 1, "IV": 2}
    assert found[""]["feeds"][0]["id"] == "tram"
    assert found[""]["method"]["quality_classes"]["de"].startswith("ÖV-Güteklassen nach")
    assert "every stop counts" not in found[""]["method"]["departures"]["en"]


def test_the_detour_factor_and_the_departures_asked(city: City, settings: Settings) -> None:
    # straight line: B's 721 m are still beyond 500 m; with a factor of 2, A's 400 m beyond 300 m
    assert access(city, settings, detour="1")["west"]["within"] == {"300": 0.5, "500": 0.5}
    assert access(city, settings, detour="2")["west"]["within"] == {"300": 0.0, "500": 0.5}
    # S1 has 12 departures an hour: asking for 13 leaves no stop
    assert access(city, settings, min_departures="13")["west"]["within"] == {"300": 0.0, "500": 0.0}
    # the quality classes do not depend on either
    assert access(city, settings, min_departures="13")["west"]["classes"]["B"] == 0.5


def test_without_buildings_residents_are_spread(engine: Engine, city: City, settings: Settings) -> None:
    import dataclasses

    found = access(city, dataclasses.replace(settings, district_layers=("trees=trees",)))
    assert found["west"]["method"] == "area"
    # a 50 m grid: the share of its points within 250 m of S1 (300 m ÷ 1.2)
    xs = np.arange(25, 1000, 50)
    gx, gy = np.meshgrid(xs, xs)
    near = np.hypot(gx - 200, gy - 900) <= 250
    assert found["west"]["within"]["300"] == pytest.approx(near.mean(), abs=1e-4)


def test_a_population_change_moves_the_access_share(city: City, settings: Settings) -> None:
    """One borough holding both quarters: its residents are the quarters' (placed as above), so its
    share within 300 m is the west's residents on A over all of them: 500 of 3,000 in 2020 (1,000 in
    the west, half on A), 600 of 3,000 in 2024 (1,200). The tram feed runs in 2026 only: the stops
    are today's network, and the answer says so."""
    store(city.engine, "boroughs", ["districts"], [("all", box(0, 0, 2000, 1000), {"title": "All"})])
    profile = {
        **PROFILE,
        "districts": [*PROFILE["districts"], {"collection": "boroughs", "name_property": "title"}],
    }
    service = DistrictProfiles(
        city.engine, settings, Access.of(city.engine, settings), parse_profile(profile)
    )

    def share(year: str | None) -> tuple[float, dict]:
        answer = service.transit_access(Caller.system(), "boroughs", None, None, year)
        return answer["districts"][0]["within"]["300"], answer

    assert share("2020")[0] == pytest.approx(500 / 3000, abs=1e-4)
    latest, answer = share("2024")
    assert latest == pytest.approx(600 / 3000, abs=1e-4)
    assert share(None)[0] == latest and share(None)[1]["as_of"] is None
    as_of = answer["as_of"]
    assert as_of["inputs"]["population"] == {"historic": True, "years": [2024]}
    assert as_of["inputs"]["timetables"] == {"historic": False, "feeds": ["tram"]}
    assert {
        "en": "Public-transport stops: today's network (no history in the data)",
        "de": "Haltestellen des ÖPNV: heutiges Netz (keine Historie in den Daten)",
    } in as_of["labels"]
    # 2022: no figure of that year in the series; the nearest earlier year's (2020) counts, and is named
    between, answer = share("2022")
    assert between == pytest.approx(500 / 3000, abs=1e-4)
    assert answer["as_of"]["inputs"]["population"]["years"] == [2020]
    assert (
        answer["as_of"]["labels"][-1]["en"]
        == "Residents: 2020, the nearest year of the population series to 2022"
    )
    with pytest.raises(BadRequest, match="year: 2030 is outside the data's range, 2020 to 2024"):
        share("2030")


def test_residents_live_only_in_the_buildings_standing_that_year(city: City, settings: Settings) -> None:
    """B built in 2022: as of 2020 the west's 1,000 residents live on A alone (its 20,000 m² of floor
    area hold them, at 20 m² each: all near S1), as of 2024 its 1,200 on A and B (half near)."""
    store_dated(
        city.engine,
        "houses",
        ["buildings"],
        [("B", box(750, 450, 100), {"building": "yes", "height": 6.0, "built": "2022-05-01"})],
    )
    assert access(city, settings, year="2020")["west"]["within"]["300"] == 1.0
    assert access(city, settings, year="2024")["west"]["within"]["300"] == 0.5
    assert access(city, settings, year="2024")[""]["as_of"]["inputs"]["buildings"] == {"historic": True}
