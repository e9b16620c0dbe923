"""Small districts for the energy tests: hand-made plants and in-memory buildings near Leipzig."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import shapely

from urbantwin.demo import ENERGY_SCENARIOS
from urbantwin.energy.components import Plant, Sessions
from urbantwin.energy.model import BuildingRecord
from urbantwin.energy.scenario import Library
from urbantwin.energy.site import Site
from urbantwin.settings import Settings

#: A point in Plagwitz (lon, lat); the test footprints are laid out east of it.
ORIGIN = (12.3330, 51.3270)
#: Degrees per metre at Leipzig's latitude (enough for footprints of a few tens of metres).
DEG_PER_M_LAT = 1 / 111_200
DEG_PER_M_LON = 1 / 69_500
#: Where the test quarter lies, as a city profile would give it (Saxony's holidays).
SITE = Site(51.34, 12.37, 113.0, "DE-SN", "Europe/Berlin")
#: The demo's energy quarter (its scenarios on four Ortsteile), which `urbantwin demo` offers.
DEMO_QUARTER = Library.at(ENERGY_SCENARIOS)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The energy tests' app offers the demo's scenarios, as `urbantwin demo` sets it up."""
    return settings.with_overrides(energy_scenarios=str(ENERGY_SCENARIOS))


def rectangle(x_m: float, y_m: float, width_m: float, depth_m: float) -> shapely.Polygon:
    """A footprint `width` (east-west) × `depth` (north-south) metres, south-west corner at (x, y) m."""
    x0 = ORIGIN[0] + x_m * DEG_PER_M_LON
    y0 = ORIGIN[1] + y_m * DEG_PER_M_LAT
    return shapely.box(x0, y0, x0 + width_m * DEG_PER_M_LON, y0 + depth_m * DEG_PER_M_LAT)


@pytest.fixture
def records() -> list[BuildingRecord]:
    """Six buildings of a small Leipzig block: apartments, a shop, a house, a garage, an office."""

    def record(key: str, x: float, y: float, w: float, d: float, **tags: Any) -> BuildingRecord:
        return BuildingRecord(key, tags, rectangle(x, y, w, d))

    return [
        record("a1", 0, 0, 40, 14, building="apartments", **{"building:levels": "4", "roof:levels": "1"}),
        record("a2", 40, 0, 30, 14, building="apartments", **{"building:levels": "5"}, start_date="1996"),
        record("y1", 70, 0, 20, 14, building="yes", **{"addr:housenumber": "12"}),
        record("h1", 0, 60, 10, 9, building="house"),
        record("g1", 20, 60, 6, 3, building="garage"),
        record("o1", 0, 120, 30, 20, building="office", height="12", **{"roof:shape": "flat"}),
    ]


def make_plant(
    load: list[list[float]],
    pv: list[list[float]],
    battery_kwh: list[float] | None = None,
    battery_step_kwh: list[float] | None = None,
    heat: list[list[float]] | None = None,
    round_trip: float = 1.0,
    soc: tuple[float, float] = (0.0, 1.0),
    co2: float = 0.38,
) -> Plant:
    """A plant whose per-step load, PV and heat are given directly: buildings × steps [kWh per step].

    Each building gets its own electricity profile (so `load` is reproduced exactly), one PV profile of
    1 kWp each, and heat as space heating with its own shape.
    """
    load_a = np.asarray(load, dtype=float)
    pv_a = np.asarray(pv, dtype=float)
    n, steps = load_a.shape
    heat_a = np.zeros((n, steps)) if heat is None else np.asarray(heat, dtype=float)
    annual = load_a.sum(axis=1)
    profiles = np.where(annual[:, None] > 0, load_a / np.where(annual[:, None] > 0, annual[:, None], 1), 0)
    heat_total = heat_a.sum()
    shape = heat_a.sum(axis=0) / heat_total if heat_total else np.full(steps, 1 / steps)
    eta = float(np.sqrt(round_trip))
    battery = np.asarray(battery_kwh if battery_kwh is not None else [0.0] * n, dtype=float)
    return Plant(
        keys=[f"b{i}" for i in range(n)],
        steps=steps,
        electricity_kwh=annual,
        profile=np.arange(n),
        profiles=profiles,
        pv_kwp=np.ones(n),
        pv_plane=np.arange(n),
        pv_profiles=pv_a,
        space_heat_kwh=heat_a.sum(axis=1),
        hot_water_kwh=np.zeros(n),
        heat_shape=shape,
        hot_water_shape=np.full(steps, 1 / steps),
        boiler_efficiency=0.9,
        heat_pump=np.zeros(n, dtype=bool),
        hp_max_kwh=np.zeros(n),
        storage_kwh=np.zeros(n),
        storage_loss=0.0,
        floor_heating=np.zeros(n, dtype=bool),
        cop_space=np.full((2, steps), 3.0),
        cop_hot_water=np.full(steps, 2.5),
        battery_kwh=battery,
        battery_step_kwh=np.asarray(
            battery_step_kwh if battery_step_kwh is not None else battery, dtype=float
        ),
        eta_charge=eta,
        eta_discharge=eta,
        soc_min=soc[0],
        soc_max=soc[1],
        quarter_kwh=0.0,
        quarter_step_kwh=0.0,
        quarter_eta_charge=1.0,
        quarter_eta_discharge=1.0,
        ev_owner=np.array([], dtype=int),
        ev_step_kwh=np.array([]),
        sessions=Sessions(np.array([], int), np.array([], int), np.array([], int), np.array([])),
        co2_kg_per_kwh=np.full(steps, co2),
        import_price=np.full(steps, 0.40),
        export_price=np.full(steps, 0.08),
        wear_cost=0.0,
    )


@pytest.fixture
def plant_factory() -> Callable[..., Plant]:
    return make_plant
