"""The Digitalcampus service: offers and events, searched and filtered, one by one, as iCalendar,
and changed by the writers of the campus's catalogue dataset. Knows no HTTP.

iCalendar is written with the `icalendar` library (RFC 5545: line folding, escaping, UTC times),
not by hand. Every event gets a stable UID (`<id>@<host>`), so a calendar that subscribes updates
its entries instead of duplicating them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import icalendar
from sqlalchemy import Connection, Engine, delete, select

from urbantwin.access.datasets import create_dataset_unless_exists
from urbantwin.access.gate import Access, Caller
from urbantwin.campus.events import AGES, EXPERIENCE, FORMATS, KINDS, check_event, is_published
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.engine import for_writes
from urbantwin.store.participation_schema import campus_events
from urbantwin.times import parse_instant

API = "campus"
DATASET = "campus"
MAX_Q = 200
#: Where the web app shows one event (relative to the server's root); `calendar` links to it.
EVENT_PAGE = "participate/campus/events/{ident}"


def ensure_dataset(connection: Connection) -> None:
    """The campus calendar's catalogue record, created open unless it exists."""
    create_dataset_unless_exists(
        connection,
        DATASET,
        title="Digital campus: offers and events",
        description="Offers and events of digital education and the digital festival: format, "
        "audience by age and experience, date and place, organiser, registration (API: "
        "/api/campus/events, iCalendar: /api/campus/events.ics).",
        access_level="open",
        themes=["EDUC"],
        keywords=["digital education", "events", "iCalendar"],
        licence="cc-by/4.0",
    )


