"""The grid's decarbonisation path and the year in which a scenario meets its targets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbantwin.energy import trajectory

#: A quarter's annual district KPIs as `kpi.district` gives them (kWh, kg), with the 2023 grid.
BASELINE = {
    "import_kwh": 100e6,
    "export_kwh": 0.0,
    "pv_kwh": 5e6,
    "ambient_heat_kwh": 0.0,
    "co2_kg": 100e6 * 0.38 + 500e6 * 0.201,
    "renewable_kwh": 5e6 + 100e6 * 0.518,
    "final_energy_kwh": 605e6,
}
#: The same quarter with heat pumps: more electricity, little gas.
HEAT_PUMPS = {
    "import_kwh": 180e6,
    "export_kwh": 10e6,
    "pv_kwh": 60e6,
    "ambient_heat_kwh": 250e6,
    "co2_kg": 180e6 * 0.38 + 50e6 * 0.201,
    "final_energy_kwh": 280e6,
}


def test_the_path_runs_from_todays_mix_to_a_renewable_grid_in_2045() -> None:
    path = trajectory.GERMAN_GRID

    assert min(path) == 2023 and max(path) == 2045 and len(path) == 23
    assert path[2023].co2_g_per_kwh == 380.0 and path[2023].renewable_share == 0.518
    assert path[2030].renewable_share == 0.8
    assert path[2030].co2_g_per_kwh == pytest.approx(380.0 * 0.2 / 0.482, abs=0.1)
    assert path[2045].co2_g_per_kwh == 0.0
    factors = [path[year].co2_g_per_kwh for year in sorted(path)]
    assert factors == sorted(factors, reverse=True)
    assert all(path[year].source for year in path)


def test_a_scenario_that_misses_co2_today_meets_it_once_the_grid_is_clean_enough() -> None:
    result = trajectory.path_of(HEAT_PUMPS, BASELINE, 380.0)

    today = result["years"][0]
    assert today["year"] == 2023
    assert not today["met"]["co2"]
    assert today["met"]["final_energy"] and today["met"]["renewable"]
    year = result["first_year"]["co2"]
    assert year is not None and 2024 <= year <= 2045
    assert result["first_year_all"] == year
    assert result["years"][year - 2023]["changes"]["co2"] <= -0.64
    assert result["years"][year - 2024]["changes"]["co2"] > -0.64
    assert "not by 2045" not in trajectory.table({"heat_pumps": result})


def test_final_energy_does_not_change_with_the_grid() -> None:
    result = trajectory.path_of(BASELINE, BASELINE, 380.0)

    assert {row["changes"]["final_energy"] for row in result["years"]} == {0.0}
    assert result["first_year"]["final_energy"] is None
    assert "not by 2045" in trajectory.table({"baseline": result})


@given(st.integers(min_value=2023, max_value=2045), st.floats(min_value=0, max_value=1e9))
def test_co2_falls_with_the_grid_factor_and_keeps_the_gas(year: int, imports: float) -> None:
    district = dict(HEAT_PUMPS, import_kwh=imports, co2_kg=imports * 0.38 + 7.0)

    kpis = trajectory.kpis_in(district, trajectory.grid_of(year), 380.0)

    assert kpis["co2_kg"] == pytest.approx(imports * trajectory.GERMAN_GRID[year].co2_g_per_kwh / 1000 + 7.0)
    assert kpis["co2_kg"] <= district["co2_kg"] + 1e-6


def test_another_path_is_read_from_a_csv_and_bad_rows_are_named(tmp_path: Path) -> None:
    good = tmp_path / "path.csv"
    good.write_text("year,co2_g_per_kwh,renewable_share\n2030,200,0.7\n2040,50,0.95\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("year,co2\n2030,200\n", encoding="utf-8")

    path = trajectory.read_path(good)

    assert path[2040].co2_g_per_kwh == 50.0 and path[2040].source == "from path.csv"
    with pytest.raises(ValueError, match="line 2: expected the columns"):
        trajectory.read_path(bad)
    with pytest.raises(ValueError, match="outside the grid path"):
        trajectory.grid_of(2050)
