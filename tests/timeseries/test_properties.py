"""Random Observations, windows, intervals and time zones: every aggregate equals a plain-Python
computation that buckets each Observation by its local calendar key, before and after more
Observations arrive (the incremental path of the rollups)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.timeseries.helpers import add_observations, new_datastream, utc
from urbantwin.access.gate import Caller
from urbantwin.settings import Settings
from urbantwin.timeseries.service import TimeseriesService, parse_aggregate

#: A day before a DST change of 2024 in the zone that makes it (Europe, North America, Lord Howe
#: Island with its 30-minute shift), a year's end and a leap day in zones off the whole hour, and UTC.
CASES = [
    (utc(2024, 3, 30), "Europe/Berlin"),
    (utc(2024, 10, 26), "Europe/Berlin"),
    (utc(2024, 3, 9), "America/New_York"),
    (utc(2024, 11, 2), "America/New_York"),
    (utc(2024, 4, 6), "Australia/Lord_Howe"),
    (utc(2024, 10, 5), "Australia/Lord_Howe"),
    (utc(2023, 12, 30), "Asia/Kolkata"),
    (utc(2024, 2, 28), "Asia/Kathmandu"),
    (utc(2023, 12, 30), "Europe/Berlin"),
    (utc(2024, 2, 28), "UTC"),
]
INTERVALS = ("hour", "day", "week", "month", "year")
SPAN = 3 * 86_400

values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(min_value=-1000, max_value=1000),
    st.just("n/a"),
)
points = st.lists(st.tuples(st.integers(min_value=-86_400, max_value=SPAN), values), max_size=80)


@st.composite
def windows(draw: Any) -> tuple[int, int]:
    a = draw(st.integers(min_value=-86_400, max_value=SPAN))
    b = draw(st.integers(min_value=-86_400, max_value=SPAN + 86_400))
    if draw(st.booleans()):  # whole hours: answered from the rollups where the zone allows
        a, b = a - a % 3600, b - b % 3600
    if a == b:
        b += 3600
    return min(a, b), max(a, b)


def key(moment: datetime, interval: str, zone: ZoneInfo) -> Any:
    """The local calendar bucket of an instant, written independently of timeseries/calendar.py."""
    local = moment.astimezone(zone)
    if interval == "hour":
        return (local.replace(minute=0, second=0, microsecond=0, tzinfo=None), local.utcoffset())
    day = local.date()
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return (day.year, day.month)
    return day.year


def reference(
    observed: list[tuple[datetime, Any]], start: datetime, end: datetime, interval: str, zone: ZoneInfo
):  # noqa: ANN201
    numbers: dict[Any, list[float]] = defaultdict(list)
    for moment, value in observed:
        if start <= moment < end and not isinstance(value, str):
            numbers[key(moment, interval, zone)].append(float(value))
    return numbers


def check(
    body: dict[str, Any], observed: list, start: datetime, end: datetime, interval: str, zone: ZoneInfo
) -> None:
    want = reference(observed, start, end, interval, zone)
    seen = set()
    for bucket in body["buckets"]:
        k = key(datetime.fromisoformat(bucket["start"]), interval, zone)
        assert k not in seen, bucket
        seen.add(k)
        numbers = want.get(k, [])
        assert bucket["count"] == len(numbers), (bucket, numbers)
        if numbers:
            assert bucket["min"] == min(numbers) and bucket["max"] == max(numbers)
            assert math.isclose(bucket["sum"], math.fsum(numbers), rel_tol=1e-9, abs_tol=1e-6)
            assert math.isclose(bucket["mean"], math.fsum(numbers) / len(numbers), rel_tol=1e-9, abs_tol=1e-6)
        else:
            assert bucket["min"] is bucket["max"] is bucket["mean"] is bucket["sum"] is None
    assert set(want) <= seen


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=st.sampled_from(CASES), first=points, second=points, window=windows())
def test_aggregates_equal_a_plain_python_computation(
    engine: Engine,
    settings: Settings,
    case: tuple[datetime, str],
    first: list,
    second: list,
    window: tuple[int, int],
) -> None:
    service = TimeseriesService(engine, settings)
    ds, foi = new_datastream(engine)
    base, zone_name = case
    zone = ZoneInfo(zone_name)
    start, end = (base + timedelta(seconds=s) for s in window)
    queries = [parse_aggregate(ds, i, None, start.isoformat(), end.isoformat(), zone_name) for i in INTERVALS]
    observed = [(base + timedelta(seconds=s), v) for s, v in first]
    add_observations(engine, ds, foi, observed)
    for query in queries:
        check(service.aggregate(query, Caller.system()).body, observed, start, end, query.interval, zone)
    more = [(base + timedelta(seconds=s), v) for s, v in second]
    add_observations(engine, ds, foi, more)
    for query in queries:
        check(
            service.aggregate(query, Caller.system()).body, observed + more, start, end, query.interval, zone
        )
