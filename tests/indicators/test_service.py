"""The traffic lights, and the indicators of the synthetic city computed, kept and computed again
when their data changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from tests.districts.conftest import point, store, store_dated
from urbantwin.access.gate import Caller
from urbantwin.indicators.registry import Target
from urbantwin.indicators.service import Indicators, assess
from urbantwin.store.indicators_schema import indicators

AT_MOST_40 = Target(40.0, 2030, "at_most", "limit")


def test_a_met_target_is_green() -> None:
    light = assess({2020: 50.0, 2024: 38.0}, AT_MOST_40)
    assert light.light == "green" and light.reason["en"] == "met in 2024"
    assert light.progress == pytest.approx(1.2)  # (38 - 50) / (40 - 50)


def test_on_course_is_amber_off_course_red() -> None:
    # 50 → 46 in four years: −1 a year, 40 reached in 2030
    amber = assess({2020: 50.0, 2024: 46.0}, AT_MOST_40, "µg/m³")
    assert amber.light == "amber" and amber.projected == pytest.approx(40.0)
    assert amber.reason["en"].endswith("(40 µg/m³ in 6 years)")
    assert amber.reason["de"].endswith("(40 µg/m³ in 6 Jahren)")
    # 50 → 48: −0.5 a year, 45 in 2030
    red = assess({2020: 50.0, 2024: 48.0}, AT_MOST_40)
    assert red.light == "red" and red.projected == pytest.approx(45.0)


def test_missed_one_value_and_none() -> None:
    assert assess({2031: 41.0}, AT_MOST_40).light == "red"
    single = assess({2029: 41.0}, AT_MOST_40)
    assert single.light == "amber" and single.reason["de"].startswith("noch nicht erreicht, noch 1 Jahr;")
    assert assess({}, AT_MOST_40).light == "grey"


def test_the_baseline_year_counts_progress() -> None:
    target = Target(10.0, 2030, "at_least", "plan", baseline_year=2020)
    light = assess({2010: 0.0, 2020: 4.0, 2024: 7.0}, target)
    assert light.progress == pytest.approx(0.5)  # (7 − 4) / (10 − 4)


values = st.dictionaries(
    st.integers(2000, 2040), st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=10
)


@given(values, st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["at_most", "at_least"]))
def test_green_exactly_when_the_newest_value_meets_the_target(
    series: dict[int, float], level: float, direction: str
) -> None:
    target = Target(level, 2030, direction, "plan")
    newest = series[max(series)]
    meets = newest <= level if direction == "at_most" else newest >= level
    light = assess(series, target)
    assert (light.light == "green") == meets
    assert light.light in ("green", "amber", "red")


def test_the_synthetic_city_s_indicators(goals: Indicators) -> None:
    listing = goals.listing(Caller.system())
    by_id = {i["id"]: i for i in listing["indicators"]}
    assert list(by_id) == ["charging", "growth", "access", "satisfaction"]
    # two charging points, 1,200 + 1,800 residents in 2024
    charging = by_id["charging"]
    assert charging["values"][0]["year"] == 2024
    assert charging["values"][0]["value"] == pytest.approx(2 / 3000 * 1000)
    assert charging["targets"][0]["light"] == "amber"
    # 3,000 residents in 2020 and in 2024
    assert [(v["year"], v["value"]) for v in by_id["growth"]["values"]] == [(2020, 0.0), (2024, 0.0)]
    assert 0 < by_id["access"]["values"][0]["value"] <= 100
    assert by_id["satisfaction"]["values"] == [] and by_id["satisfaction"]["targets"][0]["light"] == "grey"


def test_computed_again_when_the_data_changes_only(goals: Indicators) -> None:
    goals.listing(Caller.system())
    assert goals.refresh() == []  # nothing changed: nothing computed
    with goals.engine.connect() as connection:
        before = connection.execute(select(indicators.c.computed).where(indicators.c.id == "growth")).scalar()
    store(
        goals.engine,
        "chargers",
        ["charging"],
        [("c1", point(100, 100), {}), ("c2", point(1900, 900), {}), ("c3", point(500, 500), {})],
    )
    charging = goals.one(Caller.system(), "charging")
    assert charging["values"][0]["value"] == pytest.approx(1.0)  # three per 3,000 residents
    assert charging["targets"][0]["light"] == "green"
    with goals.engine.connect() as connection:
        after = connection.execute(select(indicators.c.computed).where(indicators.c.id == "growth")).scalar()
    assert after is not None and before is not None and after >= before


def test_a_ratio_of_a_layer_with_history_is_a_series(goals: Indicators) -> None:
    """The west's charging point commissioned in March 2022 (the east's has no date): as of 2020 one
    point per 3,000 residents, as of 2024 two; the trend (+0.083 a year) reaches 1.0 by 2030: amber.
    Without any date in the data the indicator has the newest year only (test above)."""
    store_dated(
        goals.engine,
        "chargers",
        ["charging"],
        [("c1", point(100, 100), {"built": "2022-03-01"}), ("c2", point(1900, 900), {})],
    )
    charging = goals.one(Caller.system(), "charging")
    assert [(v["year"], round(v["value"], 4)) for v in charging["values"]] == [(2020, 0.3333), (2024, 0.6667)]
    assert charging["targets"][0]["light"] == "amber"
    assert any("valid at the end of each year" in note["en"] for note in charging["notes"])
