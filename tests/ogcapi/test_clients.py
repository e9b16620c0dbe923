"""Clients that others wrote read the collections over real HTTP: GDAL's OAPIF driver and OWSLib.

Without `ogrinfo` (Debian's gdal-bin) the GDAL tests skip with a notice, except in CI (`CI=true`),
where a missing GDAL is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from sqlalchemy import Engine

from tests.conftest import backend_missing
from tests.ogcapi.conftest import POINTS

EPSG_25833 = "http://www.opengis.net/def/crs/EPSG/0/25833"


@pytest.fixture
def ogrinfo() -> str:
    path = shutil.which("ogrinfo")
    if path is None:
        backend_missing("GDAL's ogrinfo is not installed: apt-get install gdal-bin")
    return path


def _ogrinfo(ogrinfo: str, *args: str) -> str:
    done = subprocess.run(
        [ogrinfo, "-ro", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GDAL_HTTP_TIMEOUT": "20", "CPL_DEBUG": "OFF"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_lists_and_reads_the_collection(ogrinfo: str, city: Engine, live_server: str) -> None:
    listing = _ogrinfo(ogrinfo, f"OAPIF:{live_server}/ogcapi")
    assert re.search(r"1: city", listing), listing
    summary = _ogrinfo(ogrinfo, "-al", "-so", f"OAPIF:{live_server}/ogcapi", "city")
    assert "Feature Count: 4" in summary, summary
    full = _ogrinfo(ogrinfo, "-al", "-q", f"OAPIF:{live_server}/ogcapi", "city")
    assert full.count("OGRFeature(city)") == 4 and "stop b" in full


def test_gdal_bbox_request(ogrinfo: str, city: Engine, live_server: str) -> None:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(25833, 4326, always_xy=True).transform(*POINTS["a"])
    out = _ogrinfo(
        ogrinfo,
        "-al",
        "-q",
        "-spat",
        str(lon - 0.001),
        str(lat - 0.001),
        str(lon + 0.001),
        str(lat + 0.001),
        f"OAPIF:{live_server}/ogcapi",
        "city",
    )
    assert out.count("OGRFeature(city)") == 1 and "stop a" in out


def test_gdal_reads_in_epsg_25833(ogrinfo: str, city: Engine, live_server: str) -> None:
    # The driver passes the query of a collection's URL on to its items requests (every GDAL version;
    # the CRS open option needs GDAL 3.7).
    out = _ogrinfo(ogrinfo, "-al", "-q", f"OAPIF:{live_server}/ogcapi/collections/city?crs={EPSG_25833}")
    x, y = POINTS["b"]
    match = re.search(r"stop b.*?POINT \(([\d.]+) ([\d.]+)\)", out, re.S)
    assert match, out
    assert abs(float(match.group(1)) - x) < 0.001 and abs(float(match.group(2)) - y) < 0.001


def test_owslib_reads_collections_bbox_and_25833(city: Engine, live_server: str) -> None:
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server}/ogcapi")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    assert [c["id"] for c in api.collections()["collections"]] == ["city"]
    assert api.collection("city")["title"] == "A small city"
    everything = api.collection_items("city", limit=10)
    assert everything["numberMatched"] == 4
    x, y = POINTS["c"]
    box = [x - 1, y - 1, x + 1, y + 1]
    boxed = api.collection_items("city", bbox=box, **{"bbox-crs": EPSG_25833, "crs": EPSG_25833})
    assert [f["id"] for f in boxed["features"]] == ["c"]
    assert boxed["features"][0]["geometry"]["coordinates"] == pytest.approx([x, y], abs=0.001)
    assert api.collection_item("city", "c")["properties"]["name"] == "stop c"


def test_gdal_attribute_filter(ogrinfo: str, city: Engine, live_server: str) -> None:
    # GDAL 3.6 knows only the draft `cql-text` and evaluates this -where itself; newer GDALs send CQL2.
    out = _ogrinfo(
        ogrinfo, "-al", "-q", "-where", "rank > 1 AND kind = 'stop'", f"OAPIF:{live_server}/ogcapi", "city"
    )
    assert out.count("OGRFeature(city)") == 2 and "stop b" in out and "stop c" in out


def test_owslib_queryables_and_cql2(city: Engine, live_server: str) -> None:
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server}/ogcapi")
    assert api.collection_queryables("city")["properties"]["rank"]["type"] == "integer"
    filtered = api.collection_items("city", filter="rank BETWEEN 2 AND 3", sortby=("rank", "desc"))
    assert [f["id"] for f in filtered["features"]] == ["c", "b"]
    x, y = POINTS["a"]
    spatial = api.collection_items(
        "city", filter=f"S_INTERSECTS(geometry, POINT({x} {y}))", **{"filter-crs": EPSG_25833}
    )
    assert spatial["numberMatched"] in (0, 1)  # a point meets a point only where it lies exactly
