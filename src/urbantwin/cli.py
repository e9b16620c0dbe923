"""The `urbantwin` command: serve the platform, load and serve the demo city, migrate the store."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from urbantwin.access.bootstrap import ensure_defaults
from urbantwin.access.principal import SYSTEM
from urbantwin.commandline import Config, DatabaseUrl, reported, settings_from
from urbantwin.module import Module
from urbantwin.modules import MODULES, add_commands
from urbantwin.settings import Settings

db_app = typer.Typer(help="Manage the store: its schema, backups.", no_args_is_help=True)
settings_app = typer.Typer(help="The platform's settings.", no_args_is_help=True)


def settings_environment(settings: Settings) -> dict[str, str]:
    """`URBANTWIN_*` variables from which `load_settings` rebuilds exactly these settings."""
    out = {}
    for item in fields(Settings):
        if item.name != "extra":
            value = getattr(settings, item.name)
            out["URBANTWIN_" + item.name.upper()] = (
                ",".join(value) if isinstance(value, tuple) else str(value)
            )
    return out


#: How long a worker of `serve --workers N` may take to answer uvicorn's health check.
WORKER_HEALTHCHECK_SECONDS = 60


def _run(settings: Settings, workers: int = 1) -> None:
    import os

    import uvicorn

    from urbantwin.app import create_app
    from urbantwin.logs import configure
    from urbantwin.store.engine import make_engine, upgrade

    try:
        log_config = configure(settings.log_level, settings.log_format, settings.secret_values())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    engine = make_engine(settings)
    with reported():
        upgrade(engine)
    ensure_defaults(engine, settings)
    if workers > 1:
        # Worker processes build their app from the environment: hand every setting over there
        # (including those that came from a --config file).
        os.environ.update(settings_environment(settings))
        engine.dispose()
        with _metrics_folder():
            uvicorn.run(
                "urbantwin.app:create_app_from_environment",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=workers,
                log_level=settings.log_level,
                log_config=log_config,
                # A worker answers uvicorn's health pings only once it has imported the platform
                # (numba, pvlib, …); on a busy machine that took longer than uvicorn's 5 s, and
                # uvicorn killed and restarted each worker as hung, again and again.
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                timeout_keep_alive=settings.http_keepalive_seconds,
            )
        return
    uvicorn.run(
        create_app(settings, engine),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config,
        timeout_keep_alive=settings.http_keepalive_seconds,
    )


@contextmanager
def _metrics_folder() -> Iterator[None]:
    """A folder for the metrics of the worker processes (prometheus-client's multiprocess mode, read
    from `PROMETHEUS_MULTIPROC_DIR` as each worker starts), so that `/metrics` adds up every
    worker's figures whichever worker answers. A folder given in the environment is emptied first
    (left-over files of an earlier server would count again); one made here is removed at the end."""
    import os
    import shutil
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="urbantwin-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def serve(
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind")] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
    workers: Annotated[int, typer.Option(help="server processes")] = 1,
    log_format: Annotated[
        str | None, typer.Option(help="`text` or `json` (one object per line, with the request id)")
    ] = None,
) -> None:
    """Serve the platform (migrating the store first)."""
    if log_format is not None and log_format not in ("text", "json"):
        raise typer.BadParameter(f"{log_format!r}: expected text or json", param_hint="--log-format")
    _run(
        settings_from(config, host=host, port=port, database_url=database_url, log_format=log_format),
        workers,
    )


def demo(
    port: Annotated[int | None, typer.Option(help="port to bind")] = None,
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    data_dir: Annotated[Path, typer.Option(help="folder of the demo's SQLite store")] = Path("data"),
    database_url: DatabaseUrl = None,
    config: Config = None,
    load_only: Annotated[bool, typer.Option(help="load the data, do not serve")] = False,
) -> None:
    """Load the demo city's data into a fresh store, then serve it.

    Serving, it also runs the demo's energy scenarios in the background and then writes
    simulated quarter meters for the monitoring mode; `--load-only` loads the data only (no energy
    runs: `urbantwin energy run …` or POST /api/energy/runs compute them later).
    """
    from urbantwin.city.setup import city_settings, init_city
    from urbantwin.city_profile import load_profile
    from urbantwin.demo import ENERGY_SCENARIOS, PROFILE
    from urbantwin.demo.catalog import publish_demo_catalogue
    from urbantwin.demo.features import load_feature_layers
    from urbantwin.demo.gtfs import load_demo_transit
    from urbantwin.demo.portfolio import load_demo_portfolio
    from urbantwin.store.engine import make_engine

    city = load_profile(PROFILE)
    data_dir.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        store = data_dir / f"{city.id}-demo.sqlite"
        for leftover in data_dir.glob(f"{city.id}-demo.sqlite*"):
            leftover.unlink()
        database_url = f"sqlite:///{store}"
    # The demo's platform is run by the demo city, as its profile says (see demo/catalog.py).
    settings = city_settings(settings_from(config, port=port, host=host, database_url=database_url), city)
    # The demo's energy quarter (its scenarios and meters) is what the energy module offers.
    settings = settings.with_overrides(energy_scenarios=settings.energy_scenarios or str(ENERGY_SCENARIOS))
    if not settings.admin_token:
        settings = settings.with_overrides(admin_token=secrets.token_urlsafe(24))
        typer.echo(f"Administrator token for this demo (write access): {settings.admin_token}")
    engine = make_engine(settings)
    init_city(engine, settings, city)
    report = load_demo(engine, settings, city.name)
    typer.echo(
        f"Loaded the {city.name} demo: {report.things} Things, {report.datastreams} Datastreams, "
        f"{report.observations} Observations."
    )
    layers = load_feature_layers(engine)
    typer.echo(f"Loaded the city model: {len(layers)} collections, {sum(r.total for r in layers)} features.")
    publish_demo_catalogue(engine)
    typer.echo("Published the catalogue of the demo's datasets at /catalog.")
    transit = load_demo_transit(engine, settings)
    typer.echo(transit.summary())
    _demo_indicators(engine, settings)
    projects = load_demo_portfolio(engine, settings)
    typer.echo(f"Loaded the project portfolio: {projects} projects (/api/portfolio/projects).")
    if not load_only:
        # The energy scenarios take minutes on the real buildings: queued here, run by the server's
        # worker thread while it serves (the viewer shows them as they finish).
        queued = _demo_energy_runs(engine)
        typer.echo(f"Queued the energy scenarios {', '.join(queued)} (progress at /api/energy/runs).")
        _demo_meters_when_done(settings, queued["pv_batteries_rule"])
        typer.echo(f"Serving http://{settings.host}:{settings.port}/ (SensorThings API at /v1.1/)")
        _run(settings)


def _demo_indicators(engine, settings: Settings) -> None:  # noqa: ANN001
    """Load the demo's goals and indicators (computed at the first read of /api/indicators, and again
    whenever their data changes: the energy indicators once the scenarios have run)."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.demo import INDICATORS
    from urbantwin.indicators.registry import load_registry
    from urbantwin.indicators.service import build
    from urbantwin.store.city import read_profile

    service = build(engine, settings, Access.of(engine, settings), read_profile(engine))
    counts = service.load(Caller.system("urbantwin demo"), load_registry(INDICATORS))
    typer.echo(f"Loaded {counts['indicators']} goals and indicators (/api/indicators).")


