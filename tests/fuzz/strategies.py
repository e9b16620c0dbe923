"""Hypothesis strategies for hostile input: what a careless or malicious client may send the platform.

Each strategy is a catalogue of one kind of trouble, with the sizes placed at the limits that matter
(the accepted JSON depth of 64, orjson's 254 levels on output, the 64-bit range of ids, the 500 terms
where a recursive compiler overflows, the backtracking of `%` in a LIKE pattern). Sizes are drawn from
a few chosen values around each limit rather than from a uniform range, so a small number of examples
reaches every limit on every run.

The strategies produce values, not requests: the tests in this folder wrap them into bodies, query
parameters and headers of the APIs.
"""

from __future__ import annotations

import json
import math
from base64 import b64encode
from typing import Any

from hypothesis import strategies as st

# --- sizes at the limits --------------------------------------------------------------------------------

#: Nesting depths around the limits: the accepted 64, orjson's 254 on output, its 1,024 on input.
DEPTHS = [1, 2, 63, 64, 65, 100, 249, 250, 251, 252, 253, 254, 255, 256, 512, 1023, 1024, 1025, 5000]
#: How many terms a filter chains: around the recursion limits of parsers and compilers.
TERM_COUNTS = [2, 30, 100, 499, 500, 501, 1000, 1500, 3000]
#: How many elements a wide document has.
WIDTHS = [0, 1, 1000, 10_000, 50_000]


def depth(at_least: int = 1) -> st.SearchStrategy[int]:
    return st.sampled_from([d for d in DEPTHS if d >= at_least])


def term_count() -> st.SearchStrategy[int]:
    return st.sampled_from(TERM_COUNTS)


# --- JSON ------------------------------------------------------------------------------------------------


def nested_json_text(levels: int, kind: str, leaf: str = "1") -> str:
    """JSON text of `levels` nested arrays (`[[[1]]]`), objects (`{"a":{"a":1}}`) or both alternating.

    Built as text, not as Python values, because a Python value that deep cannot be serialised by the
    standard library (recursion) and the text is what the server receives anyway.
    """
    if kind == "array":
        return "[" * levels + leaf + "]" * levels
    if kind == "object":
        return '{"a":' * levels + leaf + "}" * levels
    opening = "".join('{"a":' if i % 2 else "[" for i in range(levels))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(levels)))
    return opening + leaf + closing


@st.composite
def deep_json(draw: st.DrawFn, at_least: int = 1) -> str:
    """JSON text nested around the limits of the parsers, the checks and the serialiser."""
    return nested_json_text(draw(depth(at_least)), draw(st.sampled_from(["array", "object", "mixed"])))


@st.composite
def wide_json(draw: st.DrawFn) -> Any:
    """A JSON value shallow but large: many keys, many elements, long strings, odd keys."""
    width = draw(st.sampled_from(WIDTHS))
    shape = draw(st.sampled_from(["keys", "elements", "string", "odd keys"]))
    if shape == "keys":
        return {f"k{i}": i for i in range(width)}
    if shape == "elements":
        return [draw(st.sampled_from([0, "x", None, 1.5, True]))] * width
    if shape == "string":
        return draw(st.sampled_from(["x", "é", "\x00", "\u202e", "😀"])) * (width * 10)
    return {key: 1 for key in draw(st.lists(odd_text(), max_size=20))}


