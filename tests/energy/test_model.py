"""The district model: what the OSM tags give, what is assumed, and how it is labelled."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import Engine

from tests.energy.conftest import rectangle
from tests.energy.test_cli import load_small_quarter
from urbantwin.city_profile import parse_profile
from urbantwin.energy import loads, model
from urbantwin.energy.model import BuildingRecord
from urbantwin.energy.scenario import BuildingParams, Scenario
from urbantwin.energy.weather import region4


def test_use_levels_age_area_and_roof(records) -> None:  # noqa: ANN001
    b = model.describe(records, BuildingParams(calibrate_to_residents=False))
    i = {key: n for n, key in enumerate(b.keys)}
    # Uses from the OSM tag; an untyped building with an address is assumed residential (labelled).
    assert [b.use[i[k]] for k in ("a1", "y1", "h1", "g1", "o1")] == [
        "residential",
        "residential",
        "house",
        "ancillary",
        "commercial",
    ]
    assert b.use_source[i["a1"]] == "osm:building=apartments"
    assert b.use_source[i["y1"]].startswith("assumed:")
    # Levels: tagged (+ half a roof storey), from the height, or assumed.
    assert b.levels[i["a1"]] == pytest.approx(4.5)
    assert b.levels[i["o1"]] == 4 and b.levels_source[i["o1"]].startswith("derived: height")
    assert b.levels_source[i["y1"]].startswith("assumed:")
    # Footprint in m² (ETRS89/UTM 33N) and heated area A_N = 0.32 × footprint × levels × 3 m.
    assert b.footprint_m2[i["a1"]] == pytest.approx(40 * 14, rel=0.02)
    assert b.heated_area_m2[i["a1"]] == pytest.approx(0.32 * b.footprint_m2[i["a1"]] * 4.5 * 3.0)
    assert b.heated_area_m2[i["g1"]] == 0
    # Age class from start_date, else assumed by use.
    assert (b.year[i["a2"]], b.age_class[i["a2"]], b.age_source[i["a2"]]) == (1996, "DE.09", "osm:start_date")
    assert b.age_class[i["a1"]] == "DE.02" and b.age_source[i["a1"]].startswith("assumed:")
    # Size class: 5 levels make an apartment block.
    assert b.size_class[i["a2"]] == "AB" and b.size_class[i["a1"]] == "MFH" and b.size_class[i["h1"]] == "SFH"
    # Roofs: flat as tagged (area = footprint), else pitched (assumed) with planes of footprint/2/cos 35°.
    assert b.roof_type[i["o1"]] == "flat" and b.roof_area_m2[i["o1"]] == pytest.approx(
        b.footprint_m2[i["o1"]]
    )
    assert b.roof_type[i["a1"]] == "pitched" and b.roof_source[i["a1"]].startswith("assumed:")
    assert b.roof_area_m2[i["a1"]] == pytest.approx(b.footprint_m2[i["a1"]] / 0.819152, rel=1e-4)


def test_the_sunnier_plane_follows_the_footprint() -> None:
    long_east_west = BuildingRecord("ew", {"building": "apartments"}, rectangle(0, 0, 40, 10))
    long_north_south = BuildingRecord("ns", {"building": "apartments"}, rectangle(100, 0, 10, 40))
    b = model.describe([long_east_west, long_north_south])
    assert b.pv_azimuth[0] == 180.0  # ridge east-west: one plane faces south
    assert b.pv_azimuth[1] in (90.0, 270.0)  # ridge north-south: east or west


def test_touching_footprints_form_a_block(records) -> None:  # noqa: ANN001
    b = model.describe(records)
    block = dict(zip(b.keys, b.block, strict=True))
    assert block["a1"] == block["a2"] == block["y1"]  # a closed row
    assert len({block["a1"], block["h1"], block["o1"]}) == 3


def test_the_area_and_its_residents_are_read_as_the_city_profile_says(engine: Engine) -> None:
    """Another city's districts: names in `STT_NAME`, residents in `population_<year>` (the newest)."""
    load_small_quarter(engine)
    area = Scenario().with_overrides({"scenario.area": ["testviertel"]})
    records = model.read_buildings(engine, area)
    assert sorted(r.key for r in records) == ["1", "2", "3", "4", "5", "6"]
    assert {r.properties[model.DISTRICT] for r in records} == {"Testviertel"}
    assert {r.properties[model.RESIDENTS] for r in records} == {120}  # 2024's, not 2023's
    assert len(model.read_buildings(engine, Scenario())) == 7  # no area: every building
    with pytest.raises(ValueError, match="no district named atlantis in collection 'stadtteile'"):
        model.read_buildings(engine, Scenario().with_overrides({"scenario.area": ["Atlantis"]}))
    nameless = parse_profile({"name": "X"})
    with pytest.raises(ValueError, match="the city profile names no districts collection"):
        model.read_buildings(engine, area, nameless)


