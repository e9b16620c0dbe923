"""Control strategies over a year at 15-minute resolution: baseline, rule-based, optimised day-ahead.

One engine runs all three (`engine.py`, with its compiled step in `kernel.py`): it walks the year a
day at a time, and a strategy only says what each device *wants* in a step; the engine clips that to
what the device can do and books every flow, so the energy balance closes in every step. The
optimised strategy's wishes come from the day-ahead planner (`planner.py`).

- **baseline** ("as today"): no control. PV feeds the building's load, the rest is exported; batteries
  idle; heat pumps follow the demand; EVs charge at full power from arrival until full.
- **rule_based** (self-consumption): PV surplus goes first to plugged EVs (which are in any case charged
  just in time to be full at departure), then into the heat pump's thermal storage (heat pump boosted
  by the surplus, stored heat used first), then the home battery; a deficit is drawn from the battery.
  The quarter battery takes the quarter's net surplus and covers its net deficit.
- **optimised**: a day-ahead linear programme per day (HiGHS via highspy) over `horizon_hours` with
  perfect forecasts of load, PV and heat (the TRY), minimising import cost − export revenue +
  `co2_weight` × CO2 + battery wear − the value of the energy left in storage at the horizon; the
  first 24 h are applied, then the next day is planned from the states reached. `exact` mode plans
  every flexible building; `aggregate` plans the quarter as one site (sum of batteries, heat pumps,
  EV flexibility) and shares the plan out (storage targets as a common state of charge, EV energy by
  urgency) — how a quarter of thousands of buildings is planned in seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from urbantwin.energy.components import Plant
from urbantwin.energy.engine import (
    BUILDING_FLOWS,
    HEAT_VALUE_COP,
    QUARTER_FLOWS,
    STRATEGIES,
    WATCH_FLOWS,
    Engine,
    Result,
    Watch,
)
from urbantwin.energy.planner import DayAheadPlanner
from urbantwin.energy.scenario import OptimiserParams

__all__ = [
    "BUILDING_FLOWS",
    "QUARTER_FLOWS",
    "STRATEGIES",
    "WATCH_FLOWS",
    "Result",
    "Watch",
    "objective",
    "simulate",
]


def simulate(
    plant: Plant,
    strategy: str,
    optimiser: OptimiserParams | None = None,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
    watch: Watch | None = None,
) -> Result:
    """Run `strategy` on the plant over its steps (see the module doc); `watch`: groups of buildings
    whose flows are kept at some steps (`engine.Watch`)."""
    engine = Engine(plant)
    if strategy != "optimised":
        return engine.run(strategy, record=record, progress=progress, watch=watch)
    params = optimiser or OptimiserParams()
    mode = params.mode
    if mode == "auto":
        mode = (
            "exact"
            if len(engine.flex) <= params.exact_max_buildings or params.scope == "building"
            else "aggregate"
        )
    planner = DayAheadPlanner(engine, params, mode)
    result = engine.run(strategy, planner=planner, record=record, progress=progress, watch=watch)
    result.lp_seconds = planner.seconds
    result.mode = mode
    return result


def objective(result: Result, weight: float = 0.0, scope: str = "district") -> float:
    """The optimiser's objective on a result: cost + weight × CO2 + wear − value of what is stored.

    Evaluated at the quarter's grid connection (scope district) or summed over the buildings' own
    meters (scope building), with the energy stored at the end valued as the planner values it at
    its horizon (feed-in price × discharge efficiency; heat ÷ COP 3).
    """
    p, s = result.plant, result.series
    price_in = p.import_price + weight * p.co2_kg_per_kwh
    imports, exports = (
        (s["grid_import"], s["grid_export"]) if scope == "district" else (s["import"], s["export"])
    )
    cost = float(price_in @ imports - p.export_price @ exports)
    wear = p.wear_cost * float(
        s["battery_charge"].sum()
        + s["battery_discharge"].sum()
        + s["quarter_charge"].sum()
        + s["quarter_discharge"].sum()
    )
    value = float(p.export_price.mean())
    stored = value * (
        p.eta_discharge * result.final_battery_kwh
        + p.quarter_eta_discharge * result.final_quarter_kwh
        + result.final_storage_kwh / HEAT_VALUE_COP
    )
    return cost + wear - stored
