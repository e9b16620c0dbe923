"""Building the rollups ahead of the first query: `rollups.warm` and `urbantwin db rollups`."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.timeseries.helpers import create_station, post_observations, utc
from urbantwin.access.bootstrap import ensure_defaults
from urbantwin.app import create_app
from urbantwin.cli import app as cli
from urbantwin.settings import Settings
from urbantwin.store import rollups
from urbantwin.store.engine import make_engine, upgrade
from urbantwin.store.schema import observations
from urbantwin.store.timeseries_schema import observation_rollups


def _newest(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.max(observations.c.id))).scalar_one()


def test_warm_brings_every_datastream_up_to_the_newest_observation(
    client: TestClient, engine: Engine
) -> None:
    first = create_station(client, "a")["datastream"]
    second = create_station(client, "b", lon=12.4)["datastream"]
    post_observations(client, first, [(utc(2024, 3, 1, h), 1.0) for h in range(5)])
    post_observations(client, second, [(utc(2024, 3, 1, h), 2.0) for h in range(3)])
    with engine.connect() as connection:
        assert rollups.watermark(connection, first) is None  # nothing built yet: lazy

    assert rollups.warm(engine) == 2

    with engine.connect() as connection:
        assert rollups.watermark(connection, first).merged_through == _newest(engine)
        assert rollups.watermark(connection, second).merged_through == _newest(engine)
        hours = connection.execute(
            select(observation_rollups.c.all_count).where(observation_rollups.c.datastream_id == first)
        ).scalars()
        assert sorted(hours) == [1, 1, 1, 1, 1]
    assert rollups.warm(engine, [first, 999]) == 1  # an id that does not exist is left out


def test_the_command_warms_a_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warm.sqlite'}"
    settings = Settings(database_url=url, allow_anonymous_writes=True)
    engine = make_engine(settings)
    upgrade(engine)
    ensure_defaults(engine, settings)
    with TestClient(create_app(settings, engine)) as client:
        ds = create_station(client, "c")["datastream"]
        post_observations(client, ds, [(utc(2024, 3, 1, h), 1.0) for h in range(4)])

    result = CliRunner().invoke(cli, ["db", "rollups", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "Rollups of 1 Datastream(s) are up to date." in result.output
    with engine.connect() as connection:
        assert rollups.watermark(connection, ds).merged_through == _newest(engine)

    missing = CliRunner().invoke(cli, ["db", "rollups", "--datastream", "77", "--database-url", url])
    assert missing.exit_code == 1 and "1 of the given Datastreams do not exist" in missing.output
    engine.dispose()
