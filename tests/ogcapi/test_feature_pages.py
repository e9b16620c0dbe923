"""Pages written by the database (store/feature_pages.py) equal those written in Python, on both
backends; the bounding-box shortcut, the page query's orderings and `numberMatched` stay exact."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, and_, null, select

from urbantwin.access.gate import Caller
from urbantwin.ogcapi.service import FeaturePage, FeaturesService, _features, _in_bbox
from urbantwin.settings import Settings
from urbantwin.store.feature_pages import FeatureText, read_page
from urbantwin.store.features_schema import collections, features
from urbantwin.store.sqlfunctions import json_number

URL = "http://example.org/ogcapi/collections/odd/items"
ITEMS = "/ogcapi/collections/city/items"

#: Properties a database could write differently from orjson: unicode, escapes, nulls, nesting,
#: integers at the 64-bit limits, floats that need all their digits.
ODD_PROPERTIES: list[Any] = [
    {"name": "Straße ünïcødé 🏙️", "quote": 'say "hi"\\ \n\t\u0001', "empty": ""},
    {"none": None, "nested": {"a": [1, 2.5, None, {"b": True, "c": False}], "d": {}}, "list": []},
    {"max": 2**63 - 1, "min": -(2**63), "u64": 2**64 - 1, "zero": 0, "neg": -17},
    {"f": 0.1, "g": 1 / 3, "h": -1234.5678901234567, "tiny": 1.5e-7, "big": 123456789012.25},
    {"Key with spaces": 1, "ключ": "значение", "emoji🙂": [["x"]]},
    {},
    None,  # stored as JSON null
    null(),  # stored as SQL NULL
]
#: Feature keys that must be percent-encoded in their links, and some that need not.
ODD_KEYS = ["a b/c?d#e%f", "ünï", "x+y&z=1", "~._-AZaz09", "", "日本", "a'b\"c"]


def _odd_geometries() -> list[shapely.Geometry | None]:
    rng = random.Random(7)
    ring = [(rng.uniform(12, 13), rng.uniform(51, 52)) for _ in range(6)]
    return [
        shapely.Point(12.345678901234567, 51.98765432109876),
        shapely.MultiPoint([(12.5, 51.25), (-0.0, 0.0)]),
        shapely.LineString([(rng.uniform(-180, 180), rng.uniform(-90, 90)) for _ in range(5)]),
        shapely.Polygon(
            [(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (3, 2), (3, 3), (2, 3)]]
        ),  # with a hole
        shapely.MultiPolygon([shapely.Polygon(ring).convex_hull, shapely.box(1e-9, -1e-9, 2e-5, 3e-5)]),
        shapely.GeometryCollection([shapely.Point(1, 2), shapely.LineString([(0, 0), (1, 1)])]),
        None,
    ]


def _insert_collection(
    engine: Engine, collection_id: str, rows: list[dict[str, Any]], schema: dict[str, Any] | None = None
) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            collections.insert().values(
                id=collection_id, title=collection_id, created=now, updated=now, item_schema=schema
            )
        )
        connection.execute(features.insert(), [{"collection_id": collection_id, **row} for row in rows])


@pytest.fixture
def odd(engine: Engine) -> Engine:
    """A collection of features whose keys, properties and geometries are all awkward to write."""
    geometries = _odd_geometries()
    rows = []
    for index in range(len(ODD_KEYS) * len(ODD_PROPERTIES)):
        geometry = geometries[index % len(geometries)]
        rows.append(
            {
                "feature_key": ODD_KEYS[index % len(ODD_KEYS)] + f"#{index}",
                "properties": ODD_PROPERTIES[index % len(ODD_PROPERTIES)],
                "geom": None if geometry is None else shapely.to_wkb(geometry),
            }
        )
    _insert_collection(engine, "odd", rows)
    return engine


def _both(engine: Engine, selected: tuple[str, ...] | None) -> tuple[list[Any], list[Any]]:
    """The page written by the database and the same rows written in Python, both parsed."""
    where = features.c.collection_id == "odd"
    with engine.connect() as connection:
        text = read_page(connection, features, where, [], 1000, 0, False, FeatureText(URL, selected))
        rows = read_page(connection, features, where, [], 1000, 0, False, None)
    assert text.texts is not None and rows.texts is None
    names = None if selected is None else list(selected)
    written = [json.loads(t) for t in text.texts]
    expected = json.loads(orjson.dumps(_features(rows.rows, None, URL, names)))
    return written, expected


def test_database_geojson_equals_python_geojson(odd: Engine) -> None:
    written, expected = _both(odd, None)
    assert len(written) == len(ODD_KEYS) * len(ODD_PROPERTIES)
    assert written == expected
    hrefs = {f["id"]: f["links"][0]["href"] for f in written}
    assert hrefs["a b/c?d#e%f#0"] == URL + "/a%20b%2Fc%3Fd%23e%25f%230"
    assert hrefs["ünï#1"] == URL + "/%C3%BCn%C3%AF%231"
    assert {f["geometry"] is None for f in written} == {True, False}
    assert {json.dumps(f["properties"]) for f in written} >= {"{}"}  # stored null: an empty object


@pytest.mark.parametrize("selected", [("name", "u64", "nested"), ("absent",), ("max", "f", "ключ")])
def test_database_geojson_with_selected_properties(odd: Engine, selected: tuple[str, ...]) -> None:
    written, expected = _both(odd, selected)
    assert written == expected
    assert all(set(f["properties"]) <= set(selected) for f in written)


def test_shortest_coordinates_round_trip(engine: Engine) -> None:
    """Every stored double comes back as itself (PostGIS writes at most GEOJSON_DECIMALS decimals)."""
    rng = random.Random(3)
    points = [(rng.uniform(-180, 180), rng.uniform(-90, 90)) for _ in range(300)]
    points += [(rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-6, 1e-6)) for _ in range(50)]
    _insert_collection(
        engine,
        "odd",
        [{"feature_key": str(i), "geom": shapely.to_wkb(shapely.Point(p))} for i, p in enumerate(points)],
    )
    written, _ = _both(engine, None)
    assert [tuple(f["geometry"]["coordinates"]) for f in written] == points


def test_the_page_renders_as_html_and_json(anonymous: TestClient, odd: Engine) -> None:
    page = anonymous.get("/ogcapi/collections/odd/items", params={"limit": 3})
    assert page.status_code == 200 and page.json()["numberReturned"] == 3
    html = anonymous.get("/ogcapi/collections/odd/items", params={"limit": 3, "f": "html"})
    assert html.status_code == 200 and "a%20b%2Fc%3Fd%23e%25f%230" in html.text
    assert list(FeaturePage([])) == [] and orjson.dumps(FeaturePage([])) == b"[]"
    two = FeaturePage(['{"a":1}', '{"b":[2]}'])
    assert list(two) == [{"a": 1}, {"b": [2]}] and len(two) == 2
    assert orjson.loads(orjson.dumps({"features": two})) == {"features": [{"a": 1}, {"b": [2]}]}


# --- the bounding box ------------------------------------------------------------------------------


def test_bbox_shortcut_keeps_exactly_the_intersecting_features(engine: Engine) -> None:
    """Boxes inside, across the edge, an L whose box overlaps but whose shape does not, points on
    the edge and a corner: the same answer as shapely's `intersects` for each."""
    box = (10.0, 50.0, 11.0, 51.0)
    shapes = {
        "inside": shapely.box(10.2, 50.2, 10.4, 50.4),
        "across": shapely.box(10.9, 50.5, 11.2, 50.6),
        "l-outside": shapely.Polygon([(10.9, 51.2), (11.5, 51.2), (11.5, 50.5), (11.4, 50.5), (11.4, 51.1)]),
        "edge-point": shapely.Point(11.0, 50.5),
        "corner-point": shapely.Point(10.0, 50.0),
        "outside": shapely.Point(12, 52),
        "line-through": shapely.LineString([(9, 50.5), (12, 50.5)]),
        "ring-around": shapely.box(9, 49, 12, 52).difference(shapely.box(9.5, 49.5, 11.5, 51.5)),
        "tiny-inside": shapely.Point(10.5, 50.5).buffer(1e-7),
    }
    _insert_collection(
        engine, "box", [{"feature_key": k, "geom": shapely.to_wkb(g)} for k, g in shapes.items()]
    )
    expected = sorted(k for k, g in shapes.items() if g.intersects(shapely.box(*box)))
    assert "l-outside" not in expected and "ring-around" not in expected and "across" in expected
    where = and_(features.c.collection_id == "box", _in_bbox(box))
    with engine.connect() as connection:
        found = connection.execute(select(features.c.feature_key).where(where)).scalars().all()
    assert sorted(found) == expected


