"""The lazy hourly rollups (store/rollups.py): incremental merges, invalidation, the guard, ids that
commit out of order, and two processes answering at once."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select, update

from tests.timeseries import workers
from tests.timeseries.helpers import (
    add_observations,
    create_station,
    insert_observations_on,
    new_datastream,
    post_observations,
    utc,
)
from urbantwin.store import rollups
from urbantwin.store.engine import for_writes
from urbantwin.store.rollups import BucketStats, Watermark, advance, rollup_rows, watermark
from urbantwin.store.schema import observations
from urbantwin.store.timeseries_schema import observation_rollup_state, observation_rollups

DAYS = [utc(2024, 6, 1) + timedelta(days=d) for d in range(4)]


def minutes(start: datetime, count: int, step: int = 7, value=lambda i: float(i % 11)) -> list:  # noqa: ANN001
    return [(start + timedelta(minutes=step * i), value(i)) for i in range(count)]


def expected(points: list, bounds: list[datetime]) -> list[BucketStats]:
    """The statistics by plain Python, the reference every answer is checked against."""
    result = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        inside = [v for t, v in points if low <= t < high]
        numbers = [float(v) for v in inside if isinstance(v, int | float)]
        result.append(
            BucketStats(
                count=len(numbers),
                total=float(sum(numbers)),
                minimum=min(numbers) if numbers else None,
                maximum=max(numbers) if numbers else None,
                observations=len(inside),
            )
        )
    return result


def check(engine: Engine, datastream: int, points: list, bounds: list[datetime]) -> None:
    answer = rollups.aggregate(engine, datastream, bounds)
    want = expected(points, bounds)
    assert [(b.count, b.minimum, b.maximum, b.observations) for b in answer] == [
        (b.count, b.minimum, b.maximum, b.observations) for b in want
    ]
    assert [b.total for b in answer] == pytest.approx([b.total for b in want])


def raw_matches_rollups(engine: Engine, datastream: int) -> None:
    """Every rolled-up Observation exactly once: the rollups equal a fresh GROUP BY of the rows."""
    with engine.connect() as connection:
        mark = watermark(connection, datastream)
        assert mark is not None
        rows = connection.execute(
            select(observations.c.phenomenon_time_start).where(
                observations.c.datastream_id == datastream, observations.c.id <= mark.merged_through
            )
        ).scalars()
        hours: dict[datetime, int] = {}
        for moment in rows:
            hour = moment.replace(minute=0, second=0, microsecond=0)
            hours[hour] = hours.get(hour, 0) + 1
        rolled = {row["hour_start"]: row["all_count"] for row in rollup_rows(connection, datastream)}
    assert rolled == hours


def test_advance_moves_only_to_final_ids() -> None:
    nothing_open = advance(Watermark(10), 50, frozenset())
    assert nothing_open == Watermark(50)
    # Another transaction holds ids: 50 becomes pending, the watermark stays.
    waiting = advance(Watermark(10), 50, frozenset({"3/7"}))
    assert waiting == Watermark(10, 50, frozenset({"3/7"}))
    # Still open: nothing moves, even though newer ids are visible.
    assert advance(waiting, 80, frozenset({"3/7", "4/2"})) == waiting
    # Ended: the watermark takes the pending step, and a new step waits for the transactions open now.
    assert advance(waiting, 80, frozenset({"4/2"})) == Watermark(50, 80, frozenset({"4/2"}))
    assert advance(waiting, 80, frozenset()) == Watermark(80)
    # Rows at the top were deleted: the watermark comes down with them (SQLite reuses their ids).
    assert advance(Watermark(50), 40, frozenset()) == Watermark(40)


def test_incremental_merges_give_the_same_answer_as_the_rows(engine: Engine) -> None:
    ds, foi = new_datastream(engine)
    first = minutes(DAYS[0], 400)
    add_observations(engine, ds, foi, first)
    check(engine, ds, first, DAYS)
    with engine.connect() as connection:
        hours = len(rollup_rows(connection, ds))
    # More Observations: in hours already rolled up, in new hours, and non-numeric ones.
    second = minutes(DAYS[0] + timedelta(minutes=3), 300, value=lambda i: 100.0 - i)
    second += [(DAYS[2] + timedelta(hours=5), "offline"), (DAYS[2] + timedelta(hours=30), -5.5)]
    add_observations(engine, ds, foi, second)
    check(engine, ds, first + second, DAYS)
    check(engine, ds, first + second, DAYS)  # warm: nothing new to merge
    with engine.connect() as connection:
        assert len(rollup_rows(connection, ds)) > hours
    raw_matches_rollups(engine, ds)


def test_partial_hours_at_the_window_edges_come_from_the_rows(engine: Engine) -> None:
    ds, foi = new_datastream(engine)
    points = minutes(DAYS[0], 600, step=1)
    add_observations(engine, ds, foi, points)
    bounds = [
        DAYS[0] + timedelta(minutes=17, seconds=30),
        DAYS[0] + timedelta(hours=3),
        DAYS[0] + timedelta(hours=9, minutes=41),
    ]
    check(engine, ds, points, bounds)
    check(
        engine, ds, points, [DAYS[0] + timedelta(minutes=5), DAYS[0] + timedelta(minutes=50)]
    )  # inside one hour


def test_invalidate_drops_the_rollups_and_the_next_query_rebuilds_them(engine: Engine) -> None:
    ds, foi = new_datastream(engine)
    other, other_foi = new_datastream(engine, "other")
    points = minutes(DAYS[0], 200)
    ids = add_observations(engine, ds, foi, points)
    add_observations(engine, other, other_foi, minutes(DAYS[0], 50))
    check(engine, ds, points, DAYS)
    rollups.aggregate(engine, other, DAYS)
    # Change a value and move another Observation, as the SensorThings writer would, then invalidate.
    with for_writes(engine).begin() as connection:
        connection.execute(
            update(observations).where(observations.c.id == ids[0]).values(result_number=1000.0)
        )
        connection.execute(
            update(observations)
            .where(observations.c.id == ids[1])
            .values(phenomenon_time_start=DAYS[3] + timedelta(hours=1))
        )
        rollups.invalidate(connection, [ds])
    with engine.connect() as connection:
        assert watermark(connection, ds) == Watermark(0) and rollup_rows(connection, ds) == []
        assert rollup_rows(connection, other) != []  # other Datastreams keep theirs
    points[0] = (points[0][0], 1000.0)
    points[1] = (DAYS[3] + timedelta(hours=1), points[1][1])
    check(engine, ds, points, DAYS)
    raw_matches_rollups(engine, ds)


def test_the_guard_catches_changes_that_bypassed_invalidate(engine: Engine, caplog) -> None:  # noqa: ANN001
    ds, foi = new_datastream(engine)
    points = minutes(DAYS[0], 300)
    ids = add_observations(engine, ds, foi, points)
    check(engine, ds, points, DAYS)
    # A delete and a move by hand, without invalidate(): the counts in the window no longer match.
    with for_writes(engine).begin() as connection:
        connection.execute(delete(observations).where(observations.c.id == ids[10]))
        connection.execute(
            update(observations)
            .where(observations.c.id == ids[20])
            .values(phenomenon_time_start=utc(2030, 1, 1))
        )
    del points[20], points[10]
    with caplog.at_level(logging.WARNING, logger="urbantwin.rollups"):
        check(engine, ds, points, DAYS)
    assert "stale" in caplog.text
    raw_matches_rollups(engine, ds)


def test_ids_used_again_after_a_delete_at_the_top(engine: Engine, caplog) -> None:  # noqa: ANN001
    """SQLite gives the next row the id of a deleted top row; invalidate() after the delete keeps the
    watermark below it (PostgreSQL never reuses an id: the same test passes trivially)."""
    ds, foi = new_datastream(engine)
    other, other_foi = new_datastream(engine, "other")
    points = minutes(DAYS[0], 20)
    add_observations(engine, ds, foi, points)
    top = add_observations(engine, other, other_foi, [(DAYS[0], 1.0)])
    check(engine, ds, points, DAYS)  # the watermark is now the other Datastream's id
    with for_writes(engine).begin() as connection:
        connection.execute(delete(observations).where(observations.c.id == top[0]))
        rollups.invalidate(connection, [other])
    more = [(DAYS[1] + timedelta(hours=2), 7.0)]
    add_observations(engine, ds, foi, more)
    with caplog.at_level(logging.WARNING, logger="urbantwin.rollups"):
        check(engine, ds, points + more, DAYS)
    assert "stale" not in caplog.text  # right by the watermark, not repaired by the guard


def test_deleting_a_datastream_deletes_its_rollups(client: TestClient, engine: Engine) -> None:
    ds = create_station(client, "gone")["datastream"]
    post_observations(client, ds, minutes(DAYS[0], 30))
    assert rollups.aggregate(engine, ds, DAYS)[0].count == 30
    assert client.delete(f"/v1.1/Datastreams({ds})").status_code == 200
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(observation_rollups)).scalar_one() == 0
        assert (
            connection.execute(select(func.count()).select_from(observation_rollup_state)).scalar_one() == 0
        )
    assert rollups.aggregate(engine, ds, DAYS) == [BucketStats()] * 3


def test_an_id_that_commits_late_is_not_skipped(engine: Engine, backend: str) -> None:
    """PostgreSQL: ids come from a sequence, transactions commit in any order."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    ds, foi = new_datastream(engine)
    points = minutes(DAYS[0], 10)
    add_observations(engine, ds, foi, points)
    check(engine, ds, points, DAYS)
    late = [(DAYS[0] + timedelta(hours=1, minutes=1), 50.0)]
    early = [(DAYS[0] + timedelta(hours=2, minutes=2), 60.0)]
    with engine.connect() as held:
        transaction = held.begin()
        late_ids = insert_observations_on(held, ds, foi, late)  # takes its id, does not commit yet
        early_ids = add_observations(engine, ds, foi, early)  # a larger id, committed first
        assert early_ids[0] > late_ids[0]
        check(engine, ds, points + early, DAYS)  # exact: the newer row is read raw above the watermark
        with engine.connect() as connection:
            mark = watermark(connection, ds)
        assert mark is not None and mark.merged_through < late_ids[0] and mark.pending_through is not None
        transaction.commit()
    check(engine, ds, points + early + late, DAYS)
    check(engine, ds, points + early + late, DAYS)
    with engine.connect() as connection:
        mark = watermark(connection, ds)
    assert mark is not None and mark.merged_through >= early_ids[0]
    raw_matches_rollups(engine, ds)


