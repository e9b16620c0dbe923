"""The checks of OGC API Features: part 1 core (with GeoJSON, HTML and OpenAPI 3.0), part 2 (CRS by
reference), part 3 (queryables, filtering, CQL2 in text and JSON) and part 4 (create, replace,
update, delete), one per requirement or per group of operators of one requirement.

The read checks look at the first collection with a feature, and at that feature (or
`--collection`); every expected answer is computed from what the server itself returned: a filter
is made from the feature's own property values and checked by whether it finds that feature (a
tight bounding box around it keeps the answer small). Coordinates in other CRSs are checked
against pyproj's transformation of the server's own CRS84 coordinates.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import orjson

from urbantwin.conformance.core import (
    CheckFailed,
    Registry,
    Session,
    Skipped,
    expect_status,
    json_of,
    require,
)

F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0"
F2 = "http://www.opengis.net/spec/ogcapi-features-2/1.0"
F3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0"
F4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0"
CQL2 = "http://www.opengis.net/spec/cql2/1.0"

CORE = f"{F1}/conf/core"
GEOJSON = f"{F1}/conf/geojson"
HTML = f"{F1}/conf/html"
OAS30 = f"{F1}/conf/oas30"
CRS = f"{F2}/conf/crs"
QUERYABLES = f"{F3}/conf/queryables"
QUERYABLES_PARAMETERS = f"{F3}/conf/queryables-query-parameters"
FILTER = f"{F3}/conf/filter"
FEATURES_FILTER = f"{F3}/conf/features-filter"
BASIC_CQL2 = f"{CQL2}/conf/basic-cql2"
ADVANCED = f"{CQL2}/conf/advanced-comparison-operators"
CASEI = f"{CQL2}/conf/case-insensitive-comparison"
BASIC_SPATIAL = f"{CQL2}/conf/basic-spatial-functions"
SPATIAL = f"{CQL2}/conf/spatial-functions"
ARITHMETIC = f"{CQL2}/conf/arithmetic"
CQL2_TEXT = f"{CQL2}/conf/cql2-text"
CQL2_JSON = f"{CQL2}/conf/cql2-json"
CREATE_REPLACE_DELETE = f"{F4}/conf/create-replace-delete"
UPDATE = f"{F4}/conf/update"

#: The classes every OGC API Features server implements (the others it claims in /conformance).
MANDATORY = (CORE,)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
JSON = {"Accept": "application/json"}
GEOJSON_ACCEPT = {"Accept": "application/geo+json, application/json;q=0.9"}

REGISTRY = Registry()
check = REGISTRY.check


# --- helpers ----------------------------------------------------------------------------------


def url(session: Session, path: str) -> str:
    assert session.features_root is not None
    return f"{session.features_root}/{path}" if path else session.features_root


def get_json(session: Session, target: str, params: dict[str, str] | None = None, geo: bool = False) -> Any:
    answer = session.get(target, params, headers=GEOJSON_ACCEPT if geo else JSON)
    expect_status(answer, 200)
    return json_of(answer)


def link(document: Any, *rels: str) -> dict[str, Any] | None:
    for item in document.get("links") or []:
        if item.get("rel") in rels:
            return item
    return None


def landing(session: Session) -> dict[str, Any]:
    if "landing" not in session.state:
        session.state["landing"] = get_json(session, url(session, ""))
    return session.state["landing"]


def collection(session: Session) -> dict[str, Any]:
    """The collection the checks look at: `--collection`, else the first with a feature."""
    if "collection" not in session.state:
        found = None
        listed = get_json(session, url(session, "collections")).get("collections") or []
        wanted = session.options.collection
        for item in listed:
            if wanted and item.get("id") != wanted:
                continue
            if item.get("itemType", "feature") != "feature":
                continue
            page = get_json(
                session, url(session, f"collections/{item['id']}/items"), {"limit": "10"}, geo=True
            )
            if page.get("features"):
                found = (item, max(page["features"], key=_richness))
                break
        session.state["collection"] = found
    if session.state["collection"] is None:
        raise Skipped("the server has no collection with a feature to check this on")
    return session.state["collection"][0]


def _richness(item: dict[str, Any]) -> int:
    """How many of the filter checks' kinds of property a feature has (a string, a number): the
    checks look at the first of the first page that has both, if one has."""
    values = [v for v in (item.get("properties") or {}).values() if not isinstance(v, bool)]
    return int(any(isinstance(v, str) for v in values)) + int(any(isinstance(v, int | float) for v in values))


def feature(session: Session) -> dict[str, Any]:
    collection(session)
    return session.state["collection"][1]


def items_url(session: Session) -> str:
    return url(session, f"collections/{collection(session)['id']}/items")


def items(session: Session, params: dict[str, str]) -> list[dict[str, Any]]:
    page = get_json(session, items_url(session), params, geo=True)
    require(isinstance(page.get("features"), list), "the items answer has no `features` array")
    return page["features"]


def positions(geometry: Any) -> list[list[float]]:
    """Every position of a GeoJSON geometry."""
    if not isinstance(geometry, dict):
        return []
    if geometry.get("type") == "GeometryCollection":
        return [p for part in geometry.get("geometries", []) for p in positions(part)]
    found: list[list[float]] = []

    def walk(value: Any) -> None:
        if value and isinstance(value[0], int | float):
            found.append(value)
        else:
            for inner in value:
                walk(inner)

    walk(geometry.get("coordinates") or [])
    return found


def anchor(session: Session) -> tuple[float, float]:
    """A position of the feature the checks look at (longitude, latitude)."""
    found = positions(feature(session).get("geometry"))
    if not found:
        raise Skipped("the feature has no geometry")
    return float(found[0][0]), float(found[0][1])


def around(session: Session, size: float = 1e-6) -> str:
    x, y = anchor(session)
    return f"{x - size},{y - size},{x + size},{y + size}"


def finds(session: Session, params: dict[str, str]) -> bool:
    """Whether the items with `params` (within a tight box around the feature) include the feature."""
    found = items(session, {"bbox": around(session), "limit": "1000", **params})
    return feature(session).get("id") in [item.get("id") for item in found]


def expect_finds(session: Session, params: dict[str, str], match: bool) -> None:
    got = finds(session, params)
    shown = " ".join(f"{k}={v}" for k, v in params.items())
    require(
        got == match,
        f"{shown} {'did not find' if match else 'found'} the feature {feature(session).get('id')!r}",
    )


def property_of(session: Session, kind: type | tuple[type, ...]) -> tuple[str, Any]:
    """A property of the feature with a value of `kind` (and a plain name a filter can use)."""
    for name, value in (feature(session).get("properties") or {}).items():
        if isinstance(value, bool) or not isinstance(value, kind):
            continue
        if name.replace("_", "").isalnum() and not name[0].isdigit():
            if isinstance(value, str) and ("'" in value or not value.strip() or "%" in value or "_" in value):
                continue
            return name, value
    what = "string" if kind is str else "number"
    raise Skipped(f"the feature has no {what} property with a plain name to filter by")


def text(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def bad_request(session: Session, target: str, params: dict[str, str]) -> None:
    answer = session.get(target, params, headers=GEOJSON_ACCEPT)
    shown = " ".join(f"{k}={v}" for k, v in params.items())
    require(answer.status_code == 400, f"{shown} answered {answer.status_code}, not 400")


# --- part 1: core -----------------------------------------------------------------------------


@check(
    "features.core.landing",
    "features",
    CORE,
    f"{F1}/req/core/root-success",
    "The landing page links to the API definition, the conformance declaration and the collections",
    "Die Startseite verweist auf die API-Definition, die Konformitätserklärung und die Sammlungen",
)
def landing_page(session: Session) -> None:
    page = landing(session)
    require(isinstance(page.get("links"), list), "the landing page has no links")
    require(link(page, "self"), "the landing page has no self link")
    require(link(page, "service-desc", "service-doc"), "the landing page links to no API definition")
    require(
        link(page, "conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance"),
        "the landing page links to no conformance declaration",
    )
    require(
        link(page, "data", "http://www.opengis.net/def/rel/ogc/1.0/data"), "the landing page links to no data"
    )


@check(
    "features.core.api-definition",
    "features",
    CORE,
    f"{F1}/req/core/api-definition-success",
    "The API definition the landing page links to answers",
    "Die API-Definition, auf die die Startseite verweist, antwortet",
)
def api_definition(session: Session) -> None:
    target = link(landing(session), "service-desc", "service-doc")
    require(target, "the landing page links to no API definition")
    assert target is not None
    expect_status(session.get(target["href"]), 200)


@check(
    "features.core.conformance",
    "features",
    CORE,
    f"{F1}/req/core/conformance-success",
    "/conformance lists the conformance classes, core among them",
    "/conformance nennt die Konformitätsklassen, darunter core",
)
def conformance(session: Session) -> None:
    listed = get_json(session, url(session, "conformance")).get("conformsTo")
    require(isinstance(listed, list), "/conformance has no conformsTo array")
    require(CORE in listed, "/conformance does not claim the core class")


@check(
    "features.core.collections",
    "features",
    CORE,
    f"{F1}/req/core/fc-md-success",
    "/collections lists the collections, each with an id and a link to its items",
    "/collections nennt die Sammlungen, jede mit Id und Verweis auf ihre Features",
)
def collections(session: Session) -> None:
    body = get_json(session, url(session, "collections"))
    require(isinstance(body.get("links"), list) and link(body, "self"), "/collections has no self link")
    listed = body.get("collections")
    require(isinstance(listed, list), "/collections has no collections array")
    for item in listed:
        require(isinstance(item.get("id"), str), "a collection has no id")
        if item.get("itemType", "feature") == "feature":
            require(link(item, "items"), f"the collection {item['id']} has no link to its items")


@check(
    "features.core.extent",
    "features",
    CORE,
    f"{F1}/req/core/fc-md-extent",
    "A collection's spatial extent is a valid bounding box in CRS84",
    "Die räumliche Ausdehnung einer Sammlung ist ein gültiges Rechteck in CRS84",
)
def extent(session: Session) -> None:
    spatial = (collection(session).get("extent") or {}).get("spatial")
    if not spatial:
        raise Skipped("the collection gives no spatial extent")
    for box in spatial.get("bbox") or []:
        require(len(box) in (4, 6), f"the bbox {box} has neither 4 nor 6 numbers")
        half = len(box) // 2
        west, south, east, north = box[0], box[1], box[half], box[half + 1]
        require(-180 <= west <= 180 and -180 <= east <= 180, f"the bbox {box} is not in longitudes")
        require(-90 <= south <= north <= 90, f"the bbox {box} is not in latitudes, south to north")
    x, y = anchor(session)
    box = spatial["bbox"][0]
    half = len(box) // 2
    require(
        box[0] - 1e-6 <= x <= box[half] + 1e-6 and box[1] - 1e-6 <= y <= box[half + 1] + 1e-6,
        f"the feature at {x}, {y} lies outside the collection's extent {box}",
    )


@check(
    "features.core.collection",
    "features",
    CORE,
    f"{F1}/req/core/sfc-md-success",
    "/collections/{id} describes the collection as the list does",
    "/collections/{id} beschreibt die Sammlung wie die Liste",
)
def one_collection(session: Session) -> None:
    listed = collection(session)
    body = get_json(session, url(session, f"collections/{listed['id']}"))
    require(body.get("id") == listed["id"], "/collections/{id} answered another collection")
    expect_status(
        session.get(url(session, f"collections/urbantwin-check-no-such-collection-{uuid.uuid4().hex[:6]}")),
        404,
    )


@check(
    "features.core.items",
    "features",
    CORE,
    f"{F1}/req/core/fc-response",
    "The items are a GeoJSON FeatureCollection of Features",
    "Die Features sind eine GeoJSON-FeatureCollection aus Features",
)
def feature_collection(session: Session) -> None:
    page = get_json(session, items_url(session), {"limit": "5"}, geo=True)
    require(page.get("type") == "FeatureCollection", f"the type is {page.get('type')!r}")
    for item in page.get("features") or []:
        require(item.get("type") == "Feature", "an item is not a Feature")
        require("geometry" in item and "properties" in item, "a Feature lacks geometry or properties")


@check(
    "features.core.limit",
    "features",
    CORE,
    f"{F1}/req/core/fc-limit-response",
    "limit bounds the number of features; numberReturned counts them",
    "limit begrenzt die Zahl der Features; numberReturned zählt sie",
)
def limit(session: Session) -> None:
    for size in (1, 2):
        page = get_json(session, items_url(session), {"limit": str(size)}, geo=True)
        features = page.get("features") or []
        require(0 < len(features) <= size, f"limit={size} answered {len(features)} features")
        if "numberReturned" in page:
            require(page["numberReturned"] == len(features), "numberReturned is not the number of features")
        if "numberMatched" in page:
            require(page["numberMatched"] >= len(features), "numberMatched is less than numberReturned")
        if "timeStamp" in page:
            require(
                isinstance(page["timeStamp"], str) and "T" in page["timeStamp"], "timeStamp is no date-time"
            )


@check(
    "features.core.invalid-parameter",
    "features",
    CORE,
    f"{F1}/req/core/query-param-invalid",
    "An invalid value of a parameter (limit, bbox, datetime) answers 400",
    "Ein ungültiger Wert eines Parameters (limit, bbox, datetime) antwortet 400",
)
def invalid_parameter(session: Session) -> None:
    for params in ({"limit": "many"}, {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"datetime": "yesterday"}):
        bad_request(session, items_url(session), params)


@check(
    "features.core.unknown-parameter",
    "features",
    CORE,
    f"{F1}/req/core/query-param-unknown",
    "A parameter the API does not define answers 400",
    "Ein Parameter, den die API nicht kennt, antwortet 400",
)
def unknown_parameter(session: Session) -> None:
    bad_request(session, items_url(session), {"urbantwin-check-unknown": "1"})


@check(
    "features.core.bbox",
    "features",
    CORE,
    f"{F1}/req/core/fc-bbox-response",
    "bbox selects the features that intersect the box",
    "bbox wählt die Features, die das Rechteck schneiden",
)
def bbox(session: Session) -> None:
    require(finds(session, {}), "a box around the feature does not find it")
    x, y = anchor(session)
    far_x = x - 90 if x > 0 else x + 90
    found = items(session, {"bbox": f"{far_x},{-y - 0.1},{far_x + 0.001},{-y}", "limit": "10"})
    ids = [item.get("id") for item in found]
    require(feature(session).get("id") not in ids, "a box far from the feature found it")


@check(
    "features.core.datetime",
    "features",
    CORE,
    f"{F1}/req/core/fc-time-response",
    "datetime selects the features whose time is in the interval",
    "datetime wählt die Features, deren Zeit im Intervall liegt",
)
def datetime_filter(session: Session) -> None:
    temporal = (collection(session).get("extent") or {}).get("temporal") or {}
    interval = (temporal.get("interval") or [[None, None]])[0]
    if not interval or interval == [None, None]:
        raise Skipped("the collection has no temporal extent")
    found = items(session, {"datetime": "1000-01-01T00:00:00Z/1000-01-02T00:00:00Z", "limit": "5"})
    require(not found, "an interval in the year 1000 found features")
    found = items(session, {"datetime": "../..", "limit": "1"})
    require(found, "the open interval ../.. found no feature")


@check(
    "features.core.paging",
    "features",
    CORE,
    f"{F1}/req/core/fc-links",
    "A page links to itself and, while there are more, to the next; pages do not overlap",
    "Eine Seite verweist auf sich selbst und, solange es mehr gibt, auf die nächste; Seiten überlappen nicht",
)
def paging(session: Session) -> None:
    page = get_json(session, items_url(session), {"limit": "1"}, geo=True)
    require(link(page, "self"), "the page has no self link")
    seen = [item.get("id") for item in page.get("features") or []]
    for _ in range(2):
        following = link(page, "next")
        if following is None:
            require(
                page.get("numberMatched") in (None, len(seen)) or len(seen) >= page.get("numberMatched", 0),
                "a page without next link although numberMatched says there are more",
            )
            return
        page = get_json(session, following["href"], geo=True)
        more = [item.get("id") for item in page.get("features") or []]
        require(more, f"the next link {following['href']} answered no features")
        require(not set(more) & set(seen), "the next page repeats features")
        seen += more


@check(
    "features.core.feature",
    "features",
    CORE,
    f"{F1}/req/core/f-success",
    "A feature is addressed by its id, links to itself and its collection; an unknown id answers 404",
    "Ein Feature wird über seine Id adressiert, verweist auf sich und seine Sammlung; "
    "eine unbekannte Id antwortet 404",
)
def one_feature(session: Session) -> None:
    wanted = feature(session).get("id")
    require(wanted is not None, "the feature has no id")
    body = get_json(session, f"{items_url(session)}/{quote(str(wanted), safe='')}", geo=True)
    require(body.get("type") == "Feature" and body.get("id") == wanted, "items/{id} answered another feature")
    require(link(body, "self"), "the feature has no self link")
    require(link(body, "collection"), "the feature has no collection link")
    expect_status(
        session.get(f"{items_url(session)}/urbantwin-check-no-such-feature", headers=GEOJSON_ACCEPT), 404
    )


@check(
    "features.geojson.content",
    "features",
    GEOJSON,
    f"{F1}/req/geojson/content",
    "Features are answered as application/geo+json",
    "Features werden als application/geo+json beantwortet",
)
def geojson_type(session: Session) -> None:
    answer = session.get(items_url(session), {"limit": "1"}, headers=GEOJSON_ACCEPT)
    expect_status(answer, 200)
    kind = answer.headers.get("content-type", "")
    require(kind.startswith("application/geo+json"), f"the items are {kind!r}")


@check(
    "features.html.content",
    "features",
    HTML,
    f"{F1}/req/html/content",
    "The landing page and the items are answered as HTML to a browser",
    "Startseite und Features werden einem Browser als HTML beantwortet",
)
def html(session: Session) -> None:
    for target in (url(session, ""), items_url(session)):
        answer = session.get(
            target, {"limit": "1"} if target != url(session, "") else None, headers={"Accept": "text/html"}
        )
        expect_status(answer, 200)
        require(
            answer.headers.get("content-type", "").startswith("text/html"),
            f"{target} is not HTML to a browser",
        )


@check(
    "features.oas30",
    "features",
    OAS30,
    f"{F1}/req/oas30/oas-impl",
    "The API definition is an OpenAPI 3.0 document with the collections' paths",
    "Die API-Definition ist ein OpenAPI-3.0-Dokument mit den Pfaden der Sammlungen",
)
def openapi(session: Session) -> None:
    target = link(landing(session), "service-desc")
    require(target, "the landing page has no service-desc link")
    assert target is not None
    answer = session.get(
        target["href"], headers={"Accept": "application/vnd.oai.openapi+json;version=3.0, application/json"}
    )
    expect_status(answer, 200)
    body = json_of(answer)
    require(str(body.get("openapi", "")).startswith("3."), f"openapi is {body.get('openapi')!r}")
    paths = body.get("paths") or {}
    require(any(path.endswith("/collections") for path in paths), "the definition has no /collections path")


# --- part 2: CRS by reference -----------------------------------------------------------------


def crs_list(session: Session) -> list[str]:
    listed = collection(session).get("crs")
    if listed and "#/crs" in listed:
        globals_ = get_json(session, url(session, "collections")).get("crs") or []
        listed = [item for item in listed if item != "#/crs"] + globals_
    return listed or []


def other_crs(session: Session) -> str:
    """A CRS of the list other than CRS84 that pyproj knows."""
    for item in crs_list(session):
        if item != CRS84 and "/EPSG/" in item:
            return item
    raise Skipped("the collection offers no EPSG CRS besides CRS84")


def transformed(crs: str, x: float, y: float) -> tuple[float, float]:
    """CRS84 longitude/latitude in `crs`, in that CRS's own axis order (as OGC API answers)."""
    from pyproj import CRS as ProjCrs
    from pyproj import Transformer

    target = ProjCrs.from_user_input(crs.replace("http://www.opengis.net/def/crs/EPSG/0/", "EPSG:"))
    a, b = Transformer.from_crs("OGC:CRS84", target).transform(x, y)
    return float(a), float(b)