def odd_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text with the characters that break naive code: NUL, controls, quotes, wildcards, RTL marks, emoji.

    (Lone surrogates cannot be sent as UTF-8; they come as JSON escapes in `ODD_JSON_LITERALS`.)"""
    return st.one_of(
        st.text(max_size=max_size),
        st.sampled_from(
            ["", "\x00", "a\x00b", "'", "''", '"', "\\", "%", "_", "*", "\n", "\r\n", "\u202e", "😀", "名前"]
        ),
        st.text(st.sampled_from("\x00\x01\x7f'\"\\%_*?()[]{}$@/ é"), max_size=max_size),
    )


#: JSON text that standard parsers treat differently: non-standard numbers, lone surrogates, duplicate
#: keys, a BOM, trailing content.
ODD_JSON_LITERALS = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "-0", "0e0",
    "123456789012345678901234567890", '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"',
    '{"a":1,"a":2}', "\ufeff{}", "{} {}", "[1,]", "{,}", "", " ", "null", "true",
]  # fmt: skip


# --- numbers ---------------------------------------------------------------------------------------------

#: Integers at and beyond the edges of the integer types the stores and the languages use.
HUGE_INTEGERS = [
    0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
    2**64, 10**20, 10**100, -(10**100), 9999999999999999999,
]  # fmt: skip
#: Floats at the edges of IEEE 754, and Python's spellings of the values JSON does not have.
ODD_FLOATS = [0.5, -0.0, 1e308, -1e308, 5e-324, 1e-320, 1.7976931348623157e308]


def huge_integer() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(HUGE_INTEGERS), st.integers(min_value=-(2**70), max_value=2**70))


def odd_number_text() -> st.SearchStrategy[str]:
    """A number as a client may spell it in a query parameter or a path: too big, signed, not a number."""
    return st.one_of(
        huge_integer().map(str),
        st.sampled_from(ODD_FLOATS).map(repr),
        st.sampled_from(
            ["", " ", "-", "+1", "1e999", "nan", "NaN", "inf", "-inf", "0x10", "1_000", "١٢", "1.", ".5",
             "1e5", "0" * 400 + "1", "9" * 400, "1,2", "1 2", "\x00", "null", "true", "'1'"]
        ),
    )  # fmt: skip


def huge_json_number() -> st.SearchStrategy[str]:
    """A number as JSON text: integers beyond 64 bits, floats beyond IEEE 754, the literals JSON lacks."""
    return st.one_of(
        huge_integer().map(str),
        st.sampled_from(ODD_FLOATS).map(repr),
        st.sampled_from(["1e999", "-1e999", "1e-999", "NaN", "Infinity", "-0", "9" * 400]),
    )


# --- geometries -------------------------------------------------------------------------------------------

BOWTIE = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]


def _point(lon: Any, lat: Any) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _nested_collection(levels: int) -> dict[str, Any]:
    geometry: dict[str, Any] = _point(1, 2)
    for _ in range(levels):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    return geometry


#: GeoJSON geometries that are wrong in every way a writer can get them wrong.
ODD_GEOMETRIES: list[Any] = [
    {"type": "Foo", "coordinates": [1, 2]},
    {"type": "Foo"},
    {"type": "", "coordinates": []},
    {"type": None},
    {"type": ["Point"], "coordinates": [1, 2]},
    {"type": "Point"},
    {"type": "Point", "coordinates": None},
    {"type": "Point", "coordinates": []},
    {"type": "Point", "coordinates": [1]},
    {"type": "Point", "coordinates": [1, 2, 3, 4, 5]},
    {"type": "Point", "coordinates": ["a", "b"]},
    {"type": "Point", "coordinates": [[1, 2]]},
    {"type": "Point", "coordinates": {"x": 1}},
    _point(400, 95),
    _point(-181, -91),
    _point(1e308, -1e308),
    _point(2**64, 2**63),
    _point(12.37, 51.34) | {"crs": {"type": "name", "properties": {"name": "EPSG:99999"}}},
    {"type": "LineString", "coordinates": [[0, 0]]},
    {"type": "LineString", "coordinates": [[0, 0], [0, 0]]},
    {"type": "Polygon", "coordinates": [BOWTIE]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0]]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [5, 5]]]},
    {"type": "Polygon", "coordinates": []},
    {"type": "Polygon", "coordinates": [[]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [0, 0], [0, 0], [0, 0]]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 0]], [[20, 20], [30, 20], [20, 20]]]},
    {"type": "MultiPolygon", "coordinates": [[BOWTIE], [BOWTIE]]},
    {"type": "MultiPoint", "coordinates": []},
    {"type": "GeometryCollection", "geometries": []},
    {"type": "GeometryCollection", "geometries": [{"type": "Foo"}]},
    {"type": "GeometryCollection", "geometries": [_nested_collection(1)]},
    {"type": "Feature", "geometry": _point(1, 2), "properties": {}},
    {"type": "FeatureCollection", "features": []},
    "POINT(1 2)",
    [1, 2],
    None,
    42,
]  # fmt: skip


@st.composite
def odd_geometry(draw: st.DrawFn, max_vertices: int = 20_000) -> Any:
    """A GeoJSON geometry that is malformed, out of range, self-intersecting, huge or deeply nested.

    `max_vertices` bounds the huge rings, for a geometry that has to fit into a URL.
    """
    return draw(
        st.one_of(
            st.sampled_from(ODD_GEOMETRIES),
            st.builds(
                _point,
                st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([400, -400, 95, 1e308]),
                st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([95, -95, 1e308]),
            ),
            # a ring of many vertices (a huge polygon), closed or not
            st.sampled_from(sorted({4, min(1000, max_vertices), max_vertices})).map(
                lambda n: {
                    "type": "Polygon",
                    "coordinates": [[[math.cos(i / n * 6.28), math.sin(i / n * 6.28)] for i in range(n)]],
                }
            ),
            # collections inside collections
            st.sampled_from([10, 100, 60]).map(_nested_collection),
        )
    )


#: WKT as it appears in filters (OData `geography'…'`, CQL2 text), wrong in the same ways.
ODD_WKT = [
    "POINT(400 95)", "POINT(1e308 -1e308)", "POINT(nan 1)", "POINT(inf inf)", "POINT()", "POINT(1)",
    "POINT EMPTY", "FOO(1 2)", "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))", "POLYGON((0 0, 1 1, 1 0))",
    "LINESTRING(0 0)", "GEOMETRYCOLLECTION(POINT(1 2), GEOMETRYCOLLECTION(POINT(3 4)))",
    "MULTIPOLYGON(((0 0, 1 1, 1 0, 0 1, 0 0)))", "POINT(" + "9" * 400 + " 1)",
    "POLYGON((" + ", ".join(f"{i} {i % 7}" for i in range(2000)) + ", 0 0))",
]  # fmt: skip


# --- OData $filter and $expand (SensorThings) -------------------------------------------------------------


@st.composite
def odata_filter(draw: st.DrawFn) -> str:
    """A `$filter` built to exhaust a parser, a compiler or a database: long, deep or regex-hostile."""
    n = draw(term_count())
    shape = draw(
        st.sampled_from(
            ["add", "or", "and", "parens", "not", "functions", "like", "geo", "numbers", "strings"]
        )
    )
    if shape == "add":
        return "result" + " add 1" * n + " gt 0"
    if shape == "or":
        return " or ".join(["name eq 'a'"] * n)
    if shape == "and":
        return " and ".join(["result gt 0"] * n)
    if shape == "parens":
        return "(" * n + "name eq 'a'" + ")" * n
    if shape == "not":
        return "not " * n + "(name eq 'a')"
    if shape == "functions":
        return "length(" * min(n, 200) + "name" + ")" * min(n, 200) + " gt 0"
    if shape == "like":
        pattern = draw(st.sampled_from(["%", "_", "*", "%_", "\\%", "[%]"])) * min(n, 1500) + "a"
        function = draw(st.sampled_from(["substringof('{p}', name)", "contains(name, '{p}')",
                                         "startswith(name, '{p}')", "endswith(description, '{p}')",
                                         "indexof(name, '{p}') ge 0"]))  # fmt: skip
        return function.format(p=pattern)
    if shape == "geo":
        wkt = draw(st.sampled_from(ODD_WKT))
        function = draw(st.sampled_from(["geo.intersects(location, geography'{w}')",
                                         "st_within(location, geography'{w}')",
                                         "geo.distance(location, geography'{w}') lt 1",
                                         "st_relate(location, geography'{w}', 'T*T***FF*')"]))  # fmt: skip
        return function.format(w=wkt)
    if shape == "numbers":
        return f"{draw(st.sampled_from(['result', '@iot.id', 'id']))} eq {draw(odd_number_text())}"
    return f"name eq '{draw(odd_text()).replace(chr(39), chr(39) * 2)}'"


@st.composite
def odata_expand(draw: st.DrawFn) -> str:
    """A deep `$expand`, alternating between a Thing and its Datastreams, up to 40 levels."""
    levels = draw(st.sampled_from([1, 10, 29, 30, 31, 40]))
    hops = ["Datastreams", "Thing"]
    text = ""
    for level in reversed(range(levels)):
        hop = hops[level % 2]
        text = f"{hop}($expand={text})" if text else hop
    return text


#: The segments of a SensorThings resource path (`Things(1)/Datastreams/$ref`), right and wrong.
PATH_SEGMENTS = [
    "Things", "Datastreams", "Thing", "Observations", "Locations", "Sensor", "ObservedProperty",
    "FeatureOfInterest", "HistoricalLocations", "properties", "name", "result", "$ref", "$value", "$count",
    "", "..", "%2F", "%00", "Things()", "Things(')", "Things('a')", "Things(1,2)", "Things(-0)",
]  # fmt: skip


@st.composite
def sensorthings_path(draw: st.DrawFn) -> str:
    """A resource path below /v1.1/: navigation chains, odd ids, `$ref`/`$value`, long chains."""
    segments = draw(
        st.lists(
            st.one_of(
                st.sampled_from(PATH_SEGMENTS),
                st.tuples(st.sampled_from(["Things", "Datastreams", "Observations"]), odd_number_text()).map(
                    lambda pair: f"{pair[0]}({pair[1]})"
                ),
            ),
            min_size=1,
            max_size=draw(st.sampled_from([3, 8, 60])),
        )
    )
    return "/".join(segments)


# --- CQL2 (OGC API Features) -------------------------------------------------------------------------------


@st.composite
def cql2_text(draw: st.DrawFn) -> str:
    """A CQL2 text filter built to exhaust the parser, the compiler or the database."""
    n = draw(term_count())
    shape = draw(
        st.sampled_from(["or", "and", "plus", "parens", "like", "spatial", "numbers", "strings", "not"])
    )
    if shape == "or":
        return " OR ".join(["name = 'a'"] * n)
    if shape == "and":
        return " AND ".join(["rank > 0"] * n)
    if shape == "plus":
        return "rank" + " + 1" * n + " > 0"
    if shape == "parens":
        return "(" * n + "rank > 0" + ")" * n
    if shape == "not":
        return "NOT " * min(n, 1000) + "(rank > 0)"
    if shape == "like":
        pattern = draw(st.sampled_from(["%", "_", "%_", "\\%"])) * min(n, 1500) + "a"
        return f"name LIKE '{pattern}'"
    if shape == "spatial":
        operator = draw(st.sampled_from(["S_INTERSECTS", "S_WITHIN", "S_CONTAINS", "S_CROSSES", "S_EQUALS"]))
        return f"{operator}(geometry, {draw(st.sampled_from(ODD_WKT))})"
    if shape == "numbers":
        return f"rank = {draw(odd_number_text())}"
    return f"name = '{draw(odd_text()).replace(chr(39), chr(39) * 2)}'"


@st.composite
def cql2_json(draw: st.DrawFn) -> str:
    """A CQL2 JSON filter: odd geometries, deep and long logic, wrong shapes, as JSON text."""
    n = draw(term_count())
    shape = draw(st.sampled_from(["geometry", "deep", "long", "shape", "like", "numbers"]))
    if shape == "geometry":
        operator = draw(st.sampled_from(["s_intersects", "s_within", "s_contains", "s_equals"]))
        geometry = draw(odd_geometry(max_vertices=1000))
        document: Any = {"op": operator, "args": [{"property": "geometry"}, geometry]}
    elif shape == "deep":
        levels = draw(depth())
        return ('{"op":"not","args":[' * levels + '{"op":"=","args":[{"property":"rank"},1]}'
                + "]}" * levels)  # fmt: skip
    elif shape == "long":
        term = {"op": "=", "args": [{"property": "name"}, "a"]}
        document = {"op": draw(st.sampled_from(["or", "and"])), "args": [term] * n}
    elif shape == "like":
        document = {"op": "like", "args": [{"property": "name"}, "%" * min(n, 1500) + "a"]}
    elif shape == "numbers":
        return '{"op":"=","args":[{"property":"rank"},' + draw(huge_json_number()) + "]}"
    else:
        document = draw(
            st.sampled_from(
                [
                    {},
                    [],
                    "x",
                    1,
                    None,
                    {"op": "Foo", "args": []},
                    {"op": "=", "args": "x"},
                    {"op": "="},
                    {"op": "=", "args": [{"property": None}, 1]},
                    {"op": "=", "args": [{"property": ["x"]}, 1]},
                    {"op": "and", "args": []},
                    {"op": "in", "args": [{"property": "rank"}, [1, [2]]]},
                    {"op": "t_before", "args": [{"property": "valid_from"}, {"timestamp": "0000-00-00"}]},
                    {"op": "between", "args": [{"property": "rank"}, 1]},
                ]  # fmt: skip
            )
        )
    return json.dumps(document)


# --- headers ----------------------------------------------------------------------------------------------


def sendable(value: bytes) -> bytes:
    """A header value as HTTP/1.1 can carry it: no control characters but tab, no surrounding spaces.

    Everything else (non-ASCII, Latin-1, invalid UTF-8) is allowed on the wire and reaches the server;
    the rest the client library refuses to send, so it could not test the server.
    """
    return bytes(b for b in value if b == 9 or 32 <= b != 127).strip(b" \t")


#: Credentials as bytes, since non-ASCII and broken encodings are the point.
ODD_AUTHORIZATIONS: list[bytes] = [
    b"Basic \xff\xfe\xfd", b"Basic \xc3\xa9", b"Basic " + "é".encode("latin-1"), b"Basic bmFtZTrDqQ==",
    b"Basic " + b64encode("nöme:pässwörd".encode("latin-1")), b"Basic " + b64encode(b"\xff\xfe:\x00"),
    b"Basic " + b64encode(b"nocolon"), b"Basic ====", b"Basic", b"Basic \t x", b"Bearer",
    b"Bearer \xe2\x82\xac", b"Bearer " + b"a" * 10_000, b"Bearer \xff", b"Digest x", b"\xff", b"bearer test",
    b"Token x",
]  # fmt: skip


def odd_header_value() -> st.SearchStrategy[bytes]:
    """A header value as bytes: non-ASCII, Latin-1, invalid UTF-8, very long."""
    return st.one_of(
        st.binary(max_size=40).map(sendable),
        st.sampled_from(
            [b"", b"\xff\xfe", "é".encode(), "é".encode("latin-1"), b"a" * 8000, b"evil.example",
             b"evil.example:99999", b"evil.example:99999/x", b"[::1", b"a b", b"http", b"https, http",
             b"gopher", b"/prefix", b"//evil.example", b"../..", b"%00", b"localhost:0", b"-1", b"*"]
        ),
    )  # fmt: skip


#: The headers a client (or a proxy in front of the server) sets that the platform reads.
HEADER_NAMES = [
    "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", "X-Forwarded-For", "Forwarded",
    "Accept", "Accept-Encoding", "Content-Crs", "If-None-Match", "Origin", "Prefer", "Host",
]  # fmt: skip


# --- query parameters -----------------------------------------------------------------------------------


def odd_instant() -> st.SearchStrategy[str]:
    """A time as a client may write it: at the ends of the calendar, with odd zones, or not a time."""
    return st.one_of(
        st.sampled_from(
            ["0001-01-01", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-00-00", "10000-01-01",
             "2024-02-30", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00+99:00", "-2024-01-01", "now",
             "..", "../..", "2024-01-01/..", "../2024-01-01", "2024-01-01/2023-01-01", "P1D", "1e999", ""]
        ),
        odd_number_text(),
    )  # fmt: skip


def odd_bbox() -> st.SearchStrategy[str]:
    """A `bbox` with too few or many numbers, inverted, out of range, or not numbers."""
    return st.one_of(
        st.lists(odd_number_text(), min_size=0, max_size=7).map(",".join),
        st.sampled_from(["400,95,-400,-95", "1,1,0,0", "-180,-90,180,90", "nan,nan,nan,nan", ",,,",
                         "1e308,1e308,-1e308,-1e308"]),
    )  # fmt: skip


def odd_parameter() -> st.SearchStrategy[str]:
    """Any value of a query parameter: a number, a time, a bbox, or text."""
    return st.one_of(odd_number_text(), odd_instant(), odd_bbox(), odd_text())
