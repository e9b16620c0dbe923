"""Target-seeking planning: the least-cost portfolio of measures that meets the targets ("what it takes").

The scenarios answer "what does this mix of measures do"; the planner answers the inverse question:
which measures, on which buildings, at what cost, reach given targets (the SPARCS three by default:
CO2 −64 %, renewable energy used +65 %, final energy −53 % against the baseline) within a budget —
or, when no portfolio does, by how much the best one misses each target and which constraint binds.

**Measures** (per building, on top of the baseline scenario's quarter):

- refurbishment of the envelope to TABULA's "usual" or "advanced" level (never below today's state);
- the heat supply: the gas boiler stays, an air-source heat pump (sized as in `components.py`), or a
  district-heating connection in the districts where a network is assumed (`district_heating_areas`);
- PV on the building's usable roof (all of it, as `components.equip` sizes it), with or without a home
  battery (1 kWh/kWp);
- for the quarter: a shared battery of any size up to `quarter_storage_max_kwh`;
- EV smart charging, per building with charging points (all its points controlled or none): a
  controlled point charges from the building's PV surplus first and just in time otherwise (the
  rule-based strategy), one without control at full power from arrival, as today. Its cost is the
  control per point; its effect in the programme is the EV energy the points take from the
  building's own PV surplus (`ev_absorbed`, session by session, before heat pumps and batteries take
  theirs, as the rules order them), which the quarter no longer exports. It is part of the PV
  options (PV × battery × control), so the programme sees that control helps only with PV.

**Method.** A mixed-integer linear programme (HiGHS through highspy) over building archetypes:
every building's options (refurbishment level × heat supply; PV × battery) are computed one by one,
buildings with the same options and a similar size (`SIZE_STEP`) form an archetype, and the
programme chooses how many members of each archetype take each option (integers; `choice_of` gives
the deepest measures to the largest members). The quarter battery is a continuous size.
Per building its annual quantities are computed from the same
model the simulation uses: heat need of each TABULA variant (`model.demand`), heat-pump electricity
from the hourly COP of its heating curve weighted by its heat profile, PV from its plane's profile.
What is not linear in the annual sums — the export of PV surplus at the quarter's connection, what
batteries shift and lose — is linearised: the export as a convex function of the quarter's PV
(tangents of Σ_t max(0, PV × shape_t − load_t) on the baseline's load), the batteries as shifting at
most `battery_cycles` full cycles a year of that export. Targets are rows with a slack each (the miss,
as a share of the baseline's value): the programme minimises the total annual cost (annuities of the
investments + energy bought − feed-in) plus a penalty on the misses that outweighs any portfolio's
cost, so it meets the targets whenever it can and otherwise misses them as little as it can. Its
linear relaxation is solved first; when that is integral (with counts per archetype and a few
dozen coupling rows it mostly is) it is the MILP's optimum, else HiGHS's branch and bound runs.

**Checked by simulation.** The chosen portfolio is built into a plant and simulated for the year at
15-minute steps with the rule-based strategy (the same engine as every scenario). The differences
between simulation and the linear model (export, battery losses, heat-pump electricity with its
storage, ambient heat, the state of the stores at the year's end) are fed back as constants and the
programme is solved again, until the programme's KPIs and the simulation's agree within
`tolerance` (or `max_iterations`). The plan reports both, and their deviation.

Costs are investments with annuities (interest `interest`, service lives per measure); all costs
and effect figures are parameters of `PlanParams` with their sources and the flag `assumed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from urbantwin.city_profile import NO_CITY
from urbantwin.energy import kpi, loads, model, strategies
from urbantwin.energy import run as runs
from urbantwin.energy.components import DT_H, WATER_KWH_PER_L_K, Plant
from urbantwin.energy.planner import quiet_highs
from urbantwin.energy.scenario import Scenario, param, parameters_from, parameters_of
from urbantwin.energy.site import Site
from urbantwin.energy.trajectory import GERMAN_GRID, GridYear, grid_of
from urbantwin.energy.weather import Weather, region4

#: The refurbishment levels of TABULA (variant 1 existing, 2 usual, 3 advanced).
LEVELS = {1: "as is", 2: "usual", 3: "advanced"}
SYSTEMS = ("gas", "heat_pump", "district_heating")
#: The targets' KPIs, as `kpi.district` names them.
TARGET_FIELDS = {"co2": "co2_kg", "renewable": "renewable_kwh", "final_energy": "final_energy_kwh"}


@dataclass(frozen=True)
class PlanParams:
    """What the planner seeks, what the measures cost and what they are assumed to do."""

    targets: dict[str, float] = param(
        dict(kpi.TARGETS),
        "targets as changes against the baseline: co2, renewable, final_energy (any of them)",
        "SPARCS (www.sparcs.info): CO2 −64 %, renewables +65 %, final energy −53 %",
        False,
        whole_table=True,
    )
    budget_eur: float = param(0.0, "investment budget [€]; 0 = no limit", "the caller's", False)
    year: int = param(
        0,
        "the year whose grid (CO2 factor, renewable share) the portfolio runs on; 0: the scenario's",
        "-",
        False,
    )
    district_heating_areas: list[str] = param(
        [], "districts (names in the districts collection) where a heat network is assumed", "the caller's"
    )
    strategy: str = param(
        "rule_based", "the control the portfolio is simulated with (EV smart charging, batteries)", "-", False
    )
    tolerance: float = param(
        0.01, "largest relative difference of programme and simulation the planner accepts", "-", False
    )
    max_iterations: int = param(4, "solves of the programme, each corrected by a simulation", "-", False)
    time_limit_s: float = param(120.0, "time limit of each HiGHS solve [s]", "-", False)
    interest: float = param(0.03, "real interest rate of the annuities", "assumed; VDI 2067-1 style annuity")
    refurbishment_usual_eur_per_m2: float = param(
        180.0,
        "envelope refurbishment from today's state to TABULA 'usual' [€/m² A_N]",
        "assumed; order of IWU (Hinz 2015), Kosten energierelevanter Bau- und Anlagenteile, full costs",
    )
    refurbishment_advanced_eur_per_m2: float = param(
        420.0,
        "envelope refurbishment from today's state to TABULA 'advanced' [€/m² A_N]; from 'usual' the "
        "difference of the two",
        "assumed; order of IWU (Hinz 2015), full costs of deep retrofits",
    )
    refurbishment_life_years: float = param(
        40.0, "service life of the envelope measures", "assumed; VDI 2067-1"
    )
    heat_pump_eur_per_kw: float = param(
        1200.0,
        "air-source heat pump installed, per kW of heat [€/kW]",
        "assumed; order of BEG-funded projects",
    )
    heat_pump_fixed_eur: float = param(6000.0, "per heat pump (hydraulics, electrics) [€]", "assumed")
    heat_pump_life_years: float = param(20.0, "service life of a heat pump", "assumed; VDI 2067-1 (18-20 a)")
    district_heating_connection_eur: float = param(
        10000.0, "district-heating connection and substation per building [€]", "assumed"
    )
    district_heating_eur_per_kw: float = param(
        100.0, "district heating per kW of connection [€/kW]", "assumed"
    )
    district_heating_life_years: float = param(40.0, "service life of a connection", "assumed; VDI 2067-1")
    district_heating_eur_per_kwh: float = param(0.13, "district-heating price [€/kWh]", "assumed")
    district_heating_co2_g_per_kwh: float = param(
        200.0,
        "CO2 of delivered district heat [g/kWh]",
        "assumed; order of AGFW FW 309 factors of German networks",
    )
    district_heating_renewable_share: float = param(0.2, "renewable share of district heat", "assumed")
    pv_eur_per_kwp: float = param(
        1300.0,
        "rooftop PV installed [€/kWp]",
        "Fraunhofer ISE, Aktuelle Fakten zur Photovoltaik in Deutschland (2024): "
        "10-100 kWp ≈ 1,000-1,700 €/kWp",
    )
    pv_life_years: float = param(25.0, "service life of PV", "assumed; module warranties 25 a")
    battery_eur_per_kwh: float = param(
        800.0, "home battery installed [€/kWh]", "assumed; order of 2024 home-storage prices (HTW Berlin)"
    )
    battery_life_years: float = param(15.0, "service life of a battery", "assumed")
    battery_cycles: float = param(
        250.0,
        "full cycles a year a battery shifts at most (the programme's linear battery model)",
        "assumed; HTW Berlin Stromspeicher-Inspektion: home storage ≈ 200-300 cycles/a",
    )
    quarter_storage_eur_per_kwh: float = param(450.0, "quarter battery installed [€/kWh]", "assumed")
    quarter_storage_max_kwh: float = param(
        10000.0, "largest quarter battery the planner may choose [kWh]", "-"
    )
    smart_charging_eur_per_point: float = param(
        300.0, "control of a charging point (smart wallbox, its share of the controller) [€]", "assumed"
    )
    smart_charging_life_years: float = param(10.0, "service life of the control", "assumed")

    def check(self) -> None:
        """Refuse values without meaning, naming them."""
        unknown = set(self.targets) - set(TARGET_FIELDS)
        if unknown:
            raise ValueError(f"unknown target(s) {sorted(unknown)} (known: {', '.join(TARGET_FIELDS)})")
        if not self.targets:
            raise ValueError("no target given")
        for key, value in self.targets.items():
            if not isinstance(value, int | float) or not -1.0 <= value <= 100.0:
                raise ValueError(f"target {key}: {value!r} is not a change between -1 and 100")
        if self.budget_eur < 0:
            raise ValueError("budget_eur must be ≥ 0 (0: no limit)")
        if self.strategy not in ("baseline", "rule_based"):
            raise ValueError("strategy: the planner simulates with baseline or rule_based")
        if not 0.0 < self.tolerance < 1.0:
            raise ValueError("tolerance must lie between 0 and 1")
        if self.max_iterations < 1:
            raise ValueError("max_iterations must be at least 1")

    def parameters(self) -> list[dict[str, Any]]:
        """Every parameter with its value, documentation, source and `assumed` flag."""
        return parameters_of(self)


def annuity(interest: float, years: float) -> float:
    """The annuity factor: the share of an investment paid per year over its life."""
    if interest == 0:
        return 1.0 / years
    return interest / (1.0 - (1.0 + interest) ** -years)


@dataclass
class Options:
    """The options of every building, flattened: option k belongs to `building[k]`."""

    building: np.ndarray
    #: Heat options: refurbishment level and supply; PV options: pv, battery (bool). -1 where not.
    level: np.ndarray
    system: np.ndarray
    pv: np.ndarray
    battery: np.ndarray
    #: Whether option k controls the building's charging points (PV options; -1 for heat options).
    smart: np.ndarray
    #: Annual effects and costs of option k (kWh, €).
    pv_kwh: np.ndarray
    battery_kwh: np.ndarray
    hp_electricity_kwh: np.ndarray
    ambient_kwh: np.ndarray
    gas_kwh: np.ndarray
    district_heat_kwh: np.ndarray
    invest_eur: np.ndarray
    annual_eur: np.ndarray
    #: EV energy the controlled points take from the building's PV surplus [kWh/a].
    ev_shift_kwh: np.ndarray
    #: The investment's first part: the envelope (heat options), the PV (PV options) [€]; the
    #: rest is the heat supply, the battery and the control of the charging points.
    part_eur: np.ndarray
    #: The control of the charging points' share of the investment (PV options) [€].
    smart_eur: np.ndarray


@dataclass
class Grouped:
    """Archetypes: buildings with the same options and a similar size, whose options are counts.

    `options.building` is the archetype's index and its values are the means over the members; the
    programme chooses how many members take each option, `choice_of` gives the options to the
    members (largest first) and reads every building's own figures from `fine`.
    """

    options: Options
    size: np.ndarray
    #: The buildings of each archetype, largest first.
    members: list[np.ndarray]
    #: For each option of `options`: the index of the same option of each member in the fine options.
    fine: list[np.ndarray]


#: Archetypes hold buildings whose size differs by less than this factor.
SIZE_STEP = 1.5


def group(fine: Options, keys: Sequence[tuple[Any, ...]], size: np.ndarray) -> Grouped:
    """The archetypes of buildings with equal `keys` (which must fix their options) and size class."""
    size_class = np.floor(np.log(np.maximum(size, 1e-9)) / np.log(SIZE_STEP)).astype(int)
    ids: dict[tuple[Any, ...], int] = {}
    of = np.array([ids.setdefault((*keys[b], int(size_class[b])), len(ids)) for b in range(len(keys))])
    order = np.lexsort((-size, of))
    starts = np.searchsorted(of[order], np.arange(len(ids) + 1))
    members = [order[starts[g] : starts[g + 1]] for g in range(len(ids))]
    signature = list(
        zip(
            fine.level.tolist(),
            fine.system.tolist(),
            fine.pv.tolist(),
            fine.battery.tolist(),
            fine.smart.tolist(),
            strict=True,
        )
    )
    lookup = {(int(b), sig): k for k, (b, sig) in enumerate(zip(fine.building, signature, strict=True))}
    per_building: dict[int, list[tuple[Any, ...]]] = {}
    for b, sig in zip(fine.building.tolist(), signature, strict=True):
        per_building.setdefault(b, []).append(sig)
    rows: list[tuple[int, np.ndarray]] = []
    for g, m in enumerate(members):
        for sig in per_building.get(int(m[0]), []):
            rows.append((g, np.array([lookup[(int(b), sig)] for b in m])))
    index = [r[1] for r in rows]
    first = np.array([i[0] for i in index], dtype=int)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.array([values[i].mean() for i in index])

    options = Options(
        building=np.array([r[0] for r in rows], dtype=int),
        level=fine.level[first],
        system=fine.system[first],
        pv=fine.pv[first],
        battery=fine.battery[first],
        smart=fine.smart[first],
        pv_kwh=mean(fine.pv_kwh),
        battery_kwh=mean(fine.battery_kwh),
        hp_electricity_kwh=mean(fine.hp_electricity_kwh),
        ambient_kwh=mean(fine.ambient_kwh),
        gas_kwh=mean(fine.gas_kwh),
        district_heat_kwh=mean(fine.district_heat_kwh),
        invest_eur=mean(fine.invest_eur),
        annual_eur=mean(fine.annual_eur),
        ev_shift_kwh=mean(fine.ev_shift_kwh),
        part_eur=mean(fine.part_eur),
        smart_eur=mean(fine.smart_eur),
    )
    return Grouped(options, np.array([len(m) for m in members]), members, index)


@dataclass
class Context:
    """Everything the programme and the check need, computed once from the buildings and the baseline."""

    scenario: Scenario
    params: PlanParams
    grid: GridYear | None
    buildings: model.Buildings
    base_plant: Plant
    potential: Plant
    #: Demand of every building in each TABULA variant (1, 2, 3).
    demands: dict[int, model.Demand]
    current: np.ndarray
    district_heating: np.ndarray
    baseline: dict[str, Any]
    baseline_load_kwh: float
    export_tangents: np.ndarray
    #: The PV of every suitable roof (its shape over the year) and the quarter's load [kWh per step].
    pv_potential_t: np.ndarray
    demand_t: np.ndarray
    heat_options: Options
    pv_options: Options
    heat_groups: Grouped
    pv_groups: Grouped
    site: Site | None = None


@dataclass
class Plan:
    """The planner's answer: the portfolio, what the programme claims and what the simulation shows."""

    met: bool
    targets: dict[str, float]
    #: Per target: change claimed by the programme, by the simulation, miss (≥ 0, fraction of baseline).
    changes: dict[str, float]
    simulated_changes: dict[str, float]
    misses: dict[str, float]
    binding: list[str]
    investment_eur: float
    annual_cost_eur: float
    budget_eur: float
    claimed: dict[str, float]
    simulated: dict[str, Any]
    baseline: dict[str, Any]
    deviation: dict[str, float]
    measures: dict[str, Any]
    #: Per building: level, system, pv, battery (what it takes, building by building).
    choice: dict[str, np.ndarray]
    run: runs.Run
    district_heat_kwh: np.ndarray
    iterations: int
    seconds: float
    #: Whether the last programme was solved to proven optimality (else: the best found in time).
    optimal: bool = True
    solve_seconds: list[float] = field(default_factory=list)
    grid: dict[str, Any] | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)
    #: The investment by measure [€]: refurbishment, heat_pumps, district_heating, pv, batteries,
    #: smart_charging, quarter_storage.
    costs: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The plan as JSON-ready data (without the per-building arrays)."""
        return {
            "met": self.met,
            "targets": self.targets,
            "changes": self.changes,
            "simulated_changes": self.simulated_changes,
            "misses": self.misses,
            "binding": self.binding,
            "investment_eur": round(self.investment_eur),
            "annual_cost_eur": round(self.annual_cost_eur),
            "budget_eur": self.budget_eur or None,
            "measures": self.measures,
            "costs": self.costs,
            "claimed": self.claimed,
            "simulated": {k: v for k, v in self.simulated.items() if not isinstance(v, np.ndarray)},
            "baseline": self.baseline,
            "deviation": self.deviation,
            "iterations": self.iterations,
            "optimal": self.optimal,
            "seconds": round(self.seconds, 2),
            "grid": self.grid,
            "simulated_note": "SIMULATED: a model's answer under the assumptions listed in `parameters`.",
            "parameters": self.parameters,
        }

    def building_measures(self) -> list[dict[str, Any]]:
        """What it takes, per building: the measures as labels and their investment."""
        c = self.choice
        out = []
        for i in range(len(c["level"])):
            out.append(
                {
                    "plan_refurbishment": LEVELS[int(c["level"][i])],
                    "plan_refurbishment_changed": bool(c["level_changed"][i]),
                    "plan_heating": SYSTEMS[int(c["system"][i])],
                    "plan_pv": bool(c["pv"][i]),
                    "plan_pv_new": bool(c["pv_new"][i]),
                    "plan_battery": bool(c["battery"][i]),
                    "plan_smart_charging": bool(c["smart"][i]),
                    "plan_charging_points": int(c["points"][i]),
                    "plan_refurbishment_eur": round(float(c["envelope_eur"][i])),
                    "plan_heating_eur": round(float(c["heating_eur"][i])),
                    "plan_pv_eur": round(float(c["pv_eur"][i])),
                    "plan_battery_eur": round(float(c["battery_eur"][i])),
                    "plan_smart_charging_eur": round(float(c["smart_eur"][i])),
                    "plan_investment_eur": round(float(c["invest"][i])),
                }
            )
        return out


# --- the model of the measures ---------------------------------------------------------------------


def _variant_scenario(scenario: Scenario, level: int) -> Scenario:
    usual, advanced = {1: (0.0, 0.0), 2: (1.0, 0.0), 3: (0.0, 1.0)}[level]
    return scenario.with_overrides(
        {"buildings.refurbished_share": usual, "buildings.advanced_refurbished_share": advanced}
    )


def heat_pump_size(
    space: np.ndarray, water: np.ndarray, capacity: np.ndarray, plant: Plant, scenario: Scenario
):  # noqa: ANN201
    """(max heat per step, thermal storage kWh) of a heat pump per building, sized as `components.equip`
    sizes it."""
    hp = scenario.heat_pump
    peak = space * plant.heat_shape.max() + water * plant.hot_water_shape.max()
    hp_max = peak * hp.sizing_factor
    buffer = hp_max / DT_H * hp.buffer_litres_per_kw * hp.buffer_delta_k * WATER_KWH_PER_L_K
    return hp_max, buffer + capacity * hp.comfort_band_k


def prepare(
    records: Sequence[model.BuildingRecord],
    base: Scenario,
    params: PlanParams,
    weather: Weather | None = None,
    site: Site | None = None,
    progress: Callable[[str], None] | None = None,
) -> Context:
    """Simulate the baseline and compute every building's options and the export curve."""
    params.check()
    weather = weather or region4()
    site = site or Site.of(NO_CITY, records)
    say = progress or (lambda _text: None)
    say("baseline")
    buildings, need, base_plant = runs.prepare(records, base, weather, site=site)
    result = strategies.simulate(base_plant, base.scenario.strategy, base.optimiser)
    baseline = kpi.district(result, base)
    grid = grid_of(params.year) if params.year else None
    overrides: dict[str, Any] = {
        "scenario.name": f"{base.scenario.name}-plan",
        "scenario.title": f"What it takes: {base.scenario.title}",
        "scenario.strategy": params.strategy,
        "pv.adoption": 1.0,
        "battery.adoption": 1.0,
        "heat_pump.adoption": 1.0,
    }
    if grid is not None:
        overrides |= {
            "grid.co2_g_per_kwh": grid.co2_g_per_kwh,
            "grid.renewable_share": grid.renewable_share,
            "grid.co2_signal_csv": "",
        }
    planning = base.with_overrides(overrides)
    say("potentials")
    _, _, potential = runs.prepare(records, planning, weather, site=site)
    climate = loads.heating_season(weather)
    demands = {level: model.demand(buildings, _variant_scenario(base, level), climate) for level in LEVELS}
    areas = set(params.district_heating_areas)
    district_heating = (
        np.array([d in areas for d in buildings.district]) if areas else np.zeros(len(buildings), bool)
    )
    heat_options = _heat_options(
        buildings, need.variant, demands, base_plant, potential, planning, params, district_heating
    )
    pv_options = _pv_options(base_plant, potential, params)
    heated = (need.space_heat_kwh + need.hot_water_kwh) > 0
    points = (
        np.bincount(base_plant.ev_owner, minlength=len(buildings))
        if len(base_plant.ev_owner)
        else (np.zeros(len(buildings), dtype=int))
    )
    heat_keys = [
        (
            buildings.use[b],
            buildings.size_class[b],
            buildings.age_class[b],
            int(need.variant[b]),
            bool(base_plant.floor_heating[b]),
            bool(district_heating[b]),
            bool(base_plant.heat_pump[b]),
            bool(heated[b]),
        )
        for b in range(len(buildings))
    ]
    pv_keys = [
        (
            bool(base_plant.pv_kwp[b] > 0),
            bool(base_plant.battery_kwh[b] > 0),
            bool(potential.pv_kwp[b] > 0),
            bool(potential.battery_kwh[b] > 0),
            int(potential.pv_plane[b]),
            int(points[b]),
        )
        for b in range(len(buildings))
    ]
    heat_need = need.space_heat_kwh + need.hot_water_kwh
    heat_groups = group(heat_options, heat_keys, np.where(heated, heat_need, buildings.heated_area_m2 + 1.0))
    pv_groups = group(pv_options, pv_keys, np.maximum(potential.pv_kwp, base_plant.pv_kwp) + 1.0)
    s = result.series
    demand_t = s["load"] + s["ev"]
    potential_pv = potential.pv_profiles[potential.pv_plane].T @ potential.pv_kwp
    return Context(
        scenario=planning,
        params=params,
        grid=grid,
        buildings=buildings,
        base_plant=base_plant,
        potential=potential,
        demands=demands,
        current=need.variant.copy(),
        district_heating=district_heating,
        baseline=baseline,
        baseline_load_kwh=float(demand_t.sum()),
        export_tangents=export_tangents(potential_pv, demand_t),
        pv_potential_t=potential_pv,
        demand_t=demand_t,
        heat_options=heat_options,
        pv_options=pv_options,
        heat_groups=heat_groups,
        pv_groups=pv_groups,
        site=site,
    )


