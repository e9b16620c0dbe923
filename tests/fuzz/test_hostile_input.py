"""Hostile input against a real server on both backends: never a 5xx, never slower than its bound.

Each test sends one kind of trouble from `strategies.py` where the platform reads it: deep and wide
JSON bodies, huge numbers, pathological OData and CQL2 filters, odd geometries, odd headers and query
parameters. What a write accepts is read back (alone and in its collection) and deleted, since a value
that can be stored but not served breaks the reads of everyone. The inputs the hardening issue found
by hand are explicit examples, so each runs on every run whatever Hypothesis draws.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz import strategies as hostile
from tests.fuzz.conftest import FUZZ
from tests.fuzz.server import Fuzzer
from tests.sensorthings.conftest import station

# One worker runs the whole module (`pytest -n --dist loadgroup`):
# the fuzz servers (`served`, one per backend), started once, not again on the other worker.
pytestmark = pytest.mark.xdist_group("fuzz")

THING = {"name": "fuzz", "description": "a Thing of the fuzz suite"}
#: The collection of the small city model (tests/ogcapi/conftest.py).
ITEMS = "/ogcapi/collections/city/items"
SETS = ["Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors", "ObservedProperties",
        "Observations", "FeaturesOfInterest"]  # fmt: skip


@pytest.fixture
def datastream(fuzz: Fuzzer) -> int:
    """A Datastream of a weather station of its own (the schemathesis run may delete the seeded ones)."""
    created = fuzz.send("POST", "/v1.1/Things", body=json.dumps(station("fuzz", 12.37, 51.34, "city", 1)))
    assert created is not None and created.status_code == 201, "the store refuses a plain station"
    listed = fuzz.send("GET", urlsplit(created.headers["location"]).path + "/Datastreams")
    assert listed is not None and listed.status_code == 200, "the station's Datastreams cannot be read"
    return listed.json()["value"][0]["@iot.id"]


def read_back_and_delete(fuzz: Fuzzer, response: Any) -> None:
    """An accepted write read alone and in its collection, then deleted (so it breaks no later test)."""
    if response is None or response.status_code != 201 or "location" not in response.headers:
        return
    entity = urlsplit(response.headers["location"]).path
    fuzz.send("GET", entity)
    if entity.startswith("/v1.1/"):
        fuzz.send("GET", entity.split("(")[0], params={"$top": "1000"})
    else:
        fuzz.send("GET", entity.rsplit("/", 1)[0], params={"limit": "1000"})
    fuzz.send("DELETE", entity)


# --- JSON bodies -------------------------------------------------------------------------------------------

#: Where a client puts a JSON value of its own: the path, the document around it, its key, and how the
#: value is wrapped there (`properties` must be an object, so the value goes one level down).
JSON_SLOTS = {
    "Thing properties": ("/v1.1/Things", THING, "properties", '{"value": VALUE}'),
    "Sensor metadata": ("/v1.1/Sensors", {"name": "s", "description": "d", "encodingType": "text/plain"},
                        "metadata", "VALUE"),
    "Observation result": ("/v1.1/Datastreams(DATASTREAM)/Observations",
                           {"phenomenonTime": "2024-01-01T00:00:00Z"}, "result", "VALUE"),
    "feature properties": (ITEMS, {"type": "Feature", "geometry": {"type": "Point", "coordinates": [12, 51]}},
                           "properties", '{"value": VALUE}'),
    "dataset description": ("/api/admin/datasets", {"id": "fuzz", "title": "fuzz"}, "description", "VALUE"),
}  # fmt: skip


def body_with(slot: str, value_text: str, datastream: int) -> tuple[str, str]:
    """The path and the body of a write with `value_text` (JSON text, maybe too deep to parse) in `slot`."""
    path, document, key, wrapper = JSON_SLOTS[slot]
    body = json.dumps(document)[:-1] + f', "{key}": {wrapper.replace("VALUE", value_text)}}}'
    return path.replace("DATASTREAM", str(datastream)), body


@FUZZ
@given(slot=st.sampled_from(sorted(JSON_SLOTS)), value=hostile.deep_json())
@example(slot="Thing properties", value=hostile.nested_json_text(300, "array"))
@example(slot="Thing properties", value=hostile.nested_json_text(251, "object"))
@example(slot="feature properties", value=hostile.nested_json_text(252, "mixed"))
@example(slot="Observation result", value=hostile.nested_json_text(1023, "array"))
def test_deep_json_values_are_refused_or_served(fuzz: Fuzzer, datastream: int, slot: str, value: str) -> None:
    path, body = body_with(slot, value, datastream)
    read_back_and_delete(fuzz, fuzz.send("POST", path, body=body))


@FUZZ
@given(last=st.integers(min_value=5, max_value=16))
@example(last=13)  # 254 levels stored: the PATCH and every later GET of the Thing failed
def test_json_patches_cannot_build_a_document_too_deep_to_serve(fuzz: Fuzzer, last: int) -> None:
    """JSON Patches each add up to 60 levels below the last: each within the limit, ~250 together."""
    created = fuzz.send("POST", "/v1.1/Things", body=json.dumps({**THING, "properties": {"a": 1}}))
    assert created is not None and created.status_code == 201, "the store refuses a plain Thing"
    thing = urlsplit(created.headers["location"]).path
    pointer = "/properties/a"
    for levels in (60, 60, 60, 60, last):
        step = hostile.nested_json_text(levels, "object")
        patch = json.dumps([{"op": "replace", "path": pointer, "value": "VALUE"}]).replace('"VALUE"', step)
        answer = fuzz.send("PATCH", thing, body=patch, content_type="application/json-patch+json")
        if answer is None or answer.status_code >= 300:
            break
        pointer += "/a" * levels
    fuzz.send("GET", thing)
    fuzz.send("GET", "/v1.1/Things", params={"$top": "1000"})
    fuzz.send("DELETE", thing)


#: The write endpoints of every API, for bodies that are hostile as a whole.
BODY_TARGETS = [
    ("POST", "/v1.1/Things"), ("POST", "/v1.1/Observations"), ("POST", "/v1.1/$batch"),
    ("POST", "/v1.1/CreateObservations"), ("PATCH", "/v1.1/Things(1)"), ("PUT", "/v1.1/Things(1)"),
    ("POST", ITEMS), ("PUT", f"{ITEMS}/a"), ("PATCH", f"{ITEMS}/a"), ("POST", "/api/admin/users"),
    ("POST", "/api/admin/datasets"), ("PATCH", "/api/datasets/sensorthings"), ("POST", "/api/me/tokens"),
    ("POST", "/api/energy/runs"), ("POST", "/api/energy/plans"), ("POST", "/api/transit/runs"),
]  # fmt: skip


@FUZZ
@given(
    target=st.sampled_from(BODY_TARGETS),
    body=st.one_of(hostile.deep_json(), st.sampled_from(hostile.ODD_JSON_LITERALS)),
)
@example(target=("POST", "/v1.1/$batch"), body=hostile.nested_json_text(1000, "object"))
def test_hostile_whole_bodies_are_refused(fuzz: Fuzzer, target: tuple[str, str], body: str) -> None:
    method, path = target
    fuzz.send(method, path, body=body)


@FUZZ
@given(slot=st.sampled_from(sorted(JSON_SLOTS)), value=hostile.wide_json())
def test_wide_json_values_are_refused_or_served(fuzz: Fuzzer, datastream: int, slot: str, value: Any) -> None:
    path, body = body_with(slot, json.dumps(value), datastream)
    read_back_and_delete(fuzz, fuzz.send("POST", path, body=body))


@FUZZ
@given(name=hostile.odd_text(), where=st.sampled_from(["Things", "feature", "organisation", "user"]))
@example(name="a\x00b", where="Things")
@example(name="a\x00b", where="feature")
def test_odd_text_in_names_is_stored_or_refused(fuzz: Fuzzer, name: str, where: str) -> None:
    if where == "Things":
        path, document = "/v1.1/Things", {**THING, "name": name}
    elif where == "feature":
        path, document = ITEMS, {"type": "Feature", "geometry": None, "properties": {"name": name}}
    elif where == "organisation":
        path, document = "/api/admin/organisations", {"name": name, "title": name}
    else:
        path, document = "/api/admin/users", {"name": name, "organisation": name}
    read_back_and_delete(fuzz, fuzz.send("POST", path, body=json.dumps(document)))


# --- numbers ------------------------------------------------------------------------------------------------


@FUZZ
@given(number=hostile.huge_json_number(), relation=st.sampled_from(["Datastream", "Thing", "Sensor"]))
@example(number="9223372036854775808", relation="Datastream")
def test_huge_ids_in_references_are_refused(
    fuzz: Fuzzer, datastream: int, number: str, relation: str
) -> None:
    reference = '{"@iot.id": ' + number + "}"
    if relation == "Datastream":
        path, body = "/v1.1/Observations", '{"result": 1, "Datastream": ' + reference + "}"
    else:
        path, body = f"/v1.1/{relation}s", reference
    fuzz.send("POST", path, body=body)
    fuzz.send("POST", f"/v1.1/Datastreams({datastream})/Observations", body='{"result": ' + number + "}")


@FUZZ
@given(
    entity_set=st.sampled_from(SETS),
    option=st.sampled_from(["$top", "$skip", "id"]),
    number=hostile.odd_number_text(),
)
def test_huge_numbers_in_paths_and_paging_are_refused(
    fuzz: Fuzzer, entity_set: str, option: str, number: str
) -> None:
    if option == "id":
        fuzz.send("GET", f"/v1.1/{entity_set}({quote(number, safe='')})")
    else:
        fuzz.send("GET", f"/v1.1/{entity_set}", params={option: number})


# --- resource paths (the SensorThings navigation the OpenAPI document does not list) -----------------------


@FUZZ
@given(path=hostile.sensorthings_path(), method=st.sampled_from(["GET", "GET", "DELETE", "PATCH"]))
@example(path="Things(1)/" + "/".join(["Datastreams(1)/Thing"] * 30), method="GET")
@example(path="Datastreams(9223372036854775808)/Observations/$ref", method="GET")
def test_odd_resource_paths_are_refused_or_answered(fuzz: Fuzzer, path: str, method: str) -> None:
    body = '{"name": "x"}' if method == "PATCH" else None
    fuzz.send(method, "/v1.1/" + quote(path, safe="/()$',"), body=body)


# --- filters -----------------------------------------------------------------------------------------------


@FUZZ
@given(entity_set=st.sampled_from(SETS), text=hostile.odata_filter())
@example(entity_set="Observations", text="result" + " add 1" * 500 + " gt 0")
@example(entity_set="Things", text=" or ".join(["name eq 'a'"] * 1000))
@example(entity_set="Observations", text=" and ".join(["result gt 0"] * 1000))
def test_pathological_odata_filters_are_answered_in_time(fuzz: Fuzzer, entity_set: str, text: str) -> None:
    fuzz.send("GET", f"/v1.1/{entity_set}", params={"$filter": text})


@FUZZ
@given(expand=hostile.odata_expand())
def test_deep_expands_are_answered_in_time(fuzz: Fuzzer, expand: str) -> None:
    fuzz.send("GET", "/v1.1/Things", params={"$expand": expand})


def test_a_30_level_expand_is_answered_in_time(fuzz: Fuzzer) -> None:
    levels = ["Datastreams", "Thing"] * 15
    expand = levels[-1]
    for hop in reversed(levels[:-1]):
        expand = f"{hop}($expand={expand})"
    fuzz.send("GET", "/v1.1/Things", params={"$expand": expand})


@FUZZ
@given(text=hostile.cql2_text())
@example(text="name LIKE '" + "%" * 1000 + "a'")
@example(text=" OR ".join(["name = 'a'"] * 1500))
@example(text=" AND ".join(["rank > 0"] * 1500))
@example(text="rank" + " + 1" * 1500 + " > 0")
def test_pathological_cql2_text_filters_are_answered_in_time(fuzz: Fuzzer, text: str) -> None:
    fuzz.send("GET", ITEMS, params={"filter": text})


@FUZZ
@given(text=hostile.cql2_json())
@example(text='{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Foo","coordinates":[1,2]}]}')
def test_pathological_cql2_json_filters_are_answered_in_time(fuzz: Fuzzer, text: str) -> None:
    fuzz.send("GET", ITEMS, params={"filter": text, "filter-lang": "cql2-json"})


# --- geometries ---------------------------------------------------------------------------------------------


#: Where a geometry is written: the path, the document around it, its key, and the spatial read of the
#: collection that must still work once the geometry is stored.
GEOMETRY_SLOTS = {
    "Location": (
        "/v1.1/Locations",
        "location",
        {"$filter": "geo.intersects(location, geography'POINT(1 2)')"},
    ),
    "FeatureOfInterest": ("/v1.1/FeaturesOfInterest", "feature", {"$filter": "geo.length(feature) gt 0"}),
    "feature": (ITEMS, "geometry", {"bbox": "-180,-90,180,90"}),
}
SENSING = {"name": "odd", "description": "an odd geometry", "encodingType": "application/geo+json"}


@FUZZ
@given(geometry=hostile.odd_geometry(), where=st.sampled_from(sorted(GEOMETRY_SLOTS)))
@example(geometry={"type": "Foo", "coordinates": [1, 2]}, where="Location")
@example(geometry={"type": "Point", "coordinates": [400, 95]}, where="Location")
@example(geometry={"type": "Polygon", "coordinates": [hostile.BOWTIE]}, where="feature")
def test_odd_geometries_are_stored_or_refused(fuzz: Fuzzer, geometry: Any, where: str) -> None:
    path, key, spatial_read = GEOMETRY_SLOTS[where]
    if where == "feature":
        document = {"type": "Feature", "geometry": geometry, "properties": {"name": "odd"}}
    else:
        document = {**SENSING, key: geometry}
    created = fuzz.send("POST", path, body=json.dumps(document))
    if created is not None and created.status_code == 201:
        fuzz.send("GET", path, params=spatial_read)
        if where == "feature":
            fuzz.send("GET", "/ogcapi/collections/city/tiles/WebMercatorQuad/0/0/0")
    read_back_and_delete(fuzz, created)


# --- headers -----------------------------------------------------------------------------------------------


@FUZZ
@given(
    authorization=st.sampled_from(hostile.ODD_AUTHORIZATIONS),
    path=st.sampled_from(["/v1.1/Things", ITEMS, "/api/me", "/catalog", "/api/admin/users"]),
)
@example(authorization=b"Basic " + "é".encode("latin-1"), path="/v1.1/Things")
def test_odd_credentials_are_refused(fuzz: Fuzzer, authorization: bytes, path: str) -> None:
    fuzz.send("GET", path, admin=False, headers={"Authorization": authorization})


@FUZZ
@given(
    name=st.sampled_from(hostile.HEADER_NAMES),
    value=hostile.odd_header_value(),
    path=st.sampled_from(["/v1.1/Things", "/v1.1/", ITEMS, "/ogcapi/", "/catalog", "/api/timeseries/latest"]),
)
@example(name="X-Forwarded-Host", value=b"evil.example:99999/x", path="/v1.1/Things")
@example(name="X-Forwarded-Proto", value=b"gopher", path=ITEMS)
def test_odd_header_values_are_answered(fuzz: Fuzzer, name: str, value: bytes, path: str) -> None:
    fuzz.send("GET", path, headers={name: value})


# --- query parameters --------------------------------------------------------------------------------------

#: Every query parameter of the platform's own and the OGC APIs that takes a number, a time or a box.
PARAMETERS = {
    ITEMS: ["limit", "offset", "bbox", "bbox-crs", "datetime", "crs", "sortby", "properties", "f",
            "filter-crs"],
    "/ogcapi/collections/city/items/a": ["crs", "f"],
    "/catalog": ["limit", "offset", "q", "f", "theme"],
    "/api/energy/monitoring": ["days", "end", "run", "block", "building"],
    "/api/timeseries/datastreams/DATASTREAM/aggregate": ["interval", "stats", "start", "end", "tz"],
    "/api/timeseries/latest": ["datastreams", "thing", "bbox", "limit", "offset"],
    "/api/timeseries/districts": ["collection", "time", "hold", "occupied"],
    "/api/admin/audit": ["since", "until", "limit", "principal"],
    "/api/admin/usage": ["since", "until"],
}  # fmt: skip


@FUZZ
@given(
    path_and_names=st.sampled_from(sorted(PARAMETERS.items())).flatmap(
        lambda item: st.tuples(st.just(item[0]), st.lists(st.sampled_from(item[1]), min_size=1, max_size=3))
    ),
    values=st.lists(hostile.odd_parameter(), min_size=3, max_size=3),
)
@example(path_and_names=(ITEMS, ["offset"]), values=["9999999999999999999", "", ""])
@example(path_and_names=("/api/energy/monitoring", ["days", "end"]), values=["366", "0001-01-01", ""])
def test_odd_query_parameters_are_refused_or_answered(
    fuzz: Fuzzer, datastream: int, path_and_names: tuple[str, list[str]], values: list[str]
) -> None:
    path, names = path_and_names
    path = path.replace("DATASTREAM", str(datastream))
    fuzz.send("GET", path, params=list(zip(names, values, strict=False)))


@FUZZ
@given(
    parts=st.lists(
        st.one_of(hostile.odd_number_text(), st.sampled_from(["WebMercatorQuad", "city", "x"])),
        min_size=5,
        max_size=5,
    )  # fmt: skip
)
def test_odd_tile_addresses_are_refused(fuzz: Fuzzer, parts: list[str]) -> None:
    collection, matrix_set, z, row, col = (quote(part, safe="") or "x" for part in parts)
    fuzz.send("GET", f"/ogcapi/collections/city/tiles/{matrix_set}/{z}/{row}/{col}")
    fuzz.send("GET", f"/ogcapi/collections/{collection}/tiles/WebMercatorQuad/{z}/{row}/{col}")
