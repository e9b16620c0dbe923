"""Reading committed changes as events: what the hub hands to its sinks, on both backends."""

from __future__ import annotations

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from tests.live.helpers import sensor_world
from urbantwin.live.changes import CREATE, ChangeSet
from urbantwin.live.events import RENDER_FROM, read_events

BASE = "http://city.example/v1.1"
RENDERINGS = [(BASE, None), (BASE, ("result", "phenomenonTime"))]


def _batch(http: httpx.Client, datastream: int, n: int) -> list[int]:
    block = {
        "Datastream": {"@iot.id": datastream},
        "components": ["phenomenonTime", "result"],
        "dataArray": [[f"2026-04-01T00:{i // 60:02d}:{i % 60:02d}Z", i] for i in range(n)],
    }
    answer = http.post("/v1.1/CreateObservations", json=[block])
    assert answer.status_code == 201, answer.text
    return [int(link.rsplit("(", 1)[1][:-1]) for link in answer.json()]


def test_a_big_batch_is_read_as_bodies_alone_when_no_sink_needs_the_columns(
    http: httpx.Client, engine: Engine
) -> None:
    world = sensor_world(http)
    ids = _batch(http, world["datastream"], RENDER_FROM + 6)
    changes = ChangeSet()
    changes.add(CREATE, "Observation", ids)
    with engine.connect() as connection:
        whole = read_events(connection, changes, RENDERINGS)
        slim = read_events(connection, changes, RENDERINGS, rows=False)
    assert [e.id for e in slim] == [e.id for e in whole] == ids
    for a, b in zip(whole, slim, strict=True):
        assert a.row is not None and b.row is None
        assert (b.datastream_id, b.thing_id, b.feature_id) == (
            world["datastream"],
            world["thing"],
            a.feature_id,
        )
        assert b.parents == a.parents and b.dataset_id == a.dataset_id
        for rendering in RENDERINGS:
            assert orjson.loads(b.body(*rendering)) == a.json(*rendering)
    with pytest.raises(RuntimeError, match="without its columns"):
        slim[0].json(BASE)


def test_a_small_batch_is_read_whole(http: httpx.Client, engine: Engine) -> None:
    """Below RENDER_FROM the rows are read and written in Python (faster than preparing the query)."""
    world = sensor_world(http)
    ids = _batch(http, world["datastream"], 3)
    changes = ChangeSet()
    changes.add(CREATE, "Observation", ids)
    with engine.connect() as connection:
        events = read_events(connection, changes, RENDERINGS, rows=False)
    assert [e.id for e in events] == ids
    assert all(e.row is not None for e in events)
