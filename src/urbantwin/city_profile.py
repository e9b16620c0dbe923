"""A city's profile: what makes a platform one city's, in one TOML file.

The code knows no city. What differs from one city to the next is written in a profile: its name and
languages, where it lies, the CRSs its data officers work in (served by the OGC API beside the
world's), which feature collections are its districts and which of their properties hold names and
population per year, how its data is attributed, who publishes it in the catalogue, its time
zone, the region whose public holidays its calendar keeps, and the site the sun's path is computed
for (the energy model's PV). `urbantwin city init PROFILE` stores the profile in the platform's
store (`store/city.py`); the server reads it at start, and the viewer, the catalogue, the OGC API,
the district statistics and the energy model follow it. docs/new-city.md walks through writing one.

Parsing is strict: an unknown key, a CRS pyproj does not know, a time zone that is not an IANA name
a population pattern without its year, a region the holiday calendars do not know or a site
outside the extent each raise `ProfileError` naming the key, since a profile
that is silently half-read would give a platform that is silently half the city's.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pyproj import CRS
from pyproj.exceptions import CRSError

from urbantwin.errors import BadRequest
from urbantwin.texts import LANGUAGES

#: The CRSs served for every city: the world's (GeoJSON's CRS84, EPSG:4326 and web maps' 3857).
WORLD_CRS = ("OGC:CRS84", "EPSG:4326", "EPSG:3857")
#: The time zone of a profile that names none (the platform's first users are German cities).
DEFAULT_TIME_ZONE = "Europe/Berlin"
#: The holiday region of a profile that names none: Germany's national public holidays only.
DEFAULT_REGION = "DE"
#: How a population property is named: `{year}` stands for the four digits of the year.
YEAR = "{year}"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_REGION = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$")


class ProfileError(BadRequest):
    """A profile that cannot be used as it is; the message names the key and the problem."""


@dataclass(frozen=True)
class Publisher:
    """The organisation that publishes the city's data in the catalogue (`dct:publisher`)."""

    id: str
    title: str
    #: An organisation kind (`local-authority`, `regional-authority`, …), mapped to an ADMS
    #: publisher type by the catalogue.
    kind: str = "local-authority"
    homepage: str = ""
    email: str = ""


@dataclass(frozen=True)
class Districts:
    """A feature collection whose polygons are the city's districts, and how to read them."""

    collection: str
    #: The property that holds a district's name.
    name_property: str = "name"
    #: The properties that hold the population per year, `{year}` standing for the year
    #: (`population_{year}` reads `population_2023`); empty: the districts carry no population.
    population_property: str = ""
    #: What the collection is called, per language (`Stadtteile`, `Districts`).
    label: dict[str, str] = field(default_factory=dict)

    def population_year(self, key: str) -> int | None:
        """The year of a population property's name, None for any other property."""
        if not self.population_property:
            return None
        prefix, _, suffix = self.population_property.partition(YEAR)
        if key.startswith(prefix) and key.endswith(suffix):
            middle = key[len(prefix) : len(key) - len(suffix)]
            if len(middle) == 4 and middle.isdigit():
                return int(middle)
        return None

    def population_key(self, year: int) -> str:
        return self.population_property.replace(YEAR, f"{year:04d}")


@dataclass(frozen=True)
class CityProfile:
    id: str
    name: str
    languages: tuple[str, ...] = LANGUAGES
    #: The IANA time zone the city's clocks and calendars are in (days, months, local times).
    time_zone: str = DEFAULT_TIME_ZONE
    #: Where the city lies, as a WGS 84 box (west, south, east, north): the viewer's first view.
    extent: tuple[float, float, float, float] | None = None
    #: The city's own CRSs (`EPSG:25832`), its first the one its data officers work in; served by
    #: the OGC API after CRS84 and before the world's others.
    crs: tuple[str, ...] = ()
    #: The attribution the viewer shows under the map.
    attribution: str = ""
    publisher: Publisher | None = None
    districts: tuple[Districts, ...] = ()
    #: Where the city's public holidays are kept: an ISO 3166-2 subdivision (`DE-SN`, `DE-BY`) or a
    #: country (`DE`: its national holidays only); the energy model's load profiles read them.
    region: str = DEFAULT_REGION
    #: The city's reference point as (longitude, latitude, altitude in metres): where the energy
    #: model computes the sun's path. None: the centre of `extent` at altitude 0 (see `site_point`).
    site: tuple[float, float, float] | None = None

    def served_crs(self) -> tuple[str, ...]:
        """Every CRS the OGC API offers: CRS84 first, then the city's own, then the world's."""
        own = [c for c in self.crs if c not in WORLD_CRS]
        return (WORLD_CRS[0], *own, *WORLD_CRS[1:])

    def site_point(self) -> tuple[float, float, float] | None:
        """(longitude, latitude, altitude m) of the site, else the centre of the extent at altitude 0
        (an assumption `site_note` says), else None."""
        if self.site is not None:
            return self.site
        if self.extent is not None:
            west, south, east, north = self.extent
            return ((west + east) / 2, (south + north) / 2, 0.0)
        return None

    def site_note(self) -> str:
        """Where `site_point` comes from, for the outputs that use it."""
        if self.site is not None:
            return "the city profile's site"
        if self.extent is not None:
            return "the centre of the profile's extent at altitude 0 m (assumed: the profile gives no site)"
        return "none: the city profile gives neither site nor extent"

    def districts_of(self, collection: str) -> Districts | None:
        return next((d for d in self.districts if d.collection == collection), None)

    def to_document(self) -> dict[str, Any]:
        """The profile as plain data (JSON), which `parse_profile` reads back to an equal profile."""
        document = asdict(self)
        document["languages"] = list(self.languages)
        document["crs"] = list(self.crs)
        document["extent"] = list(self.extent) if self.extent else None
        document["districts"] = [asdict(d) for d in self.districts]
        document["site"] = list(self.site) if self.site else None
        return document


