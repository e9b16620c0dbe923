"""`$filter` and `$orderby` on both backends, as a table: (entity set, expression) -> what matches.

The module's `client` loads a small known graph over HTTP once per backend; every row of the tables
runs on SQLite and on PostgreSQL with the same expectation, so a disagreement between the backends
fails one of the two runs. Entities are named by `name`, Observations by `parameters/label`.

    Thing  properties                          Location                        Datastreams
    Alpha  owner city, height 30, active true,  Alpha site POINT(12.37 51.34)   Alpha temp, Alpha status
           a/b deep, a/n 3, tags
    Beta   owner university, height 12,        Beta site POINT(12.31 51.33)    Beta flag, Beta json
           active false, level 1, a/b other
    Gamma  owner city, height 5.5              Gamma site square 13..14/52..53 Gamma temp
    Delta  (none)                              Delta site LINESTRING(10 50, 13 54)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.sensorthings.module_store import module_store

# One worker runs the whole module (`pytest -n --dist loadgroup`):
# the `$filter` table's store, loaded once per backend, not again on the other worker.
pytestmark = pytest.mark.xdist_group("sensorthings-filter")

CELSIUS = {
    "name": "degree Celsius",
    "symbol": "°C",
    "definition": "http://unitsofmeasure.org/ucum.html#para-30",
}
NO_UNIT = {"name": "none", "symbol": "", "definition": ""}
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def obs(label: str, time: str, result: Any, **extra: Any) -> dict[str, Any]:
    parameters = {"label": label, **extra.pop("parameters", {})}
    return {"phenomenonTime": time, "result": result, "parameters": parameters, **extra}


def datastream(name: str, observations: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name} series",
        "observationType": MEASUREMENT,
        "unitOfMeasurement": extra.pop("unit", NO_UNIT),
        "Sensor": {
            "name": f"{name} sensor",
            "description": "a sensor",
            "encodingType": "application/pdf",
            "metadata": "https://example.org/sensor.pdf",
        },
        "ObservedProperty": {
            "name": f"{name} property",
            "definition": "https://example.org/property",
            "description": "a property",
        },
        "Observations": observations,
        **extra,
    }


def location(name: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "description": "where it is",
        "encodingType": "application/geo+json",
        "location": geometry,
    }


THINGS: list[dict[str, Any]] = [
    {
        "name": "Alpha",
        "description": "roof station",
        "properties": {
            "owner": "city",
            "height": 30,
            "active": True,
            "a": {"b": "deep", "n": 3},
            "tags": ["x", "y"],
        },
        "Locations": [location("Alpha site", {"type": "Point", "coordinates": [12.37, 51.34]})],
        "Datastreams": [
            datastream(
                "Alpha temp",
                [
                    obs(
                        "t1",
                        "2024-01-01T12:00:00Z",
                        1.5,
                        resultTime="2024-01-01T12:05:00Z",
                        parameters={"depth": 2},
                    ),
                    obs(
                        "t2",
                        "2024-01-02T06:30:15.250Z",
                        3.0,
                        resultTime="2024-01-02T07:00:00Z",
                        validTime="2024-01-01T00:00:00Z/2024-01-31T00:00:00Z",
                        parameters={"depth": 5, "mode": {"speed": "fast"}},
                    ),
                    obs("t3", "2024-02-01T00:00:00Z/2024-02-02T00:00:00Z", -2.0),
                    obs("t4", "2023-12-31T23:59:59Z", 10, parameters={"depth": 2.5}),
                ],
                unit=CELSIUS,
                properties={"threshold": 5},
            ),
            datastream(
                "Alpha status",
                [
                    obs("s1", "2024-01-01T12:00:00Z", "ok"),
                    obs("s2", "2024-01-02T12:00:00Z", "fault"),
                    obs("s3", "2024-01-03T12:00:00Z", " Warn "),
                ],
            ),
        ],
    },
    {
        "name": "Beta",
        "description": "  padded  ",
        "properties": {"owner": "university", "height": 12, "active": False, "level": 1, "a": {"b": "other"}},
        "Locations": [location("Beta site", {"type": "Point", "coordinates": [12.31, 51.33]})],
        "Datastreams": [
            datastream(
                "Beta flag",
                [obs("b1", "2024-03-01T10:00:00Z", True), obs("b2", "2024-03-02T10:00:00Z", False)],
            ),
            datastream(
                "Beta json",
                [
                    obs("j1", "2024-03-01T10:00:00Z", {"level": 7, "label": "high"}),
                    obs("j2", "2024-03-02T10:00:00Z", {"level": 2, "label": "low"}),
                ],
            ),
        ],
    },
    {
        "name": "Gamma",
        "description": "field station",
        "properties": {"owner": "city", "height": 5.5},
        "Locations": [
            location(
                "Gamma site",
                {"type": "Polygon", "coordinates": [[[13, 52], [14, 52], [14, 53], [13, 53], [13, 52]]]},
            )
        ],
        "Datastreams": [
            datastream(
                "Gamma temp",
                [
                    obs("g1", "2024-04-01T00:00:00Z", 0),
                    obs("g2", "2024-04-02T00:00:00Z", 6.0),
                    obs("g3", "2024-04-03T00:00:00Z", 2.5),
                    obs("g4", "2024-04-04T00:00:00Z", None),
                ],
                unit=CELSIUS,
            )
        ],
    },
    {
        "name": "Delta",
        "description": "spare",
        "Locations": [location("Delta site", {"type": "LineString", "coordinates": [[10, 50], [13, 54]]})],
    },
]

ALL_THINGS = {"Alpha", "Beta", "Gamma", "Delta"}
ALL_SITES = {"Alpha site", "Beta site", "Gamma site", "Delta site"}
ALPHA_OBS = {"t1", "t2", "t3", "t4", "s1", "s2", "s3"}
GAMMA_OBS = {"g1", "g2", "g3", "g4"}
ALL_OBS = ALPHA_OBS | {"b1", "b2", "j1", "j2"} | GAMMA_OBS
NUMERIC_OBS = {"t1", "t2", "t3", "t4", "g1", "g2", "g3"}

# Geometries of the literals below.
WEST_BOX = "geography'POLYGON((12 51, 12.35 51, 12.35 52, 12 52, 12 51))'"  # holds Beta site only
LEIPZIG_BOX = "geography'POLYGON((12 51, 13 51, 13 52, 12 52, 12 51))'"  # holds Alpha and Beta site
NORTH_EAST_BOX = "geography'POLYGON((13.5 52.5, 15 52.5, 15 54, 13.5 54, 13.5 52.5))'"  # overlaps Gamma
BETA_POINT = "geography'POINT(12.31 51.33)'"
IN_GAMMA = "geography'POINT(13.5 52.5)'"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test of this module on both backends (module-scoped: the dataset is loaded once)."""
    return request.param