def export_tangents(pv_t: np.ndarray, demand_t: np.ndarray, points: int = 24) -> np.ndarray:
    """Tangents (slope, intercept) of the quarter's export E(P) = Σ_t max(0, P·shape_t − demand_t).

    `pv_t` is the PV of every suitable roof (its shape is kept as the PV grows), `demand_t` the
    quarter's load; E is convex in P, so E ≥ every tangent is exact at the tangent points and close
    in between.
    """
    total = float(pv_t.sum())
    if total <= 0:
        return np.array([[0.0, 0.0]])
    shape = pv_t / total
    out = []
    for p in np.linspace(0.0, total, points):
        surplus = p * shape - demand_t
        slope = float(shape[surplus > 0].sum())
        value = float(np.maximum(surplus, 0.0).sum())
        out.append((slope, value - slope * p))
    return np.array(out)


def shift_tangents(ctx: Context, pv_kwh: float, points: int = 16) -> np.ndarray:
    """Tangents (slope, intercept) of what batteries of usable capacity K shift in a year,
    Σ_days min(K, the day's PV surplus at the quarter's connection), with the quarter's PV at
    `pv_kwh` a year (concave in K: each day a battery is filled once at most from surplus)."""
    total = float(ctx.pv_potential_t.sum())
    if total <= 0 or pv_kwh <= 0:
        return np.array([[0.0, 0.0]])
    surplus = np.maximum(pv_kwh * ctx.pv_potential_t / total - ctx.demand_t, 0.0)
    days = surplus[: len(surplus) // loads.STEPS_PER_DAY * loads.STEPS_PER_DAY].reshape(
        -1, loads.STEPS_PER_DAY
    )
    daily = days.sum(axis=1)
    out = []
    for k in np.linspace(0.0, float(daily.max()), points):
        slope = float((daily > k).sum())
        out.append((slope, float(np.minimum(daily, k).sum()) - slope * k))
    return np.array(out)


