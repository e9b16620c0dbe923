"""`urbantwin import gtfs FEED.zip` and `urbantwin transit energy|scenario run|runs|compare`: a GTFS
feed into the store with the counts it found; the energy model and its scenario runs on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from urbantwin.commandline import Config, DatabaseUrl, open_store, reported
from urbantwin.ingest.cli import Attribution, Licence, Publisher, Source
from urbantwin.transit.distance import DETOUR_FACTOR

if TYPE_CHECKING:
    from urbantwin.transit.runs import TransitRuns


def gtfs(
    file: Annotated[Path, typer.Argument(help="a GTFS feed: its zip, or a folder of its .txt files")],
    feed_id: Annotated[
        str | None,
        typer.Option(
            help="id of the feed (default: the file name); collections <id>-stops, -lines, -service"
        ),
    ] = None,
    detour_factor: Annotated[
        float,
        typer.Option(
            help="stop-to-stop distance × this for trips without shapes (calibrated on a feed with shapes)"
        ),
    ] = DETOUR_FACTOR,
    source: Source = None,
    licence: Licence = None,
    attribution: Attribution = None,
    publisher: Publisher = None,
    title: Annotated[
        str | None,
        typer.Option(help="what the feed is called where it is shown (collection titles, the viewer)"),
    ] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Import a GTFS feed: routes, trips with their distance, service days; stops, lines and service per
    day as collections."""
    from urbantwin.ingest.pipeline import ImportFailure
    from urbantwin.transit.gtfs_import import import_gtfs

    with open_store(config, database_url) as (_, engine):
        try:
            report = import_gtfs(
                engine,
                file,
                feed_id=feed_id,
                source=source,
                licence=licence,
                attribution=attribution,
                publisher=publisher,
                title=title,
                detour_factor=detour_factor,
                progress=True,
            )
        except ImportFailure as exc:
            typer.echo(f"Import failed: {exc}", err=True)
            raise typer.Exit(1) from None
    for line in report.lines():
        typer.echo(line)


transit_app = typer.Typer(
    help="Public transport (EfficienCE): the energy model on imported GTFS feeds.", no_args_is_help=True
)


