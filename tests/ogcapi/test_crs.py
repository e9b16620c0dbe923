"""The CRS parameters of OGC API Features Part 2, read by the platform's one CRS parser, and the CRSs
a city's profile adds to the world's."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine

from urbantwin.app import create_app
from urbantwin.city_profile import parse_profile
from urbantwin.errors import BadRequest
from urbantwin.ogcapi.crs import CRS84, SUPPORTED, parse_crs, served_crs
from urbantwin.settings import Settings
from urbantwin.store.city import write_profile
from urbantwin.store.engine import for_writes

UTM33 = "http://www.opengis.net/def/crs/EPSG/0/25833"
UTM32 = "http://www.opengis.net/def/crs/EPSG/0/25832"
#: A city in eastern Germany works in EPSG:25833.
EAST = served_crs(["OGC:CRS84", "EPSG:25833", "EPSG:4326", "EPSG:3857"])


@pytest.mark.parametrize(
    "spelling",
    [
        UTM33,
        "[EPSG:25833]",
        "EPSG:25833",
        "epsg:25833",
        "urn:ogc:def:crs:EPSG::25833",
        "https://www.opengis.net/def/crs/EPSG/0/25833",
    ],
)
def test_a_supported_crs_is_known_however_it_is_spelled(spelling: str) -> None:
    assert parse_crs(spelling, "crs", EAST) == UTM33


def test_no_crs_is_crs84() -> None:
    assert parse_crs(None, "crs") == parse_crs("", "crs") == CRS84 == SUPPORTED[0]


def test_without_a_city_only_the_world_crss_are_offered() -> None:
    assert SUPPORTED == (
        CRS84,
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "http://www.opengis.net/def/crs/EPSG/0/3857",
    )
    with pytest.raises(BadRequest, match="unsupported CRS 'EPSG:25833'"):
        parse_crs("EPSG:25833", "crs")


@pytest.mark.parametrize(
    "spelling", ["EPSG:31468", "urn:ogc:def:crs:EPSG::2000", "no crs at all", "x" * 5000]
)
def test_other_crss_are_refused_naming_the_parameter_and_the_supported_ones(spelling: str) -> None:
    with pytest.raises(BadRequest, match=r"^bbox-crs: unsupported CRS .*; supported are http"):
        parse_crs(spelling, "bbox-crs", EAST)


def test_a_profile_lists_its_own_crs_after_crs84() -> None:
    profile = parse_profile({"name": "Musterstadt", "crs": ["EPSG:25832", "EPSG:31467"]})
    assert served_crs(profile.served_crs()) == (
        CRS84,
        UTM32,
        "http://www.opengis.net/def/crs/EPSG/0/31467",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "http://www.opengis.net/def/crs/EPSG/0/3857",
    )


def test_a_city_in_the_west_serves_its_own_crs(settings: Settings, engine: Engine, city: Engine) -> None:
    """A city of western Germany names EPSG:25832 in its profile; the API offers it and transforms
    into it (the features here lie in eastern Germany, which 25832 reaches too)."""
    profile = parse_profile({"name": "Weststadt", "crs": ["EPSG:25832"]})
    with for_writes(engine).begin() as connection:
        write_profile(connection, profile)
    with TestClient(create_app(settings, engine)) as client:
        collection = client.get("/ogcapi/collections/city").json()
        assert collection["crs"][:2] == [CRS84, UTM32]
        assert UTM33 not in collection["crs"]
        lonlat = client.get("/ogcapi/collections/city/items", params={"limit": 1}).json()["features"][0]
        answer = client.get("/ogcapi/collections/city/items", params={"limit": 1, "crs": "EPSG:25832"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Crs"] == f"<{UTM32}>"
        expected = Transformer.from_crs("OGC:CRS84", "EPSG:25832", always_xy=True).transform(
            *lonlat["geometry"]["coordinates"][:2]
        )
        got = answer.json()["features"][0]["geometry"]["coordinates"][:2]
        assert got == pytest.approx(list(expected), abs=0.01)
        refused = client.get("/ogcapi/collections/city/items", params={"crs": "EPSG:25833"})
        assert refused.status_code == 400
        assert "unsupported CRS 'EPSG:25833'" in refused.json()["message"]