def _heat_options(
    buildings: model.Buildings,
    current: np.ndarray,
    demands: Mapping[int, model.Demand],
    base_plant: Plant,
    potential: Plant,
    scenario: Scenario,
    params: PlanParams,
    district_heating: np.ndarray,
) -> Options:
    p = potential
    e_space = np.stack([(p.heat_shape / p.cop_space[k]).sum() for k in (0, 1)])
    e_water = float((p.hot_water_shape / p.cop_hot_water).sum())
    boiler = base_plant.boiler_efficiency
    cols: dict[str, list[Any]] = {
        name: []
        for name in ("building", "level", "system", "hp", "amb", "gas", "dh", "invest", "annual", "envelope")
    }
    a_env = annuity(params.interest, params.refurbishment_life_years)
    a_hp = annuity(params.interest, params.heat_pump_life_years)
    a_dh = annuity(params.interest, params.district_heating_life_years)
    area = buildings.heated_area_m2
    for b in range(len(buildings)):
        heated = demands[int(current[b])].space_heat_kwh[b] + demands[int(current[b])].hot_water_kwh[b] > 0
        levels = range(int(current[b]), 4) if heated else [int(current[b])]
        systems = [1] if base_plant.heat_pump[b] else [0, 1] + ([2] if district_heating[b] else [])
        if not heated:
            systems = [0]
        for level in levels:
            space = float(demands[level].space_heat_kwh[b])
            water = float(demands[level].hot_water_kwh[b])
            heat = space + water
            if level == current[b]:
                envelope = 0.0
            elif level == 2 or current[b] == 1:
                envelope = area[b] * (
                    params.refurbishment_usual_eur_per_m2
                    if level == 2
                    else params.refurbishment_advanced_eur_per_m2
                )
            else:
                envelope = area[b] * (
                    params.refurbishment_advanced_eur_per_m2 - params.refurbishment_usual_eur_per_m2
                )
            for system in systems:
                hp = gas = dh = 0.0
                invest, annual = envelope, envelope * a_env
                if system == 0:
                    gas = heat / boiler
                elif system == 1:
                    hp = space * e_space[int(base_plant.floor_heating[b])] + water * e_water
                    if not base_plant.heat_pump[b]:
                        hp_max, _ = heat_pump_size(
                            np.array(space), np.array(water), np.array(0.0), p, scenario
                        )
                        cost = params.heat_pump_fixed_eur + params.heat_pump_eur_per_kw * float(hp_max) / DT_H
                        invest, annual = invest + cost, annual + cost * a_hp
                else:
                    dh = heat
                    peak = (space * p.heat_shape.max() + water * p.hot_water_shape.max()) / DT_H
                    cost = params.district_heating_connection_eur + params.district_heating_eur_per_kw * peak
                    invest, annual = invest + cost, annual + cost * a_dh
                amb = heat - hp if system == 1 else 0.0
                row = (b, level, system, hp, amb, gas, dh, invest, annual, envelope)
                for name, value in zip(cols, row, strict=True):
                    cols[name].append(value)
    n = len(cols["building"])
    return Options(
        building=np.array(cols["building"], dtype=int),
        level=np.array(cols["level"], dtype=int),
        system=np.array(cols["system"], dtype=int),
        pv=np.full(n, -1),
        battery=np.full(n, -1),
        smart=np.full(n, -1),
        pv_kwh=np.zeros(n),
        battery_kwh=np.zeros(n),
        hp_electricity_kwh=np.array(cols["hp"]),
        ambient_kwh=np.array(cols["amb"]),
        gas_kwh=np.array(cols["gas"]),
        district_heat_kwh=np.array(cols["dh"]),
        invest_eur=np.array(cols["invest"]),
        annual_eur=np.array(cols["annual"]),
        ev_shift_kwh=np.zeros(n),
        part_eur=np.array(cols["envelope"]),
        smart_eur=np.zeros(n),
    )


