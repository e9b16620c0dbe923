"""`urbantwin energy …`: simulate scenarios of the virtual energy quarter on the store's buildings.

    urbantwin energy run baseline pv_batteries_rule pv_hp_ev_optimised --out results/energy
    urbantwin energy run my.toml --area Altstadt --strategy optimised --set pv.adoption=0.8
    urbantwin energy scenarios            # the scenarios offered by name (setting energy_scenarios)
    urbantwin energy parameters baseline  # every parameter, its value, source and whether assumed
    urbantwin energy meters --days 7 --live   # SIMULATED quarter meters from a stored run's plan
    urbantwin energy worker               # run the queued runs (setting scenario_worker = "separate")

`run` simulates each scenario over a year at 15-minute steps with a progress bar, stores its
per-building KPIs as the collection `energy-<name>` (an open catalogue dataset, served by OGC API
Features), writes the files of `results.py` to `--out`, and prints each scenario's district KPIs and
the table against the SPARCS targets, computed against the baseline scenario (`--baseline`).
`meters` writes simulated meter Observations (see `meters.py`) for the monitoring mode. `worker` is
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
    from urbantwin.energy import kpi, results
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
            out.mkdir(parents=True, exist_ok=True)
            (out / "targets.md").write_text(
                f"# Scenarios against the SPARCS targets (baseline: {reference.scenario.name})\n\n"
                f"{table}\n\n{results.NOTE}\n",
                encoding="utf-8",
            )
            typer.echo(f"Against the SPARCS targets (baseline '{reference.scenario.name}'):\n{table}")


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
        bool, typer.Option(help="then keep writing each quarter-hour as it ends (Ctrl-C stops)")
    ] = False,
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

    from urbantwin.energy.jobs import EnergyRuns
    from urbantwin.energy.meters import Deviation, MeterPlace, follow, last_days, write_meters
    from urbantwin.ingest.sta_client import ClientError, HttpClient, LocalClient
    from urbantwin.store.city import read_profile

    if days < 0:
        raise typer.BadParameter("--days must be 0 or more")
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
        client = HttpClient(url, token) if url else LocalClient(engine, settings)
        start, end = last_days(days)
        steps = int((end - start).total_seconds() // 900) * 5
        try:
            with tqdm(total=steps, unit="obs", desc=f"meters ({row.scenario}, SIMULATED)") as bar:
                report = write_meters(
                    client, row.id, row.scenario, series, start, end, deviation, place, progress=bar.update
                )
            typer.echo(
                f"Simulated meters of run {row.id} ({row.scenario}), {deviation.describe()}: "
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

    if poll <= 0:
        raise typer.BadParameter("--poll must be more than 0 seconds")
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        typer.echo(f"{signal.Signals(signum).name}: stopping after the current run", err=True)
        stop.set()

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
        typer.echo("Scenario worker: waiting for queued runs.", err=True)
        done = runs.work_forever(stop, poll_seconds=poll)
        typer.echo(f"Scenario worker stopped after {done} {'run' if done == 1 else 'runs'}.", err=True)
