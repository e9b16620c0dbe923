"""A campus offer or event as data: the document the API takes and shows, checked here.

An event is `published` unless its writers keep it a draft (`"published": false`): a draft is
seen by the campus dataset's writers only, everyone else is told there is no such event.

`kind` says whether it is an event (with a start, and an end) or an offer without a date (a course
one books at any time). The audience is given by age group and by experience — the festival's "from
young to old, beginners to experts" — so a reader filters for what fits them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import shapely

from urbantwin.errors import BadRequest
from urbantwin.geometry import GeometryError, check_geometry, from_geojson
from urbantwin.times import format_instant, parse_instant

KINDS = ("event", "offer")
FORMATS = ("workshop", "talk", "course", "festival", "hackathon", "exhibition", "meetup", "online")
AGES = ("children", "youth", "adults", "seniors")
EXPERIENCE = ("beginner", "intermediate", "expert")
LANGUAGES = ("de", "en")
MAX_TEXT = 4000
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FIELDS = {
    "id",
    "kind",
    "title",
    "description",
    "format",
    "ages",
    "experience",
    "start",
    "end",
    "place",
    "organiser",
    "registration",
    "series",
    "synthetic",
    "published",
}


def check_event(document: Any) -> dict[str, Any]:
    """The event `document`, checked and normalised (times as ISO 8601 UTC); BadRequest naming the
    first problem."""
    if not isinstance(document, dict):
        raise BadRequest("an event must be a JSON object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise BadRequest(f"unknown event field {unknown[0][:60]!r}; known: {', '.join(sorted(_FIELDS))}")
    ident = document.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise BadRequest("id must be 1-64 lower-case letters, digits, '_' or '-'")
    kind = document.get("kind", "event")
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    if document.get("format") not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    start = document.get("start")
    end = document.get("end")
    if kind == "event" and start is None:
        raise BadRequest("an event needs a start (an offer without a date is of kind 'offer')")
    start_time = parse_instant(start, "start") if start is not None else None
    end_time = parse_instant(end, "end") if end is not None else None
    if end_time is not None and (start_time is None or end_time < start_time):
        raise BadRequest("end must not be before start (and needs one)")
    registration = document.get("registration")
    if registration is not None and (
        not isinstance(registration, str) or not registration.startswith(("https://", "http://"))
    ):
        raise BadRequest("registration must be an http(s) link")
    return {
        "id": ident,
        "kind": kind,
        "title": _texts(document.get("title"), "title", required=True),
        "description": _texts(document.get("description"), "description"),
        "format": document["format"],
        "ages": _choices(document.get("ages"), "ages", AGES),
        "experience": _choices(document.get("experience"), "experience", EXPERIENCE),
        "start": format_instant(start_time) if start_time else None,
        "end": format_instant(end_time) if end_time else None,
        "place": _place(document.get("place")),
        "organiser": _text(document.get("organiser"), "organiser"),
        "registration": registration,
        "series": _text(document.get("series"), "series"),
        "synthetic": bool(document.get("synthetic", False)),
        "published": _flag(document.get("published", True), "published"),
    }


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{what} must be true or false")
    return value


def is_published(document: dict[str, Any]) -> bool:
    """Whether the public sees the event (documents stored before drafts existed are published)."""
    return bool(document.get("published", True))


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT or "\x00" in value:
        raise BadRequest(f"{what} must be a non-empty text of at most {MAX_TEXT} characters")
    return value.strip()


def _texts(value: Any, what: str, required: bool = False) -> dict[str, str] | None:
    if value is None and not required:
        return None
    if not isinstance(value, dict) or not value or set(value) - set(LANGUAGES):
        raise BadRequest(f"{what} must be an object of texts by language ({', '.join(LANGUAGES)})")
    return {language: str(_text(text, f"{what}.{language}")) for language, text in value.items()}


def _choices(value: Any, what: str, known: tuple[str, ...]) -> list[str]:
    """The chosen values of `known`; none given means everyone (all of them)."""
    if value is None or value == []:
        return list(known)
    if not isinstance(value, list) or set(value) - set(known):
        raise BadRequest(f"{what} must be an array of {', '.join(known)}")
    return [item for item in known if item in value]


def _place(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"name", "address", "geometry", "online"}:
        raise BadRequest("place takes name, address, geometry (a GeoJSON Point) and online (a link)")
    place: dict[str, Any] = {
        "name": _text(value.get("name"), "place.name"),
        "address": _text(value.get("address"), "place.address"),
        "online": _text(value.get("online"), "place.online"),
        "geometry": None,
    }
    if value.get("geometry") is not None:
        try:
            geometry = from_geojson(value["geometry"])
            check_geometry(geometry)
        except GeometryError as error:
            raise BadRequest(f"place.geometry: {error}") from None
        if geometry.geom_type != "Point":
            raise BadRequest("place.geometry must be a GeoJSON Point")
        place["geometry"] = orjson.loads(shapely.to_geojson(geometry))
    return place