def _close(target: str, got: tuple[float, float], expected: tuple[float, float]) -> bool:
    from pyproj import CRS as ProjCrs

    geographic = ProjCrs.from_user_input(
        target.replace("http://www.opengis.net/def/crs/EPSG/0/", "EPSG:")
    ).is_geographic
    tolerance = 1e-6 if geographic else 0.01
    return abs(got[0] - expected[0]) <= tolerance and abs(got[1] - expected[1]) <= tolerance


@check(
    "features.crs.list",
    "features",
    CRS,
    f"{F2}/req/crs/fc-md-crs-list",
    "A collection lists the CRSs it is offered in, as URIs, its storage CRS among them",
    "Eine Sammlung nennt die angebotenen KBS als URIs, ihr Speicher-KBS darunter",
)
def crs_listed(session: Session) -> None:
    listed = crs_list(session)
    require(listed, "the collection lists no CRS")
    for item in listed:
        require(item.startswith("http://www.opengis.net/def/crs/"), f"{item!r} is not a CRS URI")
    storage = collection(session).get("storageCrs")
    if storage:
        require(storage in listed, f"the storageCrs {storage} is not in the list")


@check(
    "features.crs.action",
    "features",
    CRS,
    f"{F2}/req/crs/fc-crs-action",
    "crs= answers coordinates in that CRS, named in the Content-Crs header",
    "crs= antwortet mit Koordinaten in diesem KBS, genannt im Content-Crs-Header",
)
def crs_action(session: Session) -> None:
    target = other_crs(session)
    wanted = feature(session).get("id")
    answer = session.get(
        f"{items_url(session)}/{quote(str(wanted), safe='')}", {"crs": target}, headers=GEOJSON_ACCEPT
    )
    expect_status(answer, 200)
    header = answer.headers.get("content-crs", "")
    require(header.strip("<>") == target, f"Content-Crs is {header!r}, not <{target}>")
    got = positions(json_of(answer).get("geometry"))
    require(got, "the feature in the other CRS has no coordinates")
    expected = transformed(target, *anchor(session))
    page = session.get(items_url(session), {"crs": target, "limit": "1"}, headers=GEOJSON_ACCEPT)
    expect_status(page, 200)
    header = page.headers.get("content-crs", "")
    require(header.strip("<>") == target, f"Content-Crs of the items is {header!r}, not <{target}>")
    require(
        _close(target, (got[0][0], got[0][1]), expected),
        f"the first position is {got[0][:2]}, the transformation gives {list(expected)}",
    )


