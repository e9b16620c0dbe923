"""Calendar buckets of a time zone as UTC instants: where hours, days, ISO weeks, months and years
of local time begin.

A bucket begins at the first instant at which the local clock shows its start: 00:00 of the day, of
the Monday, of the 1st, of 1 January (as `zoneinfo` resolves a wall time with `fold=0`); where the
clock jumps over that time, at the jump. So a day of Europe/Berlin lasts 23 hours on the last Sunday
of March and 25 on the last Sunday of October, and an hour bucket is an hour of the local clock:
the hour 02:00–03:00 that happens twice in October is two buckets, one per UTC offset.

Everything here is plain Python: the store is handed the boundaries (see store/rollups.py, "Why
buckets come from Python"), so both backends and the labels agree on one calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

INTERVALS = ("hour", "day", "week", "month", "year")
HOUR = timedelta(hours=1)


def _instant(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local clock of `zone` first shows 00:00 of `day`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _first_day(moment: datetime, interval: str, zone: ZoneInfo) -> date:
    local_day = moment.astimezone(zone).date()
    if interval == "day":
        return local_day
    if interval == "week":
        return local_day - timedelta(days=local_day.weekday())
    if interval == "month":
        return local_day.replace(day=1)
    return local_day.replace(month=1, day=1)


def _next_day(day: date, interval: str) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7)
    if interval == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date(day.year + 1, 1, 1)


def bucket_start(moment: datetime, interval: str, zone: ZoneInfo) -> datetime:
    """The UTC start of the bucket of `zone` that contains the instant `moment`."""
    if interval == "hour":
        local = moment.astimezone(zone)
        start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        start = min(start, moment)
        if start.astimezone(zone).utcoffset() != local.utcoffset():
            # The offset changed within the local hour (zones that shift by 30 minutes): an hour
            # bucket is one hour of the clock at one offset, so this one begins at the change.
            start = _offset_change(start, moment, zone)
        return start
    start = _instant(_first_day(moment, interval, zone), zone)
    return min(start, moment)


def _offset_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (before, after] with the UTC offset `after` has (bisection to 1 s)."""
    offset = after.astimezone(zone).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.replace(microsecond=0) > low else high


def next_bucket(start: datetime, interval: str, zone: ZoneInfo) -> datetime:
    """The UTC start of the bucket after the one that begins at `start`."""
    if interval == "hour":
        later = start + HOUR
        candidate = bucket_start(later, interval, zone)
        # The local clock went back within the hour (the repeated hour of a DST end begins at the
        # jump, not at the earlier instant the clock showed the same hour).
        return candidate if candidate > start else later
    return _instant(_next_day(_first_day(start, interval, zone), interval), zone)


@dataclass(frozen=True)
class Buckets:
    """The buckets of a window `[start, end)`: `bounds` cut the window (the first is `start`, the
    last `end`), `starts`/`ends` are each bucket's whole calendar extent (the first may begin before
    `start`, the last end after `end`)."""

    bounds: list[datetime]
    starts: list[datetime]
    ends: list[datetime]


class TooManyBuckets(ValueError):
    pass


def buckets(start: datetime, end: datetime, interval: str, zone: ZoneInfo, limit: int) -> Buckets:
    """The calendar buckets of `zone` that meet `[start, end)` (UTC instants, start < end).

    Raises `TooManyBuckets` past `limit`, and ValueError/OverflowError for dates beyond the years
    Python can represent.
    """
    first = bucket_start(start, interval, zone)
    bounds, starts = [start], [first]
    current = first
    while True:
        following = next_bucket(current, interval, zone)
        if following <= current:  # pragma: no cover - the calendar always moves forward
            following = current + HOUR
        if following >= end:
            break
        if len(starts) >= limit:
            raise TooManyBuckets(f"more than {limit} buckets")
        bounds.append(following)
        starts.append(following)
        current = following
    bounds.append(end)
    ends = [*starts[1:], following]
    return Buckets(bounds, starts, ends)