@transit_app.command("energy")
def energy(
    feed_id: Annotated[str, typer.Argument(help="id of an imported feed (urbantwin import gtfs)")],
    day: Annotated[
        str | None, typer.Option(help="the day, YYYY-MM-DD (default: the typical weekday)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="last day of a range starting at --day")] = None,
    weekday: Annotated[bool, typer.Option("--weekday", help="the feed's typical weekday")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="a coefficient name=value (repeatable), e.g. grid.green_share=1 or units.4=2"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="folder for lines.csv, hours.csv and trips.csv")] = None,
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Vehicle-km, traction energy and CO2 per vehicle type and line of a feed (a model result)."""
    from urbantwin.access.gate import Access, Caller
    from urbantwin.transit.energy import NOTE, TransitEnergy, parse_set

    with reported(exit_code=2), open_store(config, database_url, migrate=False) as (settings, engine):
        service = TransitEnergy(engine, Access.of(engine, settings))
        result = service.energy(
            Caller.system(f"transit energy {feed_id}"),
            feed_id,
            day=day,
            until=until,
            weekday=weekday,
            overrides=parse_set(set_ or []),
        )
    typer.echo(f"Feed {feed_id!r}, {result.period.label}: {result.service_days} day(s) with service.")
    typer.echo(NOTE)
    columns = ["vehicle_km", "energy_kwh", "diesel_l", "co2_ttw_kg", "co2_wtw_kg"]
    header = f"{'':<16}" + "".join(f"{c:>14}" for c in columns)
    typer.echo("\nPer vehicle type (modelled)\n" + header)
    for kind, row in result.by_vehicle_type().iterrows():
        typer.echo(f"{kind!s:<16}" + "".join(f"{row[c]:>14,.1f}" for c in columns))
    totals = result.totals()
    typer.echo(f"{'total':<16}" + "".join(f"{totals[c]:>14,.1f}" for c in columns))
    typer.echo(
        "\nPer line (modelled)\n" + f"{'line':<10}{'vehicle':<14}" + "".join(f"{c:>14}" for c in columns)
    )
    for row in result.lines.itertuples(index=False):
        typer.echo(
            f"{row.line!s:<10}{row.vehicle_type or 'not modelled'!s:<14}"
            + "".join(f"{getattr(row, c):>14,.1f}" for c in columns)
        )
    if out is not None:
        for path in result.write_csv(out):
            typer.echo(f"Wrote {path}")


scenario_app = typer.Typer(help="Scenarios of the transit model: run a scenario file.", no_args_is_help=True)
transit_app.add_typer(scenario_app, name="scenario")

#: The KPIs the CLI's tables show, with their labels.
_KPI_ROWS = (
    ("vehicle_km", "vehicle-km"),
    ("electric_kwh", "electric kWh (at vehicles)"),
    ("depot_charging_kwh", "depot charging kWh"),
    ("grid_kwh", "grid kWh (after PV)"),
    ("diesel_l", "diesel l"),
    ("co2_ttw_kg", "CO2 TTW kg"),
    ("co2_wtw_kg", "CO2 WTW kg"),
    ("pv_kwh", "PV kWh"),
    ("pv_self_consumed_kwh", "PV self-consumed kWh"),
    ("pv_co2_saved_kg", "CO2 saved by PV kg"),
    ("cost_eur", "cost EUR"),
)


@contextmanager
def _runs(database_url: str | None, config: Path | None) -> Iterator[TransitRuns]:
    """The store's scenario runs (a store of an older version gains the runs table); a platform
    error is printed and exits 2."""
    from urbantwin.access.gate import Access
    from urbantwin.transit.energy import TransitEnergy
    from urbantwin.transit.runs import TransitRuns

    with reported(exit_code=2), open_store(config, database_url) as (settings, engine):
        yield TransitRuns(engine, TransitEnergy(engine, Access.of(engine, settings)))


def _table(compared: dict[str, Any]) -> None:
    columns = compared["columns"]
    width = 16
    typer.echo(f"{'':<28}" + "".join(f"{c['id'][:12]:>{width}}" for c in columns))
    for key, label in _KPI_ROWS:
        cells = []
        for column in columns:
            value = column["kpis"].get(key)
            cells.append(f"{'-' if value is None else f'{value:,.1f}':>{width}}")
        typer.echo(f"{label:<28}" + "".join(cells))
    for column in columns[1:]:
        for line, battery in (column["kpis"].get("batteries") or {}).items():
            typer.echo(
                f"{column['id'][:12]}: line {line} battery {battery['battery_kwh']:,.0f} kWh "
                f"(longest vehicle day {battery['longest_vehicle_day_km']:,.1f} km × "
                f"{battery['kwh_per_km']:.3f} kWh/km × reserve)"
            )


@scenario_app.command("run")
def scenario_run(
    file: Annotated[Path, typer.Argument(help="a scenario TOML file (docs/transit.md)")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Run a scenario on its feed and day; store it as a run and a catalogue dataset; show it beside
    its baseline (a model result)."""
    from urbantwin.access.gate import Caller
    from urbantwin.transit import scenario as scenarios
    from urbantwin.transit.energy import NOTE

    with _runs(database_url, config) as runs:
        scenario = scenarios.load(file)
        run_id = runs.submit(Caller.system(f"transit scenario {file}"), scenario.document)
        compared = runs.compare(Caller.system("transit scenario"), [run_id])
    typer.echo(f"Run {run_id} ({scenario.title}): stored, published as transit-run-{run_id[:12]}.")
    typer.echo(NOTE)
    _table(compared)


@transit_app.command("runs")
def runs_list(database_url: DatabaseUrl = None, config: Config = None) -> None:
    """The stored scenario runs, newest first."""
    from urbantwin.access.gate import Caller

    with _runs(database_url, config) as runs:
        listed = runs.list(Caller.system("transit runs"))
    for run in listed:
        typer.echo(f"{run['id']}  {run['feed']}  {run['day']}  {run['name']}  {run['title']}")


@transit_app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="ids of stored runs (urbantwin transit runs)")],
    database_url: DatabaseUrl = None,
    config: Config = None,
) -> None:
    """Runs side by side with the baseline of the first (KPIs of a model)."""
    from urbantwin.access.gate import Caller
    from urbantwin.transit.energy import NOTE

    with _runs(database_url, config) as runs:
        compared = runs.compare(Caller.system("transit compare"), run_ids)
    typer.echo(NOTE)
    _table(compared)