# --- orderings, offsets and numberMatched ----------------------------------------------------------


@pytest.fixture
def grid(engine: Engine) -> Engine:
    """60 features on a grid, with a rank that repeats (ties), a missing rank and null ones."""
    rows = []
    for i in range(60):
        properties: dict[str, Any] = {"name": f"n{i:02d}", "rank": (i * 7) % 11}
        if i % 13 == 0:
            properties["rank"] = None
        if i % 17 == 0:
            del properties["rank"]
        point = shapely.Point(10 + (i % 10) / 10, 50 + (i // 10) / 10)
        rows.append({"feature_key": f"k{i}", "properties": properties, "geom": shapely.to_wkb(point)})
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "rank": {"type": "integer"}}}
    _insert_collection(engine, "grid", rows, schema)
    return engine


def _expected_order(engine: Engine, where: Any, descending: bool) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(features.c.id, features.c.feature_key, features.c.properties).where(where)
        ).all()

    def key(row: Any) -> tuple:
        rank = (row.properties or {}).get("rank")
        return (rank is None, -(rank or 0) if descending else (rank or 0), row.id)

    return [row.feature_key for row in sorted(rows, key=key)]


@pytest.mark.parametrize("count", [False, True])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("offset", [0, 7, 55, 60, 70])
def test_pages_in_order_with_and_without_count(
    grid: Engine, count: bool, descending: bool, offset: int
) -> None:
    where = and_(features.c.collection_id == "grid", _in_bbox((10.15, 50.05, 10.75, 50.45)))
    expected = _expected_order(grid, where, descending)
    keys = [(json_number(features.c.properties, ("rank",)), descending)]
    with grid.connect() as connection:
        for text in (None, FeatureText(URL)):
            page = read_page(connection, features, where, keys, 10, offset, count, text)
            ids = (
                [row.feature_key for row in page.rows]
                if text is None
                else [json.loads(t)["id"] for t in page.texts or []]
            )
            assert ids == expected[offset : offset + 10]
            assert page.matched == (len(expected) if count and ids else None)