def ev_absorbed(plant: Plant, kwp: np.ndarray) -> np.ndarray:
    """Per building: the EV energy a year its controlled charging points take from the building's own
    PV surplus (PV of `kwp` − its base load) under the rule-based strategy [kWh/a].

    Session by session: in each step a plugged point takes its power's share of the surplus (the
    surplus split over the plugged points by power), at most its power, and a session at most its
    energy. The EV comes first in the rules (before heat pumps and batteries), so this is what the
    building no longer exports; the quarter's export falls by it where the quarter exports then
    (the programme's export rows; the simulation corrects the rest)."""
    out = np.zeros(plant.n)
    if not len(plant.ev_owner):
        return out
    s = plant.sessions
    owner = plant.ev_owner[s.point]
    power = plant.ev_step_kwh[s.point]
    steps = plant.steps
    for b in np.unique(owner):
        if kwp[b] <= 0:
            continue
        pv = plant.pv_profiles[plant.pv_plane[b], :steps] * kwp[b]
        surplus = np.maximum(pv - plant.profiles[plant.profile[b], :steps] * plant.electricity_kwh[b], 0.0)
        mine = owner == b
        arrive, depart, energy, pmax = s.arrive[mine], s.depart[mine], s.energy_kwh[mine], power[mine]
        plugged = np.zeros(steps + 1)
        np.add.at(plugged, arrive, pmax)
        np.add.at(plugged, depart, -pmax)
        plugged = np.cumsum(plugged)[:steps]
        share = np.minimum(np.divide(surplus, plugged, out=np.zeros(steps), where=plugged > 1e-12), 1.0)
        taken = np.concatenate([[0.0], np.cumsum(share)])
        out[b] = float(np.minimum(energy, pmax * (taken[depart] - taken[arrive])).sum())
    return out