def test_two_processes_answering_at_once_do_not_double_count(engine: Engine, settings) -> None:  # noqa: ANN001
    ds, foi = new_datastream(engine)
    context = multiprocessing.get_context("spawn")
    points = minutes(DAYS[0], 500, step=5)
    add_observations(engine, ds, foi, points)
    stop = context.Event()
    ready = [context.Event() for _ in range(2)]
    processes = [
        context.Process(target=workers.hammer, args=(settings.database_url, ds, DAYS, event, stop))
        for event in ready
    ]
    for process in processes:
        process.start()
    try:
        for event in ready:
            assert event.wait(60)
        for round_ in range(40):  # insert while both query: each batch is merged by one of them
            batch = minutes(
                DAYS[0] + timedelta(minutes=round_ + 1), 20, step=97, value=lambda i, r=round_: float(r * i)
            )
            points += batch
            add_observations(engine, ds, foi, batch)
            time.sleep(0.03)
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0, 0]
    raw_matches_rollups(engine, ds)  # before any query here: what the two processes left
    check(engine, ds, points, DAYS)
    raw_matches_rollups(engine, ds)


def test_a_second_merge_waits_for_the_first(engine: Engine) -> None:
    """The merge holds the Datastream's lock until it commits: another query waits, then finds the
    range merged (and adds nothing twice)."""
    ds, foi = new_datastream(engine)
    points = minutes(DAYS[0], 300)
    add_observations(engine, ds, foi, points)
    answers: list[list[BucketStats]] = []
    with for_writes(engine).connect() as held:
        transaction = held.begin()
        assert rollups.refresh(held, ds)
        waiting = threading.Thread(target=lambda: answers.append(rollups.aggregate(engine, ds, DAYS)))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive() and answers == []
        transaction.commit()
    waiting.join(30)
    assert answers and answers[0] == rollups.aggregate(engine, ds, DAYS)
    check(engine, ds, points, DAYS)
    raw_matches_rollups(engine, ds)