#: The demo's energy scenarios, run on the real buildings of its energy quarter (shortest first).
DEMO_SCENARIOS = ("baseline", "pv_batteries_rule", "pv_hp_ev_optimised")


def _demo_energy_runs(engine) -> dict[str, str]:  # noqa: ANN001
    """Queue the demo's energy scenarios as stored runs; their ids by scenario."""
    from urbantwin.demo import ENERGY_SCENARIOS
    from urbantwin.energy.jobs import EnergyRuns
    from urbantwin.energy.scenario import Library

    runs = EnergyRuns(engine, library=Library.at(ENERGY_SCENARIOS))
    return {name: runs.submit(SYSTEM, {"scenario": name}, start=False) for name in DEMO_SCENARIOS}


def _demo_meters_when_done(settings: Settings, run_id: str) -> None:
    """In the background: once the run is done, write SIMULATED quarter meters of the last 7 days
    through the server's SensorThings API, then one quarter-hour as each ends (live)."""
    import threading
    import time

    from urbantwin.energy.jobs import EnergyRuns
    from urbantwin.energy.meters import Deviation, MeterPlace, follow, last_days, write_meters
    from urbantwin.energy.scenario import Library
    from urbantwin.ingest.sta_client import ClientError, HttpClient
    from urbantwin.store.city import read_profile
    from urbantwin.store.engine import make_engine

    def work() -> None:
        engine = make_engine(settings)
        library = Library.at(settings.energy_scenarios)
        runs = EnergyRuns(engine, library=library)
        place = MeterPlace.of(library, read_profile(engine))
        try:
            while (status := runs.get(run_id).status) not in ("done", "failed"):
                time.sleep(2)
            if status == "failed":
                typer.echo(
                    f"No simulated meters: the run {run_id} failed ({runs.get(run_id).error}).", err=True
                )
                return
            row, _, series = runs.series(run_id)
            host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
            client = HttpClient(f"http://{host}:{settings.port}", settings.admin_token)
            deviation = Deviation(noise=0.05, consumption_bias=0.03, pv_bias=-0.05)
            start, end = last_days(7)
            for attempt in range(30):
                try:
                    report = write_meters(client, row.id, row.scenario, series, start, end, deviation, place)
                    break
                except ClientError as exc:
                    if exc.status or attempt == 29:
                        typer.echo(f"Writing the simulated meters failed: {exc}", err=True)
                        return
                    time.sleep(1)  # the server is not up yet
            typer.echo(
                f"Wrote {report.observations} SIMULATED meter readings of the last 7 days "
                f"({row.scenario}'s plan, {deviation.describe()}); monitoring at /api/energy/monitoring."
            )
            follow(client, row.id, row.scenario, series, deviation, threading.Event(), place, since=end)
        except Exception as exc:  # noqa: BLE001 - a demo helper reports and ends; the server goes on
            typer.echo(f"The simulated meters stopped: {exc}", err=True)
        finally:
            engine.dispose()

    threading.Thread(target=work, name="demo-energy-meters", daemon=True).start()


