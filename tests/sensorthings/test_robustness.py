"""Property-based tests over HTTP: whatever a client sends, the answer is never a 5xx.

Random and hostile `$filter`, `$orderby`, `$expand` and `$select` values and resource paths go to the
app on both backends; every answer is below 500, and every 4xx is JSON with a `message`. The query
options come from raw text (to reach the parser's corners) and from a grammar over the real model
(well-formed trees over real property paths, functions and literals, so the compiler and the SQL run,
not only the parser). A schemathesis run over `/openapi.json` checks every documented operation.

Hypothesis runs derandomized (the same examples every run) and without an example database.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from tests.conftest import ADMIN_TOKEN
from tests.sensorthings.module_store import module_store
from tests.sensorthings.test_filter import THINGS
from urbantwin.app import create_app
from urbantwin.sensorthings.model import BY_SET_NAME, ENTITY_TYPES, EntityType
from urbantwin.sensorthings.query.ast import (
    BinOp,
    Call,
    GeoLiteral,
    Interval,
    Literal,
    Neg,
    Node,
    Not,
    Path,
)
from urbantwin.sensorthings.query.render import render_filter
from urbantwin.settings import Settings

# One worker runs the whole module (`pytest -n --dist loadgroup`):
# the module's store, loaded once per backend, not again on the other worker.
pytestmark = pytest.mark.xdist_group("sensorthings-robustness")

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
SET_NAMES = sorted(BY_SET_NAME)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def store(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The `$filter` table's dataset; the tests that use it only read."""
    with module_store(backend, request, tmp_path_factory) as client:
        for thing in THINGS:
            assert client.post("/v1.1/Things", json=thing).status_code == 201
        yield client


