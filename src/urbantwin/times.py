"""ISO 8601 times, read and written the same way by every API, importer and analysis.

Python's `datetime.fromisoformat` reads the ISO 8601 forms the platform accepts (since 3.11 also `Z`
and basic formats); what it lacks, and every caller needs alike, is here: a time without an offset
taken in a given zone (UTC unless said otherwise), the result always in UTC, years out of range and
malformed text answered with one message that names the parameter, intervals `start/end`, and one
way of writing a time back (`2024-01-01T12:00:00Z`, microseconds only when there are any).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache

from urbantwin.errors import BadRequest

#: The first and last years a time may have: every backend stores them, and a zone shift of a day
#: cannot carry them out of Python's range.
FIRST_YEAR, LAST_YEAR = 2, 9998

_EXAMPLE = "e.g. 2024-01-01T12:00:00Z or 2024-01-01"


def parse_instant(text: object, where: str, zone: tzinfo = UTC, dates: bool = True) -> datetime:
    """An ISO 8601 date-time (or, where `dates`, a date: its midnight) as an aware UTC datetime.

    A time without an offset is a time in `zone`. Raises BadRequest naming `where` for anything else.
    """
    if isinstance(text, datetime):
        moment = text
    elif isinstance(text, date) and dates:
        moment = datetime.combine(text, time())
    elif isinstance(text, str):
        value = text.strip()
        if not dates and "T" not in value.upper() and " " not in value:
            raise BadRequest(f"{where}: {text!r} is not an ISO 8601 date-time ({_EXAMPLE})")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            kind = "time" if dates else "date-time"
            raise BadRequest(f"{where}: {text!r} is not an ISO 8601 {kind} ({_EXAMPLE})") from None
    else:
        raise BadRequest(f"{where}: expected an ISO 8601 time string, got {_kind(text)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment.tzinfo is UTC and FIRST_YEAR <= moment.year <= LAST_YEAR:
        return moment  # the common case (…Z, the bulk of every import): nothing to convert
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadRequest(f"{where}: {text!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR})") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise BadRequest(f"{where}: {text!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return moment


def _kind(value: object) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    return "an array" if isinstance(value, list) else type(value).__name__


def parse_interval(text: object, where: str, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """An ISO 8601 interval `start/end` with start ≤ end, in UTC."""
    if not (isinstance(text, str) and "/" in text):
        raise BadRequest(f"{where}: expected a time interval 'start/end', got {text!r}")
    first, _, second = text.partition("/")
    start, end = parse_instant(first, where, zone), parse_instant(second, where, zone)
    if end < start:
        raise BadRequest(f"{where}: the interval {text!r} ends before it starts")
    return start, end


def parse_instant_or_interval(
    text: object, where: str, zone: tzinfo = UTC
) -> tuple[datetime, datetime | None]:
    """An instant (end None) or an interval `start/end`."""
    if isinstance(text, str) and "/" in text:
        return parse_interval(text, where, zone)
    return parse_instant(text, where, zone), None


@lru_cache(maxsize=65536)
def format_instant(moment: datetime) -> str:
    """ISO 8601 in UTC with `Z`, microseconds only when there are any (cached: importers and
    serialisers write the same times again and again)."""
    moment = moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    # Not strftime: its %Y writes the year 999 with three digits on Linux, which no parser reads.
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"
