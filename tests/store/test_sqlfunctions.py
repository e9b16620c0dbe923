"""LIKE on SQLite (the `ut_like` function) answers as PostgreSQL's LIKE does, in bounded time."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, literal, select

from urbantwin.store.sqlfunctions import like_matches, text_like

#: Characters that exercise every rule: wildcards, the escape, case, a multi-byte letter, a newline.
TEXT_CHARS = st.sampled_from(["a", "b", "A", "ä", "Ä", "%", "_", "\\", "\n", "."])
PATTERN_CHARS = st.sampled_from(["a", "b", "A", "ä", "Ä", "%", "_", "\\", "\n", ".", "%", "_"])


def _without_lone_escape(pattern: str) -> bool:
    """PostgreSQL refuses a pattern ending with a lone escape (the API answers 400 before SQL)."""
    return (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 0


def _reference(text: str, pattern: str) -> bool:
    """LIKE by a regular expression: exact, but exponential on many `%` (fine for short patterns)."""
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "%_":
            parts.append(".*" if char == "%" else ".")
        else:
            parts.append(re.escape(char))
    return re.fullmatch("".join(parts), text, re.DOTALL) is not None


@settings(max_examples=500, deadline=None)
@given(st.text(TEXT_CHARS, max_size=12), st.text(PATTERN_CHARS, max_size=8).filter(_without_lone_escape))
def test_like_matches_as_a_regular_expression_does(text: str, pattern: str) -> None:
    assert like_matches(text, pattern) == _reference(text, pattern)


@pytest.fixture(scope="module")
def postgres(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(TEXT_CHARS, max_size=10),
    st.text(PATTERN_CHARS, max_size=8).filter(_without_lone_escape),
    st.booleans(),
)
def test_like_on_sqlite_answers_as_postgresql(postgres: Engine, text: str, pattern: str, casei: bool) -> None:
    """PostgreSQL's LIKE is the reference, case-sensitive and case-insensitive (`lower` on both sides)."""
    condition = text_like(literal(text), pattern, casei)
    with postgres.connect() as connection:
        expected = connection.execute(select(condition)).scalar_one()
    folded = (text.lower(), pattern.lower()) if casei else (text, pattern)
    assert like_matches(*folded) == expected


@pytest.mark.parametrize(
    ("text", "pattern", "casei", "expected"),
    [
        ("stop a", "stop %", False, True),
        ("Stop a", "stop %", False, False),
        ("Stop a", "stop %", True, True),
        ("ÄPFEL", "äpf_l", True, True),
        ("100%", "100\\%", False, True),
        ("1000", "100\\%", False, False),
        ("a_b", "a\\_b", False, True),
        ("axb", "a\\_b", False, False),
        ("back\\slash", "back\\\\slash", False, True),
        ("line\nbreak", "line_break", False, True),
        ("aaa", "%a%a%a%", False, True),
        ("aa", "%a%a%a%", False, False),
        ("abcabd", "%abd", False, True),
        ("", "%", False, True),
        ("", "_", False, False),
    ],
)
def test_like_on_both_backends(engine: Engine, text: str, pattern: str, casei: bool, expected: bool) -> None:
    with engine.connect() as connection:
        assert connection.execute(select(text_like(literal(text), pattern, casei))).scalar_one() is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "%" * 5000 + "a",  # the probe that hung the server: a regular expression backtracks forever
        "%a" * 2500 + "%b",
        "%" + "_" * 2000 + "%" + "a" * 2000 + "%b",
    ],
)
def test_like_with_thousands_of_wildcards_does_not_backtrack(engine: Engine, pattern: str) -> None:
    """Before LIKE had its own matcher, 30 `%` on one short text took seconds; 5,000 never ended.

    The bound tells "answers" from "never ends" (it answers in milliseconds). It bounds the CPU time
    of this process, where SQLite runs the matcher, not the wall time, which measures how busy the
    machine is."""
    text = "a" * 4999 + "c"
    used = time.process_time()
    with engine.connect() as connection:
        assert connection.execute(select(text_like(literal(text), pattern))).scalar_one() is False
    assert time.process_time() - used < 10.0
