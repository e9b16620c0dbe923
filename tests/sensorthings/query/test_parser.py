"""Examples of the SensorThings query option parser: what each construct parses to, and how errors read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbantwin.sensorthings.query import (
    MAX_DEPTH,
    MAX_LENGTH,
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
    QueryLimits,
    QueryOptions,
    QuerySyntaxError,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_query_options,
    parse_select,
)
from urbantwin.sensorthings.query.parser import FUNCTION_ARITY
from urbantwin.settings import Settings


def P(*segments: str) -> Path:
    return Path(segments)


def L(value: object) -> Literal:
    return Literal(value)  # type: ignore[arg-type]


def op(name: str, left: Node, right: Node) -> BinOp:
    return BinOp(name, left, right)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- precedence and operators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a or b and c", op("or", P("a"), op("and", P("b"), P("c")))),
        ("a and b or c", op("or", op("and", P("a"), P("b")), P("c"))),
        ("not a eq 1 and b", op("and", Not(op("eq", P("a"), L(1))), P("b"))),
        ("not (a or b)", Not(op("or", P("a"), P("b")))),
        ("a add b mul c eq d", op("eq", op("add", P("a"), op("mul", P("b"), P("c"))), P("d"))),
        ("(a add b) mul c", op("mul", op("add", P("a"), P("b")), P("c"))),
        ("a sub b sub c", op("sub", op("sub", P("a"), P("b")), P("c"))),
        ("a div b mod c", op("mod", op("div", P("a"), P("b")), P("c"))),
        ("-x mul 2", op("mul", Neg(P("x")), L(2))),
        ("-5 add 3", op("add", L(-5), L(3))),
        ("a sub -1.5", op("sub", P("a"), L(-1.5))),
        ("-(5)", Neg(L(5))),
        ("- - x", Neg(Neg(P("x")))),
        ("not not x", Not(Not(P("x")))),
        (
            "a lt b or a le b or a gt b",
            op("or", op("or", op("lt", P("a"), P("b")), op("le", P("a"), P("b"))), op("gt", P("a"), P("b"))),
        ),
        ("a ge 1 and a ne 2", op("and", op("ge", P("a"), L(1)), op("ne", P("a"), L(2)))),
        (
            "A EQ 1 And B Ne 2 OR NOT c",
            op("or", op("and", op("eq", P("A"), L(1)), op("ne", P("B"), L(2))), Not(P("c"))),
        ),
        ("  ( ( x ) )  ", P("x")),
    ],
)
def test_precedence(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


# --- literals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'abc'", "abc"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("'a;b,c(d)'", "a;b,c(d)"),
        ("42", 42),
        ("0", 0),
        ("-7", -7),
        ("-9223372036854775808", -(2**63)),
        ("9223372036854775807", 2**63 - 1),
        ("1.5", 1.5),
        ("2.0", 2.0),
        ("1e3", 1000.0),
        ("1.5E-2", 0.015),
        ("true", True),
        ("FALSE", False),
        ("null", None),
        ("2024-01-03T00:00:00Z", utc(2024, 1, 3)),
        ("2024-01-03T10:20Z", utc(2024, 1, 3, 10, 20)),
        ("2024-01-03T00:00:00.123+01:00", utc(2024, 1, 2, 23, 0, 0, 123000)),
        ("2024-01-03T00:00:00.1234567-02:30", utc(2024, 1, 3, 2, 30, 0, 123456)),
        ("2024-01-03", utc(2024, 1, 3)),  # a date is midnight UTC
        (
            "2024-01-01T00:00:00Z/2024-01-02T00:00:00+01:00",
            Interval(utc(2024, 1, 1), utc(2024, 1, 1, 23)),
        ),
        ("2024-01-01/2024-01-01", Interval(utc(2024, 1, 1), utc(2024, 1, 1))),
        ("duration'P1DT2H'", timedelta(days=1, hours=2)),
        ("duration'PT30M'", timedelta(minutes=30)),
        ("duration'PT1.5S'", timedelta(seconds=1, microseconds=500000)),
        ("duration'P2D'", timedelta(days=2)),
        ("duration'-P1DT1H2M3S'", -timedelta(days=1, hours=1, minutes=2, seconds=3)),
        ("Duration' P1D '", timedelta(days=1)),
    ],
)
def test_literals(text: str, value: object) -> None:
    node = parse_filter(f"x eq {text}")
    assert node == op("eq", P("x"), L(value))
    assert isinstance(node, BinOp)
    assert type(node.right.value) is type(value)  # type: ignore[union-attr]


def test_literal_equality_compares_types() -> None:
    assert Literal(1) != Literal(True)
    assert Literal(1) != Literal(1.0)
    assert len({Literal(1), Literal(True), Literal(1.0)}) == 3


def test_datetimes_are_utc() -> None:
    node = parse_filter("t gt 2024-06-01T12:00:00+02:00")
    assert isinstance(node, BinOp) and isinstance(node.right, Literal)
    assert node.right.value == utc(2024, 6, 1, 10)
    assert node.right.value.tzinfo is UTC  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "wkt"),
    [
        ("geography'POINT (1 2)'", "POINT (1 2)"),
        ("geometry'  POLYGON((0 0, 1 0, 1 1, 0 0))  '", "POLYGON((0 0, 1 0, 1 1, 0 0))"),
        ("GEOGRAPHY'SRID=4326;POINT(7.5 51.5)'", "SRID=4326;POINT(7.5 51.5)"),
    ],
)
def test_geo_literals(text: str, wkt: str) -> None:
    assert parse_filter(f"st_within(location, {text})") == Call("st_within", (P("location"), GeoLiteral(wkt)))


# --- paths and functions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("Datastream/Thing/name", ("Datastream", "Thing", "name")),
        ("properties/owner/x", ("properties", "owner", "x")),
        ("@iot.id", ("@iot.id",)),
        ("Thing/@iot.id", ("Thing", "@iot.id")),
        ("id", ("id",)),
        ("properties/größe", ("properties", "größe")),
        ("properties/and/not", ("properties", "and", "not")),  # keywords are fine after a '/'
        ("year", ("year",)),  # a function name without '(' is a property
        ("result / x", ("result", "x")),
    ],
)
def test_paths(text: str, segments: tuple[str, ...]) -> None:
    assert parse_filter(f"{text} eq 1") == op("eq", Path(segments), L(1))


def _call_text(name: str, arity: int) -> str:
    args = [f"a{i}" for i in range(arity)]
    if name.lower() == "st_relate":
        args[2] = "'T*T***FF*'"
    return f"{name}({', '.join(args)})"


@pytest.mark.parametrize(
    ("name", "arity"), [(name, arity) for name, arities in FUNCTION_ARITY.items() for arity in arities]
)
def test_every_function(name: str, arity: int) -> None:
    node = parse_filter(_call_text(name, arity))
    assert isinstance(node, Call)
    assert node.name == name
    assert len(node.args) == arity
    assert parse_filter(_call_text(name.upper(), arity)) == node  # any case, canonical lower case


@pytest.mark.parametrize("name", sorted(FUNCTION_ARITY))
def test_every_function_checks_its_arity(name: str) -> None:
    wrong = max(FUNCTION_ARITY[name]) + 1
    with pytest.raises(QuerySyntaxError) as info:
        parse_filter(f"{name}({', '.join(['a'] * wrong)})")
    assert f"function {name}() takes" in str(info.value)
    assert f"got {wrong}" in str(info.value)
    assert info.value.position == 0


def test_known_functions() -> None:
    string = {"substringof", "endswith", "startswith", "contains", "length", "indexof", "substring"}
    string |= {"tolower", "toupper", "trim", "concat"}
    time = {"year", "month", "day", "hour", "minute", "second", "fractionalseconds", "date", "time"}
    time |= {"totaloffsetminutes", "now", "mindatetime", "maxdatetime"}
    spatial = {"geo.distance", "geo.length", "geo.intersects", "st_relate"}
    relations = ["equals", "disjoint", "touches", "within", "overlaps", "crosses", "intersects", "contains"]
    spatial |= {f"st_{relation}" for relation in relations}
    assert set(FUNCTION_ARITY) == string | time | {"round", "floor", "ceiling"} | spatial


def test_nested_calls() -> None:
    assert parse_filter(
        "substringof('a', tolower(Thing/name)) and geo.distance(location, geography'POINT(1 2)') lt 5"
    ) == op(
        "and",
        Call("substringof", (L("a"), Call("tolower", (P("Thing", "name"),)))),
        op("lt", Call("geo.distance", (P("location"), GeoLiteral("POINT(1 2)"))), L(5)),
    )
    assert parse_filter("substring(name, 1) eq 'x'") == op("eq", Call("substring", (P("name"), L(1))), L("x"))
    assert parse_filter("now() ge mindatetime()") == op("ge", Call("now", ()), Call("mindatetime", ()))


# --- $orderby, $select, $expand ------------------------------------------------------------------------


def test_orderby() -> None:
    assert parse_orderby("name desc, phenomenonTime asc,Datastream/name, length(name) DESC") == (
        OrderBy(P("name"), True),
        OrderBy(P("phenomenonTime"), False),
        OrderBy(P("Datastream", "name"), False),
        OrderBy(Call("length", (P("name"),)), True),
    )
    assert parse_orderby("result add 1 desc") == (OrderBy(op("add", P("result"), L(1)), True),)
    assert parse_orderby("desc desc") == (OrderBy(P("desc"), True),)


def test_select() -> None:
    assert parse_select("id,name,properties/owner") == (("id",), ("name",), ("properties", "owner"))
    assert parse_select(" @iot.id , name ,  Thing / name ") == (("@iot.id",), ("name",), ("Thing", "name"))
    assert parse_select("not,and") == (("not",), ("and",))


def test_expand_with_nested_options() -> None:
    text = (
        "Datastreams($filter=name eq 'a;b';$top=3;$orderby=id desc;"
        "$expand=Observations($select=result,phenomenonTime;$top=2)),Locations"
    )
    observations = ExpandItem(
        ("Observations",), QueryOptions(select=(("result",), ("phenomenonTime",)), top=2)
    )
    datastreams = QueryOptions(
        filter=op("eq", P("name"), L("a;b")),
        top=3,
        orderby=(OrderBy(P("id"), True),),
        expand=(observations,),
    )
    assert parse_expand(text) == (
        ExpandItem(("Datastreams",), datastreams),
        ExpandItem(("Locations",), QueryOptions()),
    )


def test_expand_forms() -> None:
    assert parse_expand("Datastreams/Observations") == (
        ExpandItem(("Datastreams", "Observations"), QueryOptions()),
    )
    assert parse_expand(" Thing ( $skip=1 ; $count=true ) , Sensor") == (
        ExpandItem(("Thing",), QueryOptions(skip=1, count=True)),
        ExpandItem(("Sensor",), QueryOptions()),
    )
    assert parse_expand("Observations($filter=substringof('(', name) and x eq geography'POINT(1 2)')") == (
        ExpandItem(
            ("Observations",),
            QueryOptions(
                filter=op(
                    "and",
                    Call("substringof", (L("("), P("name"))),
                    op("eq", P("x"), GeoLiteral("POINT(1 2)")),
                )
            ),
        ),
    )


def test_query_options() -> None:
    params = {
        "$filter": "result gt 5",
        "$orderby": "phenomenonTime desc",
        "$select": "id,result",
        "$expand": "Datastream",
        "$top": "10",
        "$skip": "20",
        "$count": "true",
        "$resultFormat": "dataArray",
        "page": "ignored: no $",
    }
    assert parse_query_options(params) == QueryOptions(
        filter=op("gt", P("result"), L(5)),
        orderby=(OrderBy(P("phenomenonTime"), True),),
        select=(("id",), ("result",)),
        expand=(ExpandItem(("Datastream",), QueryOptions()),),
        top=10,
        skip=20,
        count=True,
        result_format="dataArray",
    )
    assert parse_query_options({}) == QueryOptions()
    assert parse_query_options({"$count": "FALSE", "$top": "0"}) == QueryOptions(count=False, top=0)
    assert parse_query_options({"$resultFormat": "GeoJSON"}).result_format == "GeoJSON"
    assert parse_query_options({"$resultformat": "csv"}).result_format == "CSV"


# --- errors --------------------------------------------------------------------------------------------


def test_error_attributes_and_message() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_filter("name eqq 'x'")
    error = info.value
    assert str(error) == "$filter: unexpected token 'eqq' at position 5, expected an operator"
    assert (error.message, error.position, error.option) == ("unexpected token 'eqq'", 5, "$filter")
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "fragments", "position"),
    [
        ("", ["unexpected end of input", "expected an expression"], 0),
        ("a eq", ["unexpected end of input", "expected an expression"], 4),
        ("a and and b", ["unexpected token 'and'", "expected an expression"], 6),
        ("(a eq 1", ["unexpected end of input", "expected an operator or ')'"], 7),
        ("a eq 1)", ["unbalanced ')'"], 6),
        ("x eq 'abc", ["unterminated string"], 5),
        ("x eq 1.2.3", ["malformed number '1.2.3'"], 5),
        ("x eq 12abc", ["malformed number"], 5),
        ("x eq 9" + "9" * 500, ["out of range"], 5),
        ("x eq 9223372036854775808", ["out of range"], 5),
        ("x eq 1e400", ["out of range"], 5),
        ("x eq 2024-13-01", ["invalid datetime", "month"], 5),
        ("x eq 2024-02-30T00:00:00Z", ["invalid datetime"], 5),
        ("x eq 2024-01-01T00:00:00", ["malformed datetime", "Z or ±hh:mm"], 5),
        ("x eq 2024-01-01T25:00:00Z", ["invalid datetime"], 5),
        ("x eq 2024-01-01T00:00:00+01:75", ["invalid datetime"], 5),
        ("x eq 0001-01-01T00:00:00+01:00", ["invalid datetime"], 5),
        ("x eq 2024-1-1", ["malformed datetime"], 5),
        ("x eq 2024-01-02/2024-01-01", ["interval ends before it starts"], 5),
        ("x eq 2024-01-02/x", ["malformed interval"], 16),
        ("x eq duration'P1Y'", ["durations with years or months are not supported"], 5),
        ("x eq duration'P1M2D'", ["durations with years or months are not supported"], 5),
        ("x eq duration'PT'", ["malformed duration"], 5),
        ("x eq duration'1D'", ["malformed duration"], 5),
        ("x eq duration'P" + "9" * 30 + "D'", ["out of range"], 5),
        ("x eq geography''", ["empty geography literal"], 5),
        ("x eq money'5'", ["unknown literal type 'money'"], 5),
        ("foo(1) eq 2", ["unknown function 'foo'"], 0),
        ("now(1)", ["function now() takes 0 arguments, got 1"], 0),
        ("substring(a)", ["function substring() takes 2 or 3 arguments, got 1"], 0),
        ("st_relate(a, b, 'T*T')", ["DE-9IM"], 16),
        ("st_relate(a, b, c)", ["DE-9IM"], 16),
        ("length(a b)", ["unexpected token 'b'", "expected an operator, ',' or ')'"], 9),
        ("a/b.c eq 1", ["'b.c' is not a property name"], 2),
        ("a/1 eq 1", ["unexpected token '1'", "expected a property name after '/'"], 2),
        ("x eq #", ["unexpected character '#'"], 5),
        ("x eq \x00", ["unexpected character '\\x00'"], 5),
        ("(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5), ["nested too deeply"], MAX_DEPTH),
        ("not " * 200 + "x", ["nested too deeply"], None),
        ("-" * 500 + "x", ["nested too deeply"], None),
    ],
)
def test_filter_errors(text: str, fragments: list[str], position: int | None) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_filter(text)
    message = str(info.value)
    assert message.startswith("$filter: ")
    for fragment in fragments:
        assert fragment in message
    if position is not None:
        assert info.value.position == position
        assert f"at position {position}" in message


def test_deep_nesting_below_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    assert parse_filter("(" * depth + "x" + ")" * depth) == P("x")


def test_too_long() -> None:
    with pytest.raises(QuerySyntaxError, match=r"\$filter: value too long") as info:
        parse_filter("x eq " + "1" * MAX_LENGTH)
    assert info.value.option == "$filter"


@pytest.mark.parametrize(
    ("text", "fragments", "position"),
    [
        ("name desc foo", ["unexpected token 'foo'", "expected ',' or end of input"], 10),
        ("name up", ["unexpected token 'up'", "'asc', 'desc'"], 5),
        ("name,", ["unexpected end of input", "expected an expression"], 5),
    ],
)
def test_orderby_errors(text: str, fragments: list[str], position: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_orderby(text)
    assert str(info.value).startswith("$orderby: ")
    assert all(fragment in str(info.value) for fragment in fragments)
    assert info.value.position == position


@pytest.mark.parametrize(
    ("text", "fragments", "position"),
    [
        ("", ["unexpected end of input", "expected a property name"], 0),
        ("id,", ["unexpected end of input"], 3),
        ("id name", ["unexpected token 'name'", "expected '/', ',' or end of input"], 3),
        ("*", ["unexpected character '*'"], 0),
        ("'id'", ["unexpected token", "expected a property name"], 0),
    ],
)
def test_select_errors(text: str, fragments: list[str], position: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_select(text)
    assert str(info.value).startswith("$select: ")
    assert all(fragment in str(info.value) for fragment in fragments)
    assert info.value.position == position


@pytest.mark.parametrize(
    ("text", "fragments", "position"),
    [
        ("", ["expected a navigation property"], 0),
        ("A,", ["expected a navigation property"], 2),
        ("A(", ["unclosed '('"], 1),
        ("A)", ["unbalanced ')'"], 1),
        ("A($filter='x)", ["unterminated string"], 10),
        ("A($top=1)x", ["unexpected text 'x' after ')'"], 9),
        ("A B", ["unexpected token 'B'", "expected '/', '(' or ','"], 2),
        ("A()", ["malformed expand option"], 2),
        ("A($top=1;)", ["malformed expand option"], 9),
        ("A(top=1)", ["malformed expand option 'top=1'"], 2),
        ("A($foo=1)", ["unknown option '$foo' in $expand", "expected one of $filter"], 2),
        ("A($resultFormat=dataArray)", ["unknown option '$resultFormat'"], 2),
        ("A($top=1;$TOP=2)", ["$top given more than once"], 9),
        ("A($top=x)", ["invalid value 'x'", "(in $top of expanded A)"], 7),
        (
            "Datastreams($filter=name eqq 'a;b')",
            [
                "unexpected token 'eqq' at position 25, expected an operator",
                "(in $filter of expanded Datastreams)",
            ],
            25,
        ),
        (
            "Things,Datastreams/Sensor($expand=Observations($filter=x eq))",
            ["unexpected end of input", "(in $filter of expanded Datastreams/Sensor/Observations)"],
            59,
        ),
        ("A($expand=B($select=x y))", ["unexpected token 'y'", "(in $select of expanded A/B)"], 22),
        ("A($expand=" * (MAX_DEPTH + 1) + "B" + ")" * (MAX_DEPTH + 1), ["nested too deeply"], None),
    ],
)
def test_expand_errors(text: str, fragments: list[str], position: int | None) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_expand(text)
    assert str(info.value).startswith("$expand: ")
    assert info.value.option == "$expand"
    assert all(fragment in str(info.value) for fragment in fragments), str(info.value)
    if position is not None:
        assert info.value.position == position


@pytest.mark.parametrize(
    ("params", "option", "fragments"),
    [
        ({"$top": "abc"}, "$top", ["invalid value 'abc'", "expected a non-negative integer"]),
        ({"$top": "-1"}, "$top", ["invalid value '-1'", "expected a non-negative integer"]),
        ({"$top": ""}, "$top", ["invalid value ''"]),
        ({"$skip": "1.5"}, "$skip", ["invalid value '1.5'"]),
        ({"$skip": "9" * 30}, "$skip", ["out of range"]),
        ({"$count": "yes"}, "$count", ["expected true or false"]),
        ({"$resultFormat": "xml"}, "$resultFormat", ["unsupported format 'xml'", "dataArray"]),
        ({"$foo": "1"}, "$foo", ["unknown query option", "expected one of $filter"]),
        ({"$top": "1", "$Top": "2"}, "$top", ["given more than once"]),
        ({"$filter": "a eq"}, "$filter", ["unexpected end of input"]),
        ({"$expand": "A($top=x)"}, "$expand", ["(in $top of expanded A)"]),
        ({"$select": "a" * (MAX_LENGTH + 1)}, "$select", ["value too long"]),
    ],
)
def test_query_option_errors(params: dict[str, str], option: str, fragments: list[str]) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query_options(params)
    assert info.value.option == option
    assert str(info.value).startswith(f"{option}: ")
    assert all(fragment in str(info.value) for fragment in fragments), str(info.value)


# --- bounded work: the limits of one request (settings max_filter_*, max_expand_*, max_offset) ---------


@pytest.mark.parametrize(
    "text",
    [
        "result" + " add 1" * 600 + " gt 0",  # a chain is parsed by a loop, yet it is 600 levels deep
        " or ".join(["result eq 1"] * 1000),
        " and ".join(["result eq 1"] * 1000),
        "length(" * 30 + "name" + ")" * 30 + " add 1" * 80 + " gt 0",  # functions and operators add up
    ],
)
def test_long_chains_of_operators_are_too_deep(text: str) -> None:
    """Each once answered 500: the compiler and SQLAlchemy walk the tree recursively."""
    with pytest.raises(QuerySyntaxError, match=r"^\$filter: expression nested too deeply") as info:
        parse_filter(text)
    assert f"the limit is {MAX_DEPTH} levels" in str(info.value)


def test_a_chain_as_deep_as_the_limit_is_fine() -> None:
    node = parse_filter("result" + " add 1" * (MAX_DEPTH - 1) + " gt 0")  # the comparison is one more
    assert isinstance(node, BinOp) and node.op == "gt"
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_filter("result" + " add 1" * MAX_DEPTH + " gt 0")
    assert parse_orderby(" add ".join(["a"] * (MAX_DEPTH + 1)))[0].descending is False
    with pytest.raises(QuerySyntaxError, match=r"^\$orderby: expression nested too deeply"):
        parse_orderby(" add ".join(["a"] * (MAX_DEPTH + 2)))


def test_limits_come_from_the_settings() -> None:
    limits = QueryLimits.of(Settings(max_filter_depth=3, max_filter_length=21, max_expand_depth=1))
    assert parse_filter("a eq 1 or b", limits) == op("or", op("eq", P("a"), L(1)), P("b"))
    with pytest.raises(QuerySyntaxError, match="the limit is 3 levels"):
        parse_filter("a or b or c or d or e", limits)
    with pytest.raises(QuerySyntaxError, match="the limit is 21 characters"):
        parse_filter("name eq 'abcdefghijklm'", limits)
    with pytest.raises(QuerySyntaxError, match="the limit is 1 levels"):
        parse_expand("A/B", limits)


@pytest.mark.parametrize(
    "text",
    [
        "/".join(["Datastreams", "Thing"] * 15),
        "Datastreams($expand=Thing($expand=" * 15 + "Datastreams" + "))" * 15,
        "Datastreams/Thing/Datastreams($expand=Thing/Datastreams($expand=Thing/Datastreams))",
    ],
)
def test_expand_deeper_than_the_limit_is_refused_while_parsing(text: str) -> None:
    """A 30-level $expand once cost a minute of queries before its 400; now no query runs at all."""
    with pytest.raises(QuerySyntaxError, match=r"^\$expand: nested too deeply") as info:
        parse_expand(text)
    assert f"the limit is {QueryLimits().max_expand_depth} levels" in str(info.value)


def test_expand_breadth_counts_every_level() -> None:
    breadth = QueryLimits().max_expand_breadth
    wide = ",".join(["Datastreams"] * breadth)
    assert len(parse_expand(wide)) == breadth
    with pytest.raises(QuerySyntaxError, match="too many navigation properties expanded") as info:
        parse_expand(wide + ",Locations")
    assert f"the limit is {breadth} in one request" in str(info.value)
    nested = "Datastreams($expand=" + ",".join(["Observations"] * (breadth - 1)) + ")"
    assert len(parse_expand(nested)[0].options.expand) == breadth - 1
    with pytest.raises(QuerySyntaxError, match="too many navigation properties expanded"):
        parse_expand(nested + ",Locations/Things")


def test_skip_beyond_the_largest_offset() -> None:
    assert parse_query_options({"$skip": str(2**63 - 1)}).skip == 2**63 - 1
    limits = QueryLimits.of(Settings(max_offset=1000))
    assert parse_query_options({"$skip": "1000"}, limits).skip == 1000
    with pytest.raises(QuerySyntaxError, match=r"^\$skip: value 1001 is out of range.*the limit is 1000"):
        parse_query_options({"$skip": "1001"}, limits)
    with pytest.raises(QuerySyntaxError, match="in \\$skip of expanded A"):
        parse_query_options({"$expand": "A($skip=1001)"}, limits)
