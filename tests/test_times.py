"""One reading and one writing of ISO 8601 times for the whole platform."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbantwin.errors import BadRequest
from urbantwin.times import format_instant, parse_instant, parse_instant_or_interval, parse_interval

BERLIN = ZoneInfo("Europe/Berlin")


def test_an_instant_with_z_or_an_offset_is_read_in_utc() -> None:
    assert parse_instant("2024-01-01T12:00:00Z", "t") == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert parse_instant("2024-01-01T13:00:00+01:00", "t") == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_a_time_without_offset_is_a_time_of_the_given_zone() -> None:
    assert parse_instant("2024-07-01T12:00", "t") == datetime(2024, 7, 1, 12, tzinfo=UTC)
    assert parse_instant("2024-07-01T12:00", "t", BERLIN) == datetime(2024, 7, 1, 10, tzinfo=UTC)


def test_a_date_is_its_midnight_unless_a_date_time_is_required() -> None:
    assert parse_instant("2024-03-01", "day", BERLIN) == datetime(2024, 2, 29, 23, tzinfo=UTC)
    assert parse_instant(date(2024, 3, 1), "day") == datetime(2024, 3, 1, tzinfo=UTC)
    with pytest.raises(BadRequest, match="end: '2024-03-01' is not an ISO 8601 date-time"):
        parse_instant("2024-03-01", "end", dates=False)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "0001-01-01", "9999-12-31T23:00:00-05:00"])
def test_times_at_the_ends_of_the_calendar_are_refused_by_name(text: str) -> None:
    with pytest.raises(BadRequest, match=r"^end: .* is out of range \(years 2 to 9998\)$"):
        parse_instant(text, "end")


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "", "2024-01-01T25:00Z"])
def test_malformed_text_is_refused_naming_the_parameter(text: str) -> None:
    with pytest.raises(BadRequest, match=r"^phenomenonTime: .* is not an ISO 8601"):
        parse_instant(text, "phenomenonTime")


def test_a_non_string_is_refused_naming_its_type() -> None:
    with pytest.raises(BadRequest, match="expected an ISO 8601 time string, got a number"):
        parse_instant(20240101, "time")


def test_intervals_must_not_end_before_they_start() -> None:
    start, end = parse_interval("2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "t")
    assert end - start == datetime(2024, 1, 2) - datetime(2024, 1, 1)
    assert parse_instant_or_interval("2024-01-01T00:00:00Z", "t")[1] is None
    with pytest.raises(BadRequest, match="ends before it starts"):
        parse_interval("2024-01-02T00:00:00Z/2024-01-01T00:00:00Z", "t")


def test_times_are_written_in_utc_with_z_and_microseconds_only_when_given() -> None:
    assert format_instant(datetime(2024, 1, 1, 13, tzinfo=BERLIN)) == "2024-01-01T12:00:00Z"
    assert format_instant(datetime(2024, 1, 1, 12, 0, 0, 5, tzinfo=UTC)) == "2024-01-01T12:00:00.000005Z"


@given(st.datetimes(min_value=datetime(2, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)))
def test_what_is_written_reads_back_the_same(moment: datetime) -> None:
    assert parse_instant(format_instant(moment), "t") == moment
