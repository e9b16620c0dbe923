"""The calendar of a time zone as UTC boundaries (pure Python, no store)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.timeseries.helpers import utc
from urbantwin.timeseries.calendar import TooManyBuckets, buckets

BERLIN = ZoneInfo("Europe/Berlin")


def hours(a, b) -> float:  # noqa: ANN001
    return (b - a) / timedelta(hours=1)


def test_berlin_days_around_both_dst_changes_have_23_and_25_hours() -> None:
    spring = buckets(utc(2024, 3, 29, 23), utc(2024, 4, 1, 22), "day", BERLIN, 100)
    assert [hours(a, b) for a, b in zip(spring.starts, spring.ends, strict=True)] == [24, 23, 24]
    assert spring.starts[1] == utc(2024, 3, 30, 23)  # 00:00+01:00
    assert spring.starts[2] == utc(2024, 3, 31, 22)  # 00:00+02:00
    autumn = buckets(utc(2024, 10, 25, 22), utc(2024, 10, 28, 23), "day", BERLIN, 100)
    assert [hours(a, b) for a, b in zip(autumn.starts, autumn.ends, strict=True)] == [24, 25, 24]


def test_the_repeated_hour_of_october_is_two_hour_buckets() -> None:
    calendar = buckets(utc(2024, 10, 26, 23), utc(2024, 10, 27, 3), "hour", BERLIN, 100)
    local = [start.astimezone(BERLIN).isoformat() for start in calendar.starts]
    assert local == [
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T03:00:00+01:00",
    ]


def test_window_edges_cut_the_first_and_last_bucket() -> None:
    calendar = buckets(utc(2024, 1, 1, 12, 30), utc(2024, 1, 3, 6), "day", BERLIN, 100)
    assert calendar.bounds == [
        utc(2024, 1, 1, 12, 30),
        utc(2024, 1, 1, 23),
        utc(2024, 1, 2, 23),
        utc(2024, 1, 3, 6),
    ]
    assert calendar.starts[0] == utc(2023, 12, 31, 23) and calendar.ends[-1] == utc(2024, 1, 3, 23)


def test_weeks_start_on_monday_months_and_years_on_the_first() -> None:
    weeks = buckets(utc(2023, 12, 27), utc(2024, 1, 10), "week", BERLIN, 100)
    assert [s.astimezone(BERLIN).date().isoformat() for s in weeks.starts] == [
        "2023-12-25",
        "2024-01-01",
        "2024-01-08",
    ]
    months = buckets(utc(2024, 1, 15), utc(2024, 4, 15), "month", BERLIN, 100)
    assert [hours(a, b) for a, b in zip(months.starts, months.ends, strict=True)] == [744, 696, 743, 720]
    years = buckets(utc(2023, 6, 1), utc(2025, 6, 1), "year", BERLIN, 100)
    assert [hours(a, b) for a, b in zip(years.starts, years.ends, strict=True)] == [8760, 8784, 8760]


def test_zones_off_the_whole_hour() -> None:
    kolkata = buckets(utc(2024, 1, 1), utc(2024, 1, 3), "day", ZoneInfo("Asia/Kolkata"), 100)
    assert kolkata.bounds[1] == utc(2024, 1, 1, 18, 30)
    # Lord Howe Island moves its clock by 30 minutes: the hour 01:30–02:00 happens twice in April.
    howe = ZoneInfo("Australia/Lord_Howe")
    calendar = buckets(utc(2024, 4, 6, 14), utc(2024, 4, 6, 17), "hour", howe, 100)
    assert [s.astimezone(howe).isoformat() for s in calendar.starts] == [
        "2024-04-07T01:00:00+11:00",
        "2024-04-07T01:30:00+10:30",
        "2024-04-07T02:00:00+10:30",
        "2024-04-07T03:00:00+10:30",
    ]
    inside = buckets(utc(2024, 4, 6, 15, 10), utc(2024, 4, 6, 16), "hour", howe, 100)
    assert inside.starts[0] == utc(2024, 4, 6, 15)  # the repeated half hour begins at the change


def test_bucket_limit() -> None:
    with pytest.raises(TooManyBuckets):
        buckets(utc(2024, 1, 1), utc(2024, 1, 5), "hour", BERLIN, 95)
    assert len(buckets(utc(2024, 1, 1), utc(2024, 1, 5), "hour", BERLIN, 96).starts) == 96