@check(
    "features.crs.invalid",
    "features",
    CRS,
    f"{F2}/req/crs/fc-crs-valid-value",
    "A CRS the collection does not offer answers 400",
    "Ein KBS, das die Sammlung nicht anbietet, antwortet 400",
)
def crs_invalid(session: Session) -> None:
    collection(session)
    bad_request(session, items_url(session), {"crs": "http://www.opengis.net/def/crs/EPSG/0/99999999"})
    bad_request(session, items_url(session), {"bbox": "0,0,1,1", "bbox-crs": "urbantwin-check-no-crs"})


@check(
    "features.crs.bbox",
    "features",
    CRS,
    f"{F2}/req/crs/fc-bbox-crs-action",
    "bbox-crs= reads the bbox in that CRS",
    "bbox-crs= liest das Rechteck in diesem KBS",
)
def bbox_crs(session: Session) -> None:
    target = other_crs(session)
    a, b = transformed(target, *anchor(session))
    from pyproj import CRS as ProjCrs

    size = (
        1e-5
        if ProjCrs.from_user_input(
            target.replace("http://www.opengis.net/def/crs/EPSG/0/", "EPSG:")
        ).is_geographic
        else 1.0
    )
    found = items(
        session, {"bbox": f"{a - size},{b - size},{a + size},{b + size}", "bbox-crs": target, "limit": "1000"}
    )
    require(
        feature(session).get("id") in [item.get("id") for item in found],
        "a box around the feature in the other CRS does not find it",
    )


