"""District profiles of the synthetic city (conftest.py), every figure computed by hand."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.districts.conftest import PROFILE, City, point, store_dated
from urbantwin.access.gate import Access, Caller
from urbantwin.city_profile import parse_profile
from urbantwin.districts.service import DistrictProfiles
from urbantwin.errors import BadRequest, NotFound
from urbantwin.settings import Settings


def service(engine: Engine, settings: Settings) -> DistrictProfiles:
    return DistrictProfiles(engine, settings, Access.of(engine, settings), parse_profile(PROFILE))


def profiles(city: City, settings: Settings) -> dict[str, dict[str, Any]]:
    result = service(city.engine, settings).profiles(Caller.system(), "quarters")
    return {document["id"]: document for document in result.documents}


def test_population_density_and_trend(city: City, settings: Settings) -> None:
    found = profiles(city, settings)
    west, east = found["west"], found["east"]
    assert west["name"] == "West"
    assert west["area_km2"] == pytest.approx(1.0, abs=1e-3)
    assert west["population"]["latest"] == 1200 and west["population"]["year"] == 2024
    assert west["population"]["years"] == {"2020": 1000, "2024": 1200}
    assert west["density_per_km2"] == pytest.approx(1200, rel=1e-3)
    # +20 % in four years: (1.2 ** (1/4) − 1) = 4.66 % a year, growing
    assert west["population"]["trend"]["change_percent"] == 20.0
    assert west["population"]["trend"]["annual_percent"] == pytest.approx(4.66, abs=0.01)
    assert west["population"]["trend"]["direction"] == "growing"
    assert east["population"]["trend"]["direction"] == "shrinking"
    assert east["population"]["trend"]["label"] == {"en": "shrinking", "de": "schrumpfend"}


def test_buildings_and_floor_area(city: City, settings: Settings) -> None:
    """A: 100 m × 100 m × 2 levels; B: 100 m × 100 m, 6 m high = 2 storeys; C: 10 m × 10 m, storeys
    unknown. The 3D copy of A (keyword 3D) is not counted again."""
    found = profiles(city, settings)
    buildings = found["west"]["figures"]["buildings"]
    assert buildings["count"] == 3
    assert buildings["collections"] == ["houses"]
    assert buildings["footprint_m2"] == pytest.approx(20_100, rel=1e-3)
    assert buildings["floor_area_m2"] == pytest.approx(40_000, rel=1e-3)
    assert buildings["floor_area_unknown"] == 1
    assert buildings["floor_area_estimated"] == 0  # no height of theirs is an estimate
    # the east lies outside the buildings' data: no count rather than a wrong zero
    assert found["east"]["figures"]["buildings"]["count"] is None
    assert found["east"]["figures"]["buildings"]["coverage"] == 0.0
    assert found["east"]["figures"]["buildings"]["note"]["en"].endswith("covers 0 % of the district's area")


def test_trees_charging_wlan_and_stops(city: City, settings: Settings) -> None:
    found = profiles(city, settings)
    west, east = found["west"]["figures"], found["east"]["figures"]
    assert (west["trees"]["count"], east["trees"]["count"]) == (3, 2)
    assert west["trees"]["per_inhabitant"] == pytest.approx(3 / 1200, abs=1e-4)
    assert west["trees"]["coverage"] == pytest.approx(1.0, abs=0.01)
    assert west["charging"]["per_1000_inhabitants"] == pytest.approx(1000 / 1200, abs=1e-3)
    assert east["charging"]["per_1000_inhabitants"] == pytest.approx(1000 / 1800, abs=1e-3)
    # the two WLAN sites span a line in the east: the west lies outside what the data covers
    assert (west["wlan"]["count"], east["wlan"]["count"]) == (None, 2)
    # S1 (in the west) has 168 departures between 06:00 and 20:00: 12 an hour
    assert west["stops"]["count"] == 1 and east["stops"]["count"] == 0
    assert west["stops"]["departures_per_hour"] == 12.0
    assert west["stops"]["collections"] == ["tram-stops"]


def test_every_figure_says_when_its_data_changed(city: City, settings: Settings) -> None:
    west = profiles(city, settings)["west"]
    assert west["population"]["updated"].endswith("Z")
    for figure in west["figures"].values():
        assert figure["updated"].endswith("Z")


def test_compare_gives_the_differences(city: City, settings: Settings) -> None:
    compared = service(city.engine, settings).compare(Caller.system(), "quarters", "west", "east")
    assert compared["a"]["id"] == "west" and compared["b"]["id"] == "east"
    assert compared["difference"]["population"] == 600
    assert compared["difference"]["trees"] == -1


def test_bad_requests_name_the_problem(city: City, settings: Settings) -> None:
    profiles_ = service(city.engine, settings)
    with pytest.raises(NotFound, match="no district collection 'houses'"):
        profiles_.profiles(Caller.system(), "houses")
    with pytest.raises(NotFound, match="no district 'north'"):
        profiles_.profile(Caller.system(), "quarters", "north")
    with pytest.raises(BadRequest, match="a and b"):
        profiles_.compare(Caller.system(), "quarters", "west", None)
    with pytest.raises(BadRequest, match="min_departures"):
        profiles_.transit_access(Caller.system(), "quarters", "many", None)
    with pytest.raises(BadRequest, match="detour"):
        profiles_.transit_access(Caller.system(), "quarters", None, "0.5")


def test_layers_are_configuration(city: City, settings: Settings) -> None:
    """Which collections count is said by keywords in the settings, not by the code."""
    import dataclasses

    swapped = dataclasses.replace(settings, district_layers=("trees=WLAN",))
    found = profiles(city, swapped)
    assert found["east"]["figures"]["trees"]["count"] == 2  # the hotspots, counted as trees
    assert "buildings" not in found["east"]["figures"]
    with pytest.raises(BadRequest, match="district_layers"):
        profiles(city, dataclasses.replace(settings, district_layers=("lamps=lamps",)))


def test_counted_layers_are_kept_until_a_collection_changes(city: City, settings: Settings) -> None:
    from tests.conftest import statements
    from tests.districts.conftest import point, store

    profiles_ = service(city.engine, settings)
    first = profiles_.profile(Caller.system(), "quarters", "west")
    with statements(city.engine) as seen:
        again = profiles_.profile(Caller.system(), "quarters", "west")
    assert again["figures"] == first["figures"]
    assert not [s for s in seen if "features.collection_id IN" in s], "the layers were read again"
    # a tree planted in the west: the trees collection's version changes, the west counts four
    store(city.engine, "trees", ["trees"], [("t6", point(300, 300), {})])
    assert profiles_.profile(Caller.system(), "quarters", "west")["figures"]["trees"]["count"] == 4


def test_departures_of_a_feed_stored_before_the_station_fix(city: City, settings: Settings) -> None:
    """Imports before gtfs_import stored "no station" as NULL kept the text 'NaN' on PostgreSQL."""
    from sqlalchemy import update

    from urbantwin.store.transit_schema import transit_stop_departures

    with city.engine.begin() as connection:
        connection.execute(update(transit_stop_departures).values(station_id="NaN"))
    assert profiles(city, settings)["west"]["figures"]["stops"]["departures_per_hour"] == 12.0


def test_a_profile_as_of_a_year(city: City, settings: Settings) -> None:
    """Charging point c1 (west) commissioned in March 2022: as of 2020 the west has none, as of 2024
    one, per 1,000 of its 1,200 residents 0.833; the residents, density and figures per resident are
    those of the year asked; the street trees have no history, the feed runs in 2026 only."""
    store_dated(
        city.engine,
        "chargers",
        ["charging"],
        [("c1", point(100, 100), {"built": "2022-03-01"}), ("c2", point(1900, 900), {})],
    )
    profiles_of = service(city.engine, settings)

    def west(year: str | None) -> tuple[dict[str, Any], Any]:
        result = profiles_of.profiles(Caller.system(), "quarters", year=year)
        return next(d for d in result.documents if d["id"] == "west"), result

    before, result = west("2020")
    assert before["figures"]["charging"]["count"] == 0
    assert before["figures"]["charging"]["per_1000_inhabitants"] == 0.0
    assert before["population"]["value"] == 1000 and before["population"]["value_year"] == 2020
    assert before["population"]["latest"] == 1200  # the series' latest stays as it is
    assert before["density_per_km2"] == pytest.approx(1000, rel=1e-3)
    assert before["figures"]["trees"]["per_inhabitant"] == pytest.approx(3 / 1000)
    assert result.as_of["inputs"]["charging"] == {"historic": True}
    assert result.as_of["inputs"]["trees"] == {"historic": False}
    assert result.as_of["inputs"]["timetables"]["historic"] is False
    assert result.document()["as_of"]["year"] == 2020
    after, _ = west("2024")
    assert after["figures"]["charging"]["count"] == 1
    assert after["figures"]["charging"]["per_1000_inhabitants"] == pytest.approx(0.833, abs=1e-3)
    # the east's charging point has no validity: counted in every year
    assert west(None)[1].as_of is None
    one = profiles_of.profile(Caller.system(), "quarters", "east", year="2020")
    assert one["figures"]["charging"]["count"] == 1 and one["as_of"]["year"] == 2020
    compared = profiles_of.compare(Caller.system(), "quarters", "west", "east", year="2020")
    assert compared["difference"]["population"] == 1000  # 2,000 − 1,000 in 2020
    with pytest.raises(BadRequest, match="year: 2019 is outside the data's range, 2020 to 2024"):
        profiles_of.profiles(Caller.system(), "quarters", year="2019")


def test_the_year_is_a_parameter_of_the_api(city: City, client: TestClient) -> None:
    answer = client.get("/api/districts/quarters/west", params={"year": "2020"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["population"]["value"] == 1000 and answer.json()["as_of"]["year"] == 2020
    csv = client.get("/api/districts/quarters", params={"year": "2020", "f": "csv"})
    assert csv.status_code == 200 and "population_year" in csv.text.splitlines()[0]
    for path in ("/api/districts/quarters", "/api/districts/quarters/access", "/api/districts/quarters/west"):
        refused = client.get(path, params={"year": "last"})
        assert refused.status_code == 400 and "year: expected a year from 2020 to 2024" in refused.text
