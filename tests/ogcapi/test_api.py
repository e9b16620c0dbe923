"""OGC API - Features Part 1 and 2 at /ogcapi/, on both backends."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine

from tests.conftest import DemoLayers, statements
from tests.ogcapi.conftest import POINTS, SQUARE
from urbantwin.app import create_app
from urbantwin.ogcapi.service import CONFORMANCE
from urbantwin.settings import Settings

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
ITEMS = "/ogcapi/collections/city/items"


def _ids(answer) -> list[str]:  # noqa: ANN001
    return [f["id"] for f in answer.json()["features"]]


def test_landing_page_and_conformance(anonymous: TestClient) -> None:
    landing = anonymous.get("/ogcapi/")
    assert landing.status_code == 200
    rels = {link["rel"]: link["href"] for link in landing.json()["links"]}
    assert rels["conformance"] == "http://testserver/ogcapi/conformance"
    assert rels["data"] == "http://testserver/ogcapi/collections"
    assert rels["service-desc"] == "http://testserver/openapi.json"
    conformance = anonymous.get("/ogcapi/conformance").json()["conformsTo"]
    assert conformance == CONFORMANCE
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "udp.example.org",
    "X-Forwarded-Prefix": "/api",
}


def test_links_use_the_address_a_trusted_proxy_forwards(settings: Settings, engine: Engine) -> None:
    app = create_app(settings.with_overrides(trusted_proxies=("testclient",)), engine)
    with TestClient(app) as proxied:
        links = proxied.get("/ogcapi/", headers=FORWARDED).json()["links"]
    assert links[0]["href"] == "https://udp.example.org/api/ogcapi/"


def test_links_ignore_the_forwarded_headers_of_other_clients(anonymous: TestClient) -> None:
    links = anonymous.get("/ogcapi/", headers=FORWARDED).json()["links"]
    assert links[0]["href"] == "http://testserver/ogcapi/"


def test_collections_and_collection(anonymous: TestClient, city: Engine) -> None:
    listing = anonymous.get("/ogcapi/collections").json()
    assert [c["id"] for c in listing["collections"]] == ["city"]
    collection = anonymous.get("/ogcapi/collections/city").json()
    assert collection["title"] == "A small city"
    assert collection["license"] == "CC-BY-4.0" and collection["attribution"] == "urbantwin tests"
    assert EPSG + "25833" in collection["crs"] and collection["storageCrs"] == CRS84
    minx, miny, maxx, maxy = collection["extent"]["spatial"]["bbox"][0]
    assert 12 < minx < maxx < 13 and 51 < miny < maxy < 52
    items = next(link for link in collection["links"] if link["rel"] == "items")
    assert items["href"] == "http://testserver/ogcapi/collections/city/items"
    assert anonymous.get("/ogcapi/collections/nowhere").status_code == 404


def test_items_page_with_links(anonymous: TestClient, city: Engine) -> None:
    first = anonymous.get(ITEMS, params={"limit": 2})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/geo+json")
    assert first.headers["content-crs"] == f"<{CRS84}>"
    body = first.json()
    assert body["type"] == "FeatureCollection"
    assert (body["numberMatched"], body["numberReturned"]) == (4, 2)
    assert _ids(first) == ["a", "b"]
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert "prev" not in links
    second = anonymous.get(links["next"].replace("http://testserver", ""))
    assert _ids(second) == ["c", "block"]
    links = {link["rel"]: link["href"] for link in second.json()["links"]}
    assert "next" not in links and "offset=0" in links["prev"] and "limit=2" in links["prev"]
    assert _ids(anonymous.get(ITEMS)) == ["a", "b", "c", "block"]  # default limit 10
    assert anonymous.get(ITEMS, params={"limit": 100_000}).json()["numberReturned"] == 4  # cut to the maximum


def test_single_item(anonymous: TestClient, city: Engine) -> None:
    item = anonymous.get(f"{ITEMS}/b")
    assert item.status_code == 200 and item.json()["id"] == "b"
    assert item.json()["properties"]["name"] == "stop b"
    assert anonymous.get(f"{ITEMS}/zz").status_code == 404
    assert "no feature 'zz'" in anonymous.get(f"{ITEMS}/zz").json()["message"]


def test_one_feature_costs_one_statement_once_the_readers_scope_is_kept(
    anonymous: TestClient, city: Engine
) -> None:
    """The collection's dataset, the version of the access rules and the feature in one query: the
    reader's scope, worked out at the first request, is kept while the rules stay."""
    assert anonymous.get(f"{ITEMS}/b").status_code == 200
    with statements(city) as seen:
        assert anonymous.get(f"{ITEMS}/b").status_code == 200
        assert anonymous.get(f"{ITEMS}/zz").status_code == 404
        assert anonymous.get("/ogcapi/collections/nowhere/items/b").status_code == 404
    assert len(seen) == 3


def _lonlat(key: str) -> tuple[float, float]:
    return Transformer.from_crs(25833, 4326, always_xy=True).transform(*POINTS[key])


