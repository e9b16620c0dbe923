"""What the profiles read: which collections count as what, and the CRS areas are measured in."""

from __future__ import annotations

import pytest

from urbantwin.city_profile import parse_profile
from urbantwin.districts.layers import is_stop_place, metric_crs, parse_rules
from urbantwin.errors import BadRequest


def test_rules_by_keywords() -> None:
    rules = parse_rules(["buildings=buildings !3D", "trees=trees green"])
    assert rules["buildings"].matches(["Buildings", "OSM"])
    assert not rules["buildings"].matches(["buildings", "3d"])
    assert rules["trees"].matches(["green", "TREES", "city"]) and not rules["trees"].matches(["trees"])
    with pytest.raises(BadRequest, match="'trees=!green' names no keyword"):
        parse_rules(["trees=!green"])
    with pytest.raises(BadRequest, match="expected kind=keyword"):
        parse_rules(["trees"])


def test_the_metric_crs_is_the_city_s_own_else_a_utm_zone() -> None:
    own = parse_profile({"name": "A", "crs": ["EPSG:4326", "EPSG:25832"]})
    assert metric_crs(own, 9.0, 50.0).to_epsg() == 25832
    none = parse_profile({"name": "B"})
    assert metric_crs(none, 13.4, 52.5).to_epsg() == 32633
    assert metric_crs(none, -70.6, -33.4).to_epsg() == 32719
    assert metric_crs(none, 0.0, 89.0).to_epsg() == 6933


def test_a_station_counts_once_and_its_platforms_not() -> None:
    assert is_stop_place({"location_type": 1})
    assert is_stop_place({"location_type": 0, "parent_station": None})
    assert not is_stop_place({"location_type": 0, "parent_station": "P"})
    assert not is_stop_place({"location_type": 2})
