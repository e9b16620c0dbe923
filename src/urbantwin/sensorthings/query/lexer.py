"""Tokenizer for SensorThings API (OData) query option values.

Literals are decoded here - strings, numbers, datetimes, intervals, durations and geo literals - so
that the parser deals only with structure and every decoding problem is reported at the literal's
own position.  Tokens are produced lazily, so the leftmost problem in a value is the one reported.

Positions are 0-based character offsets into the option value the client sent.  The tokenizer can
work on a slice (`start`, `end`) of a larger text, which keeps positions of options nested inside
`$expand` relative to the whole `$expand` value.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from urbantwin.sensorthings.query.ast import Interval


class QuerySyntaxError(ValueError):
    """A malformed query option value.

    `message` names the problem, `position` is the 0-based offset in the option value (None when the
    problem is not at one place), `option` the query option (`$filter`, ...).  When the problem is in
    an option nested inside `$expand`, `option` is `$expand`, the position is within the `$expand`
    value, and `str()` also says which nested option it was in.
    """

    def __init__(
        self, message: str, position: int | None = None, *, option: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.option = option
        #: What was expected instead, e.g. "expected an operator".
        self.hint = hint
        #: For options nested in $expand: the nested option and the expanded path leading to it.
        self.nested_in: tuple[str, tuple[str, ...]] | None = None

    def add_expand_context(self, option: str, path: tuple[str, ...]) -> None:
        """Record that the error happened in `option` of the expanded `path` (called inside out)."""
        if self.nested_in is None:
            self.nested_in = (option, path)
        else:
            self.nested_in = (self.nested_in[0], path + self.nested_in[1])

    def __str__(self) -> str:
        text = self.message
        if self.position is not None:
            text += f" at position {self.position}"
        if self.hint:
            text += f", {self.hint}"
        if self.nested_in is not None:
            text += f" (in {self.nested_in[0]} of expanded {'/'.join(self.nested_in[1])})"
        return f"{self.option}: {text}" if self.option else text


class Kind(enum.Enum):
    IDENT = "identifier"  # also keywords, operators, function names and the segment @iot.id
    STRING = "string"
    NUMBER = "number"  # unsigned; value is int or float
    DATETIME = "datetime"
    INTERVAL = "interval"
    DURATION = "duration"
    GEO = "geo literal"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    SLASH = "/"
    MINUS = "-"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    #: The source text of the token (for error messages); empty for EOF.
    text: str
    pos: int
    #: The decoded literal (str, int, float, datetime, Interval, timedelta; the WKT for GEO).
    value: Any = None


def show(text: str) -> str:
    """Quote a piece of client input for an error message, shortened so messages stay readable."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


IOT_ID = "@iot.id"
_WHITESPACE = frozenset(" \t\r\n")
_PUNCTUATION = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA, "/": Kind.SLASH, "-": Kind.MINUS}
# Letters (any script) and "_" start an identifier; dots join parts, for function names like geo.intersects.
_IDENT = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")
_WORD_CHAR = re.compile(r"[\w.:+]")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2})))?"
)
_MALFORMED_RUN = re.compile(r"[\w.:+\-]*")
_DURATION = re.compile(
    r"(-)?P(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)(?:\.([0-9]+))?S)?)?", re.IGNORECASE
)
_TYPED_LITERALS = ("duration", "geography", "geometry")
_DATETIME_FORMS = "expected YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fff]] followed by Z or ±hh:mm"


def tokenize(text: str, start: int = 0, end: int | None = None) -> Iterator[Token]:
    """Yield the tokens of text[start:end], ending with one EOF token."""
    end = len(text) if end is None else end
    i = start
    while True:
        while i < end and text[i] in _WHITESPACE:
            i += 1
        if i >= end:
            yield Token(Kind.EOF, "", end)
            return
        ch = text[i]
        if ch in _PUNCTUATION:
            token = Token(_PUNCTUATION[ch], ch, i)
        elif ch == "'":
            value, stop = _scan_string(text, i, end)
            token = Token(Kind.STRING, text[i:stop], i, value)
        elif "0" <= ch <= "9":
            token = _scan_number_or_time(text, i, end)
        elif text.startswith(IOT_ID, i, end) and not _is_word_char(text, i + len(IOT_ID), end):
            token = Token(Kind.IDENT, IOT_ID, i)
        elif match := _IDENT.match(text, i, end):
            if match.end() < end and text[match.end()] == "'":
                token = _scan_typed_literal(text, i, match.end(), end)
            else:
                token = Token(Kind.IDENT, match.group(), i)
        else:
            raise QuerySyntaxError(f"unexpected character {ch!r}", i)
        yield token
        i = token.pos + len(token.text)


def _is_word_char(text: str, i: int, end: int) -> bool:
    return i < end and _WORD_CHAR.match(text, i, end) is not None


def _scan_string(text: str, start: int, end: int) -> tuple[str, int]:
    """Scan the quoted string at `start` ('' is an escaped quote); return its value and end offset."""
    parts: list[str] = []
    i = start + 1
    while True:
        quote = text.find("'", i, end)
        if quote < 0:
            raise QuerySyntaxError("unterminated string", start, hint="expected a closing quote")
        parts.append(text[i:quote])
        if text.startswith("'", quote + 1, end):
            parts.append("'")
            i = quote + 2
        else:
            return "".join(parts), quote + 1