def test_bbox_in_crs84_and_in_25833(anonymous: TestClient, city: Engine) -> None:
    lon, lat = _lonlat("a")
    box = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    assert _ids(anonymous.get(ITEMS, params={"bbox": box})) == ["a"]
    x, y = POINTS["b"]
    box = f"{x - 1},{y - 1},{x + 1},{y + 1}"
    answer = anonymous.get(ITEMS, params={"bbox": box, "bbox-crs": EPSG + "25833"})
    assert _ids(answer) == ["b"]
    # EPSG:4326 is lat/lon: the same box with the axes swapped
    lon, lat = _lonlat("c")
    box = f"{lat - 0.001},{lon - 0.001},{lat + 0.001},{lon + 0.001}"
    assert _ids(anonymous.get(ITEMS, params={"bbox": box, "bbox-crs": EPSG + "4326"})) == ["c"]
    # the polygon is found by a box that meets its interior only
    (x0, y0), (x1, y1) = SQUARE[0], SQUARE[2]
    box = f"{x0 + 40},{y0 + 40},{x1 - 40},{y1 - 40}"
    assert _ids(anonymous.get(ITEMS, params={"bbox": box, "bbox-crs": "[EPSG:25833]"})) == ["block"]


def test_25833_round_trip_within_a_millimetre(anonymous: TestClient, city: Engine) -> None:
    answer = anonymous.get(ITEMS, params={"crs": EPSG + "25833"})
    assert answer.headers["content-crs"] == f"<{EPSG}25833>"
    for feature in answer.json()["features"]:
        if feature["id"] in POINTS:
            x, y = feature["geometry"]["coordinates"]
            ex, ey = POINTS[feature["id"]]
            assert abs(x - ex) < 0.001 and abs(y - ey) < 0.001
        else:
            ring = feature["geometry"]["coordinates"][0]
            for (x, y), (ex, ey) in zip(ring, [*SQUARE, SQUARE[0]], strict=True):
                assert abs(x - ex) < 0.001 and abs(y - ey) < 0.001
    single = anonymous.get(f"{ITEMS}/a", params={"crs": EPSG + "25833"}).json()
    assert single["geometry"]["coordinates"] == pytest.approx(list(POINTS["a"]), abs=0.001)


def test_epsg_4326_answers_in_lat_lon_and_3857_in_metres(anonymous: TestClient, city: Engine) -> None:
    lon, lat = _lonlat("a")
    item = anonymous.get(f"{ITEMS}/a", params={"crs": EPSG + "4326"})
    assert item.headers["content-crs"] == f"<{EPSG}4326>"
    assert item.json()["geometry"]["coordinates"] == pytest.approx([lat, lon], abs=1e-12)
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    item = anonymous.get(f"{ITEMS}/a", params={"crs": EPSG + "3857"}).json()
    assert item["geometry"]["coordinates"] == pytest.approx([x, y], abs=0.001)


def test_property_filters(anonymous: TestClient, city: Engine) -> None:
    assert _ids(anonymous.get(ITEMS, params={"kind": "stop", "rank": 3})) == ["c"]
    assert _ids(anonymous.get(ITEMS, params={"open": "false"})) == ["b"]
    assert _ids(anonymous.get(ITEMS, params={"name": "block"})) == ["block"]
    answer = anonymous.get(ITEMS, params={"kind": "stop", "limit": 1})
    assert answer.json()["numberMatched"] == 3
    assert "kind=stop" in next(link["href"] for link in answer.json()["links"] if link["rel"] == "next")