#: The profile of a platform that has none yet: no city's name, the world's CRSs only.
NO_CITY = CityProfile(id="city", name="")


def load_profile(path: Path) -> CityProfile:
    """The profile in a TOML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProfileError(f"{path}: cannot read the profile ({error.strerror or error})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: not a TOML file ({error})") from None
    return parse_profile(_flatten(document), source=str(path))


def _flatten(document: dict[str, Any]) -> dict[str, Any]:
    """A TOML profile's `[city]` table holds the top-level keys; the stored form has them at the top."""
    city = document.get("city")
    if not isinstance(city, dict):
        raise ProfileError("the profile has no [city] table (name, id, languages, …)")
    rest = {key: value for key, value in document.items() if key != "city"}
    clash = sorted(set(city) & set(rest))
    if clash:
        raise ProfileError(f"{', '.join(clash)}: given both inside and outside [city]")
    return {**city, **rest}


_TOP_KEYS = {
    "id",
    "name",
    "languages",
    "time_zone",
    "extent",
    "crs",
    "attribution",
    "publisher",
    "districts",
    "region",
    "site",
}


def parse_profile(document: dict[str, Any], source: str = "profile") -> CityProfile:
    """A profile from plain data (a TOML file's tables, or what the store keeps)."""
    _no_unknown(document, _TOP_KEYS, "")
    name = _text(document, "name", required=True)
    city_id = _text(document, "id") or _slug(name)
    if not _ID.match(city_id):
        raise ProfileError(f"id: {city_id!r} is not a short id (lower-case letters, digits and '-')")
    languages = tuple(_list(document, "languages", default=list(LANGUAGES)))
    unknown_languages = [lang for lang in languages if lang not in LANGUAGES]
    if not languages or unknown_languages:
        raise ProfileError(
            f"languages: {', '.join(map(repr, unknown_languages)) or 'none given'}; "
            f"the platform speaks {', '.join(LANGUAGES)}"
        )
    time_zone = _text(document, "time_zone") or DEFAULT_TIME_ZONE
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(
            f"time_zone: {time_zone!r} is not an IANA time zone (e.g. Europe/Berlin)"
        ) from None
    extent = _extent(document.get("extent"))
    return CityProfile(
        id=city_id,
        name=name,
        languages=languages,
        time_zone=time_zone,
        extent=extent,
        crs=tuple(_crs(code) for code in _list(document, "crs", default=[])),
        attribution=_text(document, "attribution"),
        publisher=_publisher(document.get("publisher"), city_id, name),
        districts=_districts(document.get("districts")),
        region=_region(_text(document, "region") or DEFAULT_REGION),
        site=_site(document.get("site"), extent),
    )


def _no_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ProfileError(
            f"{where}{', '.join(unknown)}: unknown key{'s' if len(unknown) > 1 else ''}; "
            f"known are {', '.join(sorted(known))}"
        )


def _text(table: dict[str, Any], key: str, where: str = "", required: bool = False) -> str:
    value = table.get(key)
    if value is None or value == "":
        if required:
            raise ProfileError(f"{where}{key}: required")
        return ""
    if not isinstance(value, str):
        raise ProfileError(f"{where}{key}: expected text, got {type(value).__name__}")
    return value.strip()


def _list(table: dict[str, Any], key: str, default: list[Any]) -> list[Any]:
    value = table.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProfileError(f"{key}: expected a list of text")
    return value


def _slug(name: str) -> str:
    umlauts: dict[str, str | int | None] = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
    plain = name.lower().translate(str.maketrans(umlauts))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:63] or "city"


def _extent(value: Any) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ProfileError("extent: expected [west, south, east, north] in degrees (WGS 84)")
    west, south, east, north = (float(v) for v in value)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ProfileError(
            f"extent: [{west}, {south}, {east}, {north}] is not a box of longitudes and latitudes "
            "(west < east within ±180, south < north within ±90)"
        )
    return (west, south, east, north)