def _scan_number_or_time(text: str, start: int, end: int) -> Token:
    if match := _DATETIME.match(text, start, end):
        first = _to_datetime(match, start)
        stop = match.end()
        if stop < end and text[stop] == "/":
            second_match = _DATETIME.match(text, stop + 1, end)
            if second_match is None:
                raise QuerySyntaxError("malformed interval", stop + 1, hint="expected a datetime after '/'")
            second = _to_datetime(second_match, stop + 1)
            if second < first:
                raise QuerySyntaxError("interval ends before it starts", start)
            stop = second_match.end()
            return Token(Kind.INTERVAL, text[start:stop], start, Interval(first, second))
        return Token(Kind.DATETIME, text[start:stop], start, first)

    match = _NUMBER.match(text, start, end)
    assert match is not None  # text[start] is a digit
    stop = match.end()
    if _is_word_char(text, stop, end) or (stop - start == 4 and text.startswith("-", stop, end)):
        run = _MALFORMED_RUN.match(text, start, end)
        assert run is not None
        kind = "datetime" if "-" in run.group() else "number"
        hint = _DATETIME_FORMS if kind == "datetime" else None
        raise QuerySyntaxError(f"malformed {kind} {show(run.group())}", start, hint=hint)
    number = match.group()
    if "." in number or "e" in number or "E" in number:
        value: int | float = float(number)
        if not math.isfinite(value):
            raise QuerySyntaxError(f"number {show(number)} is out of range", start)
    else:
        digits = number.lstrip("0")
        # 2**63 has 19 digits; longer numbers are out of range anyway, and int() of thousands of
        # digits would raise ValueError (Python's int_max_str_digits) or be slow.
        if len(digits) > 19:
            raise QuerySyntaxError(
                f"integer {show(number)} is out of range", start, hint="integers must fit in 64 bits"
            )
        value = int(number)
    return Token(Kind.NUMBER, number, start, value)


def _to_datetime(match: re.Match[str], pos: int) -> datetime:
    """Convert a `_DATETIME` match to an aware UTC datetime (fractions beyond microseconds are cut)."""
    source = match.group()
    if _is_word_char(match.string, match.end(), match.endpos):
        run = _MALFORMED_RUN.match(match.string, pos, match.endpos)
        assert run is not None
        raise QuerySyntaxError(f"malformed datetime {show(run.group())}", pos, hint=_DATETIME_FORMS)
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        if hour is None:
            return datetime(int(year), int(month), int(day), tzinfo=UTC)
        if zulu:
            tz = UTC
        else:
            if int(off_m) >= 60:
                raise ValueError("offset minutes must be in 0..59")
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        micro = int((fraction or "")[:6].ljust(6, "0"))
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz)
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise QuerySyntaxError(f"invalid datetime {show(source)} ({exc})", pos) from None


def _scan_typed_literal(text: str, start: int, quote: int, end: int) -> Token:
    """`duration'P1D'`, `geography'POINT(1 2)'`, `geometry'...'`: an identifier glued to a string."""
    prefix = text[start:quote]
    kind = prefix.lower()
    if kind not in _TYPED_LITERALS:
        raise QuerySyntaxError(
            f"unknown literal type {show(prefix)}", start, hint="expected duration, geography or geometry"
        )
    value, stop = _scan_string(text, quote, end)
    source = text[start:stop]
    if kind == "duration":
        return Token(Kind.DURATION, source, start, _to_duration(value, start))
    wkt = value.strip()
    if not wkt:
        raise QuerySyntaxError(f"empty {kind} literal", start, hint="expected WKT such as 'POINT(1 2)'")
    return Token(Kind.GEO, source, start, wkt)


def _to_duration(value: str, pos: int) -> timedelta:
    """Decode an OData duration (`P1DT2H30M5.5S`, optionally negative) into a timedelta."""
    body = value.strip()
    date_part = body.upper().split("T", 1)[0]
    if date_part.lstrip("-").startswith("P") and ("Y" in date_part or "M" in date_part):
        raise QuerySyntaxError(
            "durations with years or months are not supported",
            pos,
            hint="use days, hours, minutes and seconds (e.g. P30D)",
        )
    match = _DURATION.fullmatch(body)
    hint = "expected an ISO 8601 duration such as P1DT2H30M"
    if match is None:
        raise QuerySyntaxError(f"malformed duration {show(value)}", pos, hint=hint)
    negative, days, hours, minutes, seconds, fraction = match.groups()
    # "P" alone, and a "T" with nothing after it, are not durations.
    if (hours, minutes, seconds) == (None, None, None) and (days is None or "T" in body.upper()):
        raise QuerySyntaxError(f"malformed duration {show(value)}", pos, hint=hint)
    try:
        result = timedelta(
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=int(seconds or 0),
            microseconds=int((fraction or "")[:6].ljust(6, "0")),
        )
    except (ValueError, OverflowError):  # also int() of more digits than int_max_str_digits
        raise QuerySyntaxError(f"duration {show(value)} is out of range", pos) from None
    return -result if negative else result