def test_footprints_are_measured_in_the_utm_zone_they_lie_in() -> None:
    """A footprint in the west of Germany measures its true area, as one in the east does (a fixed
    zone 33 would enlarge it by about 0.8 %)."""
    geod = Geod(ellps="GRS80")
    for lon, lat, crs in ((6.95, 50.94, "EPSG:25832"), (12.37, 51.34, "EPSG:25833")):
        square = shapely.box(lon, lat, lon + 0.002, lat + 0.001)
        described = model.describe([BuildingRecord("s", {"building": "office"}, square)])
        true_area = abs(geod.geometry_area_perimeter(square)[0])
        assert model.metric_crs(lon, lat) == crs
        assert described.footprint_m2[0] == pytest.approx(true_area, rel=1e-3)
    assert model.metric_crs(-74.0, 40.7) == "EPSG:32618" and model.metric_crs(151.2, -33.9) == "EPSG:32756"


def test_dwellings_are_calibrated_to_the_residents() -> None:
    tags = {"building": "apartments", "building:levels": "4", model.DISTRICT: "X", model.RESIDENTS: 180}
    records = [BuildingRecord(k, dict(tags), rectangle(50 * n, 0, 30, 12)) for n, k in enumerate("abc")]
    b = model.describe(records)
    assert b.dwellings.sum() == pytest.approx(180 / 1.8)
    assert b.dwellings_source[0].startswith("derived: calibrated to the residents of X")
    raw = model.describe(records, BuildingParams(calibrate_to_residents=False))
    assert raw.dwellings.sum() != pytest.approx(100)


def test_demand_from_tabula_and_bdew(records) -> None:  # noqa: ANN001
    scenario = Scenario()
    b = model.describe(records, scenario.buildings)
    need = model.demand(b, scenario, loads.heating_season(region4()))
    i = {key: n for n, key in enumerate(b.keys)}
    a1 = i["a1"]
    assert need.typology[a1].startswith("DE.N.MFH.02.Gen")
    per_m2 = need.space_heat_kwh[a1] / b.heated_area_m2[a1]
    assert 20 < per_m2 < 200
    assert need.electricity_kwh[a1] == pytest.approx(b.dwellings[a1] * 2000.0)
    assert model.PROFILES[need.profile[a1]] == "H25" and model.PROFILES[need.profile[i["o1"]]] == "G25"
    assert need.space_heat_kwh[i["g1"]] == 0 and need.electricity_kwh[i["g1"]] == 0
    assert need.typology[i["o1"]].startswith("assumed:")
    # The refurbishment draw is stable: the same seed refurbishes the same buildings.
    again = model.demand(b, scenario, loads.heating_season(region4()))
    assert (again.variant == need.variant).all()
    refurbished = model.demand(
        b,
        scenario.with_overrides(
            {"buildings.advanced_refurbished_share": 1.0, "buildings.refurbished_share": 0.0}
        ),
        loads.heating_season(region4()),
    )
    assert refurbished.space_heat_kwh.sum() < need.space_heat_kwh.sum()
