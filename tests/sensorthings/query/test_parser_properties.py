"""Property tests of the query option parser.

1. Whatever the input, every parse function returns or raises QuerySyntaxError - never another
   exception (IndexError, RecursionError, OverflowError, ...), which would surface as a 500.
2. Printing a random AST as query text and parsing it gives the same AST back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from urbantwin.sensorthings.query import (
    BinOp,
    Call,
    ExpandItem,
    GeoLiteral,
    Interval,
    Literal,
    Neg,
    Node,
    Not,
    OrderBy,
    Path,
    QueryOptions,
    QuerySyntaxError,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_query_options,
    parse_select,
)
from urbantwin.sensorthings.query.parser import FUNCTION_ARITY

SETTINGS = settings(max_examples=150, deadline=None)
PARSERS: list[Callable[[str], object]] = [parse_filter, parse_orderby, parse_select, parse_expand]

# --- 1. no exception but QuerySyntaxError --------------------------------------------------------------

FRAGMENTS = [
    "(",
    ")",
    "((((",
    "))))",
    "'",
    "''",
    "'x'",
    " ",
    ",",
    ";",
    "/",
    "-",
    "=",
    "$",
    "@iot.id",
    "@",
    "not ",
    " and ",
    " or ",
    " eq ",
    " add ",
    " desc",
    " asc",
    "x",
    "Datastream/Thing/name",
    "substringof(",
    "st_relate(",
    "geo.intersects(",
    "geography'",
    "geometry'POINT(1 2)'",
    "duration'",
    "duration'P1DT",
    "duration'P99999999999999999999D'",
    "P1Y",
    "T",
    "Z",
    "+01:00",
    ":",
    ".",
    "e",
    "E",
    "2024-01-01",
    "2024-01-01T00:00:00Z",
    "2024-13-45T99:99:99+99:99",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "/2024-01-01",
    "9" * 500,
    "1e999",
    "1.",
    "0.5",
    "-9223372036854775809",
    "$filter=",
    "$expand=",
    "$top=",
    "$select=",
    "$orderby=",
    "A(",
    "A($expand=B(",
    "\x00",
    "\u202e",
    "é",
    "名前",
    "\ud7ff",
    "\t",
    "\n",
    "٣",
    "²",
    "true",
    "null",
]
HOSTILE_TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join),
    st.integers(0, 400).map(lambda n: "(" * n + "x eq 1" + ")" * n),
    st.integers(0, 400).map(lambda n: "A($expand=" * n + "B" + ")" * n),
    st.integers(0, 400).map(lambda n: "not -" * n + "x"),
    st.integers(0, 400).map(lambda n: "f(" * n),
)


@SETTINGS
@given(text=HOSTILE_TEXT)
def test_parse_functions_raise_only_query_syntax_errors(text: str) -> None:
    for parse in PARSERS:
        try:
            parse(text)
        except QuerySyntaxError as error:
            assert error.option is not None
            assert str(error).startswith(error.option)
            assert error.position is None or 0 <= error.position <= len(text)


OPTION_KEYS = ["$filter", "$orderby", "$select", "$expand", "$top", "$skip", "$count", "$resultFormat"]


@SETTINGS
@given(params=st.dictionaries(st.sampled_from([*OPTION_KEYS, "$TOP", "$foo", "page", ""]), HOSTILE_TEXT))
def test_parse_query_options_raises_only_query_syntax_errors(params: dict[str, str]) -> None:
    try:
        parse_query_options(params)
    except QuerySyntaxError as error:
        assert error.option is not None


# --- 2. round trip --------------------------------------------------------------------------------------

RESERVED = {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "add", "sub", "mul", "div", "mod"}
RESERVED |= {"true", "false", "null"}
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True) | st.sampled_from(
    ["@iot.id", "größe", "名前", "id", "desc", "length"]
)
FIRST_NAMES = NAMES.filter(lambda name: name.lower() not in RESERVED)
# After a '/' any word is a property name, keywords included.
SEGMENTS = NAMES | st.sampled_from(sorted(RESERVED))
PATHS = st.builds(lambda first, rest: (first, *rest), FIRST_NAMES, st.lists(SEGMENTS, max_size=3))

DATETIMES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999))
UTC_DATETIMES = DATETIMES.map(lambda d: d.replace(tzinfo=UTC, fold=0))
LITERAL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    UTC_DATETIMES,
    st.lists(UTC_DATETIMES, min_size=2, max_size=2).map(sorted).map(lambda pair: Interval(*pair)),
    st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6)),
)
LEAVES = st.one_of(
    LITERAL_VALUES.map(Literal),
    st.text(min_size=1, max_size=30).map(str.strip).filter(bool).map(GeoLiteral),
    PATHS.map(Path),
)
BINARY_OPS = ["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "add", "sub", "mul", "div", "mod"]
DE9IM = st.text(alphabet="012TF*", min_size=9, max_size=9).map(Literal)


def calls(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Call]:
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Call:
        name = draw(st.sampled_from(sorted(FUNCTION_ARITY)))
        arity = draw(st.sampled_from(FUNCTION_ARITY[name]))
        args = draw(st.lists(children, min_size=arity, max_size=arity))
        if name == "st_relate":
            args[2] = draw(DE9IM)
        return Call(name, tuple(args))

    return st.composite(lambda draw: build(draw))()


def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(BinOp, st.sampled_from(BINARY_OPS), children, children),
        st.builds(Not, children),
        st.builds(Neg, children),
        calls(children),
    )


NODES = st.recursive(LEAVES, extend, max_leaves=12)


def render_duration(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"duration'{sign}P{value.days}DT{hours}H{minutes}M{seconds}.{value.microseconds:06d}S'"


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render(node: Node) -> str:
    """The test-side printer: parenthesises every operand, so precedence never matters."""
    match node:
        case Literal(value=None):
            return "null"
        case Literal(value=bool() as flag):
            return "true" if flag else "false"
        case Literal(value=int() | float() as number):
            return repr(number)
        case Literal(value=str() as text):
            return quote(text)
        case Literal(value=datetime() as instant):
            return instant.isoformat()
        case Literal(value=Interval() as interval):
            return f"{interval.start.isoformat()}/{interval.end.isoformat()}"
        case Literal(value=timedelta() as duration):
            return render_duration(duration)
        case GeoLiteral(wkt=wkt):
            return "geography" + quote(wkt)
        case Path(segments=segments):
            return "/".join(segments)
        case BinOp(op=op, left=left, right=right):
            return f"({render(left)}) {op} ({render(right)})"
        case Not(operand=operand):
            return f"not ({render(operand)})"
        case Neg(operand=operand):
            return f"-({render(operand)})"
        case Call(name=name, args=args):
            return f"{name}({', '.join(render(arg) for arg in args)})"
    raise AssertionError(node)


@SETTINGS
@given(node=NODES)
def test_filter_round_trip(node: Node) -> None:
    parsed = parse_filter(render(node))
    assert parsed == node
    assert repr(parsed) == repr(node)  # also the types of literal values (1 vs 1.0 vs True)


@SETTINGS
@given(
    local=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    minutes=st.integers(-1439, 1439),
)
def test_datetime_offsets_become_utc(local: datetime, minutes: int) -> None:
    aware = local.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    parsed = parse_filter(f"t eq {aware.isoformat()}")
    assert parsed == BinOp("eq", Path(("t",)), Literal(aware.astimezone(UTC)))


ORDERBYS = st.lists(st.builds(OrderBy, NODES, st.booleans()), min_size=1, max_size=3).map(tuple)
SELECTS = st.lists(st.lists(SEGMENTS, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3).map(tuple)
EXPAND_PATHS = st.lists(SEGMENTS, min_size=1, max_size=2).map(tuple)


def query_options(expand: st.SearchStrategy[tuple[ExpandItem, ...]]) -> st.SearchStrategy[QueryOptions]:
    return st.builds(
        QueryOptions,
        filter=st.none() | NODES,
        orderby=st.just(()) | ORDERBYS,
        select=st.none() | SELECTS,
        expand=expand,
        top=st.none() | st.integers(0, 2**63 - 1),
        skip=st.integers(0, 1000),
        count=st.booleans(),
    )


EXPANDS = st.recursive(
    st.just(()),
    lambda inner: st.lists(st.builds(ExpandItem, EXPAND_PATHS, query_options(inner)), max_size=2).map(tuple),
    max_leaves=4,
)


def render_options(options: QueryOptions) -> dict[str, str]:
    rendered = {
        "$filter": None if options.filter is None else render(options.filter),
        "$orderby": ",".join(
            f"{render(key.expr)} {'desc' if key.descending else 'asc'}" for key in options.orderby
        ),
        "$select": None if options.select is None else ",".join("/".join(path) for path in options.select),
        "$expand": ",".join(render_expand_item(item) for item in options.expand),
        "$top": None if options.top is None else str(options.top),
        "$skip": str(options.skip) if options.skip else None,
        "$count": "true" if options.count else None,
        "$resultFormat": options.result_format,
    }
    return {key: value for key, value in rendered.items() if value}


def render_expand_item(item: ExpandItem) -> str:
    options = render_options(item.options)
    inner = ";".join(f"{key}={value}" for key, value in options.items())
    return "/".join(item.path) + (f"({inner})" if inner else "")


@settings(max_examples=75, deadline=None)
@given(options=query_options(EXPANDS), result_format=st.sampled_from([None, "dataArray", "GeoJSON", "CSV"]))
def test_query_options_round_trip(options: QueryOptions, result_format: str | None) -> None:
    options = QueryOptions(
        **{**{f: getattr(options, f) for f in QueryOptions.__slots__}, "result_format": result_format}
    )
    assert parse_query_options(render_options(options)) == options
