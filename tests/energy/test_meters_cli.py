"""`urbantwin energy meters`: simulated meters of a stored run written into the store."""

from __future__ import annotations

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
    arguments = ["energy", "meters", "--days", "1", "--noise", "0", "--database-url", settings.database_url]
    demo = {"URBANTWIN_ENERGY_SCENARIOS": str(ENERGY_SCENARIOS)}  # as `urbantwin demo` sets it
    result = runner.invoke(app, arguments, env=demo)
    assert result.exit_code == 0, result.output
    assert f"run {run_id} (baseline)" in result.output and "480 observations added" in result.output
    with engine.connect() as connection:
        thing = connection.execute(select(things.c.name, things.c.properties)).one()
        assert thing.name == "Leipzig-West quarter meters (simulated)"
        assert thing.properties["simulated"] is True and thing.properties["plan_run"] == run_id
        flows = {p["energy_flow"] for (p,) in connection.execute(select(datastreams.c.properties))}
        assert flows == {"pv", "consumption", "grid_import", "grid_export", "gas"}
        assert connection.execute(select(func.count()).select_from(observations)).scalar() == 480
    again = runner.invoke(app, arguments, env=demo)
    # Nothing twice: at most the quarter-hour that ended between the two commands is new.
    assert "480 already present" in again.output or "475 already present" in again.output


def test_meters_without_a_finished_run_say_so(engine: Engine, settings: Settings) -> None:
    result = runner.invoke(app, ["energy", "meters", "--database-url", settings.database_url])
    assert result.exit_code == 1 and "No finished energy run" in result.output
