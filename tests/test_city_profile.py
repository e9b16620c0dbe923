"""A city's profile: read strictly, so a platform is never silently half one city's."""

from __future__ import annotations

from pathlib import Path

import pytest

from urbantwin.city_profile import NO_CITY, CityProfile, ProfileError, load_profile, parse_profile

PROFILE = """
[city]
id = "musterstadt"
name = "Musterstadt"
languages = ["de", "en"]
time_zone = "Europe/Berlin"
region = "DE-NW"
extent = [6.9, 50.8, 7.1, 51.0]
site = [7.0, 50.9, 60]
crs = ["EPSG:25832"]
attribution = "© Stadt Musterstadt, dl-de/by-2-0"

[publisher]
id = "stadt-musterstadt"
title = "Stadt Musterstadt"
kind = "local-authority"
homepage = "https://www.musterstadt.example"
email = "opendata@musterstadt.example"

[[districts]]
collection = "stadtteile"
name_property = "STT_NAME"
population_property = "EW_{year}"
label = { de = "Stadtteile", en = "Districts" }
"""


def test_a_profile_file_says_what_makes_the_platform_the_city_s(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(PROFILE, encoding="utf-8")
    profile = load_profile(path)
    assert profile.name == "Musterstadt" and profile.time_zone == "Europe/Berlin"
    assert profile.extent == (6.9, 50.8, 7.1, 51.0)
    assert profile.served_crs() == ("OGC:CRS84", "EPSG:25832", "EPSG:4326", "EPSG:3857")
    assert profile.publisher is not None and profile.publisher.email == "opendata@musterstadt.example"
    districts = profile.districts_of("stadtteile")
    assert districts is not None and districts.label["de"] == "Stadtteile"
    assert districts.population_year("EW_2023") == 2023
    assert districts.population_year("EW_total") is None and districts.population_year("STT_NAME") is None
    assert districts.population_key(2019) == "EW_2019"
    assert profile.region == "DE-NW" and profile.site == (7.0, 50.9, 60.0)
    assert profile.site_point() == (7.0, 50.9, 60.0) and profile.site_note() == "the city profile's site"


def test_without_a_site_the_centre_of_the_extent_is_taken_and_said_to_be_assumed() -> None:
    profile = parse_profile({"name": "X", "extent": [12.0, 51.0, 13.0, 52.0]})
    assert profile.site is None and profile.site_point() == (12.5, 51.5, 0.0)
    assert "assumed" in profile.site_note()
    assert profile.region == "DE"  # Germany's national holidays, as the time zone defaults to Berlin's
    assert parse_profile({"name": "X"}).site_point() is None
    assert parse_profile({"name": "X", "site": [12.3, 51.3]}).site == (12.3, 51.3, 0.0)


def test_the_stored_form_reads_back_to_the_same_profile(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(PROFILE, encoding="utf-8")
    profile = load_profile(path)
    assert parse_profile(profile.to_document()) == profile


def test_a_name_is_enough_and_gives_the_id() -> None:
    profile = parse_profile({"name": "Görlitz an der Neiße"})
    assert profile.id == "goerlitz-an-der-neisse"
    assert profile.languages == ("de", "en") and profile.crs == () and profile.districts == ()
    assert NO_CITY.served_crs() == ("OGC:CRS84", "EPSG:4326", "EPSG:3857")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "name: required"),
        ({"name": "X", "colour": "red"}, "colour: unknown key"),
        ({"name": "X", "crs": ["EPSG:999999"]}, "crs: 'EPSG:999999' is not a CRS the platform knows"),
        ({"name": "X", "crs": ["+proj=utm +zone=32"]}, "give EPSG codes as EPSG:<number>"),
        (
            {"name": "X", "time_zone": "Europe/Leibzig"},
            "time_zone: 'Europe/Leibzig' is not an IANA time zone",
        ),
        ({"name": "X", "languages": ["fr"]}, "languages: 'fr'; the platform speaks de, en"),
        ({"name": "X", "extent": [13, 51, 12, 52]}, "extent: .* is not a box"),
        ({"name": "X", "extent": [13, 51]}, r"extent: expected \[west, south, east, north\]"),
        ({"name": "X", "id": "Not An Id"}, "id: 'Not An Id' is not a short id"),
        ({"name": "X", "publisher": {"email": "nobody"}}, "publisher.email: 'nobody' is not an e-mail"),
        ({"name": "X", "publisher": {"homepage": "www.x.de"}}, "publisher.homepage: 'www.x.de' is not"),
        ({"name": "X", "districts": [{"name_property": "n"}]}, r"districts\[0\].collection: required"),
        (
            {"name": "X", "districts": [{"collection": "d", "population_property": "population"}]},
            r"districts\[0\].population_property: 'population' must hold \{year\} once",
        ),
        (
            {"name": "X", "districts": [{"collection": "d"}, {"collection": "d"}]},
            r"districts\[1\].collection: 'd' is named twice",
        ),
        ({"name": "X", "districts": [{"collection": "d", "label": {"fr": "x"}}]}, "unknown language fr"),
        ({"name": "X", "region": "Saxony"}, "region: 'Saxony'; give an ISO 3166-2 code"),
        ({"name": "X", "region": "DE-XX"}, "region: 'DE-XX' is not a subdivision of DE .*DE-SN"),
        ({"name": "X", "region": "QQ"}, "region: 'QQ': no public holidays are known"),
        ({"name": "X", "site": [12.3]}, r"site: expected \[longitude, latitude\]"),
        ({"name": "X", "site": [12.3, 95.0]}, "site: .* is not a longitude and latitude"),
        ({"name": "X", "site": [12.3, 51.3, 20000]}, "site: altitude 20000.0 m"),
        (
            {"name": "X", "extent": [12.0, 51.0, 13.0, 52.0], "site": [51.3, 12.3]},
            r"site: \[51.3, 12.3\] lies outside the extent",
        ),
    ],
)
def test_a_profile_that_cannot_be_used_is_refused_naming_the_key(document: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(document)


def test_a_file_that_is_not_a_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the profile"):
        load_profile(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("[city\nname=", encoding="utf-8")
    with pytest.raises(ProfileError, match="not a TOML file"):
        load_profile(tmp_path / "broken.toml")
    (tmp_path / "flat.toml").write_text('name = "X"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match=r"no \[city\] table"):
        load_profile(tmp_path / "flat.toml")


def test_a_profile_is_plain_data() -> None:
    assert isinstance(parse_profile({"name": "X"}), CityProfile)