class CampusService:
    def __init__(self, engine: Engine, access: Access) -> None:
        self.engine = engine
        self.access = access

    def events(
        self,
        caller: Caller,
        *,
        q: str | None = None,
        kind: str | None = None,
        format: str | None = None,
        age: str | None = None,
        experience: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> list[dict[str, Any]]:
        """Offers and events, soonest first (offers without a date last), filtered: `q` in title or
        description, a kind, a format, an age group and an experience they are for, and a time range
        they meet. Drafts only for the campus dataset's writers."""
        for name, value, known in (
            ("kind", kind, KINDS),
            ("format", format, FORMATS),
            ("age", age, AGES),
            ("experience", experience, EXPERIENCE),
        ):
            if value is not None and value not in known:
                raise BadRequest(f"{name} must be one of {', '.join(known)}")
        if q is not None and len(q) > MAX_Q:
            raise BadRequest(f"q must have at most {MAX_Q} characters")
        since = parse_instant(start, "start") if start else None
        until = parse_instant(end, "end") if end else None
        with self.engine.connect() as connection:
            self.access.require_readable(caller, DATASET, "campus calendar", API, connection)
            query = select(campus_events.c.document)
            if since is not None:
                query = query.where(
                    (campus_events.c.end >= since)
                    | (campus_events.c.start >= since)
                    | campus_events.c.start.is_(None)
                )
            if until is not None:
                query = query.where((campus_events.c.start <= until) | campus_events.c.start.is_(None))
            documents = list(connection.execute(query).scalars())
            drafts = self.access.may_write(caller, connection, DATASET)
        words = (q or "").casefold().split()
        found = [
            document
            for document in documents
            if (drafts or is_published(document))
            and (kind is None or document["kind"] == kind)
            and (format is None or document["format"] == format)
            and (age is None or age in document["ages"])
            and (experience is None or experience in document["experience"])
            and all(word in _searchable(document) for word in words)
        ]
        return sorted(found, key=lambda d: (d["start"] is None, d["start"] or "", d["id"]))

    def event(self, caller: Caller, ident: str) -> dict[str, Any]:
        """One offer or event; NotFound for an unknown one, and for a draft unless the caller writes
        the calendar (the public cannot tell a draft from an unknown id)."""
        with self.engine.connect() as connection:
            self.access.require_readable(caller, DATASET, "campus calendar", API, connection)
            document = connection.execute(
                select(campus_events.c.document).where(campus_events.c.id == ident)
            ).scalar()
            drafts = document is not None and self.access.may_write(caller, connection, DATASET)
        if document is None or not (is_published(document) or drafts):
            raise NotFound(f"no campus event {ident[:100]!r}")
        return {"published": True, **document}

    def put(self, caller: Caller, ident: str, document: Any) -> dict[str, Any]:
        self.access.require_writer(caller, "changing the campus calendar")
        event = check_event(document)
        if event["id"] != ident:
            raise BadRequest(f"the body's id {event['id']!r} is not the event's id {ident[:100]!r}")
        with for_writes(self.engine).begin() as connection:
            ensure_dataset(connection)
            self.access.authorize_write(caller, connection, DATASET)
            connection.execute(delete(campus_events).where(campus_events.c.id == ident))
            connection.execute(
                campus_events.insert().values(
                    id=ident,
                    document=event,
                    start=parse_instant(event["start"], "start") if event["start"] else None,
                    end=parse_instant(event["end"], "end") if event["end"] else None,
                    updated=datetime.now(UTC),
                )
            )
            self.access.audit.write(
                connection,
                caller.principal,
                "update",
                API,
                dataset_id=DATASET,
                target=f"campus event {ident}",
            )
        return event

    def delete(self, caller: Caller, ident: str) -> None:
        self.access.require_writer(caller, "changing the campus calendar")
        with for_writes(self.engine).begin() as connection:
            self.access.authorize_write(caller, connection, DATASET)
            if connection.execute(delete(campus_events).where(campus_events.c.id == ident)).rowcount == 0:
                raise NotFound(f"no campus event {ident[:100]!r}")
            self.access.audit.write(
                connection,
                caller.principal,
                "delete",
                API,
                dataset_id=DATASET,
                target=f"campus event {ident}",
            )


def calendar(events: list[dict[str, Any]], host: str, language: str = "de", base_url: str = "") -> bytes:
    """The dated events as an iCalendar (RFC 5545) document; offers without a date are left out. An
    event's URL is its registration, else its page in the web app."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//urbantwin//campus//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Digitalcampus")
    stamp = datetime.now(UTC)
    for event in events:
        if event["start"] is None:
            continue
        entry = icalendar.Event()
        entry.add("uid", f"{event['id']}@{host}")
        entry.add("dtstamp", stamp)
        entry.add("dtstart", parse_instant(event["start"], "start"))
        if event["end"]:
            entry.add("dtend", parse_instant(event["end"], "end"))
        entry.add("summary", _in(event["title"], language))
        description = _in(event["description"], language)
        if event["registration"]:
            description = f"{description}\n\n{event['registration']}".strip()
        if description:
            entry.add("description", description)
        place = event["place"] or {}
        where = ", ".join(part for part in (place.get("name"), place.get("address")) if part)
        if where or place.get("online"):
            entry.add("location", where or place["online"])
        if place.get("geometry"):
            lon, lat = place["geometry"]["coordinates"][:2]
            entry.add("geo", (lat, lon))
        if event["organiser"]:
            entry.add("organizer", f"urn:organiser:{event['id']}", parameters={"cn": event["organiser"]})
        entry.add("categories", [event["format"]])
        if event["registration"]:
            entry.add("url", event["registration"])
        elif base_url:
            entry.add("url", f"{base_url}/{EVENT_PAGE.format(ident=event['id'])}")
        cal.add_component(entry)
    return cal.to_ical()


def _in(texts: dict[str, str] | None, language: str) -> str:
    if not texts:
        return ""
    return texts.get(language) or next(iter(texts.values()))


def _searchable(document: dict[str, Any]) -> str:
    parts = [*(document["title"] or {}).values(), *(document["description"] or {}).values()]
    parts += [document.get("organiser") or "", (document.get("place") or {}).get("name") or ""]
    return " ".join(parts).casefold()
