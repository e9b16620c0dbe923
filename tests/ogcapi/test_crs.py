"""The CRS parameters of OGC API Features Part 2, read by the platform's one CRS parser."""

from __future__ import annotations

import pytest

from urbantwin.errors import BadRequest
from urbantwin.ogcapi.crs import CRS84, SUPPORTED, parse_crs

UTM33 = "http://www.opengis.net/def/crs/EPSG/0/25833"


@pytest.mark.parametrize(
    "spelling",
    [
        UTM33,
        "[EPSG:25833]",
        "EPSG:25833",
        "urn:ogc:def:crs:EPSG::25833",
        "https://www.opengis.net/def/crs/EPSG/0/25833",
    ],
)
def test_a_supported_crs_is_known_however_it_is_spelled(spelling: str) -> None:
    assert parse_crs(spelling, "crs") == UTM33


def test_no_crs_is_crs84() -> None:
    assert parse_crs(None, "crs") == parse_crs("", "crs") == CRS84 == SUPPORTED[0]


@pytest.mark.parametrize(
    "spelling", ["EPSG:31468", "urn:ogc:def:crs:EPSG::2000", "no crs at all", "x" * 5000]
)
def test_other_crss_are_refused_naming_the_parameter_and_the_supported_ones(spelling: str) -> None:
    with pytest.raises(BadRequest, match=r"^bbox-crs: unsupported CRS .*; supported are http"):
        parse_crs(spelling, "bbox-crs")