def test_number_matched_on_every_path(anonymous: TestClient, grid: Engine) -> None:
    items = "/ogcapi/collections/grid/items"

    def matched(**params: Any) -> tuple[int, int]:
        body = anonymous.get(items, params=params).json()
        return body["numberMatched"], body["numberReturned"]

    assert matched(limit=10) == (60, 10)  # counted, then kept for this version of the collection
    assert matched(limit=10, offset=50) == (60, 10)
    assert matched(limit=10, offset=55) == (60, 5)  # a page that is not full ends the matches
    assert matched(limit=10, offset=100) == (60, 0)  # beyond the end: counted
    assert matched(limit=100) == (60, 60)
    box = "10.15,50.05,10.75,50.45"
    assert matched(limit=5, bbox=box) == (24, 5)  # counted along with the page
    assert matched(limit=5, bbox=box, offset=20) == (24, 4)
    assert matched(limit=5, bbox=box, offset=30) == (24, 0)
    assert matched(limit=5, filter="rank > 5", sortby="-rank", offset=3) == (
        sum(1 for i in range(60) if i % 13 and i % 17 and (i * 7) % 11 > 5),
        5,
    )


def test_a_write_changes_the_kept_count(client: TestClient, grid: Engine) -> None:
    items = "/ogcapi/collections/grid/items"
    assert client.get(items, params={"limit": 1}).json()["numberMatched"] == 60
    feature = {
        "type": "Feature",
        "properties": {"name": "new"},
        "geometry": {"type": "Point", "coordinates": [1, 2]},
    }
    created = client.post(items, json=feature)
    assert created.status_code == 201, created.text
    assert client.get(items, params={"limit": 1}).json()["numberMatched"] == 61
    assert client.delete(created.headers["location"].replace("http://testserver", "")).status_code == 204
    assert client.get(items, params={"limit": 1}).json()["numberMatched"] == 60


def test_counts_are_kept_per_collection_version(settings: Settings, grid: Engine) -> None:
    service = FeaturesService(grid, settings)
    first = service.items("http://x", "grid", [("limit", "5")], Caller.system()).body["numberMatched"]
    with grid.begin() as connection:  # a write elsewhere that bumps the version, as every writer does
        connection.execute(
            features.insert().values(collection_id="grid", feature_key="extra", properties={"name": "x"})
        )
        connection.execute(
            collections.update().where(collections.c.id == "grid").values(version=collections.c.version + 1)
        )
    second = service.items("http://x", "grid", [("limit", "5")], Caller.system()).body["numberMatched"]
    assert (first, second) == (60, 61)