def _pv_options(base_plant: Plant, potential: Plant, params: PlanParams) -> Options:
    yield_per_kwp = potential.pv_profiles.sum(axis=1)[potential.pv_plane]
    a_pv = annuity(params.interest, params.pv_life_years)
    a_bat = annuity(params.interest, params.battery_life_years)
    a_smart = annuity(params.interest, params.smart_charging_life_years)
    points = (
        np.bincount(base_plant.ev_owner, minlength=base_plant.n)
        if len(base_plant.ev_owner)
        else np.zeros(base_plant.n, dtype=int)
    )
    kwp_of = np.where(base_plant.pv_kwp > 0, base_plant.pv_kwp, potential.pv_kwp)
    absorbed = ev_absorbed(base_plant, np.where(points > 0, kwp_of, 0.0))
    cols: dict[str, list[Any]] = {
        name: []
        for name in (
            "building",
            "pv",
            "battery",
            "smart",
            "pv_kwh",
            "bat",
            "invest",
            "annual",
            "shift",
            "part",
            "ctl",
        )
    }
    for b in range(base_plant.n):
        kwp, existing = float(potential.pv_kwp[b]), base_plant.pv_kwp[b] > 0
        size = float(potential.battery_kwh[b])
        if existing:
            kwp = float(base_plant.pv_kwp[b])
            choices = [(True, base_plant.battery_kwh[b] > 0)]
            if base_plant.battery_kwh[b] <= 0 and size > 0:
                choices.append((True, True))
        elif kwp > 0:
            choices = [(False, False), (True, False)] + ([(True, True)] if size > 0 else [])
        else:
            choices = [(False, False)]
        controls = (False, True) if points[b] > 0 else (False,)
        for has_pv, has_battery in choices:
            for smart in controls:
                cost = kwp * params.pv_eur_per_kwp if has_pv and not existing else 0.0
                battery_cost = (
                    size * params.battery_eur_per_kwh
                    if has_battery and base_plant.battery_kwh[b] <= 0
                    else 0.0
                )
                control = points[b] * params.smart_charging_eur_per_point if smart else 0.0
                row = (
                    b,
                    has_pv,
                    has_battery,
                    smart,
                    kwp * float(yield_per_kwp[b]) if has_pv else 0.0,
                    (size if base_plant.battery_kwh[b] <= 0 else float(base_plant.battery_kwh[b]))
                    if has_battery
                    else 0.0,
                    cost + battery_cost + control,
                    cost * a_pv + battery_cost * a_bat + control * a_smart,
                    float(absorbed[b]) if smart and has_pv else 0.0,
                    cost,
                    control,
                )
                for name, value in zip(cols, row, strict=True):
                    cols[name].append(value)
    n = len(cols["building"])
    return Options(
        building=np.array(cols["building"], dtype=int),
        level=np.full(n, -1),
        system=np.full(n, -1),
        pv=np.array(cols["pv"], dtype=bool),
        battery=np.array(cols["battery"], dtype=bool),
        smart=np.array(cols["smart"], dtype=bool),
        pv_kwh=np.array(cols["pv_kwh"]),
        battery_kwh=np.array(cols["bat"]),
        hp_electricity_kwh=np.zeros(n),
        ambient_kwh=np.zeros(n),
        gas_kwh=np.zeros(n),
        district_heat_kwh=np.zeros(n),
        invest_eur=np.array(cols["invest"]),
        annual_eur=np.array(cols["annual"]),
        ev_shift_kwh=np.array(cols["shift"]),
        part_eur=np.array(cols["part"]),
        smart_eur=np.array(cols["ctl"]),
    )


# --- the programme ----------------------------------------------------------------------------------

#: Quantities whose difference between simulation and linear model is fed back (see the module doc).
OFFSETS = ("export", "losses", "consumption", "ambient", "gas", "import", "investment", "annuities")


@dataclass
class _Program:
    """Column layout and the linear expressions (dense coefficient vector, constant) of the programme."""

    ctx: Context
    offsets: dict[str, float]
    #: (slope, intercept) of the energy all batteries can shift a year as a function of their usable kWh.
    shift_tangents: np.ndarray
    #: Per target, how much further the programme aims (a share of the baseline) after a simulation
    #: missed what the programme met.
    margins: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        h, p = self.ctx.heat_groups.options, self.ctx.pv_groups.options
        self.nh, self.np_ = len(h.building), len(p.building)
        base = self.nh + self.np_
        self.iq, self.ie, self.ish, self.isq = base, base + 1, base + 2, base + 3
        self.keys = list(self.ctx.params.targets)
        self.islack = {key: base + 4 + k for k, key in enumerate(self.keys)}
        self.n = base + 4 + len(self.keys)

    def _options(self, heat: np.ndarray | None = None, pv: np.ndarray | None = None) -> np.ndarray:
        v = np.zeros(self.n)
        if heat is not None:
            v[: self.nh] = heat
        if pv is not None:
            v[self.nh : self.nh + self.np_] = pv
        return v

    def _unit(self, index: int, value: float = 1.0) -> np.ndarray:
        v = np.zeros(self.n)
        v[index] = value
        return v

    def expressions(self, offsets: Mapping[str, float]) -> dict[str, tuple[np.ndarray, float]]:
        """Each quantity as (coefficients over the columns, constant) with the given offsets."""
        c = self.ctx
        h, p = c.heat_groups.options, c.pv_groups.options
        b = c.scenario.battery
        o = offsets
        out: dict[str, tuple[np.ndarray, float]] = {}
        out["pv"] = (self._options(pv=p.pv_kwh), 0.0)
        out["battery_kwh"] = (self._options(pv=p.battery_kwh), 0.0)
        out["ev_shift"] = (self._options(pv=p.ev_shift_kwh), 0.0)
        out["consumption"] = (
            self._options(heat=h.hp_electricity_kwh),
            c.baseline_load_kwh + o["consumption"],
        )
        out["gas"] = (self._options(heat=h.gas_kwh), o["gas"])
        out["district_heat"] = (self._options(heat=h.district_heat_kwh), 0.0)
        out["ambient"] = (self._options(heat=h.ambient_kwh), o["ambient"])
        losses = self._unit(self.ish, 1.0 - b.round_trip_efficiency) + self._unit(
            self.isq, 1.0 - b.quarter_round_trip_efficiency
        )
        out["losses"] = (losses, o["losses"])
        out["export"] = (self._unit(self.ie), 0.0)
        imports = out["consumption"][0] + losses - out["pv"][0] + out["export"][0]
        out["import"] = (imports, out["consumption"][1] + o["losses"] + o["import"])
        g, pp = c.scenario.grid, c.params
        f, r = g.co2_g_per_kwh / 1000.0, g.renewable_share
        fdh, rdh = pp.district_heating_co2_g_per_kwh / 1000.0, pp.district_heating_renewable_share
        gas_f = g.gas_co2_g_per_kwh / 1000.0
        out["co2_kg"] = (
            f * out["import"][0] + gas_f * out["gas"][0] + fdh * out["district_heat"][0],
            f * out["import"][1] + gas_f * out["gas"][1],
        )
        out["renewable_kwh"] = (
            out["pv"][0]
            - out["export"][0]
            + r * out["import"][0]
            + out["ambient"][0]
            + rdh * out["district_heat"][0],
            r * out["import"][1] + out["ambient"][1],
        )
        out["final_energy_kwh"] = (
            out["consumption"][0] + losses + out["gas"][0] + out["district_heat"][0],
            out["consumption"][1] + o["losses"] + o["gas"],
        )
        annual = self._options(heat=h.annual_eur, pv=p.annual_eur) + self._unit(
            self.iq, pp.quarter_storage_eur_per_kwh * annuity(pp.interest, pp.battery_life_years)
        )
        out["annuities"] = (annual, o["annuities"])
        out["investment"] = (
            self._options(heat=h.invest_eur, pv=p.invest_eur)
            + self._unit(self.iq, pp.quarter_storage_eur_per_kwh),
            o["investment"],
        )
        energy = (
            g.import_eur_per_kwh * out["import"][0]
            - g.export_eur_per_kwh * out["export"][0]
            + g.gas_eur_per_kwh * out["gas"][0]
            + pp.district_heating_eur_per_kwh * out["district_heat"][0]
        )
        energy_const = g.import_eur_per_kwh * out["import"][1] + g.gas_eur_per_kwh * out["gas"][1]
        out["annual_cost"] = (annual + energy, out["annuities"][1] + energy_const)
        return out

    def value(self, expression: tuple[np.ndarray, float], x: np.ndarray) -> float:
        return float(expression[0] @ x + expression[1])

    def solve(self, budget: float | None = None) -> tuple[np.ndarray, bool]:
        """Minimise the annual cost plus a penalty on the relative misses that outweighs any cost.

        The linear relaxation is solved first (dual simplex, about a second for the 5,524 buildings):
        with counts per archetype and a few dozen coupling rows its optimal vertex is most often
        integral, and then it is the programme's optimum; otherwise HiGHS's branch and bound solves
        the MILP. Returns the solution and whether it is proven optimal."""
        import highspy
        from scipy import sparse

        c, pp = self.ctx, self.ctx.params
        ex = self.expressions(self.offsets)
        rows: list[np.ndarray] = []
        lower: list[float] = []
        upper: list[float] = []
        inf = highspy.kHighsInf

        def add(vector: np.ndarray, lo: float, hi: float, scale: float = 1e-6) -> None:
            # rows in GWh (or as shares of a baseline), so that their coefficients are near 1
            rows.append(vector * scale)
            lower.append(lo * scale)
            upper.append(hi * scale)

        pv_v, pv_c = ex["pv"]
        for slope, intercept in c.export_tangents:
            # E + S_h + S_q + S_ev − slope · P ≥ slope · P_const + intercept + offset
            vector = (
                self._unit(self.ie)
                + self._unit(self.ish)
                + self._unit(self.isq)
                + ex["ev_shift"][0]
                - slope * pv_v
            )
            add(vector, slope * pv_c + intercept + self.offsets["export"], inf)
        b = c.scenario.battery
        window = b.soc_max - b.soc_min
        bat_v, bat_c = ex["battery_kwh"]
        add(
            self._unit(self.ish) - pp.battery_cycles * window * bat_v,
            -inf,
            pp.battery_cycles * window * bat_c,
        )
        add(self._unit(self.isq) - self._unit(self.iq, pp.battery_cycles * window), -inf, 0.0)
        # what all batteries together shift is bounded by the days' surplus (concave in their capacity)
        for slope, intercept in self.shift_tangents:
            add(
                self._unit(self.ish) + self._unit(self.isq) - slope * window * (bat_v + self._unit(self.iq)),
                -inf,
                slope * window * bat_c + intercept,
            )
        if budget:
            inv_v, inv_c = ex["investment"]
            add(inv_v, -inf, budget - inv_c)
        for key in self.keys:
            target = pp.targets[key]
            name = TARGET_FIELDS[key]
            before = float(c.baseline[name])
            vector, constant = ex[name]
            margin = self.margins.get(key, 0.0)
            target = target - margin if target < 0 else target + margin
            if target < 0:
                row = vector - self._unit(self.islack[key], before)
                add(row, -inf, (1.0 + target) * before - constant, 1.0 / before)
            else:
                row = vector + self._unit(self.islack[key], before)
                add(row, (1.0 + target) * before - constant, inf, 1.0 / before)
        dense = sparse.csr_matrix(np.array(rows))
        # one option per building, for the heat options and the PV options
        # how many members of each archetype take each option: all of them, one option each
        h, p = c.heat_groups.options, c.pv_groups.options
        n_h, n_p = len(c.heat_groups.size), len(c.pv_groups.size)
        assign = sparse.csr_matrix(
            (
                np.ones(self.nh + self.np_),
                (np.concatenate([h.building, n_h + p.building]), np.arange(self.nh + self.np_)),
            ),
            shape=(n_h + n_p, self.n),
        )
        sizes = np.concatenate([c.heat_groups.size, c.pv_groups.size]).astype(float)
        matrix = sparse.vstack([assign, dense]).tocsc()
        row_lower = np.concatenate([sizes, lower])
        row_upper = np.concatenate([sizes, upper])
        col_lower = np.zeros(self.n)
        col_upper = np.ones(self.n)
        col_upper[: self.nh] = c.heat_groups.size[h.building]
        col_upper[self.nh : self.nh + self.np_] = c.pv_groups.size[p.building]
        col_upper[[self.ie, self.ish, self.isq]] = inf
        col_upper[self.iq] = pp.quarter_storage_max_kwh
        for key in self.keys:
            col_upper[self.islack[key]] = inf
        # M€ a year; a miss of 0.1 % of a target's baseline costs more than the dearest portfolio
        cost = ex["annual_cost"][0] / 1e6
        cost[[self.islack[key] for key in self.keys]] = 1000.0 * self.cost_scale() / 1e6
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, matrix.shape[0]
        lp.col_cost_ = cost
        lp.col_lower_, lp.col_upper_ = col_lower, col_upper
        lp.row_lower_, lp.row_upper_ = row_lower, row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        integer = np.zeros(self.n, dtype=bool)
        integer[: self.nh + self.np_] = True
        options = np.arange(self.nh + self.np_)
        x, status = _run(lp, pp.time_limit_s)
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(
                f"the planning programme's relaxation was not solved within {pp.time_limit_s:g} s "
                "(time_limit_s): a busy machine, or a quarter too large for it"
            )
        chosen = x[options]
        if (np.abs(chosen - np.round(chosen)) > 1e-6).any():
            lp.integrality_ = [highspy.HighsVarType.kInteger] * len(options) + [
                highspy.HighsVarType.kContinuous
            ] * (self.n - len(options))
            x, status = _run(lp, pp.time_limit_s)
        x = x.copy()
        x[options] = np.round(x[options])
        return x, status == highspy.HighsModelStatus.kOptimal

    def cost_scale(self) -> float:
        """An upper bound of the annual cost [€/a]: every building's dearest options and today's energy."""
        h, p = self.ctx.heat_options, self.ctx.pv_options  # per building
        dearest = 0.0
        for options in (h, p):
            top = np.zeros(self.ctx.base_plant.n)
            np.maximum.at(top, options.building, options.annual_eur)
            dearest += float(top.sum())
        return dearest + abs(float(self.ctx.baseline["cost_eur"])) + 1.0