def test_datetime_on_validity(anonymous: TestClient, engine: Engine, tmp_path) -> None:  # noqa: ANN001
    from datetime import UTC, datetime

    from tests.ogcapi.conftest import INFO, city_geojson, write
    from urbantwin.ingest.geojson import import_geojson

    def prepare(properties: dict):  # noqa: ANN202
        start = {"stop a": datetime(2010, 1, 1, tzinfo=UTC), "stop b": datetime(2020, 1, 1, tzinfo=UTC)}
        end = {"stop a": datetime(2015, 1, 1, tzinfo=UTC)}
        return properties, None, start.get(properties["name"]), end.get(properties["name"])

    import_geojson(
        engine, write(tmp_path / "t.geojson", city_geojson()), INFO, prepare=prepare, progress=False
    )
    assert _ids(anonymous.get(ITEMS, params={"datetime": "2012-06-01T00:00:00Z"})) == ["a", "c", "block"]
    assert _ids(anonymous.get(ITEMS, params={"datetime": "2016-01-01T00:00:00Z/.."})) == ["b", "c", "block"]
    assert _ids(anonymous.get(ITEMS, params={"datetime": "../2009-12-31T00:00:00Z"})) == ["c", "block"]
    assert _ids(anonymous.get(ITEMS, params={"datetime": "2014-01-01T00:00:00Z/2021-01-01T00:00:00Z"})) == [
        "a",
        "b",
        "c",
        "block",
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit: must be at least 1"),
        ({"limit": "ten"}, "limit: expected an integer"),
        ({"offset": "-1"}, "offset: must be at least 0"),
        ({"offset": "9999999999999999999"}, "offset: must be at most 9223372036854775807"),  # once 500
        ({"offset": "9" * 5000}, "offset: must be at most 9223372036854775807"),
        ({"offset": "1_000"}, "offset: expected an integer"),
        ({"limit": "١٠"}, "limit: expected an integer"),  # digits of another script
        # beyond 64 bits was a 500 on SQLite ("Python int too large")
        ({"offset": "99999999999999999999"}, "offset: must be at most 9223372036854775807"),
        ({"bbox": "1,2,3"}, "bbox: expected 4 (or 6)"),
        ({"bbox": "3,2,1,4"}, "bbox: the lower corner must come first"),
        ({"bbox": "1,2,3,x"}, "bbox: expected 4 (or 6)"),
        ({"bbox": "1,2,3,4", "bbox-crs": "EPSG:31468"}, "bbox-crs: unsupported CRS"),
        ({"bbox-crs": EPSG + "25833"}, "bbox-crs: given without bbox"),
        ({"crs": "EPSG:2000"}, "crs: unsupported CRS"),
        ({"datetime": "yesterday"}, "datetime: instant: 'yesterday' is not an ISO 8601 time"),
        ({"datetime": "2020-01-01T00:00:00Z/2019-01-01T00:00:00Z"}, "datetime: the start"),
        ({"rank": "high"}, "rank: expected a integer value"),
        ({"colour": "red"}, "unknown query parameter 'colour'"),
        ({"f": "xml"}, "f: unsupported format"),
    ],
)
def test_bad_parameters_answer_400_with_a_message(
    anonymous: TestClient, city: Engine, params: dict, message: str
) -> None:
    answer = anonymous.get(ITEMS, params=params)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["message"]


def test_html_views(anonymous: TestClient, city: Engine) -> None:
    for path in ("/ogcapi/", "/ogcapi/conformance", "/ogcapi/collections", "/ogcapi/collections/city"):
        page = anonymous.get(path, params={"f": "html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    listing = anonymous.get(ITEMS, headers={"Accept": "text/html,application/xhtml+xml"})
    assert listing.headers["content-type"].startswith("text/html")
    assert "Features 4 of 4" in listing.text and "stop b" in listing.text
    assert "stop a" in anonymous.get(f"{ITEMS}/a", params={"f": "html"}).text
    assert anonymous.get(ITEMS, headers={"Accept": "application/geo+json"}).json()["numberReturned"] == 4


def test_the_openapi_document_lists_the_ogc_api(anonymous: TestClient) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    assert "/ogcapi/collections/{collection_id}/items" in paths


@pytest.mark.long  # every feature layer of the demo, twice (once per test process, `demo_layers`)
@pytest.mark.xdist_group("demo-layers")
def test_demo_layers_are_served(demo_layers: DemoLayers) -> None:
    assert {r.collection: r.inserted for r in demo_layers.first} == {
        "ortsteile": 63,
        "stadtbezirke": 10,
        "city-boundary": 1,
        "lvb-stops": 765,
        "freifunk-nodes": 209,
        "buildings": 5524,
        "ev-charging": 77,
        "street_trees": 8773,
        "buildings_lod1_plagwitz": 1482,
    }
    assert all(r.total == r.unchanged for r in demo_layers.again)
    with demo_layers.anonymous() as anonymous:
        plagwitz = anonymous.get("/ogcapi/collections/ortsteile/items", params={"name": "Plagwitz"}).json()
        properties = plagwitz["features"][0]["properties"]
        assert properties["ot_nr"] == "51"
        assert properties["einwohner_2000"] > 0 and properties["einwohner_2024"] > 0
        mitte = anonymous.get("/ogcapi/collections/stadtbezirke/items/0").json()["properties"]
        assert mitte["einwohner_2000"] == 40986
        buildings = anonymous.get("/ogcapi/collections/buildings").json()
        assert buildings["license"] == "ODbL-1.0" and "OpenStreetMap" in buildings["attribution"]
        derived = anonymous.get(
            "/ogcapi/collections/buildings/items", params={"building:levels": "5", "limit": 1}
        ).json()["features"][0]["properties"]
        assert derived["height_source"].startswith("derived") and derived["height_m"] >= 15
        # Those with neither a height nor levels are drawn at an estimated height, labelled (none left
        # without).
        estimated = anonymous.get(
            "/ogcapi/collections/buildings/items", params={"height_estimated": "true", "limit": 1}
        ).json()
        assert estimated["numberMatched"] == 3179
        assert estimated["features"][0]["properties"]["height_source"].startswith("estimated: median height")
        ev = anonymous.get("/ogcapi/collections/ev-charging").json()
        assert ev["license"] == "CC-BY-4.0" and "Bundesnetzagentur" in ev["attribution"]