# --- part 3: queryables, filtering, CQL2 ------------------------------------------------------


def queryables(session: Session) -> dict[str, Any]:
    if "queryables" not in session.state:
        target = link(collection(session), QUERYABLES_REL, "queryables")
        address = (
            target["href"] if target else url(session, f"collections/{collection(session)['id']}/queryables")
        )
        answer = session.get(address, headers={"Accept": "application/schema+json, application/json"})
        expect_status(answer, 200)
        session.state["queryables"] = json_of(answer)
    return session.state["queryables"]


@check(
    "features.queryables",
    "features",
    QUERYABLES,
    f"{F3}/req/queryables/get-queryables-response",
    "/queryables is a JSON Schema of an object naming the queryable properties",
    "/queryables ist ein JSON-Schema eines Objekts, das die abfragbaren Eigenschaften nennt",
)
def queryables_schema(session: Session) -> None:
    schema = queryables(session)
    require(schema.get("type") == "object", f"the queryables' type is {schema.get('type')!r}, not object")
    require(isinstance(schema.get("properties"), dict), "the queryables have no properties")


@check(
    "features.queryables.parameters",
    "features",
    QUERYABLES_PARAMETERS,
    f"{F3}/req/queryables-query-parameters/parameters",
    "A queryable is a query parameter that selects features by its value",
    "Eine abfragbare Eigenschaft ist ein Abfrageparameter, der Features nach ihrem Wert wählt",
)
def queryable_parameters(session: Session) -> None:
    name, value = property_of(session, str)
    require(name in (queryables(session).get("properties") or {}), f"{name} is not queryable")
    expect_finds(session, {name: value}, True)
    expect_finds(session, {name: value + "-urbantwin-check"}, False)


