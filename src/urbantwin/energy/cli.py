"""`urbantwin energy …`: simulate scenarios of the virtual energy quarter on the store's buildings.

    urbantwin energy run baseline pv_batteries_rule pv_hp_ev_optimised --out results/energy
    urbantwin energy run my.toml --area Altstadt --strategy optimised --set pv.adoption=0.8
    urbantwin energy scenarios            # the scenarios offered by name (setting energy_scenarios)
    urbantwin energy parameters baseline  # every parameter, its value, source and whether assumed
    urbantwin energy meters --days 7 --live   # SIMULATED quarter meters from a stored run's plan
    urbantwin energy meters --level block     # … every block's (hourly), with the plans as Datastreams
    urbantwin energy meters --level building --block block-way/123   # … the buildings of a block
    urbantwin energy worker               # run the queued runs (setting scenario_worker = "separate")

`run` simulates each scenario over a year at 15-minute steps with a progress bar, stores its
per-building KPIs as the collection `energy-<name>` (an open catalogue dataset, served by OGC API
Features), writes the files of `results.py` to `--out`, and prints each scenario's district KPIs and
the table against the SPARCS targets, computed against the baseline scenario (`--baseline`).
`meters` writes simulated meter Observations (see `meters.py`) for the monitoring mode, of the quarter,
every block or chosen buildings, and the run's plan beside them as forecast Observations. `worker` is
the scenario worker of a deployment (deploy/systemd/urbantwin-worker.service): it runs the runs the
API queued, one after another, until it is stopped (SIGTERM or SIGINT: after the current run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from urbantwin.commandline import Config, DatabaseUrl, open_store, settings_from

energy_app = typer.Typer(
    help="The virtual energy quarter (SPARCS): simulate scenarios of PV, batteries, heat pumps and EV "
    "charging on the store's buildings; KPIs against the SPARCS targets.",
    no_args_is_help=True,
)


def _library(config: Path | None) -> Any:
    """The scenarios offered by name: the folder of the setting `energy_scenarios`."""
    from urbantwin.energy.scenario import Library

    try:
        return Library.at(settings_from(config).energy_scenarios)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _load(
    name: str,
    area: list[str] | None,
    strategy: str | None,
    overrides: list[str] | None,
    library: Any = None,
) -> Any:
    from urbantwin.energy import scenario as scenarios

    values: dict[str, Any] = {}
    for text in overrides or []:
        key, value = scenarios.parse_override(text)
        values[key] = value
    if area:
        values["scenario.area"] = [a.strip() for item in area for a in item.split(",") if a.strip()]
    if strategy:
        values["scenario.strategy"] = strategy
    return (library or scenarios.BUNDLED).load(name, values)


@energy_app.command("run")
def run_command(
    scenarios: Annotated[
        list[str], typer.Argument(help="scenario files, or names of the scenarios offered (`scenarios`)")
    ],
    area: Annotated[
        list[str] | None,
        typer.Option(
            "--area", help="district(s) of the city profile to simulate (repeatable or comma-separated)"
        ),
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="override the strategy: baseline, rule_based, optimised")
    ] = None,
    set_values: Annotated[
        list[str] | None, typer.Option("--set", help="override a parameter: section.key=value (repeatable)")
    ] = None,
    baseline: Annotated[str, typer.Option(help="the scenario the targets are measured against")] = "baseline",
    out: Annotated[Path, typer.Option(help="folder for the result files")] = Path("results/energy"),
    store: Annotated[bool, typer.Option(help="store the per-building KPIs as a collection")] = True,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Simulate scenarios for a year, store and write their results, compare them with the targets."""
    from urbantwin.access.bootstrap import ensure_defaults
    from urbantwin.energy import kpi, results, trajectory
    from urbantwin.energy.jobs import implied_grid_factor
    from urbantwin.energy.run import from_store

    try:
        library = _library(config)
        loaded = [_load(name, area, strategy, set_values, library) for name in scenarios]
        reference = _load(baseline, area, None, set_values, library) if baseline else None
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with open_store(config, database_url) as (settings, engine):
        ensure_defaults(engine, settings)
        runs: dict[int, Any] = {}
        todo = list(loaded)
        # The reference is the baseline as its file defines it (a --strategy override does not apply).
        if reference is not None and reference not in loaded:
            todo.insert(0, reference)
        for scenario in todo:
            info = scenario.scenario
            steps = 365 * 96
            with tqdm(
                total=steps, unit="step", desc=f"{info.name} ({info.strategy})", unit_scale=True
            ) as bar:
                try:
                    done = from_store(engine, scenario, progress=bar.update)
                except ValueError as exc:
                    typer.echo(f"Energy run failed: {exc}", err=True)
                    raise typer.Exit(1) from None
            runs[id(scenario)] = done
            if any(scenario is item for item in loaded):
                files = results.write_files(done, out)
                line = f"{info.name}: wrote {', '.join(p.name for p in files)} to {files[0].parent}"
                if store:
                    report = results.store_kpis(engine, done)
                    line += f"; collection '{results.collection_id(done)}': {report.summary()}"
                typer.echo(line)
                typer.echo(_summary(done.district_kpis))
        if reference is not None:
            same = [item for item in loaded if item == reference]
            base = runs[id(same[0] if same else reference)].district_kpis
            rows = [kpi.against_baseline(s.scenario.name, runs[id(s)].district_kpis, base) for s in loaded]
            table = kpi.targets_table(rows)
            paths = {
                s.scenario.name: trajectory.path_of(
                    runs[id(s)].district_kpis, base, implied_grid_factor(runs[id(s)].district_kpis)
                )
                for s in loaded
            }
            years = trajectory.table(paths)
            out.mkdir(parents=True, exist_ok=True)
            (out / "targets.md").write_text(
                f"# Scenarios against the SPARCS targets (baseline: {reference.scenario.name})\n\n"
                f"{table}\n\n## First year each target is met as the grid decarbonises\n\n"
                f"The grid's path of docs/energy.md (2023-2045), against the baseline as simulated.\n\n"
                f"{years}\n\n{results.NOTE}\n",
                encoding="utf-8",
            )
            typer.echo(f"Against the SPARCS targets (baseline '{reference.scenario.name}'):\n{table}")
            typer.echo(f"First year each target is met on the grid's path (2023-2045):\n{years}")