@pytest.fixture(scope="module")
def scratch(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A store of its own for the tests that write (random bodies, schemathesis)."""
    with module_store(backend, request, tmp_path_factory) as client:
        for thing in THINGS[:2]:
            assert client.post("/v1.1/Things", json=thing).status_code == 201
        yield client


def send(client: TestClient, method: str, url: str, **kwargs: Any) -> Any:
    """The response; an exception the server raised fails the test naming the request."""
    try:
        return client.request(method, url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any exception here is a server error
        pytest.fail(f"{method} {url} {kwargs} raised {exc!r}")


def assert_handled(response: Any) -> None:
    """Below 500; an error is JSON with a message naming the problem."""
    request = response.request
    assert response.status_code < 500, f"{request.method} {request.url} -> {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("message"), str) and body["message"], body


# --- 1. raw text ---------------------------------------------------------------------------------------

FRAGMENTS = [
    "(", ")", "((", "))", "'", "''", "'x'", " ", ",", ";", "/", "-", "=", "$", "@iot.id", "*", "%",
    "%27", "%00", "&", "#", "?", "not ", " and ", " or ", " eq ", " ne ", " gt ", " lt ", " add ",
    " div 0", " mod ", " desc", " asc", "name", "result", "properties/owner", "properties/a/b",
    "Datastream/Thing/name", "Datastreams/Observations/result", "Locations/location", "phenomenonTime",
    "location", "feature", "observedArea", "id", "Datastreams", "Observations", "Thing", "Locations",
    "substringof(", "substring(", "st_relate(", "geo.intersects(", "geo.distance(", "geo.length(",
    "year(", "now()", "round(", "concat(", "length(", "geography'", "geography'POINT(1 2)'",
    "geography'POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))'", "geography'POINT(nan 1)'", "geometry'LINESTRING(0 0)'",
    "'T*T***FF*'", "duration'P1D'", "2024-01-01", "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00Z/2024-02-01T00:00:00Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9" * 30, "1e308", "1e-320", "0.5", "-0", "2147483648",
    "9223372036854775807", "$filter=", "$expand=", "$top=", "$skip=", "$select=", "$orderby=", "$count=true",
    "Datastreams(", "($expand=", "\x00", "\u202e", "é", "名前", "\t", "\n", "true", "false", "null",
]  # fmt: skip
HOSTILE = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(FRAGMENTS), max_size=16).map("".join),
    st.integers(0, 120).map(lambda n: "(" * n + "name eq 'x'" + ")" * n),
    st.integers(0, 60).map(lambda n: "Datastreams(" * n + ")" * n),
    st.integers(1, 60).map(lambda n: "result" + " mod 2" * n + " eq 0"),
    st.integers(1, 40).map(lambda n: "floor(" * n + "result" + ")" * n + " eq 1"),
)
OPTIONS = ["$filter", "$orderby", "$expand", "$select", "$top", "$skip", "$count"]


@SETTINGS
@given(
    entity_set=st.sampled_from(SET_NAMES),
    params=st.dictionaries(st.sampled_from(OPTIONS), HOSTILE, max_size=3),
)
def test_raw_text_query_options_never_fail_the_server(
    store: TestClient, entity_set: str, params: dict[str, str]
) -> None:
    assert_handled(send(store, "GET", f"/v1.1/{entity_set}", params=params))


# --- 2. the grammar over the real model ----------------------------------------------------------------

#: Keys of the JSON documents of the dataset, and some that are in none of them.
JSON_KEYS = ["owner", "height", "active", "level", "a/b", "a/n", "tags", "depth", "label", "threshold",
             "mode/speed", "symbol", "missing", "0"]  # fmt: skip
_KIND_OF = {
    "id": "num",
    "text": "text",
    "time": "time",
    "interval": "time",
    "geojson": "geom",
    "geometry": "geom",
}


def property_paths(entity: EntityType, depth: int = 2) -> dict[str, list[str]]:
    """Paths from `entity` by the kind of value they give: num, text, time, geom, bool, any."""
    found: dict[str, list[str]] = {"num": [], "text": [], "time": [], "geom": [], "bool": [], "any": []}

    def walk(current: EntityType, prefix: str, left: int) -> None:
        for name, prop in [("id", None), *current.properties.items()]:
            kind = "id" if prop is None else prop.kind
            path = prefix + name
            if kind in ("json", "result"):
                found["any"].append(path)
                found["any"].extend(f"{path}/{key}" for key in JSON_KEYS)
                if kind == "result":
                    found["num"].append(path)
                    found["text"].append(path)
                    found["bool"].append(path)
            else:
                found[_KIND_OF[kind]].append(path)
        if left:
            for relation in current.relations.values():
                walk(ENTITY_TYPES[relation.target], f"{prefix}{relation.name}/", left - 1)

    walk(entity, "", depth)
    return found


PATHS = {name: property_paths(entity) for name, entity in BY_SET_NAME.items()}

TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.sampled_from(
    [datetime(2024, 1, 1, 12, tzinfo=UTC), datetime(2024, 1, 2, 6, 30, 15, 250000, tzinfo=UTC)]
)
NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 0.0, -0.0, 0.5, 2.5, -2.5, 1e308, -1e308, 5e-324, 2**53 + 1]),
)
TEXTS = st.one_of(
    st.sampled_from(["Alpha", "ok", "city", "", " ", "'", "%", "_", "\\", "é", "名前", "O'Brien"]),
    st.text(max_size=12),
    st.text(alphabet=string.printable, max_size=12),
)
WKT = st.one_of(
    st.sampled_from(
        [
            "POINT(12.31 51.33)",
            "POINT(13.5 52.5)",
            "POINT Z (1 2 3)",
            "MULTIPOINT((1 2), (3 4))",
            "LINESTRING(11 50, 11 54)",
            "POLYGON((12 51, 13 51, 13 52, 12 52, 12 51))",
            "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (1 1, 2 1, 2 2, 1 2, 1 1))",
            "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))",
            "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))",
            "POINT(1e300 1e300)",
            "POINT(nan 1)",
            "POINT EMPTY",
            "LINESTRING(0 0)",
            "POLYGON((0 0, 1 0, 0 0))",
            "SRID=4326;POINT(1 2)",
            "CIRCLE(1 2)",
        ]
    ),
    st.tuples(st.floats(-180, 180), st.floats(-90, 90)).map(lambda p: f"POINT({p[0]} {p[1]})"),
)
PATTERNS = st.text(alphabet="TF*012tf", min_size=9, max_size=9)

_STRING_FUNCTIONS = {"tolower": 1, "toupper": 1, "trim": 1}
_TIME_PARTS = ["year", "month", "day", "hour", "minute", "second", "fractionalseconds", "totaloffsetminutes"]
_PREDICATES = ["substringof", "contains", "startswith", "endswith"]
_SPATIAL = ["geo.intersects", "st_equals", "st_disjoint", "st_touches", "st_within", "st_overlaps",
            "st_crosses", "st_intersects", "st_contains"]  # fmt: skip
KINDS = ["num", "text", "time", "geom", "bool"]


class Grammar:
    """Strategies for expressions of each kind over the paths of one entity set.

    Mostly well typed; one argument in eight is of any kind, so type errors are exercised too."""

    def __init__(self, entity_set: str) -> None:
        self.paths = PATHS[entity_set]
        self._built: dict[tuple[str, str, int], st.SearchStrategy[Node]] = {}

    def _once(self, what: str, kind: str, depth: int, build: Callable[[], st.SearchStrategy[Node]]) -> Any:
        """Each strategy built once: built afresh, the tree of strategies grows exponentially."""
        key = (what, kind, depth)
        if key not in self._built:
            self._built[key] = st.deferred(build)
        return self._built[key]

    def path(self, kind: str) -> st.SearchStrategy[Node]:
        options = self.paths[kind] + (self.paths["any"] if kind in ("num", "text", "bool") else [])
        if not options:
            return st.nothing()
        return st.sampled_from(options).map(lambda p: Path(tuple(p.split("/"))))

    def expr(self, kind: str, depth: int) -> st.SearchStrategy[Node]:
        return self._once("expr", kind, depth, lambda: self._expr(kind, depth))

    def _expr(self, kind: str, depth: int) -> st.SearchStrategy[Node]:
        leaves = {
            "num": st.one_of(NUMBERS.map(Literal), self.path("num")),
            "text": st.one_of(TEXTS.map(Literal), self.path("text")),
            "time": st.one_of(
                TIMES.map(Literal),
                st.lists(TIMES, min_size=2, max_size=2).map(sorted).map(lambda p: Literal(Interval(*p))),
                self.path("time"),
                st.sampled_from(["now", "mindatetime", "maxdatetime"]).map(lambda n: Call(n, ())),
                st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)).map(Literal),
            ),
            "geom": st.one_of(WKT.map(GeoLiteral), self.path("geom")),
            "bool": st.one_of(st.booleans().map(Literal), self.path("bool")),
        }[kind]
        if depth <= 0:
            return leaves
        return st.one_of(leaves, self._composite(kind, depth - 1))

    def arg(self, kind: str, depth: int) -> st.SearchStrategy[Node]:
        """An argument of `kind`, or now and then of any kind or null."""

        def build() -> st.SearchStrategy[Node]:
            typed = self.expr(kind, depth)
            anything = st.sampled_from(KINDS).flatmap(lambda k: self.expr(k, 0)) | st.just(Literal(None))
            return st.one_of(typed, typed, typed, typed, typed, typed, typed, anything)

        return self._once("arg", kind, depth, build)

    def _composite(self, kind: str, depth: int) -> st.SearchStrategy[Node]:
        a = self.arg
        if kind == "num":
            return st.one_of(
                st.builds(
                    BinOp,
                    st.sampled_from(["add", "sub", "mul", "div", "mod"]),
                    a("num", depth),
                    a("num", depth),
                ),
                st.builds(Neg, a("num", depth)),
                st.builds(
                    lambda n, x: Call(n, (x,)),
                    st.sampled_from(["round", "floor", "ceiling"]),
                    a("num", depth),
                ),
                st.builds(lambda x: Call("length", (x,)), a("text", depth)),
                st.builds(lambda x, y: Call("indexof", (x, y)), a("text", depth), a("text", depth)),
                st.builds(lambda n, x: Call(n, (x,)), st.sampled_from(_TIME_PARTS), a("time", depth)),
                st.builds(lambda x, y: Call("geo.distance", (x, y)), a("geom", depth), a("geom", depth)),
                st.builds(lambda x: Call("geo.length", (x,)), a("geom", depth)),
            )
        if kind == "text":
            return st.one_of(
                st.builds(
                    lambda n, x: Call(n, (x,)), st.sampled_from(sorted(_STRING_FUNCTIONS)), a("text", depth)
                ),
                st.builds(lambda x, y: Call("concat", (x, y)), a("text", depth), a("text", depth)),
                st.builds(lambda x, y: Call("substring", (x, y)), a("text", depth), a("num", depth)),
                st.builds(
                    lambda x, y, z: Call("substring", (x, y, z)),
                    a("text", depth),
                    a("num", depth),
                    a("num", depth),
                ),
                st.builds(lambda n, x: Call(n, (x,)), st.sampled_from(["date", "time"]), a("time", depth)),
            )
        if kind == "bool":
            compared = st.sampled_from(KINDS).flatmap(lambda k: st.tuples(a(k, depth), a(k, depth)))
            return st.one_of(
                st.builds(
                    lambda op, pair: BinOp(op, *pair),
                    st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]),
                    compared,
                ),
                st.builds(BinOp, st.sampled_from(["and", "or"]), a("bool", depth), a("bool", depth)),
                st.builds(Not, a("bool", depth)),
                st.builds(
                    lambda n, x, y: Call(n, (x, y)),
                    st.sampled_from(_PREDICATES),
                    a("text", depth),
                    a("text", depth),
                ),
                st.builds(
                    lambda n, x, y: Call(n, (x, y)),
                    st.sampled_from(_SPATIAL),
                    a("geom", depth),
                    a("geom", depth),
                ),
                st.builds(
                    lambda x, y, p: Call("st_relate", (x, y, Literal(p))),
                    a("geom", depth),
                    a("geom", depth),
                    PATTERNS,
                ),
                st.builds(
                    lambda x: BinOp("eq", x, Literal(None)), st.sampled_from(KINDS).flatmap(lambda k: a(k, 0))
                ),
            )
        return self.expr(kind, 0)  # time and geometry values have no operators of their own


GRAMMARS = {name: Grammar(name) for name in SET_NAMES}


@st.composite
def filter_requests(draw: Callable[[st.SearchStrategy[Any]], Any]) -> tuple[str, str]:
    entity_set = draw(st.sampled_from(SET_NAMES))
    return entity_set, render_filter(draw(GRAMMARS[entity_set].expr("bool", 3)))


@SETTINGS
@given(request=filter_requests())
def test_filters_from_the_grammar_never_fail_the_server(store: TestClient, request: tuple[str, str]) -> None:
    entity_set, expression = request
    assert_handled(send(store, "GET", f"/v1.1/{entity_set}", params={"$filter": expression, "$top": "5"}))


def orderby_text(entity_set: str) -> st.SearchStrategy[str]:
    grammar = GRAMMARS[entity_set]
    key = st.sampled_from(KINDS).flatmap(lambda k: grammar.expr(k, 1)).map(render_filter)
    direction = st.sampled_from(["", " asc", " desc", " DESC"])
    return st.lists(st.tuples(key, direction).map("".join), min_size=1, max_size=3).map(",".join)


def select_text(entity: EntityType) -> st.SearchStrategy[str]:
    names = ["id", "@iot.id", "@iot.selfLink", *entity.properties, *entity.relations, "nothing"]
    return st.lists(st.sampled_from(names), min_size=1, max_size=4).map(",".join)


def expand_text(entity: EntityType, depth: int) -> st.SearchStrategy[str]:
    """`Relation($filter=…;$orderby=…;$select=…;$top=…;$expand=…)` over real relations (and one
    that is not), with options drawn from the grammar of the target."""

    @st.composite
    def item(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
        name = draw(st.sampled_from([*entity.relations, "Nothing"]))
        relation = entity.relations.get(name)
        if relation is None:
            return name
        target = ENTITY_TYPES[relation.target]
        options: list[str] = []
        if draw(st.booleans()):
            options.append("$filter=" + render_filter(draw(GRAMMARS[target.set_name].expr("bool", 2))))
        if draw(st.booleans()):
            options.append("$orderby=" + draw(orderby_text(target.set_name)))
        if draw(st.booleans()):
            options.append("$select=" + draw(select_text(target)))
        if draw(st.booleans()):
            options.append(f"$top={draw(st.sampled_from([0, 1, 2, 1000]))}")
        if draw(st.booleans()):
            options.append(f"$skip={draw(st.sampled_from([0, 1, 2**63 - 1]))}")
        if draw(st.booleans()):
            options.append("$count=true")
        if depth > 0 and draw(st.booleans()):
            options.append("$expand=" + draw(expand_text(target, depth - 1)))
        return f"{name}({';'.join(options)})" if options else name

    return st.lists(item(), min_size=1, max_size=3).map(",".join)


@st.composite
def read_requests(draw: Callable[[st.SearchStrategy[Any]], Any]) -> tuple[str, dict[str, str]]:
    entity_set = draw(st.sampled_from(SET_NAMES))
    entity = BY_SET_NAME[entity_set]
    params: dict[str, str] = {}
    if draw(st.booleans()):
        params["$orderby"] = draw(orderby_text(entity_set))
    if draw(st.booleans()):
        params["$select"] = draw(select_text(entity))
    if draw(st.booleans()):
        params["$expand"] = draw(expand_text(entity, 2))
    if draw(st.booleans()):
        params["$filter"] = render_filter(draw(GRAMMARS[entity_set].expr("bool", 1)))
    params["$top"] = str(draw(st.sampled_from([0, 1, 3, 1000])))
    if draw(st.booleans()):
        params["$skip"] = str(draw(st.sampled_from([1, 5, 2**63 - 1])))
    if draw(st.booleans()):
        params["$count"] = "true"
    return entity_set, params


@SETTINGS
@given(request=read_requests())
def test_orderby_select_and_expand_from_the_grammar_never_fail_the_server(
    store: TestClient, request: tuple[str, dict[str, str]]
) -> None:
    entity_set, params = request
    response = send(store, "GET", f"/v1.1/{entity_set}", params=params)
    assert_handled(response)
    if response.status_code == 200 and "@iot.nextLink" in response.json():
        assert_handled(send(store, "GET", response.json()["@iot.nextLink"]))


# --- 3. resource paths and bodies ----------------------------------------------------------------------

_NAMES = sorted(
    {*BY_SET_NAME, *(r for e in ENTITY_TYPES.values() for r in e.relations)}
    | {p for e in ENTITY_TYPES.values() for p in e.properties}
)
KEYS = st.sampled_from(["1", "2", "3", "0", "99999", "-1", "'1'", "'x'", "", " 1 ", "1.5", "1e3", "٣",
                        str(2**63 - 1), str(2**63), "9" * 40, "null", "$it"])  # fmt: skip
SEGMENTS = st.one_of(
    st.sampled_from(_NAMES),
    st.tuples(st.sampled_from(_NAMES), KEYS).map(lambda p: f"{p[0]}({p[1]})"),
    st.sampled_from(
        [
            "$ref",
            "$value",
            "id",
            "@iot.id",
            "owner",
            "a",
            "b",
            "0",
            "",
            "..",
            "%2F",
            "CreateObservations",
            "$batch",
        ]
    ),
    st.text(max_size=8),
)
RESOURCE_PATHS = st.lists(SEGMENTS, min_size=1, max_size=5).map(
    lambda parts: "/v1.1/" + "/".join(quote(p, safe="()'$@,") for p in parts)
)


@SETTINGS
@given(path=RESOURCE_PATHS)
def test_random_resource_paths_never_fail_the_server(store: TestClient, path: str) -> None:
    assert_handled(send(store, "GET", path))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from([*_NAMES, "@iot.id", "type", "coordinates", "x"]), children, max_size=4
        )
    ),
    max_leaves=12,
)
TIME_TEXTS = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00Z/2023-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "x",
]
ENTITY_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=5) | JSON_VALUES,
        "description": st.text(max_size=5),
        "encodingType": st.sampled_from(["application/geo+json", "text/plain"]),
        "location": JSON_VALUES | st.just({"type": "Point", "coordinates": [1e308, -1e308]}),
        "feature": JSON_VALUES,
        "properties": JSON_VALUES,
        "result": JSON_VALUES,
        "phenomenonTime": st.sampled_from(TIME_TEXTS),
        "resultTime": JSON_VALUES,
        "validTime": JSON_VALUES,
        "Datastream": st.fixed_dictionaries({"@iot.id": JSON_VALUES}) | JSON_VALUES,
        "Thing": st.fixed_dictionaries({"@iot.id": st.integers(-5, 2**64)}),
        "Locations": st.lists(st.fixed_dictionaries({"@iot.id": st.integers(-5, 5)}), max_size=2)
        | JSON_VALUES,
        "unitOfMeasurement": JSON_VALUES,
    },
)  # fmt: skip


@SETTINGS
@given(
    method=st.sampled_from(["POST", "PATCH", "PUT", "DELETE"]),
    path=st.one_of(
        st.sampled_from(SET_NAMES).map(lambda s: f"/v1.1/{s}"),
        st.tuples(st.sampled_from(SET_NAMES), st.integers(1, 4)).map(lambda p: f"/v1.1/{p[0]}({p[1]})"),
        RESOURCE_PATHS,
    ),
    body=ENTITY_BODIES | JSON_VALUES,
)
def test_random_writes_never_fail_the_server(scratch: TestClient, method: str, path: str, body: Any) -> None:
    assert_handled(send(scratch, method, path, json=body))


# --- 4. the hostile filters that once slowed or broke the server, as plain examples --------------------


def test_deeply_nested_arithmetic_answers_quickly(store: TestClient) -> None:
    # `mod` wrote each operand twice into the SQL: 40 nested mods made a statement of 2**40 parts.
    for depth in (10, 40):
        chained = "result" + " mod 3" * depth + " eq 1"
        nested = "floor(" * depth + "result" + ")" * depth + " eq 1"
        for expression in (chained, nested):
            response = send(store, "GET", "/v1.1/Observations", params={"$filter": expression})
            assert_handled(response)
            # Deeper than SQLite parses: 400, "the query is too complex for the database".
            assert response.status_code == 200 or "too complex" in response.json()["message"]
            if depth == 10:
                assert response.status_code == 200, response.text


@pytest.mark.parametrize("literal", [math.nan, math.inf, -math.inf])
def test_geometry_literals_with_coordinates_that_are_no_numbers(store: TestClient, literal: float) -> None:
    response = store.get(
        "/v1.1/Locations", params={"$filter": f"geo.intersects(location, geography'POINT({literal} 1)')"}
    )
    assert response.status_code == 400 and "not finite" in response.json()["message"]


def test_a_huge_skip_in_an_expand_of_several_parents(store: TestClient) -> None:
    response = store.get("/v1.1/Things", params={"$expand": f"Datastreams($skip={2**63 - 1})"})
    assert response.status_code == 200, response.text
    assert all(thing["Datastreams"] == [] for thing in response.json()["value"])


def test_text_with_a_nul_character(store: TestClient) -> None:
    # One rule for strings on both backends: PostgreSQL cannot hold NUL, so no query value may carry it.
    for text in ("name eq 'a\x00b'", "contains(properties/owner, '\x00')"):
        response = store.get("/v1.1/Things", params={"$filter": text})
        assert response.status_code == 400, response.text
        assert "the query string contains a NUL character" in response.json()["message"]


# --- 5. schemathesis over the OpenAPI document ---------------------------------------------------------


#: The operations of the OpenAPI document (which needs no store: the app is never asked for data here).
OPENAPI = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(database_url="sqlite://", admin_token=ADMIN_TOKEN))
)
#: Streams never end, so a request cannot be answered and checked; their bad input is tested with
#: them (tests/live/test_sse.py).
STREAMS = {"GET /api/live/observations"}
OPERATIONS = {
    result.ok().label: result.ok()
    for result in OPENAPI.get_all_operations()
    if result.ok().label not in STREAMS
}


# `schemathesis.pytest.from_fixture(...).parametrize()` is the documented way with an app from a
# fixture, but schemathesis 4.32 reads `request.node._nodeid`, which pytest 9 no longer has; so each
# operation is a parametrized test running its own Hypothesis strategy, the app passed per call.
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_documented_operation_never_fails_the_server(scratch: TestClient, label: str) -> None:
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=OPERATIONS[label].as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(
            app=scratch.app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, checks=[not_a_server_error]
        )

    run()