def _filter(session: Session, expression: str, match: bool, lang: str = "cql2-text") -> None:
    expect_finds(session, {"filter": expression, "filter-lang": lang}, match)


@check(
    "features.filter",
    "features",
    FILTER,
    f"{F3}/req/filter/filter-param",
    "filter= selects the features the expression holds for",
    "filter= wählt die Features, für die der Ausdruck gilt",
)
def filter_param(session: Session) -> None:
    name, value = property_of(session, str)
    expect_finds(session, {"filter": f"{name} = {text(value)}"}, True)
    expect_finds(session, {"filter": f"{name} <> {text(value)}"}, False)


@check(
    "features.filter.lang",
    "features",
    FILTER,
    f"{F3}/req/filter/filter-lang-param",
    "filter-lang names the language; one the server does not know answers 400",
    "filter-lang nennt die Sprache; eine unbekannte antwortet 400",
)
def filter_lang(session: Session) -> None:
    name, value = property_of(session, str)
    _filter(session, f"{name} = {text(value)}", True)
    bad_request(
        session, items_url(session), {"filter": f"{name} = {text(value)}", "filter-lang": "urbantwin-check"}
    )


@check(
    "features.filter.invalid",
    "features",
    FEATURES_FILTER,
    f"{F3}/req/features-filter/response",
    "An invalid filter, or one naming no queryable, answers 400",
    "Ein ungültiger Filter oder einer mit unbekannter Eigenschaft antwortet 400",
)
def filter_invalid(session: Session) -> None:
    collection(session)
    bad_request(session, items_url(session), {"filter": "(((name = "})
    bad_request(session, items_url(session), {"filter": "urbantwin_check_no_such_property = 1"})


