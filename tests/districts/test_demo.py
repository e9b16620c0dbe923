"""The profiles and access figures of the demo's real data (Leipzig's 63 Ortsteile and 10 Stadtbezirke),
checked against what the sources say themselves: the districts' official areas, the population file,
the tree register's own district numbers."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DemoStore
from urbantwin.access.gate import Access, Caller
from urbantwin.districts.service import DistrictProfiles
from urbantwin.settings import Settings
from urbantwin.store.city import read_profile
from urbantwin.store.engine import make_engine

DATA = Path(__file__).parents[2] / "src" / "urbantwin" / "demo" / "data"

pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture(scope="module")
def demo(demo_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> DistrictProfiles:
    url = demo_store.copy(tmp_path_factory.mktemp("districts-demo"))
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    return DistrictProfiles(engine, settings, Access.of(engine, settings), read_profile(engine))


@pytest.fixture(scope="module")
def ortsteile(demo: DistrictProfiles) -> dict[str, dict[str, Any]]:
    result = demo.profiles(Caller.system(), "ortsteile")
    return {document["id"]: document for document in result.documents}


def _source(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_every_ortsteil_with_its_official_area_and_residents(
    demo: DistrictProfiles, ortsteile: dict[str, dict[str, Any]]
) -> None:
    assert len(ortsteile) == 63
    result = demo.profiles(Caller.system(), "ortsteile")
    official = {
        str(f["properties"]["ot_nr"]): f["properties"]["area_km2"]
        for f in _source("leipzig_ortsteile.geojson")["features"]
    }
    for document, properties in zip(result.documents, result.districts.properties, strict=True):
        area = official.get(str(properties["ot_nr"]))
        if area:  # the area in the city's CRS (EPSG:25833) agrees with the official one
            assert document["area_km2"] == pytest.approx(area, rel=0.02), document["name"]
    with (DATA / "leipzig_einwohner_2000-2024.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["ebene"] == "ortsteil" and r["jahr"] == "2024"]
    assert sum(d["population"]["latest"] for d in ortsteile.values()) == sum(
        int(r["einwohner"]) for r in rows
    )
    assert all(d["population"]["year"] == 2024 and d["density_per_km2"] > 0 for d in ortsteile.values())
    assert all(len(d["population"]["years"]) == 25 for d in ortsteile.values())


def test_trees_counted_in_space_agree_with_the_register_s_districts(
    ortsteile: dict[str, dict[str, Any]],
) -> None:
    """The register names each tree's Ortsteil; counting the trees inside the polygons gives nearly
    the same (a tree on a boundary street may lie on the other side of the line)."""
    register = Counter(str(f["properties"]["ot_nr"]) for f in _source(STREET_TREES)["features"])
    by_number = {d["name"]: d for d in ortsteile.values()}
    numbers = {
        f["properties"]["name"]: str(f["properties"]["ot_nr"])
        for f in _source("leipzig_ortsteile.geojson")["features"]
    }
    compared = 0
    for name, document in by_number.items():
        trees = document["figures"]["trees"]
        if register.get(numbers[name], 0) > 100:
            assert trees["count"] == pytest.approx(register[numbers[name]], rel=0.15), name
            compared += 1
    assert compared == 11
    total = sum((d["figures"]["trees"]["count"] or 0) for d in ortsteile.values())
    assert total == pytest.approx(sum(register.values()), rel=0.01)


STREET_TREES = "street_trees_west_and_zentrum_2024-06-07.geojson"


def test_buildings_where_the_demo_has_them(ortsteile: dict[str, dict[str, Any]]) -> None:
    with_buildings = [d for d in ortsteile.values() if (d["figures"]["buildings"]["count"] or 0) > 500]
    assert len(with_buildings) == 4  # the four Ortsteile of the OSM extracts
    for document in with_buildings:
        figure = document["figures"]["buildings"]
        # OSM gives the levels or the height of some of them; the demo's import estimates the others'
        # heights (ingest/heights.py): the floor area counts all, and says how many rest on an estimate
        assert figure["floor_area_m2"] > 0 and figure["footprint_m2"] > 0
        assert figure["floor_area_unknown"] == 0
        assert 0 < figure["floor_area_estimated"] < figure["count"]
        assert figure["collections"] == ["buildings"]  # the LoD1 copy (keyword 3D) is not counted again


def test_charging_points_wlan_and_stops(ortsteile: dict[str, dict[str, Any]]) -> None:
    charging = sum(d["figures"]["charging"]["count"] or 0 for d in ortsteile.values())
    assert 60 <= charging <= 77  # the register's 77 stations, less those outside the city
    assert sum(d["figures"]["wlan"]["count"] or 0 for d in ortsteile.values()) > 100
    # the stops file names the Ortsteil of each stop inside the city: the same stops per Ortsteil
    named = Counter(
        str(f["properties"]["ot_nr"])
        for f in _source("lvb_stops_2018.geojson")["features"]
        if f["properties"].get("ot_nr")
    )
    counted = {key: d["figures"]["stops"]["count"] for key, d in ortsteile.items()}
    assert sum(counted.values()) == sum(named.values())  # the Plzeň feed's stops lie elsewhere
    assert sum(counted[key] == named.get(key, 0) for key in counted) >= 60


def test_access_to_stops_in_the_ortsteile(demo: DistrictProfiles) -> None:
    """Without a GTFS feed of the city, every stop counts (min_departures=0): the centre is served
    throughout; where buildings exist, residents are placed on them."""
    result = demo.transit_access(Caller.system(), "ortsteile", "0", None)
    rows = {row["name"]: row for row in result["districts"]}
    assert len(rows) == 63
    methods = Counter(row["method"] for row in rows.values())
    assert methods["buildings"] >= 3 and methods["area"] >= 55
    assert rows["Zentrum"]["within"]["500"] == pytest.approx(1.0, abs=0.02)
    shares = [row["within"]["500"] for row in rows.values()]
    assert all(0 <= s <= 1 for s in shares) and sum(shares) / len(shares) > 0.6
    assert all(row["within"]["300"] <= row["within"]["500"] for row in rows.values())


def test_stadtbezirke_residents_are_placed_on_the_ortsteile(demo: DistrictProfiles) -> None:
    result = demo.transit_access(Caller.system(), "stadtbezirke", "0", None)
    assert result["placed_on"] == "ortsteile" and len(result["districts"]) == 10
    assert {row["method"] for row in result["districts"]} <= {"area", "mixed", "buildings"}
    assert any(row["method"] == "mixed" for row in result["districts"])


def test_no_departures_where_no_feed_has_stops(ortsteile: dict[str, dict[str, Any]]) -> None:
    """The demo's only feed is Plzeň's: Leipzig's stops have no timetable, so no departures (not 0)."""
    assert all(d["figures"]["stops"]["departures_per_hour"] is None for d in ortsteile.values())


def test_sensor_means_of_the_air_quality_stations(ortsteile: dict[str, dict[str, Any]]) -> None:
    """The demo's LfULG stations measure NO2 in a few Ortsteile: those have a mean, the rest none."""
    no2 = [
        next(m for m in d["sensors"] if m["observedProperty"] == "Nitrogen dioxide (NO2)")
        for d in ortsteile.values()
    ]
    measured = [m for m in no2 if m["sensors"]]
    assert 1 <= len(measured) < len(no2)
    assert all(m["mean"] is not None and m["mean"] >= 0 for m in measured)
    assert all(m["mean"] is None for m in no2 if not m["sensors"])
    assert measured[0]["statistic"]["de"] == "Mittel der jeweils neuesten Werte der Sensoren im Gebiet"