def _summary(k: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    return (
        f"  {k['buildings']} buildings, PV {k['pv_kwp']:.0f} kWp ({k['pv_kwh'] / 1e6:.2f} GWh), "
        f"self-consumption {pct(k['self_consumption'])}, self-sufficiency {pct(k['self_sufficiency'])}, "
        f"renewable share {pct(k['renewable_share'])}, final energy {k['final_energy_kwh'] / 1e6:.2f} GWh, "
        f"CO2 {k['co2_kg'] / 1e6:.2f} kt, balance {k['energy_balance_kwh'] / 1e6:.2f} GWh"
    )


@energy_app.command("scenarios")
def list_scenarios(config: Config = None) -> None:
    """List the scenarios offered by name (the setting `energy_scenarios`, else the bundled ones)."""
    library = _library(config)
    for path in library.files():
        loaded = library.load(path)
        info = loaded.scenario
        typer.echo(f"{path.stem}: {info.title} [{info.strategy}] — {info.description}")


@energy_app.command("parameters")
def parameters(
    scenario: Annotated[str, typer.Argument(help="a scenario file or bundled name")] = "baseline",
    config: Config = None,
) -> None:
    """Every parameter of a scenario: value, source, and whether it is assumed."""
    try:
        loaded = _load(scenario, None, None, None, _library(config))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    for p in loaded.parameters():
        flag = "ASSUMED " if p["assumed"] else ""
        typer.echo(f"{p['parameter']} = {p['value']!r}  # {flag}{p['doc']} [{p['source']}]")


@energy_app.command("meters")
def meters_command(
    run: Annotated[
        str | None,
        typer.Option("--run", help="the stored run whose plan the meters follow (default: newest done)"),
    ] = None,
    days: Annotated[int, typer.Option(help="write the quarter-hours of the last DAYS days up to now")] = 7,
    noise: Annotated[
        float, typer.Option(help="standard deviation of the per-step deviation (fraction)")
    ] = 0.05,
    consumption_bias: Annotated[float, typer.Option(help="systematic deviation of consumption")] = 0.0,
    pv_bias: Annotated[float, typer.Option(help="systematic deviation of PV generation")] = 0.0,
    gas_bias: Annotated[float, typer.Option(help="systematic deviation of gas")] = 0.0,
    seed: Annotated[int, typer.Option(help="seed of the noise")] = 1,
    live: Annotated[
        bool, typer.Option(help="then keep writing each quarter-hour as it ends (Ctrl-C stops; quarter only)")
    ] = False,
    level: Annotated[
        str,
        typer.Option(
            help="quarter (its grid connection, 15-minute), block (every block's or --block's, hourly) or "
            "building (the buildings of --block and --building, hourly)"
        ),
    ] = "quarter",
    block: Annotated[
        list[str] | None,
        typer.Option(
            "--block", help="a block (repeatable): at level block only these, at building its buildings"
        ),
    ] = None,
    building: Annotated[
        list[str] | None, typer.Option("--building", help="a building (repeatable), at level building")
    ] = None,
    plan: Annotated[
        bool, typer.Option(help="write the run's plan as forecast Observations beside the meters")
    ] = True,
    ahead: Annotated[int, typer.Option(help="hours of plan beyond now (a forecast)")] = 24,
    url: Annotated[
        str | None,
        typer.Option(help="write through a running server (its SensorThings API) instead of the store"),
    ] = None,
    token: Annotated[str | None, typer.Option(help="token for --url (a principal who may write)")] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Write SIMULATED quarter meters (a run's plan with noise) for monitoring, through SensorThings."""
    import threading
    from datetime import timedelta

    from urbantwin.energy.jobs import EnergyRuns
    from urbantwin.energy.meters import (
        LEVELS,
        Deviation,
        MeterPlace,
        PlanRun,
        Selection,
        follow,
        group_plan,
        last_days,
        write_group_meters,
        write_meters,
    )
    from urbantwin.ingest.sta_client import ClientError, HttpClient, LocalClient
    from urbantwin.store.city import read_profile

    if days < 0:
        raise typer.BadParameter("--days must be 0 or more")
    if ahead < 0:
        raise typer.BadParameter("--ahead must be 0 or more hours")
    if level not in LEVELS:
        raise typer.BadParameter(f"--level {level!r}: expected one of {', '.join(LEVELS)}")
    selection = None
    if level != "quarter":
        if live:
            raise typer.BadParameter(
                "--live writes the quarter's meters; blocks and buildings are written by period"
            )
        if not plan:
            raise typer.BadParameter(
                "blocks' and buildings' meters are monitored against their plan: drop --no-plan"
            )
        try:
            selection = Selection(level, tuple(block or ()), tuple(building or ()))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    elif block or building:
        raise typer.BadParameter("--block and --building choose meters at --level block or building")
    with open_store(config, database_url) as (settings, engine):
        library = _library(config)
        runs = EnergyRuns(engine, library=library)
        if run is None:
            done = [row for row in runs.list() if row.status == "done"]
            if not done:
                typer.echo(
                    "No finished energy run in the store: run one first (POST /api/energy/runs).", err=True
                )
                raise typer.Exit(1)
            run = done[0].id
        try:
            row, _, series = runs.series(run)
        except Exception as exc:  # noqa: BLE001 - NotFound or an unfinished run, said plainly
            typer.echo(f"Cannot use run {run!r}: {exc}", err=True)
            raise typer.Exit(1) from None
        try:
            place = MeterPlace.of(library, read_profile(engine))
        except ValueError as exc:
            typer.echo(f"Cannot write meters: {exc}", err=True)
            raise typer.Exit(1) from None
        deviation = Deviation(noise, consumption_bias, pv_bias, gas_bias, seed)
        start, end = last_days(days)
        forecast = PlanRun.of(row, runs.dataset_of(row.id)) if plan else None
        group = None
        if selection is not None:
            try:
                with tqdm(total=len(series["pv"]), unit="step", desc=f"plan of run {row.id[:8]}") as bar:
                    group = group_plan(
                        engine,
                        library,
                        row,
                        series,
                        selection,
                        start,
                        end + timedelta(hours=ahead),
                        bar.update,
                    )
            except ValueError as exc:
                typer.echo(f"Cannot write meters: {exc}", err=True)
                raise typer.Exit(1) from None
        client = HttpClient(url, token) if url else LocalClient(engine, settings)
        try:
            if group is not None and forecast is not None:
                total = group.hours * len(group.keys) * 10
                with tqdm(total=total, unit="obs", desc=f"{level} meters and plans (SIMULATED)") as bar:
                    report = write_group_meters(
                        client, forecast, group, deviation, place.name, end, bar.update
                    )
                plural = "s" if len(group.keys) != 1 else ""
                typer.echo(
                    f"Simulated meters of {len(group.keys)} {level}{plural} and the "
                    f"plan of run {row.id} ({row.scenario}), {deviation.describe('hour')}: "
                    f"{report.observations} observations added, {report.already_present} already present."
                )
                return
            if group is not None:
                raise typer.BadParameter(
                    "blocks' and buildings' meters are monitored against their plan: drop --no-plan"
                )
            steps = int((end - start).total_seconds() // 900) * 5
            if forecast is not None:
                steps += steps + ahead * 4 * 5
            with tqdm(total=steps, unit="obs", desc=f"meters ({row.scenario}, SIMULATED)") as bar:
                report = write_meters(
                    client,
                    row.id,
                    row.scenario,
                    series,
                    start,
                    end,
                    deviation,
                    place,
                    progress=bar.update,
                    plan=forecast,
                    ahead=timedelta(hours=ahead),
                )
            typer.echo(
                f"Simulated meters of run {row.id} ({row.scenario}){' and its plan' if forecast else ''}, "
                f"{deviation.describe()}: "
                f"{report.observations} observations added, {report.already_present} already present."
            )
            if live:
                typer.echo("Writing each quarter-hour as it ends (Ctrl-C stops).")
                stop = threading.Event()
                try:
                    follow(client, row.id, row.scenario, series, deviation, stop, place, since=end)
                except KeyboardInterrupt:
                    stop.set()
        except ClientError as exc:
            typer.echo(f"Writing the meters failed: {exc}", err=True)
            raise typer.Exit(1) from None
        finally:
            client.close()


@energy_app.command("worker")
def worker_command(
    poll: Annotated[float, typer.Option(help="seconds between looks at the queue when it is empty")] = 2.0,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Run the scenario runs submitted through the API, oldest first, until stopped."""
    import signal
    import threading

    from urbantwin.energy.jobs import EnergyRuns
    from urbantwin.energy.sweeps import EnergySweeps

    if poll <= 0:
        raise typer.BadParameter("--poll must be more than 0 seconds")
    stop = threading.Event()

    driving: list[EnergySweeps] = []

    def request_stop(signum: int, _frame: object) -> None:
        typer.echo(f"{signal.Signals(signum).name}: stopping after the current run", err=True)
        stop.set()
        for sweeps in driving:  # a sweep's unfinished runs fail as interrupted
            sweeps.request_stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with open_store(config, database_url) as (settings, engine):
        if settings.scenario_worker != "separate":
            typer.echo(
                "Note: scenario_worker is 'server', so the servers run submitted runs themselves as well; "
                "set URBANTWIN_SCENARIO_WORKER=separate for the servers when this worker is to run them.",
                err=True,
            )
        runs = EnergyRuns(engine, library=_library(config), in_process=False)
        sweeps = EnergySweeps(runs, settings.dask_scheduler, settings.dask_workers)
        driving.append(sweeps)
        typer.echo("Scenario worker: waiting for queued runs and sweeps.", err=True)
        try:
            done = runs.work_forever(stop, poll_seconds=poll, sweeps=sweeps.drive_next)
        finally:
            sweeps.shutdown()
        typer.echo(f"Scenario worker stopped after {done} {'run' if done == 1 else 'runs'}.", err=True)


@energy_app.command("plan")
def plan_command(
    scenario: Annotated[
        str,
        typer.Argument(help="the baseline the portfolio starts from and the targets are measured against"),
    ] = "baseline",
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="a target as KEY=CHANGE (co2, renewable, final_energy; e.g. co2=-0.64); repeatable; "
            "default: the three SPARCS targets",
        ),
    ] = None,
    budget: Annotated[float, typer.Option(help="investment budget in €; 0: no limit")] = 0.0,
    year: Annotated[
        int,
        typer.Option(help="plan on the grid of this year (2023-2045, see docs/energy.md); 0: the scenario's"),
    ] = 0,
    district_heating: Annotated[
        list[str] | None,
        typer.Option("--district-heating", help="a district where a heat network is assumed (repeatable)"),
    ] = None,
    area: Annotated[
        list[str] | None,
        typer.Option(
            "--area", help="district(s) of the city profile to plan (repeatable or comma-separated)"
        ),
    ] = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="a plan parameter: key=value (TOML value; see docs/energy.md), repeatable"
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="folder for the result files")] = Path("results/energy"),
    store: Annotated[
        bool, typer.Option(help="store the per-building measures and KPIs as a collection")
    ] = True,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """What it takes: the least-cost portfolio of measures that meets the targets (or misses them least)."""
    import json

    from urbantwin.access.bootstrap import ensure_defaults
    from urbantwin.energy import model, portfolio, results
    from urbantwin.energy import scenario as scenarios
    from urbantwin.energy.site import Site
    from urbantwin.store.city import read_profile

    values: dict[str, Any] = {"budget_eur": budget, "year": year}
    if target:
        targets = {}
        for text in target:
            key, sep, change = text.partition("=")
            try:
                targets[key.strip()] = float(change)
            except ValueError:
                raise typer.BadParameter(f"--target {text!r}: expected KEY=CHANGE, e.g. co2=-0.64") from None
            if not sep:
                raise typer.BadParameter(f"--target {text!r}: expected KEY=CHANGE, e.g. co2=-0.64")
        values["targets"] = targets
    if district_heating:
        values["district_heating_areas"] = [a.strip() for item in district_heating for a in item.split(",")]
    try:
        for text in set_values or []:
            key, value = scenarios.parse_override(text)
            values[key] = value
        params = portfolio.params_from(values)
        base = _load(scenario, area, None, None, _library(config))
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with open_store(config, database_url) as (settings, engine):
        ensure_defaults(engine, settings)
        city = read_profile(engine)
        records = model.read_buildings(engine, base, city)
        if not records:
            typer.echo(
                f"No buildings to plan in collection '{base.scenario.buildings_collection}'.", err=True
            )
            raise typer.Exit(1)
        try:
            plan = portfolio.plan(
                records,
                base,
                params,
                site=Site.of(city, records),
                progress=lambda text: typer.echo(f"  {text}"),
            )
        except (ValueError, RuntimeError) as exc:
            typer.echo(f"Planning failed: {exc}", err=True)
            raise typer.Exit(1) from None
        files = results.write_files(plan.run, out)
        folder = files[0].parent
        (folder / "plan.json").write_text(
            json.dumps(plan.summary(), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
        (folder / "plan.md").write_text(plan_markdown(plan, base.scenario.name), encoding="utf-8")
        line = f"wrote {', '.join(p.name for p in files)}, plan.json, plan.md to {folder}"
        if store:
            report = results.store_kpis(engine, plan.run)
            line += f"; collection '{results.collection_id(plan.run)}': {report.summary()}"
        typer.echo(line)
        typer.echo(plan_markdown(plan, base.scenario.name))


def plan_markdown(plan: Any, baseline: str) -> str:
    """The plan as a short Markdown report: met or missed, measures, cost, programme against simulation."""
    from urbantwin.energy.kpi import TARGET_LABELS
    from urbantwin.energy.results import NOTE

    m = plan.measures
    lines = [
        f"# What it takes (against '{baseline}')",
        "",
        "The targets are "
        + ("met" if plan.met else "missed")
        + " by the least-cost portfolio"
        + (f" within a budget of {plan.budget_eur / 1e6:,.1f} M€" if plan.budget_eur else "")
        + ".",
        "",
        "| target | goal | programme | simulation | miss |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, goal in plan.targets.items():
        lines.append(
            f"| {TARGET_LABELS[key]} | {goal:+.0%} | {plan.changes[key]:+.1%} | "
            f"{plan.simulated_changes[key]:+.1%} | {plan.misses[key]:.1%} |"
        )
    lines += [
        "",
        f"Investment {plan.investment_eur / 1e6:,.1f} M€; annual cost (annuities and energy) "
        f"{plan.annual_cost_eur / 1e6:,.2f} M€/a.",
        f"Measures: {m['refurbished_usual']} buildings refurbished to TABULA 'usual', "
        f"{m['refurbished_advanced']} to 'advanced'; {m['heat_pumps']} heat pumps, "
        f"{m['district_heating_connections']} district-heating connections, {m['gas_boilers_left']} gas "
        f"boilers left; PV {m['pv_kwp']:,.0f} kWp on {m['pv_buildings']} roofs; "
        f"{m['batteries']} home batteries "
        f"({m['battery_kwh']:,.0f} kWh); quarter battery {m['quarter_storage_kwh']:,.0f} kWh; "
        f"{m['smart_charging_points']} charging points controlled.",
    ]
    if plan.binding:
        lines.append("Binding: " + "; ".join(plan.binding) + ".")
    if plan.grid:
        lines.append(
            f"Grid of {plan.grid['year']}: {plan.grid['co2_g_per_kwh']:g} g CO2/kWh, "
            f"{plan.grid['renewable_share']:.1%} renewable ({plan.grid['source']})."
        )
    lines += [
        "Programme against the simulation of its portfolio: "
        + ", ".join(f"{k} {v:+.2%}" for k, v in plan.deviation.items())
        + f" ({plan.iterations} iterations).",
        "",
        NOTE,
        "",
    ]
    return "\n".join(lines)