def _cql2(id: str, cls: str, uri: str, en: str, de: str, cases: Any) -> None:
    def run(session: Session) -> None:
        for expression, match in cases(session):
            _filter(session, expression, match)

    check(id, "features", cls, uri, en, de)(run)


def _basic(session: Session) -> list[tuple[str, bool]]:
    name, value = property_of(session, (int, float))
    v = text(value)
    return [
        (f"{name} = {v}", True),
        (f"{name} <> {v}", False),
        (f"{name} < {v}", False),
        (f"{name} <= {v}", True),
        (f"{name} > {value - 1}", True),
        (f"{name} >= {v}", True),
        (f"{name} = {v} AND {name} >= {v}", True),
        (f"{name} <> {v} OR {name} = {v}", True),
        (f"NOT ({name} = {v})", False),
        (f"{name} IS NULL", False),
        (f"{name} IS NOT NULL", True),
    ]


def _advanced(session: Session) -> list[tuple[str, bool]]:
    name, value = property_of(session, str)
    number, amount = property_of(session, (int, float))
    return [
        (f"{name} LIKE {text(value[:2] + '%')}", True),
        (f"{name} LIKE {text(value + 'urbantwin%')}", False),
        (f"{number} BETWEEN {amount - 1} AND {amount + 1}", True),
        (f"{number} BETWEEN {amount + 1} AND {amount + 2}", False),
        (f"{name} IN ({text(value)}, 'urbantwin-check')", True),
        (f"{name} NOT IN ({text(value)})", False),
    ]


