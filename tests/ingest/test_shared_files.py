"""Every Leipzig vector file of the city model loads through the importers, from the demo's copies.

The project never reads the folder the files were prepared in; the demo ships byte-for-byte copies
(their SHA-256 in SOURCES.md, checked here), and the files the demo does not need are copied for
these tests alone (tests/ingest/shared/, with their sources).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import Engine

from tests.conftest import DemoLayers
from tests.ingest.conftest import count
from urbantwin.demo.features import DATA, LAYERS
from urbantwin.ingest.cityjson import import_cityjson, read_cityjson
from urbantwin.ingest.csvfile import import_csv
from urbantwin.ingest.geojson import import_geojson, read_features
from urbantwin.ingest.pipeline import CollectionInfo, ImportReport

Importer = Callable[[Engine, Path, CollectionInfo], ImportReport]


def _geojson(id_property: str | None = None) -> Importer:
    return lambda engine, path, info: import_geojson(
        engine, path, info, id_property=id_property, progress=False
    )


def _csv(**options: object) -> Importer:
    return lambda engine, path, info: import_csv(engine, path, info, progress=False, **options)


def _cityjson(engine: Engine, path: Path, info: CollectionInfo) -> ImportReport:
    return import_cityjson(engine, path, info, progress=False)


#: Shared files the demo does not carry, copied for these tests.
TEST_COPIES = Path(__file__).parent / "shared"

#: The vector files of the city model in the shared Leipzig data (buildings, districts, transit,
#: streets_water_green, ev_charging, wlan_digital_infrastructure): the demo copy, how it is imported
#: and how many features it has (from the files' SOURCE.md), or why it is not in the demo.
SHARED: list[tuple[str, str, Importer, int]] = [
    ("buildings/osm_buildings_Plagwitz-2025.geojson", "copy", _geojson("id"), 1482),
    ("buildings/osm_buildings_Lindenau-2025.geojson", "copy", _geojson("id"), 896),
    ("buildings/osm_buildings_Altlindenau-2025.geojson", "copy", _geojson("id"), 1849),
    ("buildings/osm_buildings_Neulindenau-2025.geojson", "copy", _geojson("id"), 1297),
    ("buildings/plagwitz_lod1_derived.city.json", "copy", _cityjson, 1482),
    ("districts/leipzig_ortsteile.geojson", "copy", _geojson(), 63),
    ("districts/leipzig_stadtbezirke_dissolved.geojson", "copy", _geojson(), 10),
    ("districts/leipzig_city_boundary.geojson", "copy", _geojson(), 1),
    ("transit/lvb_stops_2018.geojson", "copy", _geojson("stop_id"), 765),
    (
        "streets_water_green/street_trees_west_and_zentrum_2024-06-07.geojson",
        "copy",
        _geojson("standortnr"),
        8773,
    ),
    ("ev_charging/ladesaeulen_leipzig_2019-07-19.csv", "copy", _csv(), 77),
    ("wlan_digital_infrastructure/freifunk_leipzig_nodes_2020-03-03.geojson", "copy", _geojson(), 209),
    # Not in the demo, copied for the tests only (tests/ingest/shared/, with SOURCES.md): the 2014
    # state of Plagwitz, the stops as CSV, all 57,273 street trees and the Freifunk links.
    ("buildings/osm_buildings_Plagwitz-2014.geojson", "test", _geojson("id"), 1176),
    (
        "transit/lvb_stops_2018.csv",
        "test",
        _csv(x_column="stop_lon", y_column="stop_lat", id_column="stop_id"),
        765,
    ),
    (
        "streets_water_green/street_trees_leipzig_all_2024-06-07.csv.gz",
        "test",
        _csv(x_column="lon", y_column="lat", id_column="standortnr"),
        57273,
    ),
    ("wlan_digital_infrastructure/freifunk_leipzig_links_2020-03-03.geojson", "test", _geojson(), 248),
]


@pytest.mark.parametrize(
    ("shared", "copy", "importer", "expected"), SHARED, ids=[Path(s[0]).name for s in SHARED]
)
def test_a_shared_file_loads(
    engine: Engine, shared: str, copy: str, importer: Importer, expected: int
) -> None:
    assert callable(importer)
    path = (DATA if copy == "copy" else TEST_COPIES) / Path(shared).name
    info = CollectionInfo("shared", Path(shared).name)
    started = time.perf_counter()
    report = importer(engine, path, info)
    elapsed = time.perf_counter() - started
    assert (report.inserted, count(engine, "shared")) == (expected, expected)
    print(f"{shared}: {expected} features in {elapsed:.2f} s ({engine.dialect.name})")
    again = importer(engine, path, info)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, expected)


def test_the_demo_copies_are_the_files_in_sources_md() -> None:
    """Each file in data/ is listed in SOURCES.md with its size and SHA-256, and is byte for byte that."""
    sources = (DATA.parent / "SOURCES.md").read_text(encoding="utf-8")
    listed = {
        name: (int(size.replace(",", "")), digest)
        for name, size, digest in re.findall(
            r"^\| `([^`]+)` \| ([\d,]+) B \| `([0-9a-f]{64})` \|$", sources, re.M
        )
    }
    files = sorted(p for p in DATA.iterdir() if p.is_file())
    # Files beside data/ in the demo package are listed by their path from it (`portfolio/…`).
    elsewhere = {name for name in listed if "/" in name}
    assert {p.name for p in files} == set(listed) - elsewhere
    for path in [*files, *(DATA.parent / name for name in sorted(elsewhere))]:
        data = path.read_bytes()
        name = path.name if path.parent == DATA else path.relative_to(DATA.parent).as_posix()
        assert (len(data), hashlib.sha256(data).hexdigest()) == listed[name], name


def test_the_lod1_footprints_are_the_osm_footprints_they_were_extruded_from() -> None:
    """An independent check of the CityJSON reader: its footprints against the OSM source, in 25833."""
    lod1 = {row.key: row for row in read_cityjson(DATA / "plagwitz_lod1_derived.city.json").rows}
    _, osm = read_features(DATA / "osm_buildings_Plagwitz-2025.geojson", "id")
    to_25833 = Transformer.from_crs(4326, 25833, always_xy=True)

    def metric(wkb: bytes) -> shapely.Geometry:
        return shapely.transform(shapely.from_wkb(wkb), lambda c: np.column_stack(to_25833.transform(*c.T)))

    assert len(lod1) == len(osm) == 1482
    distances = [shapely.hausdorff_distance(metric(r.wkb), metric(lod1[f"osm_way_{r.key}"].wkb)) for r in osm]
    assert max(distances) < 0.001  # the file's vertices are millimetres


@pytest.mark.long  # every feature layer of the demo (loaded once per test process, `demo_layers`)
@pytest.mark.xdist_group("demo-layers")
def test_the_demo_loads_street_trees_and_lod1_buildings(demo_layers: DemoLayers) -> None:
    reports = {r.collection: r for r in demo_layers.first}
    assert reports["street_trees"].inserted == 8773
    assert reports["buildings_lod1_plagwitz"].inserted == 1482
    assert set(reports) == set(LAYERS)
    assert all(r.total == r.unchanged for r in demo_layers.again)
    with demo_layers.anonymous() as anonymous:
        trees = anonymous.get("/ogcapi/collections/street_trees").json()
        assert trees["title"].startswith("Street trees") and "Stadt Leipzig" in trees["attribution"]
        assert "none stated" in trees["license"]
        queryables = anonymous.get("/ogcapi/collections/street_trees/queryables").json()["properties"]
        assert queryables["gattung"]["type"] == "string" and queryables["pflanzjahr"]["type"] == "integer"
        tree = anonymous.get("/ogcapi/collections/street_trees/items/330").json()
        assert tree["properties"]["strasse"] == "Brühl" and tree["properties"]["gattung"] == "Tilia"
        assert tree["geometry"]["coordinates"] == pytest.approx([12.376715, 51.3429185], abs=1e-9)
        lod1 = anonymous.get("/ogcapi/collections/buildings_lod1_plagwitz").json()
        assert lod1["license"] == "ODbL-1.0" and "OpenStreetMap" in lod1["attribution"]
        building = anonymous.get(
            "/ogcapi/collections/buildings_lod1_plagwitz/items/osm_way_22949024", params={"crs": EPSG_25833}
        ).json()
        properties = building["properties"]
        assert properties["addr:street"] == "Karl-Heine-Straße" and properties["height_m"] == 9.0
        solid = properties["cityjson"]["CityObjects"]["osm_way_22949024"]["geometry"][0]
        assert solid["type"] == "Solid" and solid["lod"] == "1" and len(solid["boundaries"][0]) == 12
        assert building["geometry"]["type"] == "Polygon"
        x, y = building["geometry"]["coordinates"][0][0]
        assert 313000 < x < 316000 and 5688000 < y < 5691000


EPSG_25833 = "http://www.opengis.net/def/crs/EPSG/0/25833"