@pytest.fixture(scope="module")
def client(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A client of a store holding `THINGS`; the tests only read it."""
    with module_store(backend, request, tmp_path_factory) as client:
        for thing in THINGS:
            response = client.post("/v1.1/Things", json=thing)
            assert response.status_code == 201, response.text
        yield client


def label(entity: dict[str, Any]) -> str:
    if "name" in entity:
        return entity["name"]
    return entity["parameters"]["label"]


def query(client: TestClient, entity_set: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1.1/{entity_set}", params={"$top": "1000", **params})
    assert response.status_code == 200, response.text
    return response.json()["value"]


# --- (entity set, $filter, expected names or labels) ------------------------------------------------

LOGIC = [
    ("Things", "name eq 'Alpha'", {"Alpha"}),
    ("Things", "name ne 'Alpha'", {"Beta", "Gamma", "Delta"}),
    ("Things", "name gt 'Beta'", {"Delta", "Gamma"}),
    ("Things", "name ge 'Beta'", {"Beta", "Delta", "Gamma"}),
    ("Things", "name lt 'Beta'", {"Alpha"}),
    ("Things", "name le 'Beta'", {"Alpha", "Beta"}),
    ("Things", "name eq 'Alpha' or name eq 'Beta'", {"Alpha", "Beta"}),
    ("Things", "name ne 'Alpha' and name ne 'Beta'", {"Gamma", "Delta"}),
    ("Things", "not (name eq 'Alpha')", {"Beta", "Gamma", "Delta"}),
    ("Things", "not (startswith(name, 'A') or startswith(name, 'B'))", {"Gamma", "Delta"}),
    ("Things", "name eq 'Alpha' or name eq 'Beta' and name eq 'Gamma'", {"Alpha"}),  # and binds tighter
    ("Things", "(name eq 'Alpha' or name eq 'Beta') and name eq 'Beta'", {"Beta"}),
    ("Things", "true", ALL_THINGS),
    ("Things", "false", set()),
    ("Things", "(name eq 'Alpha') eq true", {"Alpha"}),
    ("Things", "id ge 1", ALL_THINGS),
    ("Things", "@iot.id gt 0", ALL_THINGS),
    ("Things", "id eq Locations/id", ALL_THINGS),  # ids happen to be created in step
]

ARITHMETIC = [
    ("Observations", "result add 1 eq 2.5", {"t1"}),
    ("Observations", "result sub 1 eq 2", {"t2"}),
    ("Observations", "result mul 2 eq 5", {"g3"}),
    ("Observations", "result div 2 eq 5", {"t4"}),
    ("Observations", "result div 4 eq 0.375", {"t1"}),
    ("Observations", "result mod 3 eq 1", {"t4"}),
    ("Observations", "result mod 3 eq -2", {"t3"}),  # the sign of mod is the sign of the left operand
    ("Observations", "result mod 2 eq 0.5", {"g3"}),
    ("Observations", "result div 0 eq 1", set()),  # division by zero matches nothing, no error
    ("Observations", "result mod 0 eq 1", set()),
    ("Observations", "result div (result sub result) gt 0", set()),
    ("Observations", "-result eq 2", {"t3"}),
    ("Observations", "-(result add 1) eq -11", {"t4"}),
    ("Observations", "result eq -2", {"t3"}),
    ("Observations", "result add 1 gt 1.5", {"t1", "t2", "t4", "g2", "g3"}),  # booleans are not numbers
    ("Observations", "(1 add 2) mul 2 eq 6", ALL_OBS),
    ("Observations", "7 mod -3 eq 1 and -7 mod 3 eq -1", ALL_OBS),
    ("Things", "properties/height add 1 eq 31", {"Alpha"}),
    ("Things", "properties/height mul 2 eq 11", {"Gamma"}),
]

RESULTS = [
    ("Observations", "result gt 5", {"t4", "g2"}),
    ("Observations", "result ge 3", {"t2", "t4", "g2"}),
    ("Observations", "result lt 0", {"t3"}),
    ("Observations", "result le 0", {"t3", "g1"}),
    ("Observations", "result eq 10", {"t4"}),
    ("Observations", "result eq 1", set()),  # true is not 1
    ("Observations", "result ne 10", NUMERIC_OBS - {"t4"}),
    ("Observations", "5 lt result", {"t4", "g2"}),
    ("Observations", "result eq 'ok'", {"s1"}),
    ("Observations", "result ne 'ok'", {"s2", "s3"}),
    ("Observations", "result gt 'm'", {"s1"}),
    ("Observations", "result eq true", {"b1"}),
    ("Observations", "result eq false", {"b2"}),
    ("Observations", "result ne true", {"b2"}),
    ("Observations", "result", {"b1"}),
    ("Observations", "result eq null", {"g4"}),
    ("Observations", "null eq result", {"g4"}),
    ("Observations", "result ne null", ALL_OBS - {"g4"}),
    ("Observations", "result/level gt 5", {"j1"}),
    ("Observations", "result/label eq 'low'", {"j2"}),
    ("Observations", "result/level gt 'a'", set()),  # a number is not compared with a string
    ("Observations", "result gt Datastream/properties/threshold", {"t4"}),
]

STRINGS = [
    ("Things", "substringof('lph', name)", {"Alpha"}),
    ("Things", "contains(name, 'amm')", {"Gamma"}),
    ("Things", "startswith(name, 'De')", {"Delta"}),
    ("Things", "endswith(name, 'ta')", {"Beta", "Delta"}),
    ("Things", "length(name) eq 4", {"Beta"}),
    # indexof is OData's: the zero-based position of the first occurrence, -1 when absent.
    ("Things", "indexof(name, 'l') eq 1", {"Alpha"}),
    ("Things", "indexof(name, 'Alpha') eq 0", {"Alpha"}),
    ("Things", "indexof(name,'ta') eq 2", {"Beta"}),
    ("Things", "indexof(name, 'a') eq 4", {"Alpha", "Delta"}),  # the first: Gamma's at 1, not its last at 4
    ("Things", "indexof(name, 'mm') ge 0", {"Gamma"}),
    ("Things", "indexof(name, 'z') eq -1", ALL_THINGS),
    ("Things", "indexof(name, 'alpha') eq -1", ALL_THINGS),  # case counts
    ("Things", "indexof(name, '') eq 0", ALL_THINGS),
    ("Things", "indexof(properties/owner, 'ity') eq 1", {"Alpha", "Gamma"}),
    ("Datastreams", "indexof(Thing/name, 'eta') eq 1", {"Beta flag", "Beta json"}),
    ("Datastreams", "indexof(unitOfMeasurement/symbol, 'C') eq 1", {"Alpha temp", "Gamma temp"}),
    ("Things", "substring(name, 1) eq 'amma'", {"Gamma"}),
    ("Things", "substring(name, 1, 2) eq 'el'", {"Delta"}),
    ("Things", "substring(name, 10) eq ''", ALL_THINGS),
    ("Things", "substring(name, 0, 100) eq name", ALL_THINGS),
    ("Things", "substring(name, 1.9) eq 'lpha'", {"Alpha"}),  # a fraction is cut, on both backends
    ("Things", "substring(name, length(name) sub 2) eq 'ta'", {"Beta", "Delta"}),
    ("Things", "tolower(name) eq 'beta'", {"Beta"}),
    ("Things", "toupper(name) eq 'GAMMA'", {"Gamma"}),
    ("Things", "trim(description) eq 'padded'", {"Beta"}),
    ("Things", "length(trim(description)) eq 6", {"Beta"}),
    ("Things", "concat(name, '!') eq 'Delta!'", {"Delta"}),
    ("Things", "concat(concat(name, '-'), description) eq 'Gamma-field station'", {"Gamma"}),
    ("Things", "contains(properties/owner, 'univ')", {"Beta"}),
    ("Things", "startswith(properties/a/b, 'de')", {"Alpha"}),
    ("Things", "length(properties/a) gt 0", set()),  # an object is not text
    ("Things", "tolower(properties/active) eq 'true'", set()),  # nor is a boolean
    ("Things", "name eq 'It''s'", set()),
    ("Observations", "tolower(result) eq 'ok'", {"s1"}),
    ("Observations", "trim(result) eq 'Warn'", {"s3"}),
    ("Observations", "length(result) eq 5", {"s2"}),
    ("Observations", "contains(result, 'aul')", {"s2"}),
]

TIMES = [
    ("Observations", "year(phenomenonTime) eq 2023", {"t4"}),
    ("Observations", "month(phenomenonTime) eq 2", {"t3"}),
    ("Observations", "day(phenomenonTime) eq 2", {"t2", "s2", "b2", "j2", "g2"}),
    ("Observations", "hour(phenomenonTime) eq 6", {"t2"}),
    ("Observations", "minute(phenomenonTime) eq 30", {"t2"}),
    ("Observations", "second(phenomenonTime) eq 15", {"t2"}),
    ("Observations", "second(phenomenonTime) eq 59", {"t4"}),
    ("Observations", "fractionalseconds(phenomenonTime) eq 0.25", {"t2"}),
    ("Observations", "fractionalseconds(phenomenonTime) gt 0", {"t2"}),
    ("Observations", "date(phenomenonTime) eq 2024-01-02", {"t2", "s2"}),
    ("Observations", "date(phenomenonTime) eq date(resultTime)", {"t1", "t2"}),
    ("Observations", "time(phenomenonTime) eq '06:30:15'", {"t2"}),
    ("Observations", "totaloffsetminutes(resultTime) eq 0", {"t1", "t2"}),
    ("Observations", "year(now()) ge 2024", ALL_OBS),
    ("Observations", "phenomenonTime lt now()", ALL_OBS),
    ("Observations", "phenomenonTime gt mindatetime()", ALL_OBS),
    ("Observations", "phenomenonTime lt maxdatetime()", ALL_OBS),
    ("Observations", "resultTime ge 2024-01-02T00:00:00Z", {"t2"}),
    ("Observations", "resultTime ge 2024-01-02T01:00:00+01:00", {"t2"}),
    ("Observations", "resultTime gt phenomenonTime", {"t1", "t2"}),
    ("Observations", "resultTime eq null", ALL_OBS - {"t1", "t2"}),
    ("Observations", "validTime ne null", {"t2"}),
    ("Observations", "validTime eq 2024-01-01T00:00:00Z/2024-01-31T00:00:00Z", {"t2"}),
    ("Observations", "phenomenonTime eq 2024-02-01T00:00:00Z/2024-02-02T00:00:00Z", {"t3"}),
    ("Observations", "phenomenonTime eq 2024-01-01T12:00:00Z", {"t1", "s1"}),
    ("Observations", "phenomenonTime eq 2024-02-01T00:00:00Z", set()),  # t3 is an interval
    ("Observations", "phenomenonTime ne 2024-01-01T12:00:00Z", ALL_OBS - {"t1", "s1"}),
    (
        "Observations",
        "phenomenonTime ge 2024-02-01T00:00:00Z and phenomenonTime lt 2024-03-01T00:00:00Z",
        {"t3"},
    ),
    ("Observations", "phenomenonTime lt 2024-02-01T12:00:00Z", {"t1", "t2", "t4", "s1", "s2", "s3"}),
    ("Observations", "phenomenonTime le 2023-12-31T23:59:59Z", {"t4"}),
    (
        "Observations",
        "phenomenonTime gt 2024-01-01T00:00:00Z/2024-01-31T00:00:00Z",
        ALL_OBS - {"t1", "t2", "t4", "s1", "s2", "s3"},
    ),
    ("Observations", "phenomenonTime ge 2024-04-03", {"g3", "g4"}),
    ("Datastreams", "year(phenomenonTime) eq 2023", {"Alpha temp"}),
    ("Datastreams", "phenomenonTime eq 2023-12-31T23:59:59Z/2024-02-02T00:00:00Z", {"Alpha temp"}),
    ("Datastreams", "resultTime ne null", {"Alpha temp"}),
    ("Datastreams", "phenomenonTime gt 2024-03-15T00:00:00Z", {"Gamma temp"}),
]

MATH = [
    ("Observations", "round(result) eq 3", {"t2", "g3"}),  # 2.5 rounds away from zero
    ("Observations", "round(result) eq 2", {"t1"}),
    ("Observations", "round(result) eq -2", {"t3"}),
    ("Observations", "round(-result) eq -3", {"t2", "g3"}),
    ("Observations", "floor(result) eq 1", {"t1"}),
    ("Observations", "floor(result) eq -2", {"t3"}),
    ("Observations", "ceiling(result) eq 2", {"t1"}),
    ("Observations", "ceiling(result) eq 3", {"t2", "g3"}),
    ("Things", "round(properties/height) eq 6", {"Gamma"}),
    ("Things", "floor(properties/height) eq 5", {"Gamma"}),
]

SPATIAL = [
    ("Locations", f"geo.intersects(location, {WEST_BOX})", {"Beta site"}),
    ("Locations", f"geo.distance(location, {BETA_POINT}) lt 0.1", {"Alpha site", "Beta site"}),
    ("Locations", f"geo.distance(location, {BETA_POINT}) eq 0", {"Beta site"}),
    ("Locations", "geo.length(location) eq 5", {"Delta site"}),
    ("Locations", "geo.length(location) gt 0", {"Delta site"}),  # the length of a polygon is 0
    ("Locations", "geo.length(geography'LINESTRING(0 0, 3 4)') eq 5", ALL_SITES),
    ("Locations", f"st_equals(location, {BETA_POINT})", {"Beta site"}),
    ("Locations", f"st_disjoint(location, {WEST_BOX})", {"Alpha site", "Gamma site", "Delta site"}),
    ("Locations", "st_touches(location, geography'POINT(13 52)')", {"Gamma site"}),
    ("Locations", f"st_within(location, {LEIPZIG_BOX})", {"Alpha site", "Beta site"}),
    ("Locations", f"st_overlaps(location, {NORTH_EAST_BOX})", {"Gamma site"}),
    ("Locations", "st_crosses(location, geography'LINESTRING(11 50, 11 54)')", {"Delta site"}),
    ("Locations", f"st_intersects(location, {NORTH_EAST_BOX})", {"Gamma site"}),
    ("Locations", f"st_contains(location, {IN_GAMMA})", {"Gamma site"}),
    ("Locations", f"st_relate(location, {IN_GAMMA}, 'T********')", {"Gamma site"}),
    ("Locations", f"st_relate(location, {IN_GAMMA}, 't********')", {"Gamma site"}),
    ("Locations", f"st_relate(location, {IN_GAMMA}, 'FF*FF****')", {"Alpha site", "Beta site", "Delta site"}),
    ("Locations", f"not geo.intersects(location, {WEST_BOX})", {"Alpha site", "Gamma site", "Delta site"}),
    ("Locations", f"geo.intersects({WEST_BOX}, location)", {"Beta site"}),
    ("Locations", "geo.intersects(location, geometry'POINT(12.31 51.33)')", {"Beta site"}),
    ("Things", f"geo.intersects(Locations/location, {WEST_BOX})", {"Beta"}),
    ("FeaturesOfInterest", f"st_within(feature, {LEIPZIG_BOX})", {"Alpha site", "Beta site"}),
    (
        "Datastreams",
        f"st_within(observedArea, {LEIPZIG_BOX})",
        {"Alpha temp", "Alpha status", "Beta flag", "Beta json"},
    ),
    ("Observations", f"st_contains(FeatureOfInterest/feature, {IN_GAMMA})", GAMMA_OBS),
]

PATHS = [
    ("Observations", "Datastream/Thing/name eq 'Beta'", {"b1", "b2", "j1", "j2"}),
    ("Observations", "Datastream/name eq 'Alpha status'", {"s1", "s2", "s3"}),
    ("Observations", "Datastream/Thing/properties/owner eq 'city'", ALPHA_OBS | GAMMA_OBS),
    ("Observations", "FeatureOfInterest/name eq 'Gamma site'", GAMMA_OBS),
    ("Observations", "Datastream/Thing/Locations/name eq 'Gamma site'", GAMMA_OBS),
    ("Observations", "Datastream/properties eq null", ALL_OBS - {"t1", "t2", "t3", "t4"}),
    (
        "Observations",
        "Datastream/Thing/name eq 'Alpha' and Datastream/name eq 'Alpha temp'",
        {"t1", "t2", "t3", "t4"},
    ),
    ("Datastreams", "Thing/name eq 'Alpha'", {"Alpha temp", "Alpha status"}),
    ("Datastreams", "Sensor/name eq 'Beta json sensor'", {"Beta json"}),
    ("Datastreams", "endswith(ObservedProperty/name, 'temp property')", {"Alpha temp", "Gamma temp"}),
    ("Datastreams", "Observations/result/level gt 5", {"Beta json"}),
    ("Datastreams", "Thing/Locations/name eq 'Beta site'", {"Beta flag", "Beta json"}),
    ("Things", "Datastreams/Observations/result gt 5", {"Alpha", "Gamma"}),
    ("Things", "Datastreams/Observations/result eq 'fault'", {"Alpha"}),
    ("Things", "Datastreams/name eq 'Beta json'", {"Beta"}),
    ("Things", "not (Datastreams/Observations/result gt 5)", {"Beta", "Delta"}),
    ("Things", "Datastreams/Observations/result gt 5 and Locations/name eq 'Gamma site'", {"Gamma"}),
    ("Things", "Datastreams/name eq 'Alpha temp' and Datastreams/name eq 'Alpha status'", {"Alpha"}),
    ("Things", "Locations/name eq 'Delta site'", {"Delta"}),
    ("Things", "HistoricalLocations/Locations/name eq 'Alpha site'", {"Alpha"}),
    ("Things", "Datastreams/Thing/name eq name", {"Alpha", "Beta", "Gamma"}),
    # The filtered entity's own properties two relations deep, compared with its own row only.
    ("Things", "Datastreams/Observations/result gt properties/height", {"Gamma"}),
    ("Things", "Locations/Things/name ne name", set()),
    (
        "Locations",
        "Things/Datastreams/Thing/Locations/name eq name",
        {"Alpha site", "Beta site", "Gamma site"},
    ),
    ("Locations", "Things/name eq 'Gamma'", {"Gamma site"}),
    ("Sensors", "Datastreams/Thing/name eq 'Beta'", {"Beta flag sensor", "Beta json sensor"}),
    ("ObservedProperties", "Datastreams/Observations/result eq true", {"Beta flag property"}),
    ("FeaturesOfInterest", "Observations/result lt 0", {"Alpha site"}),
    ("FeaturesOfInterest", "Observations/Datastream/Thing/name eq 'Gamma'", {"Gamma site"}),
]

JSON = [
    ("Things", "properties/owner eq 'city'", {"Alpha", "Gamma"}),
    ("Things", "properties/owner ne 'city'", {"Beta"}),
    ("Things", "properties/a/b eq 'deep'", {"Alpha"}),
    ("Things", "properties/a/n gt 2", {"Alpha"}),
    ("Things", "properties/height gt 10", {"Alpha", "Beta"}),
    ("Things", "properties/height lt 10", {"Gamma"}),
    ("Things", "properties/height eq 5.5", {"Gamma"}),
    ("Things", "properties/height eq 30", {"Alpha"}),
    ("Things", "properties/height eq 30.0", {"Alpha"}),
    ("Things", "properties/active eq true", {"Alpha"}),
    ("Things", "properties/active eq false", {"Beta"}),
    ("Things", "properties/active", {"Alpha"}),
    ("Things", "properties/level eq true", set()),  # 1 is not true
    ("Things", "properties/level eq 1", {"Beta"}),
    ("Things", "properties/owner gt 10", set()),  # a string is not compared with a number
    ("Things", "properties/height lt 'z'", set()),
    ("Things", "properties/height eq '30'", set()),
    ("Things", "properties eq null", {"Delta"}),
    ("Things", "properties ne null", {"Alpha", "Beta", "Gamma"}),
    ("Things", "properties/height eq null", {"Delta"}),
    ("Things", "properties/level ne null", {"Beta"}),
    ("Things", "properties/missing eq null", ALL_THINGS),
    ("Things", "properties/owner eq Datastreams/Thing/properties/owner", {"Alpha", "Beta", "Gamma"}),
    ("Things", "properties/height gt properties/owner", set()),  # types differ: never true
    ("Things", "properties/active eq Datastreams/Thing/properties/active", {"Alpha", "Beta"}),
    ("Things", "properties/a/n lt properties/height", {"Alpha"}),
    ("Datastreams", "unitOfMeasurement/symbol eq '°C'", {"Alpha temp", "Gamma temp"}),
    ("Datastreams", "properties/threshold eq 5", {"Alpha temp"}),
    ("Observations", "parameters/depth gt 2", {"t2", "t4"}),
    ("Observations", "parameters/mode/speed eq 'fast'", {"t2"}),
    ("Observations", "parameters/label eq 'g4'", {"g4"}),
    ("Observations", "parameters/depth ge Datastream/properties/threshold", {"t2"}),
]

NULLS = [
    ("Things", "name eq null", set()),
    ("Things", "name ne null", ALL_THINGS),
    ("Things", "null eq name", set()),
    ("Observations", "resultTime ne null", {"t1", "t2"}),
    ("Observations", "validTime eq null", ALL_OBS - {"t2"}),
    ("Observations", "resultQuality eq null", ALL_OBS),
    ("Locations", "properties eq null", ALL_SITES),
]

CASES = LOGIC + ARITHMETIC + RESULTS + STRINGS + TIMES + MATH + SPATIAL + PATHS + JSON + NULLS


@pytest.mark.parametrize(("entity_set", "expression", "expected"), CASES, ids=[c[1] for c in CASES])
def test_filter(client: TestClient, entity_set: str, expression: str, expected: set[str]) -> None:
    assert {label(e) for e in query(client, entity_set, **{"$filter": expression})} == expected


def test_the_filter_is_applied_to_the_count_and_to_paths(client: TestClient) -> None:
    page = client.get("/v1.1/Observations", params={"$filter": "result gt 5", "$count": "true"}).json()
    assert page["@iot.count"] == 2
    alpha = query(client, "Things", **{"$filter": "name eq 'Alpha'"})[0]["@iot.id"]
    nested = query(client, f"Things({alpha})/Datastreams", **{"$filter": "Observations/result eq 'ok'"})
    assert [d["name"] for d in nested] == ["Alpha status"]


# --- $orderby: (entity set, $filter or None, $orderby, expected order) -------------------------------------

ORDERS = [
    ("Things", None, "name", ["Alpha", "Beta", "Delta", "Gamma"]),
    ("Things", None, "name desc", ["Gamma", "Delta", "Beta", "Alpha"]),
    # Null comes first in ascending order and last in descending order, on both backends (OData 5.1.4).
    ("Things", None, "properties/height", ["Delta", "Gamma", "Beta", "Alpha"]),
    ("Things", None, "properties/height desc", ["Alpha", "Beta", "Gamma", "Delta"]),
    ("Things", None, "properties/owner desc,name", ["Beta", "Alpha", "Gamma", "Delta"]),
    ("Things", None, "length(description) desc,name", ["Gamma", "Alpha", "Beta", "Delta"]),
    ("Things", None, "startswith(name, 'G') desc,name", ["Gamma", "Alpha", "Beta", "Delta"]),
    ("Things", None, "true,(1 add 1),name desc", ["Gamma", "Delta", "Beta", "Alpha"]),  # constants: no-ops
    (
        "Observations",
        "Datastream/Thing/name eq 'Alpha'",
        "Datastream/name desc,result desc",
        ["t4", "t2", "t1", "t3", "s1", "s2", "s3"],
    ),
    ("Observations", "Datastream/name eq 'Alpha status'", "result", ["s3", "s2", "s1"]),
    ("Observations", "Datastream/name eq 'Gamma temp'", "phenomenonTime desc", ["g4", "g3", "g2", "g1"]),
    ("Observations", "Datastream/name eq 'Gamma temp'", "result", ["g4", "g1", "g3", "g2"]),
    ("Observations", "Datastream/name eq 'Beta json'", "result/level", ["j2", "j1"]),
    ("Observations", "Datastream/name eq 'Beta json'", "result/label desc", ["j2", "j1"]),
    (
        "Observations",
        "Datastream/name eq 'Alpha temp'",
        "validTime desc,parameters/depth",
        ["t2", "t3", "t1", "t4"],
    ),
    (
        "Locations",
        None,
        f"geo.distance(location, {BETA_POINT})",
        ["Beta site", "Alpha site", "Gamma site", "Delta site"],
    ),
    (
        "Datastreams",
        None,
        "Thing/name desc,Sensor/name",
        ["Gamma temp", "Beta flag", "Beta json", "Alpha status", "Alpha temp"],
    ),
]


@pytest.mark.parametrize(
    ("entity_set", "filter_", "orderby", "expected"), ORDERS, ids=[f"{o[0]}:{o[2]}" for o in ORDERS]
)
def test_orderby(
    client: TestClient,
    entity_set: str,
    filter_: str | None,
    orderby: str,
    expected: list[str],
) -> None:
    params = {"$orderby": orderby} | ({"$filter": filter_} if filter_ else {})
    assert [label(e) for e in query(client, entity_set, **params)] == expected


def test_orderby_on_a_relation_path_inside_expand(client: TestClient) -> None:
    things = query(
        client,
        "Things",
        **{
            "$orderby": "name",
            "$expand": "Datastreams($orderby=Sensor/name desc;$select=name;"
            "$expand=Observations($orderby=FeatureOfInterest/name,result desc;$top=2;$select=parameters))",
        },
    )
    names = {t["name"]: [d["name"] for d in t["Datastreams"]] for t in things}
    assert names == {
        "Alpha": ["Alpha temp", "Alpha status"],
        "Beta": ["Beta json", "Beta flag"],
        "Delta": [],
        "Gamma": ["Gamma temp"],
    }
    alpha_temp = things[0]["Datastreams"][0]["Observations"]
    assert [o["parameters"]["label"] for o in alpha_temp] == ["t4", "t2"]
    alpha = things[0]["@iot.id"]
    single = client.get(
        f"/v1.1/Things({alpha})", params={"$expand": "Datastreams($orderby=Sensor/name;$select=name)"}
    ).json()
    assert [d["name"] for d in single["Datastreams"]] == ["Alpha status", "Alpha temp"]


def test_filter_inside_expand(client: TestClient) -> None:
    things = query(
        client,
        "Things",
        **{
            "$filter": "Datastreams/Observations/result gt 5",
            "$orderby": "name",
            "$expand": "Datastreams($filter=Observations/result gt 5;"
            "$expand=Observations($filter=result gt 5))",
        },
    )
    found = {
        t["name"]: {
            d["name"]: [o["parameters"]["label"] for o in d["Observations"]] for d in t["Datastreams"]
        }
        for t in things
    }
    assert found == {"Alpha": {"Alpha temp": ["t4"]}, "Gamma": {"Gamma temp": ["g2"]}}