def _casei(session: Session) -> list[tuple[str, bool]]:
    name, value = property_of(session, str)
    if not value.isascii():
        raise Skipped("the feature's string is not ASCII")
    return [
        (f"CASEI({name}) = CASEI({text(value.swapcase())})", True),
        (f"{name} = {text(value.swapcase())}", value.swapcase() == value),
    ]


def _basic_spatial(session: Session) -> list[tuple[str, bool]]:
    x, y = anchor(session)
    geometry = _geometry_name(session)
    return [
        (f"S_INTERSECTS({geometry}, BBOX({x - 1e-6}, {y - 1e-6}, {x + 1e-6}, {y + 1e-6}))", True),
        (f"S_INTERSECTS({geometry}, POINT({x + 1} {y + 1}))", False),
    ]


def _spatial(session: Session) -> list[tuple[str, bool]]:
    x, y = anchor(session)
    geometry = _geometry_name(session)
    big = (
        f"POLYGON(({x - 50} {y - 5}, {x + 50} {y - 5}, {x + 50} {y + 5}, {x - 50} {y + 5}, {x - 50} {y - 5}))"
    )
    far = f"POINT({x + 1} {y + 1})"
    within = feature(session).get("geometry", {}).get("type") in (
        "Point",
        "LineString",
        "Polygon",
        "MultiPoint",
    )
    cases = [(f"S_DISJOINT({geometry}, {far})", True), (f"S_DISJOINT({geometry}, {big})", False)]
    if within:
        cases += [(f"S_WITHIN({geometry}, {big})", True), (f"S_CONTAINS({big}, {geometry})", True)]
    return cases


def _geometry_name(session: Session) -> str:
    for name, schema in (queryables(session).get("properties") or {}).items():
        if isinstance(schema, dict) and str(schema.get("format", "")).startswith("geometry"):
            return name
        if isinstance(schema, dict) and "geojson.org" in str(schema.get("$ref", "")):
            return name
    return "geometry"


def _arithmetic(session: Session) -> list[tuple[str, bool]]:
    name, value = property_of(session, (int, float))
    return [
        (f"{name} + 1 > {value + 0.5} AND {name} + 1 < {value + 1.5}", True),
        (f"{name} - 1 < {value - 0.5}", True),
        (f"{name} * 2 > {2 * value - 0.5} AND {name} * 2 < {2 * value + 0.5}", True),
        (f"{name} + 1 < {value}", False),
    ]


_cql2(
    "features.cql2.basic",
    BASIC_CQL2,
    f"{CQL2}/req/basic-cql2/basic-cql2",
    "Basic CQL2: comparisons, AND, OR, NOT, IS NULL",
    "Grundlegendes CQL2: Vergleiche, AND, OR, NOT, IS NULL",
    _basic,
)
_cql2(
    "features.cql2.advanced",
    ADVANCED,
    f"{CQL2}/req/advanced-comparison-operators/like-predicate",
    "CQL2 LIKE, BETWEEN, IN",
    "CQL2 LIKE, BETWEEN, IN",
    _advanced,
)
_cql2(
    "features.cql2.casei",
    CASEI,
    f"{CQL2}/req/case-insensitive-comparison/casei-function",
    "CQL2 CASEI compares without regard to case",
    "CQL2 CASEI vergleicht ohne Rücksicht auf Groß- und Kleinschreibung",
    _casei,
)
_cql2(
    "features.cql2.basic-spatial",
    BASIC_SPATIAL,
    f"{CQL2}/req/basic-spatial-functions/spatial-predicates",
    "CQL2 S_INTERSECTS with points and boxes",
    "CQL2 S_INTERSECTS mit Punkten und Rechtecken",
    _basic_spatial,
)
_cql2(
    "features.cql2.spatial",
    SPATIAL,
    f"{CQL2}/req/spatial-functions/spatial-predicates",
    "CQL2 spatial functions: S_DISJOINT, S_WITHIN, S_CONTAINS",
    "CQL2 räumliche Funktionen: S_DISJOINT, S_WITHIN, S_CONTAINS",
    _spatial,
)
_cql2(
    "features.cql2.arithmetic",
    ARITHMETIC,
    f"{CQL2}/req/arithmetic/arithmetic",
    "CQL2 arithmetic: +, -, *",
    "CQL2 Rechnen: +, -, *",
    _arithmetic,
)


