"""OGC API - Features Part 4: create, replace, update, delete, asking the policy point; both backends."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine, select

from tests.ogcapi.conftest import POINTS, SQUARE
from urbantwin.store.features_schema import features

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
ITEMS = "/ogcapi/collections/city/items"


def _feature(fid: str | None = None, **properties: object) -> dict:
    document = {
        "type": "Feature",
        "properties": {"name": "new stop", "rank": 7, **properties},
        "geometry": {"type": "Point", "coordinates": [12.37, 51.34]},
    }
    if fid is not None:
        document["id"] = fid
    return document


def _point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def _geometry(geometry: dict, fid: str | None = None) -> dict:
    return {**_feature(fid), "geometry": geometry}


NESTED_100: object = 1
for _ in range(100):
    NESTED_100 = {"a": NESTED_100}
BOWTIE = {"type": "Polygon", "coordinates": [[[12, 51], [13, 52], [13, 51], [12, 52], [12, 51]]]}


def test_anonymous_writes_are_refused_on_a_fresh_install(anonymous: TestClient, city: Engine) -> None:
    for method, path in (("post", ITEMS), ("put", f"{ITEMS}/a"), ("patch", f"{ITEMS}/a")):
        answer = getattr(anonymous, method)(path, json=_feature())
        assert answer.status_code == 401, answer.text
        assert "needs a token" in answer.json()["message"]
    assert anonymous.delete(f"{ITEMS}/a").status_code == 401
    assert (
        anonymous.post(ITEMS, json=_feature(), headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    assert len(anonymous.get(ITEMS).json()["features"]) == 4


def test_create_with_location(client: TestClient, city: Engine) -> None:
    answer = client.post(ITEMS, json=_feature("n1"))
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == "http://testserver/ogcapi/collections/city/items/n1"
    assert answer.json()["properties"]["name"] == "new stop"
    assert client.get(f"{ITEMS}/n1").json()["geometry"]["coordinates"] == [12.37, 51.34]
    generated = client.post(ITEMS, json=_feature())
    assert generated.status_code == 201
    key = generated.headers["location"].rsplit("/", 1)[1]
    assert client.get(f"{ITEMS}/{key}").status_code == 200
    again = client.post(ITEMS, json=_feature("n1"))
    assert again.status_code == 409 and "use PUT" in again.json()["message"]
    # a new feature is found by bbox and filter at once
    assert [
        f["id"]
        for f in client.get(ITEMS, params={"filter": "rank = 7", "bbox": "12.36,51.33,12.38,51.35"}).json()[
            "features"
        ]
    ] == ["n1", key]


def test_new_properties_join_the_queryables(client: TestClient, city: Engine) -> None:
    client.post(ITEMS, json=_feature("n1", colour="red"))
    assert (
        client.get("/ogcapi/collections/city/queryables").json()["properties"]["colour"]["type"] == "string"
    )
    assert [f["id"] for f in client.get(ITEMS, params={"filter": "colour = 'red'"}).json()["features"]] == [
        "n1"
    ]


def test_content_crs_on_input(client: TestClient, city: Engine) -> None:
    x, y = 316500.123, 5690500.456
    body = _feature("utm")
    body["geometry"]["coordinates"] = [x, y]
    answer = client.post(ITEMS, json=body, headers={"Content-Crs": f"<{EPSG}25833>"})
    assert answer.status_code == 201, answer.text
    lon, lat = Transformer.from_crs(25833, 4326, always_xy=True).transform(x, y)
    assert answer.json()["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-9)
    back = client.get(f"{ITEMS}/utm", params={"crs": EPSG + "25833"}).json()
    assert back["geometry"]["coordinates"] == pytest.approx([x, y], abs=0.001)
    # EPSG:25833 coordinates must lie in its area of use (Europe between 12°E and 18°E, widened)
    far = _geometry(_point(x + 5_000_000, y))
    outside = client.post(ITEMS, json=far, headers={"Content-Crs": f"<{EPSG}25833>"})
    assert outside.status_code == 400, outside.text
    assert "geometry: the geometry lies outside the area of use of ETRS89 / UTM zone 33N" in outside.text
    # EPSG:4326 is lat/lon: latitude first, checked as latitude
    swapped = client.post(
        ITEMS, json=_geometry(_point(120.0, 51.3)), headers={"Content-Crs": f"<{EPSG}4326>"}
    )
    assert swapped.status_code == 400 and "latitude 120 is out of range" in swapped.json()["message"]
    bad = client.post(ITEMS, json=_feature("x"), headers={"Content-Crs": "<EPSG:1>"})
    assert bad.status_code == 400 and "Content-Crs: unsupported CRS" in bad.json()["message"]


def test_replace_update_delete(client: TestClient, city: Engine) -> None:
    replaced = _feature(height_m=21.5)
    assert client.put(f"{ITEMS}/a", json=replaced).status_code == 204
    item = client.get(f"{ITEMS}/a").json()
    assert item["properties"] == {"name": "new stop", "rank": 7, "height_m": 21.5}
    with city.connect() as connection:
        height = connection.execute(select(features.c.height).where(features.c.feature_key == "a")).scalar()
    assert height == 21.5
    patch = {"properties": {"rank": 8, "height_m": None, "kind": "stop"}}
    assert client.patch(f"{ITEMS}/a", json=patch).status_code == 204
    item = client.get(f"{ITEMS}/a").json()
    assert item["properties"] == {"name": "new stop", "rank": 8, "kind": "stop"}
    assert item["geometry"]["coordinates"] == [12.37, 51.34]  # kept: the patch gave no geometry
    moved = {"geometry": {"type": "Point", "coordinates": [12.4, 51.3]}}
    assert client.patch(f"{ITEMS}/a", json=moved).status_code == 204
    assert client.get(f"{ITEMS}/a").json()["geometry"]["coordinates"] == [12.4, 51.3]
    assert client.delete(f"{ITEMS}/a").status_code == 204
    assert client.get(f"{ITEMS}/a").status_code == 404
    assert client.delete(f"{ITEMS}/a").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("post", ITEMS, {"type": "FeatureCollection"}, 400, "must be a GeoJSON Feature"),
        ("post", ITEMS, {"type": "Feature", "geometry": {"type": "Point"}}, 400, "geometry: a Point needs"),
        # probes: an unknown type was a 500; latitude 95, longitude 400 and a self-intersecting polygon
        # (refused by SensorThings) were stored
        ("post", ITEMS, _geometry({"type": "Foo"}), 400, "geometry: unknown geometry type 'Foo'"),
        (
            "post",
            ITEMS,
            _geometry(_point(12.37, 95)),
            400,
            "geometry: latitude 95 is out of range (−90 to 90)",
        ),
        ("post", ITEMS, _geometry(_point(400, 51)), 400, "geometry: longitude 400 is out of range"),
        ("post", ITEMS, _geometry(BOWTIE), 400, "geometry: the geometry is not valid: its boundary crosses"),
        ("put", f"{ITEMS}/a", _geometry(BOWTIE, "a"), 400, "geometry: the geometry is not valid"),
        ("patch", f"{ITEMS}/a", {"geometry": BOWTIE}, 400, "geometry: the geometry is not valid"),
        # the one rule of JSON input, as for every API
        ("post", ITEMS, _feature("d", deep=NESTED_100), 400, "the body nests deeper than 64 levels"),
        ("patch", f"{ITEMS}/a", {"properties": {"name": "a\x00"}}, 400, "contains a NUL character"),
        ("post", ITEMS, {"type": "Feature", "properties": [1]}, 400, "properties: expected an object"),
        ("post", "/ogcapi/collections/nowhere/items", _feature(), 404, "no collection 'nowhere'"),
        ("put", f"{ITEMS}/zz", _feature(), 404, "no feature 'zz'"),
        ("put", f"{ITEMS}/a", _feature("b"), 400, "is not the feature's id"),
        ("patch", f"{ITEMS}/zz", {"properties": {}}, 404, "no feature 'zz'"),
        ("patch", f"{ITEMS}/a", {"properties": 3}, 400, "properties: expected an object"),
    ],
)
def test_bad_writes(  # noqa: PLR0913
    client: TestClient, city: Engine, method: str, path: str, body: dict, status: int, message: str
) -> None:
    answer = getattr(client, method)(path, json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["message"]


def test_bad_json_body(client: TestClient, city: Engine) -> None:
    answer = client.post(ITEMS, content=b"{nope", headers={"Content-Type": "application/geo+json"})
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["message"]


def test_a_feature_stored_deeper_than_answers_nest_breaks_no_read(client: TestClient, city: Engine) -> None:
    # Properties stored 253 levels deep (before input was limited) made the feature's own page and
    # pages in another CRS a 500.
    from sqlalchemy import update

    deep: object = "bottom"
    for _ in range(253):
        deep = {"a": deep}
    with city.begin() as connection:
        connection.execute(
            update(features).where(features.c.feature_key == "a").values(properties={"deep": deep})
        )
    for params in ({}, {"crs": EPSG + "25833"}):
        page = client.get(ITEMS, params=params)
        assert page.status_code == 200, page.text[:200]
        item = client.get(f"{ITEMS}/a", params=params)
        assert item.status_code == 200, item.text[:200]
        assert item.json()["properties"] == {"deep": deep}


def test_the_extent_follows_the_features_and_shrinks(client: TestClient, city: Engine) -> None:
    """Probe: deleting the far north-east stop left the collection's extent (and the viewer's first
    view, and the catalogue's dct:spatial) where it was; extents only grew."""
    to_crs84 = Transformer.from_crs("EPSG:25833", "OGC:CRS84", always_xy=True)

    def around(*points: tuple[float, float]) -> list[float]:
        xs, ys = zip(*(to_crs84.transform(*point) for point in points), strict=True)
        return [min(xs), min(ys), max(xs), max(ys)]

    def extent() -> list[float]:
        return client.get("/ogcapi/collections/city").json()["extent"]["spatial"]["bbox"][0]

    def catalogued() -> list[float]:
        return client.get("/catalog/datasets/city", params={"f": "json"}).json()["spatial"]["bbox"]

    a, b, c = POINTS["a"], POINTS["b"], POINTS["c"]
    at_a = _point(*to_crs84.transform(*a))
    assert extent() == pytest.approx(around(a, b, c, *SQUARE), abs=1e-9)
    assert client.delete(f"{ITEMS}/c").status_code == 204
    assert extent() == pytest.approx(around(a, b, *SQUARE), abs=1e-9)
    assert catalogued() == pytest.approx(extent(), abs=1e-9)
    # b moves onto a: the extent shrinks to a and the block
    assert client.patch(f"{ITEMS}/b", json={"geometry": at_a}).status_code == 204
    assert extent() == pytest.approx(around(a, *SQUARE), abs=1e-9)
    # a new far feature grows it; replaced by one near a, it shrinks again
    assert client.post(ITEMS, json=_geometry(_point(13.5, 52.5), "far")).status_code == 201
    assert extent()[2:] == [13.5, 52.5]
    assert (
        client.put(f"{ITEMS}/far", json=_geometry(_point(*to_crs84.transform(*a)), "far")).status_code == 204
    )
    assert extent() == pytest.approx(around(a, *SQUARE), abs=1e-9)
    assert catalogued() == pytest.approx(extent(), abs=1e-9)
    # the last features gone, the collection has no extent
    for key in ("far", "a", "b", "block"):
        assert client.delete(f"{ITEMS}/{key}").status_code == 204
    assert "extent" not in client.get("/ogcapi/collections/city").json()
