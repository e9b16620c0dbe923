"""A column of ISO 8601 times read at once: the dataArray's phenomenonTime and resultTime.

The per-value rules are those of `values.parse_time` and `values.parse_time_or_interval` (Python's
`datetime.fromisoformat`, a time without offset taken as UTC, years 2 to 9998 in UTC, intervals
`start/end` with start ≤ end), and they stay the only rules: this module reads the one form nearly
every client sends — `YYYY-MM-DDTHH:MM:SS`, a fraction of 1 to 6 digits, then `Z`, `±HH:MM` or
nothing — for all rows at once with numpy, checking every digit, separator and field range
(months, days of the month in leap years, hours, offsets), and hands every value it does not accept
to the per-value parser, which either reads it (a date alone, a basic-format time, a space for the
`T`, …) or refuses it with its own message. So a column is accepted or refused value for value as
before, with the same instants, and the refusals carry the same words, naming their row.

Why not pandas' `to_datetime(format="ISO8601")`: the set of texts it accepts is not
`fromisoformat`'s (it reads `2024-1-1`, a space before the offset, …), so every value would have to
be checked a second time; it is no faster than the fixed-form decoding here, which needs no check
after it. numpy's own `datetime64` parsing refuses offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from urbantwin.errors import BadRequest
from urbantwin.sensorthings.values import parse_time, parse_time_or_interval
from urbantwin.times import FIRST_YEAR, LAST_YEAR

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = 1_000_000
#: The first and the end of the last instant allowed, in microseconds since 1970 (UTC).
_FIRST = (datetime(FIRST_YEAR, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_END = (datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
#: Lengths of the fixed form: 19 characters of date and time, up to 7 of fraction, up to 6 of offset.
_SHORTEST, _LONGEST = 19, 32
_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_SEPARATORS = {4: ord("-"), 7: ord("-"), 10: ord("T"), 13: ord(":"), 16: ord(":")}
_ZERO = ord("0")
#: Fewer values than this are left to the per-value parser: for a handful (an MQTT batch's block of
#: one Datastream) its cost is below the numpy calls' fixed cost.
_FEWEST = 24
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


@dataclass
class TimeColumn:
    """The times of a column: microseconds since 1970-01-01 UTC, whether each row was read, and
    the per-value parser's message for each row that was not (by row, counted from 0)."""

    start: np.ndarray
    #: The end of intervals; `has_end` False where the row is an instant (its end then is 0).
    end: np.ndarray
    has_end: np.ndarray
    good: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)

    def error(self, row: int) -> str:
        """The refusal of a row, naming it."""
        return f"row {row}: {self.errors[row]}"


def micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _SECOND + delta.microseconds


def parse_instants(values: Sequence[Any], where: str) -> TimeColumn:
    """Each value read as `values.parse_time` reads it."""
    count = len(values)
    start, good = _fixed_form(values)
    column = TimeColumn(start, np.zeros(count, np.int64), np.zeros(count, bool), good)
    for row in np.flatnonzero(~good).tolist():
        try:
            column.start[row] = micros(parse_time(values[row], where))
        except BadRequest as error:
            column.errors[row] = str(error)
        else:
            column.good[row] = True
    return column


def parse_instants_or_intervals(values: Sequence[Any], where: str) -> TimeColumn:
    """Each value read as `values.parse_time_or_interval` reads it: an instant, or an interval."""
    count = len(values)
    start, good = _fixed_form(values)
    column = TimeColumn(start, np.zeros(count, np.int64), np.zeros(count, bool), good)
    rest = np.flatnonzero(~good).tolist()
    intervals = [row for row in rest if type(values[row]) is str and "/" in values[row]]
    if intervals:
        halves = [values[row].partition("/") for row in intervals]
        firsts, first_good = _fixed_form([first for first, _, _ in halves])
        lasts, last_good = _fixed_form([last for _, _, last in halves])
        read = first_good & last_good & (firsts <= lasts)
        rows = np.asarray(intervals)[read]
        column.start[rows] = firsts[read]
        column.end[rows] = lasts[read]
        column.has_end[rows] = True
        column.good[rows] = True
        rest = np.flatnonzero(~column.good).tolist()
    for row in rest:
        try:
            first, last = parse_time_or_interval(values[row], where)
        except BadRequest as error:
            column.errors[row] = str(error)
            continue
        column.start[row] = micros(first)
        if last is not None:
            column.end[row] = micros(last)
            column.has_end[row] = True
        column.good[row] = True
    return column


