"""`update_quality`: many Observations' resultQuality and parameters written at once, on SQLite and
PostgreSQL (in chunks there), the results, the other Datastream's Observations and the counts kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from tests.timeseries.helpers import add_observations, new_datastream
from urbantwin.store import observation_quality
from urbantwin.store.engine import for_writes
from urbantwin.store.observation_counts import observation_counts
from urbantwin.store.observation_quality import update_quality
from urbantwin.store.schema import observations

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_qualities_and_parameters_are_written_and_nothing_else(engine: Engine, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(observation_quality, "CHUNK", 3)  # several statements on PostgreSQL
    stream, feature = new_datastream(engine, "a")
    other, other_feature = new_datastream(engine, "b")
    ids = add_observations(engine, stream, feature, [(T0 + timedelta(minutes=k), float(k)) for k in range(7)])
    kept = add_observations(engine, other, other_feature, [(T0, 1.0)])
    rows = [
        (
            ident,
            {"flags": ["spike"] if k == 3 else [], "usable": k != 3},
            {"airquality": {"corrected": k / 2}},
        )
        for k, ident in enumerate(ids)
    ]
    with for_writes(engine).begin() as connection:
        update_quality(connection, stream, rows)
        # an id of another Datastream is not touched, even when given
        update_quality(connection, stream, [(kept[0], {"flags": ["x"]}, {})])
        update_quality(connection, stream, [])
    with engine.connect() as connection:
        found = connection.execute(
            select(
                observations.c.id,
                observations.c.result_number,
                observations.c.result_quality,
                observations.c.parameters,
            )
            .where(observations.c.datastream_id == stream)
            .order_by(observations.c.id)
        ).all()
        untouched = connection.execute(
            select(observations.c.result_quality).where(observations.c.id == kept[0])
        ).scalar()
        counted = (
            connection.execute(
                select(observation_counts.c.observations).where(observation_counts.c.datastream_id == stream)
            )
            .scalars()
            .all()
        )
    assert [row.result_number for row in found] == [float(k) for k in range(7)]
    assert found[3].result_quality == {"flags": ["spike"], "usable": False}
    assert found[0].result_quality == {"flags": [], "usable": True}
    assert [row.parameters["airquality"]["corrected"] for row in found] == [k / 2 for k in range(7)]
    assert untouched is None
    assert sum(counted) == 7
