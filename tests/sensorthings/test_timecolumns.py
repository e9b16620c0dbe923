"""A column of times read at once reads every value as the per-value parser does: the same instants
and intervals, the same refusals with the same words, each naming its row."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from urbantwin.errors import BadRequest
from urbantwin.sensorthings.timecolumns import micros, parse_instants, parse_instants_or_intervals
from urbantwin.sensorthings.values import parse_time, parse_time_or_interval

SETTINGS = settings(max_examples=200, deadline=None)
#: Columns at least this long are read with numpy (shorter ones by the per-value parser alone).
COLUMN = 24


def _two(number: int) -> str:
    return f"{number:02d}"


#: The parts of `iso_texts`, built once: a strategy made inside the composite is built and validated
#: again at every draw, which cost more than the tests' own work (the draws are most of their time).
_YEARS = st.sampled_from([0, 1, 2, 1900, 1970, 2000, 2023, 2024, 2100, 9998, 9999])
_MONTHS, _DAYS = st.integers(0, 13), st.integers(0, 32)
_HOURS, _SIXTIES = st.integers(0, 25), st.integers(0, 61)
_SEPARATORS = st.sampled_from(["T", "T", "T", " ", "t", "_"])
_FRACTIONS = st.text("0123456789", max_size=8)
_DECIMAL_MARKS = st.sampled_from([".", ".", ","])
_SIGNS = st.sampled_from(["+", "-"])
_OFFSET_FORMS = st.sampled_from(
    ["Z", "Z", "", "z", "{sign}{hours}:{minutes}", "{sign}{hours}:{minutes}", "{sign}{hours}{minutes}"]
)
_ONE_IN_TEN, _ONE_IN_TWENTY = st.integers(0, 9), st.integers(0, 19)
_BLANKS = st.sampled_from([" ", "\t"])


@st.composite
def iso_texts(draw: st.DrawFn) -> str:
    """Texts near the ISO 8601 forms clients send: field values at and beyond their ranges (day 29
    to 31 of February, hour 24, second 60, years 0, 1, 2 and 9998 to 9999 at the edge of the allowed
    range), fractions of 0 to 8 digits, offsets valid and not, other separators."""
    year, month, day = draw(_YEARS), draw(_MONTHS), draw(_DAYS)
    hour, minute, second = draw(_HOURS), draw(_SIXTIES), draw(_SIXTIES)
    separator = draw(_SEPARATORS)
    text = f"{year:04d}-{_two(month)}-{_two(day)}{separator}{_two(hour)}:{_two(minute)}:{_two(second)}"
    digits = draw(_FRACTIONS)
    if digits or draw(st.booleans()):
        text += draw(_DECIMAL_MARKS) + digits
    sign, hours, minutes = draw(_SIGNS), _two(draw(_HOURS)), _two(draw(_SIXTIES))
    text += draw(_OFFSET_FORMS).format(sign=sign, hours=hours, minutes=minutes)
    if draw(_ONE_IN_TEN) == 0:  # a character changed anywhere
        position = draw(st.integers(0, len(text) - 1))
        text = text[:position] + draw(st.characters()) + text[position + 1 :]
    if draw(_ONE_IN_TWENTY) == 0:
        text = draw(_BLANKS) + text
    return text


#: Values of a dataArray's time column: mostly ISO texts, some intervals, some anything else JSON has.
values = st.one_of(
    iso_texts(),
    iso_texts(),
    iso_texts(),
    st.builds(lambda a, b: f"{a}/{b}", iso_texts(), iso_texts()),
    st.builds(lambda a, b, c: f"{a}/{b}/{c}", iso_texts(), iso_texts(), iso_texts()),
    st.sampled_from(["2024-01-01", "20240101T000000Z", "2024-W01-1", "", "/", "2024-01-01/", "ä"]),
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


def _per_value(value: Any, intervals: bool) -> tuple[bool, Any]:
    """What the per-value parser makes of a value: (True, (start, end)) or (False, its message)."""
    try:
        if intervals:
            start, end = parse_time_or_interval(value, "phenomenonTime")
        else:
            start, end = parse_time(value, "phenomenonTime"), None
    except BadRequest as error:
        return False, str(error)
    return True, (micros(start), None if end is None else micros(end))


@SETTINGS
@given(st.lists(values, min_size=COLUMN, max_size=60))
def test_a_column_of_times_or_intervals_is_read_as_value_by_value(column: list[Any]) -> None:
    read = parse_instants_or_intervals(column, "phenomenonTime")
    for row, value in enumerate(column):
        ok, expected = _per_value(value, intervals=True)
        assert bool(read.good[row]) is ok, value
        if ok:
            end = int(read.end[row]) if read.has_end[row] else None
            assert (int(read.start[row]), end) == expected, value
        else:
            assert read.error(row) == f"row {row}: {expected}"


@SETTINGS
@given(st.lists(values, min_size=COLUMN, max_size=60))
def test_a_column_of_instants_is_read_as_value_by_value(column: list[Any]) -> None:
    read = parse_instants(column, "phenomenonTime")
    assert not read.has_end.any()
    for row, value in enumerate(column):
        ok, expected = _per_value(value, intervals=False)
        assert bool(read.good[row]) is ok, value
        if ok:
            assert int(read.start[row]) == expected[0], value
        else:
            assert read.errors[row] == expected


@SETTINGS
@given(st.lists(iso_texts(), min_size=COLUMN, max_size=60))
def test_a_column_all_of_one_form_is_read_as_value_by_value(column: list[str]) -> None:
    """All texts of one length: the path that reads the whole column as one block of characters."""
    read = parse_instants([text.ljust(25, "0")[:25] for text in column], "resultTime")
    for row, text in enumerate(text.ljust(25, "0")[:25] for text in column):
        ok, expected = _per_value(text, intervals=False)
        assert bool(read.good[row]) is ok, text
        if ok:
            assert int(read.start[row]) == expected[0], text


def test_the_usual_forms_are_read_at_their_instants() -> None:
    column = [
        "2024-02-29T23:59:59Z",
        "2024-03-01T00:00:00.5+01:00",
        "1970-01-01T00:00:00.000001",
        "2024-01-01T00:00:00Z/2024-01-01T01:00:00Z",
    ]
    for repeat in (1, COLUMN):  # by the per-value parser, and by numpy
        read = parse_instants_or_intervals(column * repeat, "phenomenonTime")
        assert read.good.all()
        assert read.start[:4].tolist() == [1709251199000000, 1709247600500000, 1, 1704067200000000]
        assert read.has_end[:4].tolist() == [False, False, False, True]
        assert read.end[3] == 1704070800000000


def test_refusals_name_the_row_and_the_component() -> None:
    read = parse_instants_or_intervals(
        ["2024-01-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-02T00:00:00Z/2024-01-01T00:00:00Z", 5],
        "phenomenonTime",
    )
    assert read.good.tolist() == [True, False, False, False]
    assert read.error(1) == (
        "row 1: phenomenonTime: '2023-02-29T00:00:00Z' is not an ISO 8601 time "
        "(e.g. 2024-01-01T12:00:00Z or 2024-01-01)"
    )
    assert "ends before it starts" in read.error(2)
    assert read.error(3) == "row 3: phenomenonTime: expected an ISO 8601 time string, got a number"