@check(
    "features.cql2.json",
    "features",
    CQL2_JSON,
    f"{CQL2}/req/cql2-json/validate",
    "A filter in CQL2 JSON (filter-lang=cql2-json)",
    "Ein Filter in CQL2 JSON (filter-lang=cql2-json)",
)
def cql2_json(session: Session) -> None:
    name, value = property_of(session, str)
    expression = {"op": "=", "args": [{"property": name}, value]}
    _filter(session, orjson.dumps(expression).decode(), True, "cql2-json")
    expression = {"op": "not", "args": [expression]}
    _filter(session, orjson.dumps(expression).decode(), False, "cql2-json")


# --- part 4: create, replace, update, delete --------------------------------------------------


def _new_feature(session: Session) -> tuple[str, dict[str, Any], str | None]:
    """A copy of the feature with a string property of the check's own; (items URL, body, name)."""
    model = feature(session)
    properties = dict(model.get("properties") or {})
    try:
        name, _value = property_of(session, str)
    except Skipped:
        name = None
    if name:
        properties[name] = f"urbantwin-check-{uuid.uuid4().hex[:8]}"
    return (
        items_url(session),
        {"type": "Feature", "geometry": model.get("geometry"), "properties": properties},
        name,
    )


def _create(session: Session) -> tuple[str, dict[str, Any], str | None]:
    target, body, name = _new_feature(session)
    answer = session.request("POST", target, json=body, headers={"Content-Type": "application/geo+json"})
    expect_status(answer, 201)
    location = answer.headers.get("location")
    require(location, "the answer to POST has no Location header")
    session.remember(location)
    return location, body, name


@check(
    "features.crud.create",
    "features",
    CREATE_REPLACE_DELETE,
    f"{F4}/req/create-replace-delete/insert-post-op",
    "POST adds a feature: 201 with a Location header that leads to it",
    "POST fügt ein Feature hinzu: 201 mit einem Location-Header, der zu ihm führt",
    writes=True,
)
def create_feature(session: Session) -> None:
    location, body, name = _create(session)
    created = get_json(session, location, geo=True)
    require(created.get("type") == "Feature", "the Location header does not lead to a feature")
    if name:
        require(
            created["properties"].get(name) == body["properties"][name], "the new feature lost its properties"
        )
    answer = session.request(
        "POST",
        items_url(session),
        json={"type": "nonsense"},
        headers={"Content-Type": "application/geo+json"},
    )
    require(answer.status_code == 400, f"POST of no feature answered {answer.status_code}, not 400")


@check(
    "features.crud.replace",
    "features",
    CREATE_REPLACE_DELETE,
    f"{F4}/req/create-replace-delete/replace-put-op",
    "PUT replaces a feature",
    "PUT ersetzt ein Feature",
    writes=True,
)
def replace_feature(session: Session) -> None:
    location, body, name = _create(session)
    if not name:
        raise Skipped("the feature has no string property to change")
    body["properties"][name] = f"replaced-{uuid.uuid4().hex[:8]}"
    answer = session.request("PUT", location, json=body, headers={"Content-Type": "application/geo+json"})
    expect_status(answer, 200, 204)
    again = get_json(session, location, geo=True)
    require(again["properties"].get(name) == body["properties"][name], "PUT did not replace the property")


@check(
    "features.crud.update",
    "features",
    UPDATE,
    f"{F4}/req/update/update-patch-op",
    "PATCH changes the given properties of a feature and keeps the others",
    "PATCH ändert die angegebenen Eigenschaften eines Features und behält die übrigen",
    writes=True,
)
def update_feature(session: Session) -> None:
    location, body, name = _create(session)
    if not name:
        raise Skipped("the feature has no string property to change")
    changed = f"patched-{uuid.uuid4().hex[:8]}"
    answer = session.request(
        "PATCH",
        location,
        json={"properties": {name: changed}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    expect_status(answer, 200, 204)
    again = get_json(session, location, geo=True)
    require(again["properties"].get(name) == changed, "PATCH did not change the property")
    kept = [key for key in body["properties"] if key != name and key not in again["properties"]]
    require(not kept, f"PATCH dropped {', '.join(kept)}")


@check(
    "features.crud.delete",
    "features",
    CREATE_REPLACE_DELETE,
    f"{F4}/req/create-replace-delete/delete-op",
    "DELETE removes a feature; it answers 404 afterwards",
    "DELETE entfernt ein Feature; danach antwortet es 404",
    writes=True,
)
def delete_feature(session: Session) -> None:
    location, _body, _name = _create(session)
    answer = session.request("DELETE", location)
    expect_status(answer, 200, 204)
    gone = session.get(location, headers=GEOJSON_ACCEPT)
    if gone.status_code != 404:
        raise CheckFailed(f"the deleted feature answered {gone.status_code}, not 404")