def _region(code: str) -> str:
    """An ISO 3166-2 code (`DE-SN`) or a country (`DE`) the holiday calendars (`holidays`) know."""
    import holidays

    match = _REGION.match(code)
    if not match:
        raise ProfileError(
            f"region: {code!r}; give an ISO 3166-2 code of the city's state or country "
            "(e.g. DE-SN, DE-BY, DE)"
        )
    country, subdivision = match.groups()
    known = holidays.list_supported_countries()
    if country not in known:
        raise ProfileError(f"region: {code!r}: no public holidays are known for the country {country}")
    if subdivision and subdivision not in known[country]:
        raise ProfileError(
            f"region: {code!r} is not a subdivision of {country} the holiday calendars know "
            f"(known: {', '.join(f'{country}-{s}' for s in known[country])})"
        )
    return code


def _site(value: Any, extent: tuple[float, float, float, float] | None) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) not in (2, 3)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ProfileError(
            "site: expected [longitude, latitude] or [longitude, latitude, altitude_m] (WGS 84)"
        )
    lon, lat = float(value[0]), float(value[1])
    altitude = float(value[2]) if len(value) == 3 else 0.0
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ProfileError(f"site: [{lon}, {lat}] is not a longitude and latitude (longitude first)")
    if not -500 <= altitude <= 9000:
        raise ProfileError(f"site: altitude {altitude} m is not an altitude on land (-500 to 9000 m)")
    if extent is not None:
        west, south, east, north = extent
        if not (west <= lon <= east and south <= lat <= north):
            raise ProfileError(
                f"site: [{lon}, {lat}] lies outside the extent [{west}, {south}, {east}, {north}] "
                "(longitude first)"
            )
    return (lon, lat, altitude)


def _crs(code: str) -> str:
    """`EPSG:25832` as given, once pyproj knows it; other spellings are refused so the served list
    reads the same everywhere."""
    text = code.strip().upper()
    if text in ("CRS84", "OGC:CRS84"):
        return "OGC:CRS84"
    if not re.fullmatch(r"EPSG:\d{1,9}", text):
        raise ProfileError(f"crs: {code!r}; give EPSG codes as EPSG:<number> (e.g. EPSG:25832)")
    try:
        CRS.from_user_input(text)
    except CRSError:
        raise ProfileError(
            f"crs: {code!r} is not a CRS the platform knows (pyproj's EPSG database)"
        ) from None
    return text


def _publisher(value: Any, city_id: str, name: str) -> Publisher | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProfileError("publisher: expected a table (id, title, kind, homepage, email)")
    _no_unknown(value, {"id", "title", "kind", "homepage", "email"}, "publisher.")
    publisher_id = _text(value, "id", "publisher.") or city_id
    if not _ID.match(publisher_id):
        raise ProfileError(
            f"publisher.id: {publisher_id!r} is not a short id (lower-case letters, digits, '-')"
        )
    email = _text(value, "email", "publisher.")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ProfileError(f"publisher.email: {email!r} is not an e-mail address")
    homepage = _text(value, "homepage", "publisher.")
    if homepage and not re.match(r"^https?://\S+$", homepage):
        raise ProfileError(f"publisher.homepage: {homepage!r} is not an http(s) address")
    return Publisher(
        id=publisher_id,
        title=_text(value, "title", "publisher.") or name,
        kind=_text(value, "kind", "publisher.") or "local-authority",
        homepage=homepage,
        email=email,
    )


def _districts(value: Any) -> tuple[Districts, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ProfileError("districts: expected a list of tables ([[districts]])")
    out: list[Districts] = []
    for i, table in enumerate(value):
        where = f"districts[{i}]."
        _no_unknown(table, {"collection", "name_property", "population_property", "label"}, where)
        collection = _text(table, "collection", where, required=True)
        name_property = _text(table, "name_property", where) or "name"
        population = _text(table, "population_property", where)
        for key, text in (
            ("name_property", name_property),
            ("population_property", population.replace(YEAR, "")),
        ):
            if text and not _PROPERTY.match(text):
                raise ProfileError(f"{where}{key}: {text!r} is not a property name")
        if population and population.count(YEAR) != 1:
            raise ProfileError(
                f"{where}population_property: {population!r} must hold {YEAR} once, where the year stands "
                "(e.g. population_{year})"
            )
        label = table.get("label", {})
        if isinstance(label, str):
            label = {language: label for language in LANGUAGES}
        if not isinstance(label, dict) or not all(isinstance(v, str) for v in label.values()):
            raise ProfileError(
                f'{where}label: expected text per language, e.g. {{ de = "Stadtteile", en = "Districts" }}'
            )
        unknown = sorted(set(label) - set(LANGUAGES))
        if unknown:
            raise ProfileError(f"{where}label: unknown language {', '.join(unknown)}")
        if any(d.collection == collection for d in out):
            raise ProfileError(f"{where}collection: {collection!r} is named twice")
        out.append(Districts(collection, name_property, population, dict(label)))
    return tuple(out)