def load_demo(engine, settings: Settings, name: str = "the"):  # noqa: ANN001, ANN201 - typed in demo/
    """Write the demo through the local SensorThings service (as SYSTEM), with a progress bar."""
    from urbantwin.demo.sensorthings import expected_counts, load
    from urbantwin.ingest.sta_client import LocalClient

    client = LocalClient(engine, settings)
    try:
        total = expected_counts().things
        with tqdm(total=total, unit="thing", desc=f"{name} demo") as bar:
            return load(client, progress=lambda n: bar.update(n - bar.n))
    finally:
        client.close()


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
    config: Config = None,
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Create or migrate the store's schema."""
    from urbantwin.store.engine import make_engine, upgrade

    settings = settings_from(config, database_url=database_url)
    engine = make_engine(settings)
    with reported():
        upgrade(engine, revision)
    ensure_defaults(engine, settings)
    typer.echo(f"The store at {settings.database_url.split('@')[-1]} is at revision {revision}.")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="the backup file to write (replaced if it exists)")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Back up the store while the server runs: SQLite's backup API, or `pg_dump --format=custom`."""
    from urbantwin.store.backup import BackupError, backup
    from urbantwin.store.engine import make_engine

    settings = settings_from(config, database_url=database_url)
    engine = make_engine(settings)
    try:
        backup(engine, file)
    except BackupError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"Backed up the store at {_shown_url(settings)} to {file}.")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="a backup made by `urbantwin db backup`")],
    database_url: DatabaseUrl = None,
    config: Config = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace what the store holds (else it must be empty)")
    ] = False,
) -> None:
    """Restore a backup into an empty store (stop the servers on it first); `--force` replaces what
    the store holds."""
    from urbantwin.store.backup import BackupError, restore
    from urbantwin.store.engine import head_revision, make_engine

    settings = settings_from(config, database_url=database_url)
    engine = make_engine(settings)
    try:
        restored = restore(engine, file, force=force)
    except BackupError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"Restored {file} into the store at {_shown_url(settings)} (schema {restored.revision}).")
    if not restored.current:
        typer.echo(
            f"The backup's schema is not this version's ({head_revision()}): if it is older, "
            "`urbantwin db upgrade` brings it up to date."
        )


def _shown_url(settings: Settings) -> str:
    """The store's URL without its credentials."""
    return settings.database_url.split("@")[-1]


@db_app.command("rollups")
def db_rollups(
    datastream: Annotated[
        list[int] | None, typer.Option("--datastream", help="only this Datastream (repeatable)")
    ] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Build the hourly rollups of the time-series extension now (after a large import), so that
    the first aggregate query of each Datastream is as fast as the next."""
    from urbantwin.store import rollups
    from urbantwin.store.engine import make_engine

    settings = settings_from(config, database_url=database_url)
    engine = make_engine(settings)
    try:
        with tqdm(total=len(datastream) if datastream else None, unit="datastream", desc="rollups") as bar:
            done = rollups.warm(engine, datastream or None, progress=bar.update)
    finally:
        engine.dispose()
    typer.echo(f"Rollups of {done} Datastream(s) are up to date.")
    missing = len(set(datastream or ())) - done
    if datastream and missing:
        typer.echo(f"{missing} of the given Datastreams do not exist.", err=True)
        raise typer.Exit(1)


def setting_owners(modules: Sequence[Module] = MODULES) -> dict[str, str]:
    """The module that declares each setting, by the setting's name (the others are the platform's)."""
    return {setting: module.name for module in modules for setting in module.settings}


@settings_app.command("reference")
def settings_reference(
    output: Annotated[
        Path | None, typer.Option(help="write it to this file (docs/settings.md); default: print it")
    ] = None,
) -> None:
    """The reference of every `URBANTWIN_*` setting with its default and meaning, in Markdown."""
    from urbantwin.settings import reference_markdown

    text = reference_markdown(setting_owners())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote the settings reference to {output}.")


def build_cli(modules: Sequence[Module] = MODULES) -> typer.Typer:
    """The `urbantwin` command: the platform's own commands (`serve`, `demo`, `db`), then each
    module's (`import`, `energy`, `user`, …) as the registry lists them."""
    cli = typer.Typer(help="urbantwin: open urban data platform and digital twin.", no_args_is_help=True)
    cli.command()(serve)
    cli.command()(demo)
    cli.add_typer(db_app, name="db")
    cli.add_typer(settings_app, name="settings")
    add_commands(cli, modules)
    return cli


app = build_cli()

if __name__ == "__main__":
    app()
