"""A portfolio project as data: the document the import takes and the API shows, checked here.

A project says only what its sources say: every field but `id`, `title` and `status` may be null
or absent, and absent figures are never filled in (a funding overview counts the projects that give
no figure instead of treating them as zero). Amounts are euros; `funding.approximate` names the
figures the source gives as "about" (rund).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import shapely

from urbantwin.errors import BadRequest
from urbantwin.geometry import GeometryError, check_geometry, from_geojson
from urbantwin.texts import LANGUAGES

#: Where a project stands.
STATUSES = ("concept", "planned", "in_development", "running", "completed")
#: The funding figures of a project, in euros: the whole budget, the EU's share, the share of the
#: consortium the city belongs to, and the city's own.
FIGURES = ("total", "eu", "consortium", "city")
#: Texts given per language.
MAX_TEXT = 4000
MAX_ITEMS = 200
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_MAILBOX = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[a-z]{2,}$", re.IGNORECASE)
_FIELDS = {
    "id",
    "title",
    "summary",
    "programme",
    "funder",
    "period",
    "status",
    "city_role",
    "consortium",
    "partners",
    "funding",
    "area",
    "contact",
    "links",
    "datasets",
    "scenario_runs",
}


def check_project(document: Any) -> dict[str, Any]:
    """The project `document`, checked and normalised; BadRequest naming the first problem."""
    if not isinstance(document, dict):
        raise BadRequest("a project must be a JSON object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise BadRequest(f"unknown project field {unknown[0]!r}; known: {', '.join(sorted(_FIELDS))}")
    ident = document.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise BadRequest("id must be 1-64 lower-case letters, digits, '_' or '-'")
    where = f"project {ident!r}"
    status = document.get("status")
    if status not in STATUSES:
        raise BadRequest(f"{where}: status must be one of {', '.join(STATUSES)}")
    project: dict[str, Any] = {
        "id": ident,
        "title": _texts(document.get("title"), f"{where}: title", required=True),
        "summary": _texts(document.get("summary"), f"{where}: summary"),
        "programme": _text(document.get("programme"), f"{where}: programme"),
        "funder": _text(document.get("funder"), f"{where}: funder"),
        "period": _period(document.get("period"), where),
        "status": status,
        "city_role": _text(document.get("city_role"), f"{where}: city_role"),
        "consortium": _counts(document.get("consortium"), where),
        "partners": _partners(document.get("partners"), where),
        "funding": _funding(document.get("funding"), where),
        "area": _area(document.get("area"), where),
        "contact": _mailbox(document.get("contact"), where),
        "links": _strings(document.get("links"), f"{where}: links"),
        "datasets": _strings(document.get("datasets"), f"{where}: datasets"),
        "scenario_runs": _strings(document.get("scenario_runs"), f"{where}: scenario_runs"),
    }
    for link in project["links"]:
        if not link.startswith(("https://", "http://")):
            raise BadRequest(f"{where}: links must be http(s) URLs, not {link[:80]!r}")
    return project


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{what} must be a non-empty string or null")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise BadRequest(f"{what} is longer than {MAX_TEXT} characters or holds a NUL character")
    return value.strip()


def _texts(value: Any, what: str, required: bool = False) -> dict[str, str] | None:
    if value is None and not required:
        return None
    if not isinstance(value, dict) or not value:
        raise BadRequest(f"{what} must be an object of texts by language ({', '.join(LANGUAGES)})")
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise BadRequest(f"{what}: unknown language {unknown[0]!r}; known: {', '.join(LANGUAGES)}")
    texts = {language: _text(text, f"{what}.{language}") for language, text in value.items()}
    return {language: text for language, text in texts.items() if text is not None}


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise BadRequest(f"{what} must be an array of at most {MAX_ITEMS} strings")
    return [text for item in value if (text := _text(item, what)) is not None]


def _period(value: Any, where: str) -> dict[str, str | None]:
    value = value or {}
    if not isinstance(value, dict) or set(value) - {"start", "end"}:
        raise BadRequest(f"{where}: period must be an object with start and end (ISO year or date, or null)")
    period: dict[str, str | None] = {}
    for key in ("start", "end"):
        given = value.get(key)
        if given is not None and (
            not isinstance(given, str) or not re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", given)
        ):
            raise BadRequest(f"{where}: period.{key} must be a year, a year-month or a date, not {given!r}")
        period[key] = given
    return period


def _counts(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"partners", "countries", "cities"}:
        raise BadRequest(f"{where}: consortium must be an object of partners, countries and cities")
    for key, count in value.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise BadRequest(f"{where}: consortium.{key} must be a count")
    return dict(value)


def _partners(value: Any, where: str) -> list[dict[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise BadRequest(f"{where}: partners must be an array of at most {MAX_ITEMS} objects")
    partners = []
    for index, partner in enumerate(value):
        if not isinstance(partner, dict) or set(partner) - {"name", "role"}:
            raise BadRequest(f"{where}: partners[{index}] must be an object with name and role")
        name = _text(partner.get("name"), f"{where}: partners[{index}].name")
        if name is None:
            raise BadRequest(f"{where}: partners[{index}] needs a name")
        partners.append(
            {"name": name, "role": _text(partner.get("role"), f"{where}: partners[{index}].role")}
        )
    return partners


def _funding(value: Any, where: str) -> dict[str, Any]:
    value = value or {}
    known = {*FIGURES, "approximate", "sources"}
    if not isinstance(value, dict) or set(value) - known:
        raise BadRequest(f"{where}: funding takes {', '.join(sorted(known))}")
    funding: dict[str, Any] = {}
    for figure in FIGURES:
        amount = value.get(figure)
        if amount is not None and (
            not isinstance(amount, int | float) or isinstance(amount, bool) or not 0 <= amount < 1e13
        ):
            raise BadRequest(f"{where}: funding.{figure} must be an amount in euros (0 or more)")
        funding[figure] = amount
    approximate = _strings(value.get("approximate"), f"{where}: funding.approximate")
    if set(approximate) - set(FIGURES):
        raise BadRequest(f"{where}: funding.approximate names figures: {', '.join(FIGURES)}")
    funding["approximate"] = approximate
    funding["sources"] = _strings(value.get("sources"), f"{where}: funding.sources")
    return funding


def _area(value: Any, where: str) -> dict[str, Any]:
    value = value or {}
    known = {"citywide", "districts", "description", "geometry"}
    if not isinstance(value, dict) or set(value) - known:
        raise BadRequest(f"{where}: area takes {', '.join(sorted(known))}")
    area: dict[str, Any] = {
        "citywide": bool(value.get("citywide", False)),
        "districts": _strings(value.get("districts"), f"{where}: area.districts"),
        "description": _texts(value.get("description"), f"{where}: area.description"),
        "geometry": None,
    }
    if value.get("geometry") is not None:
        try:
            geometry = from_geojson(value["geometry"])
            check_geometry(geometry)
        except GeometryError as error:
            raise BadRequest(f"{where}: area.geometry: {error}") from None
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise BadRequest(f"{where}: area.geometry must be a Polygon or MultiPolygon")
        area["geometry"] = orjson.loads(shapely.to_geojson(geometry))
    return area


def _mailbox(value: Any, where: str) -> str | None:
    """A project's contact: a functional mailbox of the department (no person's name is kept)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _MAILBOX.match(value):
        raise BadRequest(f"{where}: contact must be an e-mail address")
    return value
