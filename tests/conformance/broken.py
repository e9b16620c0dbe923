"""A deliberately broken server: a tiny Starlette app in front of our own, passing every request
through except where its current fault breaks one thing (a query option ignored, a link left out, a
write acknowledged and not done). With no fault it answers as our server does; each fault names the
checks that must catch it.

The run's own setup (the Thing it creates first and reads back) is passed through untouched, so
that each fault breaks the behaviour its checks look at and nothing before them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from urbantwin.conformance.sta import MODEL


@dataclass
class Call:
    """A request on its way to our server; a fault may change it or answer it (`answer`)."""

    method: str
    path: str
    params: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str]
    answer: Response | None = None

    def param(self, key: str) -> str | None:
        return next((v for k, v in self.params if k == key), None)


@dataclass
class Reply:
    """Our server's answer on its way back; a fault may change it."""

    call: Call
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    @json.setter
    def json(self, value: Any) -> None:
        self.body = orjson.dumps(value)


@dataclass(frozen=True)
class Fault:
    name: str
    #: The checks that must fail against a server with this fault.
    catches: tuple[str, ...]
    request: Callable[[Call], None] | None = None
    reply: Callable[[Reply], None] | None = None


class Broken:
    """The fake server: `fault` is what is broken now (None: nothing)."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.fault: Fault | None = None
        self.app = Starlette(
            routes=[Route("/{path:path}", self.forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])],
            lifespan=self._lifespan,
        )
        self.client: httpx.AsyncClient | None = None

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        # One client, its connections kept alive, while the fake runs: a client per request made a
        # TLS context (some 35 ms of CPU each) and a new connection for each of the ~1,200 requests
        # of a test, which is what made tests/conformance/test_broken_server.py take minutes.
        async with httpx.AsyncClient(timeout=30) as client:
            self.client = client
            yield
        self.client = None

    async def forward(self, request: Request) -> Response:
        keep = {"authorization", "content-type", "accept", "host"}
        call = Call(
            request.method,
            request.url.path,
            list(request.query_params.multi_items()),
            await request.body(),
            {k: v for k, v in request.headers.items() if k in keep},
        )
        fault = None if _setup(call) else self.fault
        if fault and fault.request:
            fault.request(call)
            if call.answer is not None:
                return call.answer
        assert self.client is not None, "the fake serves requests only while it runs (its lifespan)"
        answer = await self.client.request(
            call.method,
            self.backend + call.path,
            params=call.params,
            content=call.body,
            headers=call.headers,
        )
        headers = {
            k: v for k, v in answer.headers.items() if k in ("content-type", "location", "content-crs")
        }
        reply = Reply(call, answer.status_code, headers, answer.content)
        if fault and fault.reply and reply.body is not None:
            fault.reply(reply)
        return Response(reply.body, reply.status, headers=reply.headers)


def _setup(call: Call) -> bool:
    """The run's own setup: its first Thing created and read back with everything expanded."""
    if call.method == "POST" and call.path.endswith("/Things") and b"urbantwin-check-world-" in call.body:
        return True
    return "Observations($expand=FeatureOfInterest" in (call.param("$expand") or "")


# --- the faults' parts ------------------------------------------------------------------------


def walk(change: Callable[[dict[str, Any]], None]) -> Callable[[Reply], None]:
    """A reply fault changing every JSON object of the answer."""

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            change(value)
            for inner in list(value.values()):
                visit(inner)
        elif isinstance(value, list):
            for inner in value:
                visit(inner)

    def apply(reply: Reply) -> None:
        if "json" in reply.headers.get("content-type", ""):
            document = reply.json
            visit(document)
            reply.json = document

    return apply


def drop(*keys: str) -> Callable[[Call], None]:
    def apply(call: Call) -> None:
        call.params = [(k, v) for k, v in call.params if k not in keys]

    return apply


def rewrite(old: str, new: str) -> Callable[[Call], None]:
    """Replace `old` by `new` in the filter ($filter, filter) of a request."""

    def apply(call: Call) -> None:
        call.params = [(k, v.replace(old, new) if k in ("$filter", "filter") else v) for k, v in call.params]

    return apply


def answer(when: Callable[[Call], bool], status: int, body: Any = None) -> Callable[[Call], None]:
    def apply(call: Call) -> None:
        if when(call):
            content = b"" if body is None else orjson.dumps(body)
            call.answer = Response(content, status, media_type="application/json" if content else None)

    return apply


def pop(*keys: str) -> Callable[[dict[str, Any]], None]:
    def apply(item: dict[str, Any]) -> None:
        for key in keys:
            item.pop(key, None)

    return apply


