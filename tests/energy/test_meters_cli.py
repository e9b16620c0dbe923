"""`urbantwin energy meters`: simulated meters of a stored run written into the store."""

from __future__ import annotations

import re

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.energy.conftest import DEMO_QUARTER
from tests.energy.test_api import load_small_quarter
from urbantwin.access.principal import SYSTEM
from urbantwin.cli import app
from urbantwin.demo import ENERGY_SCENARIOS
from urbantwin.energy.jobs import EnergyRuns
from urbantwin.settings import Settings
from urbantwin.store.schema import datastreams, observations, things

runner = CliRunner()


def test_meters_of_the_last_day_are_written_and_labelled(engine: Engine, settings: Settings) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    runs.execute(runs.claim() or "")
    arguments = ["energy", "meters", "--days", "1", "--noise", "0", "--ahead", "0"]
    arguments += ["--database-url", settings.database_url]
    demo = {"URBANTWIN_ENERGY_SCENARIOS": str(ENERGY_SCENARIOS)}  # as `urbantwin demo` sets it
    result = runner.invoke(app, arguments, env=demo)
    assert result.exit_code == 0, result.output
    # A day of meters and of the run's plan beside them.
    assert f"run {run_id} (baseline) and its plan" in result.output
    assert "960 observations added" in result.output
    with engine.connect() as connection:
        thing = connection.execute(select(things.c.name, things.c.properties)).one()
        assert thing.name == "Leipzig-West quarter meters (simulated)"
        assert thing.properties["simulated"] is True and thing.properties["plan_run"] == run_id
        roles = [
            (p["energy_flow"], p["role"]) for (p,) in connection.execute(select(datastreams.c.properties))
        ]
        flows = {"pv", "consumption", "grid_import", "grid_export", "gas"}
        assert sorted(roles) == sorted((flow, role) for flow in flows for role in ("actual", "plan"))
        assert connection.execute(select(func.count()).select_from(observations)).scalar() == 960
    again = runner.invoke(app, arguments, env=demo)
    # Nothing twice: at most the quarter-hour that ended between the two commands is new.
    assert "960 already present" in again.output or "950 already present" in again.output


def test_the_meters_of_every_block_and_of_a_blocks_buildings(engine: Engine, settings: Settings) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    runs.execute(runs.claim() or "")
    demo = {"URBANTWIN_ENERGY_SCENARIOS": str(ENERGY_SCENARIOS)}
    base = ["energy", "meters", "--days", "1", "--ahead", "2", "--database-url", settings.database_url]
    result = runner.invoke(app, [*base, "--level", "block"], env=demo)
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        blocks = connection.execute(
            select(things.c.properties).where(things.c.properties["meter_level"].as_string() == "block")
        ).all()
    count = len(blocks)
    assert count >= 2 and f"Simulated meters of {count} blocks and the plan of run {run_id}" in result.output
    assert f"{count * 5 * (24 + 26)} observations added" in result.output  # a day of meters, 26 h of plan
    biggest = max(blocks, key=lambda row: row.properties["buildings"]).properties
    chosen = ["--level", "building", "--block", biggest["meter_key"]]
    result = runner.invoke(app, [*base, *chosen], env=demo)
    assert result.exit_code == 0, result.output
    assert f"Simulated meters of {biggest['buildings']} buildings" in result.output
    for wrong, words in (
        (["--level", "street"], "expected one of quarter, block, building"),
        (["--level", "building"], "needs the buildings"),
        (["--block", "x"], "--level block or building"),
        (["--level", "block", "--live"], "--live writes the quarter's meters"),
        (["--level", "block", "--block", "block-nowhere"], "no block block-nowhere"),
    ):
        result = runner.invoke(app, [*base, *wrong], env=demo)
        said = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # the error box, unwrapped
        assert result.exit_code != 0 and words in said, (wrong, said)


def test_meters_without_a_finished_run_say_so(engine: Engine, settings: Settings) -> None:
    result = runner.invoke(app, ["energy", "meters", "--database-url", settings.database_url])
    assert result.exit_code == 1 and "No finished energy run" in result.output