def _fixed_form(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The instants of the values in the fixed form (microseconds since 1970, UTC), and which
    values are in it; a value that is not (or not a string) is left to the per-value parser."""
    count = len(values)
    instants = np.zeros(count, np.int64)
    good = np.zeros(count, bool)
    if count < _FEWEST:  # numpy's fixed cost per call is more than the per-value parser's
        return instants, good
    try:
        text = "".join(values)
    except TypeError:  # not every value is a string: read those that are
        strings = [row for row, value in enumerate(values) if type(value) is str]
        if strings:
            instants[strings], good[strings] = _fixed_form([values[row] for row in strings])
        return instants, good
    lengths = np.fromiter(map(len, values), np.int64, count)
    # One byte per character: anything beyond ASCII becomes "?", which no position of the form takes.
    raw = np.frombuffer(text.encode("ascii", "replace"), np.uint8)
    if len(raw) != int(lengths.sum()):  # a character of two code units cannot be: guard all the same
        return instants, good
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    for length in np.unique(lengths).tolist():
        if not _SHORTEST <= length <= _LONGEST:
            continue
        rows = np.flatnonzero(lengths == length)
        if len(rows) == count:
            matrix = raw.reshape(count, length)
        else:
            matrix = raw[offsets[rows][:, None] + np.arange(length)]
        instants[rows], good[rows] = _decode(matrix.astype(np.int64))
    return instants, good


def _decode(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of character codes of one length in the fixed form: their instants and which are."""
    count, length = chars.shape
    digits = chars[:, _DIGITS] - _ZERO
    good = ((digits >= 0) & (digits <= 9)).all(axis=1)
    for position, code in _SEPARATORS.items():
        good &= chars[:, position] == code
    year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
    month = digits[:, 4] * 10 + digits[:, 5]
    day = digits[:, 6] * 10 + digits[:, 7]
    hour = digits[:, 8] * 10 + digits[:, 9]
    minute = digits[:, 10] * 10 + digits[:, 11]
    second = digits[:, 12] * 10 + digits[:, 13]
    # The offset: "Z", "+HH:MM" or "-HH:MM" at the end, or none (UTC).
    zulu = chars[:, -1] == ord("Z")
    offset = np.zeros(count, np.int64)
    offset_length = np.where(zulu, 1, 0)
    if length >= _SHORTEST + 6:
        sign = chars[:, -6]
        tail = chars[:, [-5, -4, -2, -1]] - _ZERO
        numbered = (
            ((sign == ord("+")) | (sign == ord("-")))
            & (chars[:, -3] == ord(":"))
            & ((tail >= 0) & (tail <= 9)).all(axis=1)
        )
        hours, minutes = tail[:, 0] * 10 + tail[:, 1], tail[:, 2] * 10 + tail[:, 3]
        good &= ~numbered | ((hours <= 23) & (minutes <= 59))
        offset = np.where(numbered, np.where(sign == ord("-"), -1, 1) * (hours * 60 + minutes), 0)
        offset_length = np.where(numbered, 6, offset_length)
    # The fraction between the seconds and the offset: "." and 1 to 6 digits, or nothing.
    fraction_length = length - _SHORTEST - offset_length
    good &= (fraction_length == 0) | ((fraction_length >= 2) & (fraction_length <= 7))
    fraction = np.zeros(count, np.int64)
    if length > _SHORTEST:
        good &= (fraction_length == 0) | (chars[:, _SHORTEST] == ord("."))
        for place in range(min(6, length - _SHORTEST - 1)):
            digit = chars[:, _SHORTEST + 1 + place] - _ZERO
            present = place < fraction_length - 1
            good &= ~present | ((digit >= 0) & (digit <= 9))
            fraction += np.where(present, digit, 0) * 10 ** (5 - place)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last_day = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    good &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last_day)
    good &= (hour <= 23) & (minute <= 59) & (second <= 59)
    # Days since 1970 of the proleptic Gregorian date (H. Hinnant's days_from_civil).
    shifted = year - (month <= 2)
    era = shifted // 400
    of_era = shifted - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719_468
    seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset * 60
    instants = seconds * _SECOND + fraction
    good &= (instants >= _FIRST) & (instants < _END)
    return np.where(good, instants, 0), good