def on(path: str, change: Callable[[Reply], None]) -> Callable[[Reply], None]:
    """A reply fault only for paths matching the regular expression `path`."""

    def apply(reply: Reply) -> None:
        if re.search(path, reply.call.path):
            change(reply)

    return apply


def document(change: Callable[[Any], Any]) -> Callable[[Reply], None]:
    def apply(reply: Reply) -> None:
        reply.json = change(reply.json)

    return apply


def both(*parts: Callable[[Any], None]) -> Callable[[Any], None]:
    def apply(value: Any) -> None:
        for part in parts:
            part(value)

    return apply


def _without_links(*rels: str) -> Callable[[dict[str, Any]], None]:
    def apply(item: dict[str, Any]) -> None:
        if isinstance(item.get("links"), list):
            item["links"] = [link for link in item["links"] if link.get("rel") not in rels]

    return apply


def _set(key: str, value: Any, when: Callable[[dict[str, Any]], bool] = lambda _: True) -> Any:
    def apply(item: dict[str, Any]) -> None:
        if key in item and when(item):
            item[key] = value

    return apply


def _headers(change: Callable[[dict[str, str]], None]) -> Callable[[Reply], None]:
    def apply(reply: Reply) -> None:
        change(reply.headers)

    return apply


def _not_unwrapped(call: Call) -> None:
    """CQL2 JSON's `not` dropped: the inner expression alone."""
    if call.param("filter-lang") == "cql2-json":
        expression = orjson.loads(call.param("filter") or "{}")
        if expression.get("op") == "not":
            expression = expression["args"][0]
        call.params = [(k, orjson.dumps(expression).decode() if k == "filter" else v) for k, v in call.params]


def _body(change: Callable[[Any], None]) -> Callable[[Call], None]:
    def apply(call: Call) -> None:
        if call.body and call.headers.get("content-type", "").startswith("application/json"):
            value = orjson.loads(call.body)
            change(value)
            call.body = orjson.dumps(value)

    return apply


def _no_observations(body: Any) -> None:
    for datastream in body.get("Datastreams", []) if isinstance(body, dict) else []:
        datastream.pop("Observations", None)


def _no_groups(body: Any) -> None:
    for request in body.get("requests", []) if isinstance(body, dict) else []:
        request.pop("atomicityGroup", None)


def _batch_all_200(reply: Reply) -> None:
    body = reply.json
    for item in body.get("responses", []):
        item["status"] = 200
    reply.json = body


def _is(method: str, content: str | None = None) -> Callable[[Call], bool]:
    return lambda call: (
        call.method == method
        and (content is None or call.headers.get("content-type", "").startswith(content))
    )


def _geojson_as_json(headers: dict[str, str]) -> None:
    if headers.get("content-type", "").startswith("application/geo+json"):
        headers["content-type"] = "application/json"