def _run(lp: Any, time_limit: float) -> tuple[np.ndarray, Any]:
    """Solve `lp` with a quiet HiGHS; the solution and the model status (optimal or out of time)."""
    import highspy

    solver = quiet_highs()
    solver.setOptionValue("time_limit", float(time_limit))
    solver.setOptionValue("mip_rel_gap", 1e-4)
    solver.passModel(lp)
    solver.run()
    status = solver.getModelStatus()
    x = np.asarray(solver.getSolution().col_value)
    if x.size != lp.num_col_ or status not in (
        highspy.HighsModelStatus.kOptimal,
        highspy.HighsModelStatus.kTimeLimit,
    ):
        raise RuntimeError(f"the planning programme was not solved: {solver.modelStatusToString(status)}")
    return x, status


# --- the portfolio as a plant, and its check by simulation -----------------------------------------


def choice_of(ctx: Context, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per building: refurbishment level, heat supply, PV, battery, investment (from the programme's
    counts per archetype: the deepest measures go to the largest members)."""
    n = ctx.base_plant.n
    nh = len(ctx.heat_groups.options.building)
    level = ctx.current.copy()
    system = np.where(ctx.base_plant.heat_pump, 1, 0)
    invest = np.zeros(n)
    annual = np.zeros(n)
    pv = ctx.base_plant.pv_kwp > 0
    battery = ctx.base_plant.battery_kwh > 0
    smart = np.zeros(n, dtype=bool)
    heat_invest, heat_part = np.zeros(n), np.zeros(n)
    pv_invest, pv_part, smart_eur = np.zeros(n), np.zeros(n), np.zeros(n)
    for grouped, fine, counts in (
        (ctx.heat_groups, ctx.heat_options, x[:nh]),
        (ctx.pv_groups, ctx.pv_options, x[nh : nh + len(ctx.pv_groups.options.building)]),
    ):
        g = grouped.options
        counts = np.round(counts).astype(int)
        position = np.zeros(len(grouped.size), dtype=int)
        for k in np.lexsort((-g.invest_eur, g.building)):
            take = counts[k]
            if take <= 0:
                continue
            start = position[g.building[k]]
            chosen = grouped.fine[k][start : start + take]
            position[g.building[k]] += take
            buildings = fine.building[chosen]
            invest[buildings] += fine.invest_eur[chosen]
            annual[buildings] += fine.annual_eur[chosen]
            if fine is ctx.heat_options:
                level[buildings] = fine.level[chosen]
                system[buildings] = fine.system[chosen]
                heat_invest[buildings] += fine.invest_eur[chosen]
                heat_part[buildings] += fine.part_eur[chosen]
            else:
                pv[buildings] = fine.pv[chosen]
                battery[buildings] = fine.battery[chosen]
                smart[buildings] = fine.smart[chosen]
                pv_invest[buildings] += fine.invest_eur[chosen]
                pv_part[buildings] += fine.part_eur[chosen]
                smart_eur[buildings] += fine.smart_eur[chosen]
    points = (
        np.bincount(ctx.base_plant.ev_owner, minlength=n)
        if len(ctx.base_plant.ev_owner)
        else np.zeros(n, int)
    )
    return {
        "level": level,
        "level_changed": level != ctx.current,
        "system": system,
        "pv": pv,
        "pv_new": pv & ~(ctx.base_plant.pv_kwp > 0),
        "battery": battery,
        "smart": smart,
        "points": points,
        "invest": invest,
        "annual": annual,
        "envelope_eur": heat_part,
        "heating_eur": heat_invest - heat_part,
        "pv_eur": pv_part,
        "battery_eur": pv_invest - pv_part - smart_eur,
        "smart_eur": smart_eur,
    }


def portfolio_plant(
    ctx: Context, choice: Mapping[str, np.ndarray], quarter_kwh: float
) -> tuple[Plant, np.ndarray]:
    """The plant of the portfolio, and the district heat each building takes (outside the plant)."""
    base, pot = ctx.base_plant, ctx.potential
    n = base.n
    index = np.arange(n)
    level = choice["level"]
    space = np.array([ctx.demands[int(level[i])].space_heat_kwh[i] for i in index])
    water = np.array([ctx.demands[int(level[i])].hot_water_kwh[i] for i in index])
    capacity = np.array([ctx.demands[int(level[i])].heat_capacity_kwh_per_k[i] for i in index])
    district = choice["system"] == 2
    district_heat = np.where(district, space + water, 0.0)
    space, water = np.where(district, 0.0, space), np.where(district, 0.0, water)
    heat_pump = choice["system"] == 1
    hp_max, storage = heat_pump_size(space, water, capacity, pot, ctx.scenario)
    pv_kwp = np.where(choice["pv"], np.where(base.pv_kwp > 0, base.pv_kwp, pot.pv_kwp), 0.0)
    battery = np.where(
        choice["battery"], np.where(base.battery_kwh > 0, base.battery_kwh, pot.battery_kwh), 0.0
    )
    b = ctx.scenario.battery
    plant = replace(
        pot,
        space_heat_kwh=space,
        hot_water_kwh=water,
        heat_pump=heat_pump,
        hp_max_kwh=np.where(heat_pump, hp_max, 0.0),
        storage_kwh=np.where(heat_pump, storage, 0.0),
        pv_kwp=pv_kwp,
        battery_kwh=battery,
        battery_step_kwh=battery * b.c_rate * DT_H,
        quarter_kwh=float(quarter_kwh),
        quarter_step_kwh=float(quarter_kwh) * b.quarter_c_rate * DT_H,
        ev_smart=np.asarray(choice["smart"], dtype=bool)[pot.ev_owner],
    )
    return plant, district_heat


def with_district_heat(district: dict[str, Any], heat_kwh: float, params: PlanParams) -> dict[str, Any]:
    """District KPIs with the district heat bought (final energy, CO2, renewable energy, cost)."""
    out = dict(district)
    if heat_kwh <= 0:
        out["district_heating_kwh"] = 0.0
        out["district_heating_renewable_kwh"] = 0.0
        return out
    renewable = heat_kwh * params.district_heating_renewable_share
    out["district_heating_kwh"] = heat_kwh
    out["district_heating_renewable_kwh"] = renewable
    out["final_energy_kwh"] += heat_kwh
    out["heat_kwh"] = (out.get("heat_kwh") or 0.0) + heat_kwh
    out["co2_kg"] += heat_kwh * params.district_heating_co2_g_per_kwh / 1000.0
    out["renewable_kwh"] += renewable
    out["cost_eur"] += heat_kwh * params.district_heating_eur_per_kwh
    out["energy_balance_kwh"] = out["pv_kwh"] - out["final_energy_kwh"]
    total = out["final_energy_kwh"] + out["ambient_heat_kwh"]
    out["renewable_share"] = out["renewable_kwh"] / total if total else None
    return out


def _measured(result: strategies.Result) -> dict[str, float]:
    s = result.series
    pv = float(s["pv"].sum())
    consumption = float(s["load"].sum() + s["ev"].sum() + s["hp_electricity"].sum())
    losses = float(s["battery_loss"].sum() + s["quarter_loss"].sum())
    export = float(s["grid_export"].sum())
    imports = float(s["grid_import"].sum())
    return {
        "pv": pv,
        "consumption": consumption,
        "losses": losses,
        "export": export,
        "import": imports,
        "gas": float(s["gas"].sum()),
        "ambient": float(s["hp_heat"].sum() - s["hp_electricity"].sum()),
    }


def _met(key: str, change: float, target: float) -> bool:
    return change <= target if target < 0 else change >= target


def _changes(values: Mapping[str, Any], baseline: Mapping[str, Any], keys: Sequence[str]) -> dict[str, float]:
    return {
        key: (float(values[TARGET_FIELDS[key]]) - float(baseline[TARGET_FIELDS[key]]))
        / float(baseline[TARGET_FIELDS[key]])
        for key in keys
    }


def solve(ctx: Context, progress: Callable[[str], None] | None = None) -> Plan:
    """The least-cost portfolio meeting the context's targets (or missing them least), checked by
    simulation."""
    say = progress or (lambda _text: None)
    started = time.perf_counter()
    params = ctx.params
    offsets = dict.fromkeys(OFFSETS, 0.0)
    budget = params.budget_eur or None
    solve_seconds: list[float] = []
    x = None
    pv_kwh = float(ctx.pv_potential_t.sum())
    margins = dict.fromkeys(params.targets, 0.0)
    for iteration in range(1, params.max_iterations + 1):
        program = _Program(ctx, offsets, shift_tangents(ctx, pv_kwh), dict(margins))
        say(f"programme {iteration}")
        t0 = time.perf_counter()
        x, optimal = program.solve(budget=budget)
        slacks = {key: max(float(x[program.islack[key]]), 0.0) for key in program.keys}
        solve_seconds.append(time.perf_counter() - t0)
        ex = program.expressions(offsets)
        claimed = {name: program.value(ex[name], x) for name in ex if name not in ("battery_kwh", "ev_shift")}
        pv_kwh = claimed["pv"]
        choice = choice_of(ctx, x)
        quarter = float(x[program.iq])
        plant, district_heat = portfolio_plant(ctx, choice, quarter)
        say(f"simulation {iteration}")
        result = strategies.simulate(plant, params.strategy)
        district = with_district_heat(kpi.district(result, ctx.scenario), float(district_heat.sum()), params)
        deviation = {
            TARGET_FIELDS[k]: (claimed[TARGET_FIELDS[k]] - district[TARGET_FIELDS[k]])
            / district[TARGET_FIELDS[k]]
            for k in TARGET_FIELDS
        }
        say(f"deviation {iteration}: " + ", ".join(f"{k} {v:+.2%}" for k, v in deviation.items()))
        claimed_met = all(float(x[program.islack[key]]) <= 1e-6 for key in program.keys)
        simulated_met = all(
            _met(key, _changes(district, ctx.baseline, [key])[key], params.targets[key])
            for key in program.keys
        )
        pp = params
        spent = float(choice["invest"].sum()) + quarter * pp.quarter_storage_eur_per_kwh
        paid = float(choice["annual"].sum()) + quarter * pp.quarter_storage_eur_per_kwh * annuity(
            pp.interest, pp.battery_life_years
        )
        close = all(abs(d) <= params.tolerance for d in deviation.values())
        within = budget is None or spent <= budget * (1 + 1e-9)
        if (close and within and (simulated_met or not claimed_met)) or iteration == params.max_iterations:
            break
        # a target the programme met and the simulation missed: aim beyond it by the shortfall
        if claimed_met and not simulated_met:
            simulated = _changes(district, ctx.baseline, program.keys)
            for key in program.keys:
                short = abs(simulated[key] - params.targets[key])
                if not _met(key, simulated[key], params.targets[key]):
                    margins[key] += short + 0.001
        # feed the simulation's differences back (see the module doc)
        measured = _measured(result)
        raw = program.expressions(dict.fromkeys(OFFSETS, 0.0))
        tangent = max(slope * program.value(raw["pv"], x) + icpt for slope, icpt in ctx.export_tangents)
        shifted = float(x[program.ish] + x[program.isq]) + program.value(raw["ev_shift"], x)
        b = ctx.scenario.battery
        offsets = {
            "export": measured["export"] - (tangent - shifted),
            "losses": measured["losses"]
            - (
                (1 - b.round_trip_efficiency) * x[program.ish]
                + (1 - b.quarter_round_trip_efficiency) * x[program.isq]
            ),
            "consumption": measured["consumption"] - program.value(raw["consumption"], x),
            "ambient": measured["ambient"] - program.value(raw["ambient"], x),
            "gas": measured["gas"] - program.value(raw["gas"], x),
            "import": measured["import"]
            - (measured["consumption"] + measured["losses"] - measured["pv"] + measured["export"]),
            "investment": spent - program.value(raw["investment"], x),
            "annuities": paid - program.value(raw["annuities"], x),
        }
    assert x is not None
    misses = {key: slacks[key] for key in program.keys}
    met = simulated_met
    binding = _binding(ctx, program, x, choice, misses, budget)
    scenario = ctx.scenario.with_overrides(
        {
            "pv.adoption": round(float(choice["pv"].mean()), 6),
            "battery.adoption": round(float(choice["battery"].sum() / max(choice["pv"].sum(), 1)), 6),
            "battery.quarter_kwh": round(quarter, 3),
            "heat_pump.adoption": round(float((choice["system"] == 1).mean()), 6),
        }
    )
    done = runs.Run(
        scenario=scenario,
        buildings=ctx.buildings,
        demand=ctx.demands[1],
        plant=plant,
        result=result,
        site=ctx.site,
        building_kpis=kpi.buildings(result, scenario),
        block_kpis=kpi.groups(result, scenario, ctx.buildings.block),
        district_kpis=district,
    )
    level = choice["level"]
    done.demand = replace(
        ctx.demands[1],
        variant=level.copy(),
        typology=[ctx.demands[int(level[i])].typology[i] for i in range(len(level))],
    )
    plan = Plan(
        met=met,
        targets=dict(params.targets),
        changes=_changes(claimed, ctx.baseline, program.keys),
        simulated_changes=_changes(district, ctx.baseline, program.keys),
        misses=misses,
        binding=binding,
        investment_eur=spent,
        annual_cost_eur=claimed["annual_cost"],
        budget_eur=params.budget_eur,
        claimed={
            k: claimed[k]
            for k in (
                "co2_kg",
                "renewable_kwh",
                "final_energy_kwh",
                "import",
                "export",
                "pv",
                "consumption",
                "gas",
                "district_heat",
                "ambient",
                "losses",
            )
        },
        simulated=district,
        baseline=ctx.baseline,
        deviation=deviation,
        measures=_measures(ctx, choice, quarter),
        costs=_costs(choice, quarter, params),
        choice=choice,
        run=done,
        district_heat_kwh=district_heat,
        iterations=iteration,
        optimal=optimal,
        seconds=time.perf_counter() - started,
        solve_seconds=solve_seconds,
        grid=None
        if ctx.grid is None
        else {
            "year": ctx.grid.year,
            "co2_g_per_kwh": ctx.grid.co2_g_per_kwh,
            "renewable_share": ctx.grid.renewable_share,
            "source": ctx.grid.source,
        },
        parameters=params.parameters(),
    )
    done.building_extra = plan.building_measures()
    return plan


def _binding(
    ctx: Context,
    program: _Program,
    x: np.ndarray,
    choice: Mapping[str, np.ndarray],
    misses: Mapping[str, float],
    budget: float | None,
) -> list[str]:
    """The constraints that hold the portfolio back: the budget, or measures used to their potential."""
    out = []
    ex = program.expressions(program.offsets)
    if budget and program.value(ex["investment"], x) >= 0.995 * budget:
        out.append("budget")
    heated = np.array(
        [
            ctx.demands[int(ctx.current[i])].space_heat_kwh[i]
            + ctx.demands[int(ctx.current[i])].hot_water_kwh[i]
            > 0
            for i in range(ctx.base_plant.n)
        ]
    )
    if heated.any() and (choice["level"][heated] == 3).all():
        out.append("refurbishment: every heated building at TABULA's advanced level")
    if heated.any() and (choice["system"][heated] != 0).all():
        out.append("heat supply: no gas boiler left")
    roofs = ctx.potential.pv_kwp > 0
    if roofs.any() and choice["pv"][roofs].all():
        out.append("PV: every suitable roof used")
    if x[program.iq] >= ctx.params.quarter_storage_max_kwh * 0.999:
        out.append("quarter storage at its maximum")
    if any(value > 1e-6 for value in misses.values()) and not out:
        out.append("the measures' effects: no portfolio of these measures reaches the targets")
    return out


def _measures(ctx: Context, choice: Mapping[str, np.ndarray], quarter: float) -> dict[str, Any]:
    base = ctx.base_plant
    new_pv = choice["pv_new"]
    new_battery = choice["battery"] & ~(base.battery_kwh > 0)
    pv_kwp = np.where(new_pv, ctx.potential.pv_kwp, 0.0)
    battery = np.where(new_battery, ctx.potential.battery_kwh, 0.0)
    changed = choice["level_changed"]
    return {
        "refurbished_usual": int((changed & (choice["level"] == 2)).sum()),
        "refurbished_advanced": int((changed & (choice["level"] == 3)).sum()),
        "heat_pumps": int(((choice["system"] == 1) & ~base.heat_pump).sum()),
        "district_heating_connections": int((choice["system"] == 2).sum()),
        "gas_boilers_left": int(
            ((choice["system"] == 0) & ((base.space_heat_kwh + base.hot_water_kwh) > 0)).sum()
        ),
        "pv_buildings": int(new_pv.sum()),
        "pv_kwp": round(float(pv_kwp.sum()), 1),
        "batteries": int(new_battery.sum()),
        "battery_kwh": round(float(battery.sum()), 1),
        "quarter_storage_kwh": round(quarter, 1),
        "smart_charging_points": int(choice["points"][choice["smart"]].sum()),
        "smart_charging_buildings": int(choice["smart"].sum()),
        "charging_points": int(len(base.ev_owner)),
        "buildings": int(base.n),
    }


def _costs(choice: Mapping[str, np.ndarray], quarter: float, params: PlanParams) -> dict[str, float]:
    """The investment by measure [€]."""
    heating = choice["heating_eur"]
    system = choice["system"]
    return {
        "refurbishment": round(float(choice["envelope_eur"].sum())),
        "heat_pumps": round(float(heating[system == 1].sum())),
        "district_heating": round(float(heating[system == 2].sum())),
        "pv": round(float(choice["pv_eur"].sum())),
        "batteries": round(float(choice["battery_eur"].sum())),
        "smart_charging": round(float(choice["smart_eur"].sum())),
        "quarter_storage": round(quarter * params.quarter_storage_eur_per_kwh),
    }


def plan(
    records: Sequence[model.BuildingRecord],
    base: Scenario,
    params: PlanParams | None = None,
    weather: Weather | None = None,
    site: Site | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Prepare and solve: the least-cost portfolio over the given buildings (see the module doc)."""
    ctx = prepare(records, base, params or PlanParams(), weather, site, progress)
    return solve(ctx, progress)


def params_from(values: Mapping[str, Any]) -> PlanParams:
    """Plan parameters from a mapping (CLI, API): unknown keys and wrong types are refused, naming them
    (checked as a scenario's parameters are, `scenario.parameters_from`)."""
    known = [f.name for f in fields(PlanParams)]
    for key in values:
        if key not in known:
            raise ValueError(f"unknown plan parameter {key!r} (known: {', '.join(known)})")
    params: PlanParams = parameters_from(PlanParams, values, "plan parameter", joined=" ")
    params.check()
    if params.year and params.year not in GERMAN_GRID:
        grid_of(params.year)
    return params
