"""Energy quarter timings on the real buildings of Leipzig-West (issue 7, point 8).

Loads the demo's layers into a temporary SQLite store, reads the OSM buildings of Plagwitz, Lindenau,
Altlindenau and Neulindenau from it as `urbantwin energy run` does, and times, in-process:

1. the rule-based year (35,040 quarter-hours) for all buildings of the four Ortsteile: the bundled
   scenario `pv_batteries_rule`, and the same strategy with every device of `pv_hp_ev_optimised`
   (heat pumps, EV charging, quarter battery) — model + plant preparation and the simulation apart;
2. the optimised day-ahead schedule for 100 buildings with PV, batteries and heat pumps (36 h horizon,
   HiGHS, each day warm-started from the day before): seconds per planned day over four weeks
   (`--weeks`, January, April, July, October), as one LP per day for the
   quarter (scope district), as one batched LP of 100 independent buildings (scope building), as 100
   LPs of one building each, with EV charging added, and as the aggregate (the quarter as one site);
3. the full optimised year of `pv_hp_ev_optimised` for all buildings (aggregate mode);
4. the target-seeking planner (`portfolio.py`, issue 23): the least-cost portfolio meeting the
   SPARCS targets against `baseline`, with no budget, with a budget of 150 M€, and on the grid of
   2030 — preparation (baseline simulation, potentials, options), each programme solve and
   simulation, and how far the programme's KPIs are from its portfolio's simulation.

The engine's device step is a numba kernel compiled on first use and cached on disk (`cache=True`):
before part 1 the script times that first use on a one-day plant of ten buildings and says whether
the kernel came from the cache or was compiled (set NUMBA_CACHE_DIR to an empty folder to time a
compilation).

    .venv/bin/python bench/energy.py --wait-idle 900
    .venv/bin/python bench/energy.py --parts rules --repeat 5   # only the rule-based years
    .venv/bin/python bench/energy.py --parts plan               # only the planner

`--wait-idle` waits (up to that many seconds) until the 1-minute load average is below 1.5 and prints
the load before and after each part, since the machine's 2 cores are shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from host import describe

from urbantwin.city_profile import load_profile
from urbantwin.demo import ENERGY_SCENARIOS, PROFILE
from urbantwin.demo.features import load_feature_layers
from urbantwin.energy import kernel as step_kernel
from urbantwin.energy import model, portfolio, run, strategies
from urbantwin.energy import scenario as scenarios
from urbantwin.energy.site import Site
from urbantwin.settings import Settings
from urbantwin.store.city import write_profile
from urbantwin.store.engine import make_engine, upgrade

#: The demo's city (its districts, site and holidays) and its energy quarter's scenarios.
CITY = load_profile(PROFILE)
DEMO = scenarios.Library.at(ENERGY_SCENARIOS)
SITE = Site.of(CITY)


def wait_idle(limit: float, seconds: float) -> str:
    waited = 0.0
    while os.getloadavg()[0] >= limit and waited < seconds:
        time.sleep(10)
        waited += 10
    return f"load {os.getloadavg()[0]:.2f} (waited {waited:.0f} s)"


def timed(call):  # noqa: ANN001, ANN201
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def rule_based(records: list, name: str, strategy: str | None, repeat: int) -> None:
    scenario = DEMO.load(name)
    if strategy:
        scenario = scenario.with_overrides({"scenario.strategy": strategy})
    (buildings, _, plant), prep = timed(lambda: run.prepare(records, scenario, site=SITE))
    times = []
    for _ in range(repeat):
        result, seconds = timed(
            lambda: strategies.simulate(plant, scenario.scenario.strategy, scenario.optimiser)
        )
        times.append(seconds)
    devices = (
        f"{(plant.pv_kwp > 0).sum()} PV, {(plant.battery_kwh > 0).sum()} batteries, "
        f"{plant.heat_pump.sum()} heat pumps, {len(plant.ev_owner)} EV points, "
        f"{len(plant.sessions)} sessions"
    )
    print(
        f"  {name} [{scenario.scenario.strategy}]: {plant.n} buildings, {devices}, "
        f"quarter {plant.quarter_kwh:g} kWh"
    )
    grid = result.series["grid_import"].sum() / 1e6
    median = statistics.median(times)
    print(
        f"    prepare {prep:.2f} s; simulate a year: best {min(times):.2f} s, "
        f"median {median:.2f} s ({repeat} runs: {', '.join(f'{s:.2f}' for s in times)} s)"
    )
    print(f"    grid import {grid:.1f} GWh")


def kernel_ready(records: list) -> None:
    """Time the first use of the compiled step kernel (JIT compilation, or loading it from the cache)."""
    scenario = DEMO.load("pv_hp_ev_optimised").with_overrides({"scenario.strategy": "rule_based"})
    _, _, plant = run.prepare(records[:10], scenario, site=SITE)
    _, seconds = timed(lambda: strategies.simulate(plant.first_steps(96), "rule_based"))
    kernel = step_kernel.compiled_step()
    source = "compiled" if kernel.stats.cache_misses else "from numba's cache"
    print(f"   step kernel ready in {seconds:.2f} s ({source}; one day of 10 buildings)")


def hundred(records: list, ev: float) -> tuple:
    overrides = {
        "pv.adoption": 1.0,
        "battery.adoption": 1.0,
        "heat_pump.adoption": 1.0,
        "ev.points_per_dwelling": ev,
        "scenario.strategy": "optimised",
    }
    scenario = scenarios.Scenario().with_overrides(overrides)
    _, _, plant = run.prepare(records, scenario, site=SITE)
    chosen = np.flatnonzero((plant.pv_kwp > 0) & (plant.battery_kwh > 0) & plant.heat_pump)[:100]
    return scenario, plant.select(chosen)


def per_day(plant, params, weeks: list[int], mode: str = "exact") -> list[float]:  # noqa: ANN001
    """LP seconds of every planned day over the given weeks (consecutive days, as in operation)."""
    seconds: list[float] = []
    for week in weeks:
        part = plant.window(week * 96, (week + 7) * 96)
        result = strategies.simulate(part, "optimised", replace(params, mode=mode))
        seconds += result.lp_seconds
    return seconds


def report(label: str, seconds: list[float]) -> None:
    print(
        f"    {label}: median {statistics.median(seconds):.2f} s/day, max {max(seconds):.2f} s/day "
        f"({len(seconds)} days)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--weeks", type=int, nargs="+", default=[14, 105, 196, 287], help="first days of the weeks timed"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each rule-based year")
    parser.add_argument("--wait-idle", type=float, default=0, help="seconds to wait for a quiet machine")
    parser.add_argument("--skip-year", action="store_true", help="skip the full optimised year")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("rules", "lp", "year", "plan"),
        default=["rules", "lp", "year", "plan"],
        help="which parts to run: rule-based years, day-ahead LPs, optimised year",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        engine = make_engine(settings)
        upgrade(engine)
        load_feature_layers(engine, progress=False)
        with engine.begin() as connection:
            write_profile(connection, CITY)
        records, seconds = timed(lambda: model.read_buildings(engine, DEMO.load("baseline")))
        print(f"Machine: {describe()}")
        print(f"Read {len(records)} buildings of the four Ortsteile from the store in {seconds:.2f} s")
        if "rules" in args.parts:
            print("1. Rule-based year, 15-minute steps —", wait_idle(1.5, args.wait_idle))
            kernel_ready(records)
            rule_based(records, "pv_batteries_rule", None, args.repeat)
            rule_based(records, "pv_hp_ev_optimised", "rule_based", args.repeat)
            print("   after:", f"load {os.getloadavg()[0]:.2f}")
        if "lp" in args.parts:
            day_ahead(records, args)
        if "year" in args.parts and not args.skip_year:
            optimised_year(records, args)
        if "plan" in args.parts:
            target_seeking(records, args)
        engine.dispose()


def day_ahead(records: list, args: argparse.Namespace) -> None:
    """Part 2: the day-ahead LP for 100 buildings, seconds per planned day."""
    days = args.weeks
    print(
        "2. Day-ahead LP, 100 buildings with PV, batteries and heat pumps, 36 h horizon —",
        wait_idle(1.5, args.wait_idle),
    )
    scenario, plant = hundred(records, 0.0)
    params = replace(scenario.optimiser, mode="exact")
    print(
        f"   {plant.n} buildings, {plant.pv_kwp.sum():.0f} kWp, {plant.battery_kwh.sum():.0f} kWh batteries"
    )
    report("one LP per day (scope district)", per_day(plant, params, days))
    report("one batched LP per day (scope building)", per_day(plant, replace(params, scope="building"), days))
    singles = [0.0] * (7 * len(days))
    for i in range(plant.n):
        for k, value in enumerate(per_day(plant.select([i]), replace(params, scope="building"), days)):
            singles[k] += value
    report("100 separate LPs per day (one per building)", singles)
    report("aggregate: the quarter as one site", per_day(plant, params, days, "aggregate"))
    _, with_ev = hundred(records, 0.15)
    print(f"   with EV charging: {len(with_ev.ev_owner)} points")
    report("one LP per day with EVs (scope district)", per_day(with_ev, params, days))
    print("   after:", f"load {os.getloadavg()[0]:.2f}")


def optimised_year(records: list, args: argparse.Namespace) -> None:
    """Part 3: the optimised year of `pv_hp_ev_optimised` on all buildings, against the rules."""
    print("3. Optimised year, all buildings —", wait_idle(1.5, args.wait_idle))
    scenario = DEMO.load("pv_hp_ev_optimised")
    (_, _, full), prep = timed(lambda: run.prepare(records, scenario, site=SITE))
    result, seconds = timed(lambda: strategies.simulate(full, "optimised", scenario.optimiser))
    print(
        f"   pv_hp_ev_optimised: mode {result.mode}, prepare {prep:.2f} s, simulate {seconds:.1f} s "
        f"(LPs: median {statistics.median(result.lp_seconds):.3f} s/day, "
        f"total {sum(result.lp_seconds):.1f} s)"
    )
    rules = strategies.simulate(full, "rule_based")
    weight = scenario.optimiser.co2_weight_eur_per_kg
    optimised, by_rules = strategies.objective(result, weight), strategies.objective(rules, weight)
    print(
        f"   objective (cost + {weight:g} €/kg CO2): optimised {optimised:,.0f} €, "
        f"rule-based {by_rules:,.0f} €"
    )
    print("   after:", f"load {os.getloadavg()[0]:.2f}")


def target_seeking(records: list, args: argparse.Namespace) -> None:
    """Part 4: the target-seeking planner on all buildings (SPARCS targets against `baseline`)."""
    print("4. Target-seeking planner, all buildings —", wait_idle(1.5, args.wait_idle))
    base = DEMO.load("baseline")
    ctx, prep = timed(lambda: portfolio.prepare(records, base, portfolio.PlanParams(), site=SITE))
    h, p = ctx.heat_options, ctx.pv_options
    print(
        f"   prepare {prep:.1f} s: {len(h.building)} heat and {len(p.building)} PV options "
        f"of {ctx.base_plant.n} buildings"
    )
    for label, params in (
        ("no budget", ctx.params),
        ("budget 150 M€", replace(ctx.params, budget_eur=150e6)),
    ):
        plan, seconds = timed(lambda params=params: portfolio.solve(replace(ctx, params=params)))
        show(label, plan, seconds)
    later, prep = timed(lambda: portfolio.prepare(records, base, portfolio.PlanParams(year=2030), site=SITE))
    plan, seconds = timed(lambda: portfolio.solve(later))
    show(f"grid of 2030 ({later.scenario.grid.co2_g_per_kwh:g} g/kWh; prepare {prep:.1f} s)", plan, seconds)
    print("   after:", f"load {os.getloadavg()[0]:.2f}")


def show(label: str, plan: portfolio.Plan, seconds: float) -> None:
    m = plan.measures
    changes = ", ".join(f"{k} {plan.simulated_changes[k]:+.1%}" for k in plan.targets)
    print(
        f"   {label}: {'met' if plan.met else 'missed'} ({changes} simulated); solve + check {seconds:.1f} s "
        f"({plan.iterations} iterations; programme {', '.join(f'{s:.1f}' for s in plan.solve_seconds)} s)"
    )
    print(
        f"     investment {plan.investment_eur / 1e6:.1f} M€, "
        f"annual cost {plan.annual_cost_eur / 1e6:.1f} M€/a; "
        f"misses {plan.misses}; binding {plan.binding}"
    )
    print(
        f"     {m['refurbished_usual']} usual + {m['refurbished_advanced']} advanced refurbishments, "
        f"{m['heat_pumps']} heat pumps, {m['gas_boilers_left']} boilers left, "
        f"{m['pv_kwp']:.0f} kWp new PV on {m['pv_buildings']} roofs, {m['battery_kwh']:.0f} kWh batteries, "
        f"quarter {m['quarter_storage_kwh']:.0f} kWh"
    )
    print("     programme vs simulation: " + ", ".join(f"{k} {v:+.2%}" for k, v in plan.deviation.items()))


if __name__ == "__main__":
    main()