FAULTS: list[Fault] = [
    # SensorThings: data model and paths
    Fault("no selfLink", ("sta.datamodel.control",), reply=walk(pop("@iot.selfLink"))),
    Fault(
        "a mandatory property left out",
        tuple(f"sta.datamodel.{kind}.properties" for kind, _p, _r in MODEL.values()),
        reply=walk(pop("description", "time", "phenomenonTime")),
    ),
    Fault(
        "no navigation links",
        tuple(f"sta.datamodel.{kind}.relations" for kind, _p, _r in MODEL.values()),
        reply=walk(lambda item: [item.pop(k) for k in list(item) if k.endswith("@iot.navigationLink")]),
    ),
    Fault(
        "a root without Sensors",
        ("sta.path.root",),
        reply=on(
            r"/v1\.1/?$",
            document(lambda d: {**d, "value": [v for v in d["value"] if v["name"] != "Sensors"]}),
        ),
    ),
    Fault(
        "an unknown id found",
        ("sta.path.entity",),
        request=answer(lambda c: "999999999999" in c.path, 200, {}),
    ),
    Fault(
        "$value as JSON",
        ("sta.path.property",),
        request=lambda c: setattr(c, "path", c.path.removesuffix("/$value")),
    ),
    Fault(
        "$ref as entities",
        ("sta.path.ref",),
        request=lambda c: setattr(c, "path", c.path.removesuffix("/$ref")),
    ),
    Fault(
        "a to-one relation as a collection",
        ("sta.path.navigation",),
        reply=on(r"\)/Thing$", document(lambda d: {"value": [d]})),
    ),
    Fault(
        "errors answered 200",
        (
            "sta.query.status",
            "features.core.invalid-parameter",
            "features.core.unknown-parameter",
            "features.crs.invalid",
            "features.filter.lang",
            "features.filter.invalid",
        ),
        reply=lambda r: (
            (setattr(r, "status", 200), setattr(r, "body", b'{"value": [], "features": []}'))
            if r.status == 400
            else None
        ),
    ),
    # SensorThings: query options
    Fault("$expand ignored", ("sta.query.expand",), request=drop("$expand")),
    Fault("$select ignored", ("sta.query.select",), request=drop("$select")),
    Fault("$orderby ignored", ("sta.query.orderby",), request=drop("$orderby")),
    Fault("$top ignored", ("sta.query.top",), request=drop("$top")),
    Fault("$skip ignored", ("sta.query.skip",), request=drop("$skip")),
    Fault("$count ignored", ("sta.query.count",), request=drop("$count")),
    Fault(
        "$count after $top",
        ("sta.query.order",),
        reply=walk(
            lambda item: item.update({"@iot.count": len(item["value"])}) if "@iot.count" in item else None
        ),
    ),
    Fault("filters ignored", ("sta.query.filter", "features.filter"), request=drop("$filter", "filter")),
    Fault("ne taken for eq", ("sta.filter.comparison",), request=rewrite(" ne ", " eq ")),
    Fault("not ignored", ("sta.filter.logical",), request=rewrite("not (", "(")),
    Fault("add taken for sub", ("sta.filter.arithmetic",), request=rewrite(" add ", " sub ")),
    Fault(
        "parentheses ignored",
        ("sta.filter.grouping",),
        request=both(rewrite("(", " "), rewrite(")", " ")),
    ),
    Fault("toupper taken for tolower", ("sta.functions.string",), request=rewrite("toupper(", "tolower(")),
    Fault("year taken for month", ("sta.functions.date",), request=rewrite("year(", "month(")),
    Fault("ceiling taken for floor", ("sta.functions.math",), request=rewrite("ceiling(", "floor(")),
    Fault(
        "geo.intersects inverted", ("sta.functions.geo",), request=rewrite("geo.intersects(", "st_disjoint(")
    ),
    Fault("st_within inverted", ("sta.functions.spatial",), request=rewrite("st_within(", "st_disjoint(")),
    Fault("no nextLink", ("sta.query.pagination",), reply=walk(pop("@iot.nextLink"))),
    # SensorThings: writes
    Fault(
        "no Location header",
        ("sta.cud.create", "features.crud.create"),
        reply=_headers(lambda headers: headers.pop("location", None)),
    ),
    Fault(
        "no FeatureOfInterest from the Location",
        ("sta.cud.foi",),
        reply=on(r"/FeatureOfInterest$", walk(_set("coordinates", [0.0, 0.0]))),
    ),
    Fault(
        "links by id ignored",
        ("sta.cud.link",),
        reply=on(r"Datastreams\(\d+\)/(Thing|Sensor|ObservedProperty)$", walk(_set("@iot.id", -1))),
    ),
    Fault(
        "a deep insert dropping Observations",
        ("sta.cud.deep-insert",),
        request=lambda c: (
            _body(_no_observations)(c) if c.method == "POST" and c.path.endswith("/Things") else None
        ),
    ),
    Fault(
        "an invalid deep insert accepted",
        ("sta.cud.deep-insert-status",),
        request=answer(
            lambda c: c.method == "POST" and b"unitOfMeasurement" not in c.body and b"Datastreams" in c.body,
            201,
            {},
        ),
    ),
    Fault(
        "PATCH ignored",
        ("sta.cud.patch", "features.crud.update"),
        request=answer(
            lambda c: _is("PATCH")(c) and "json-patch" not in c.headers.get("content-type", ""), 204
        ),
    ),
    Fault("PUT ignored", ("sta.cud.put", "features.crud.replace"), request=answer(_is("PUT"), 204)),
    Fault(
        "JSON Patch ignored",
        ("sta.cud.json-patch",),
        request=answer(_is("PATCH", "application/json-patch"), 200, {}),
    ),
    Fault("DELETE ignored", ("sta.cud.delete", "features.crud.delete"), request=answer(_is("DELETE"), 204)),
    Fault(
        "no HistoricalLocations",
        ("sta.cud.historical-auto",),
        reply=on(r"/HistoricalLocations$", document(lambda d: {**d, "value": []})),
    ),
    Fault(
        "HistoricalLocation times lost",
        ("sta.cud.historical-manual",),
        reply=walk(_set("time", "2000-01-01T00:00:00Z")),
    ),
    Fault("batch statuses all 200", ("sta.batch.read",), reply=on(r"/\$batch$", _batch_all_200)),
    Fault("atomicity groups ignored", ("sta.batch.changeset",), request=_body(_no_groups)),
    Fault("dataArray without components", ("sta.dataarray.read",), reply=walk(pop("components"))),
    Fault(
        "CreateObservations answering ids",
        ("sta.dataarray.create",),
        reply=on(r"/CreateObservations$", document(lambda d: [str(i) for i in range(len(d))])),
    ),
    # OGC API Features
    Fault(
        "a landing page without its conformance link",
        ("features.core.landing",),
        reply=on(
            r"/ogcapi/?$",
            walk(_without_links("conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance")),
        ),
    ),
    Fault(
        "a broken API definition link",
        ("features.core.api-definition", "features.oas30"),
        reply=on(
            r"/ogcapi/?$",
            walk(lambda i: i.update(href=i["href"] + "-gone") if i.get("rel") == "service-desc" else None),
        ),
    ),
    Fault(
        "core not claimed",
        ("features.core.conformance",),
        reply=on(
            r"/conformance$",
            document(lambda d: {"conformsTo": [c for c in d["conformsTo"] if not c.endswith("/conf/core")]}),
        ),
    ),
    Fault(
        "collections without items links", ("features.core.collections",), reply=walk(_without_links("items"))
    ),
    Fault(
        "a wrong extent",
        ("features.core.extent",),
        reply=walk(
            lambda item: (
                item.update(bbox=[[0.0, 0.0, 1.0, 1.0]]) if "bbox" in item and "crs" in item else None
            )
        ),
    ),
    Fault(
        "an unknown collection found",
        ("features.core.collection",),
        request=lambda c: setattr(
            c, "path", re.sub(r"urbantwin-check-no-such-collection-\w+", "city", c.path)
        ),
    ),
    Fault(
        "no FeatureCollection",
        ("features.core.items",),
        reply=walk(_set("type", "Collection", lambda item: item.get("type") == "FeatureCollection")),
    ),
    Fault("limit ignored", ("features.core.limit",), request=drop("limit")),
    Fault("bbox ignored", ("features.core.bbox",), request=drop("bbox")),
    Fault("no next link", ("features.core.paging",), reply=walk(_without_links("next"))),
    Fault(
        "an unknown feature found",
        ("features.core.feature",),
        request=lambda c: setattr(c, "path", c.path.replace("urbantwin-check-no-such-feature", "a")),
    ),
    Fault("GeoJSON as JSON", ("features.geojson.content",), reply=_headers(_geojson_as_json)),
    Fault(
        "no HTML",
        ("features.html.content",),
        request=lambda c: (
            c.headers.update(accept="application/json")
            if "text/html" in c.headers.get("accept", "")
            else None
        ),
    ),
    Fault("OpenAPI 2", ("features.oas30",), reply=walk(_set("openapi", "2.0"))),
    Fault(
        "a CRS that is no URI",
        ("features.crs.list",),
        reply=walk(
            lambda item: item["crs"].append("EPSG:4326") if isinstance(item.get("crs"), list) else None
        ),
    ),
    Fault("crs ignored", ("features.crs.action",), request=drop("crs")),
    Fault("bbox-crs ignored", ("features.crs.bbox",), request=drop("bbox-crs")),
    Fault(
        "queryables as an array",
        ("features.queryables",),
        reply=on(r"/queryables$", walk(_set("type", "array"))),
    ),
    Fault("queryables as parameters ignored", ("features.queryables.parameters",), request=drop("name")),
    Fault("LIKE taken for <>", ("features.cql2.advanced",), request=rewrite(" LIKE ", " <> ")),
    Fault("CASEI ignored", ("features.cql2.casei",), request=rewrite("CASEI(", "(")),
    Fault("IS NULL inverted", ("features.cql2.basic",), request=rewrite("IS NULL", "IS NOT NULL")),
    Fault(
        "S_INTERSECTS inverted",
        ("features.cql2.basic-spatial",),
        request=rewrite("S_INTERSECTS(", "S_DISJOINT("),
    ),
    Fault("S_WITHIN inverted", ("features.cql2.spatial",), request=rewrite("S_WITHIN(", "S_DISJOINT(")),
    Fault("+ taken for -", ("features.cql2.arithmetic",), request=rewrite(" + ", " - ")),
    Fault("CQL2 JSON not ignored", ("features.cql2.json",), request=_not_unwrapped),
]
