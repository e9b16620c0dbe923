"""The Digitalcampus over HTTP: events in, searched and filtered, one page each, and the calendar
out as iCalendar that a calendar program reads back."""

from __future__ import annotations

from typing import Any

import icalendar
from fastapi.testclient import TestClient


def event(ident: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "kind": "event",
        "title": {"de": f"Werkstatt {ident}", "en": f"Workshop {ident}"},
        "description": {"de": "Programmieren mit Sensoren", "en": "Coding with sensors"},
        "format": "workshop",
        "ages": ["youth"],
        "experience": ["beginner"],
        "start": "2027-05-20T14:00:00Z",
        "end": "2027-05-20T16:00:00Z",
        "place": {
            "name": "City library",
            "address": "Square 1",
            "geometry": {"type": "Point", "coordinates": [12.37, 51.34]},
        },
        "organiser": "Digital-city department",
        "registration": "https://example.org/register",
        "synthetic": True,
        **changes,
    }


def test_events_are_found_by_words_format_audience_and_time(
    client: TestClient, anonymous: TestClient
) -> None:
    client.put("/api/campus/events/a", json=event("a"))
    client.put(
        "/api/campus/events/b",
        json=event(
            "b",
            format="talk",
            ages=["seniors"],
            experience=["expert"],
            start="2027-06-01T10:00:00Z",
            end=None,
        ),
    )
    client.put(
        "/api/campus/events/c",
        json=event(
            "c",
            kind="offer",
            start=None,
            end=None,
            format="course",
            description={"en": "A course on open data"},
        ),
    )

    def ids(**params: str) -> list[str]:
        return [e["id"] for e in anonymous.get("/api/campus/events", params=params).json()["events"]]

    assert ids() == ["a", "b", "c"]  # soonest first, offers without a date last
    assert ids(format="talk") == ["b"]
    assert ids(age="seniors") == ["b"]
    assert ids(experience="beginner") == ["a", "c"]
    assert ids(q="open data") == ["c"]
    assert ids(start="2027-05-25T00:00:00Z", kind="event") == ["b"]
    assert ids(end="2027-05-21T00:00:00Z") == ["a", "c"]
    bad = anonymous.get("/api/campus/events", params={"age": "toddlers"})
    assert bad.status_code == 400 and "age" in bad.json()["message"]


def test_the_calendar_exports_to_icalendar(client: TestClient, anonymous: TestClient) -> None:
    client.put("/api/campus/events/a", json=event("a"))
    client.put("/api/campus/events/c", json=event("c", kind="offer", start=None, end=None))
    answer = anonymous.get("/api/campus/events.ics", params={"lang": "en"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    parsed = icalendar.Calendar.from_ical(answer.content)
    (entry,) = parsed.walk("VEVENT")  # the offer has no date: not in the calendar
    assert str(entry["summary"]) == "Workshop a"
    assert entry["uid"] == "a@testserver"
    assert entry.decoded("dtstart").isoformat() == "2027-05-20T14:00:00+00:00"
    assert str(entry["location"]) == "City library, Square 1"
    assert str(entry["url"]) == "https://example.org/register"
    german = icalendar.Calendar.from_ical(anonymous.get("/api/campus/events/a/ics").content)
    assert [str(e["summary"]) for e in german.walk("VEVENT")] == ["Werkstatt a"]


def test_one_event_and_its_changes(client: TestClient, anonymous: TestClient) -> None:
    assert anonymous.put("/api/campus/events/a", json=event("a")).status_code == 401
    assert client.put("/api/campus/events/a", json=event("a")).status_code == 200
    shown = anonymous.get("/api/campus/events/a").json()
    assert shown["place"]["geometry"] == {"type": "Point", "coordinates": [12.37, 51.34]}
    assert shown["ages"] == ["youth"]
    assert client.delete("/api/campus/events/a").status_code == 204
    assert anonymous.get("/api/campus/events/a").status_code == 404


def test_a_bad_event_is_refused_naming_the_field(client: TestClient) -> None:
    for bad, named in (
        (event("a", format="party"), "format"),
        (event("a", start=None), "start"),
        (event("a", end="2027-05-19T00:00:00Z"), "end"),
        (event("a", registration="javascript:alert(1)"), "registration"),
        (event("a", ages=["toddlers"]), "ages"),
        (event("a", colour="red"), "colour"),
    ):
        answer = client.put("/api/campus/events/a", json=bad)
        assert answer.status_code == 400, bad
        assert named in answer.json()["message"]


def test_a_draft_is_seen_by_the_calendars_writers_only(client: TestClient, anonymous: TestClient) -> None:
    client.put("/api/campus/events/a", json=event("a"))
    assert client.put("/api/campus/events/d", json=event("d", published=False)).json()["published"] is False
    assert [e["id"] for e in anonymous.get("/api/campus/events").json()["events"]] == ["a"]
    assert anonymous.get("/api/campus/events/d").status_code == 404
    assert "UID:d@" not in anonymous.get("/api/campus/events.ics").text
    assert [e["id"] for e in client.get("/api/campus/events").json()["events"]] == ["a", "d"]
    assert client.get("/api/campus/events/d").json()["published"] is False
    assert anonymous.get("/api/campus/events/a").json()["published"] is True
    client.put("/api/campus/events/d", json=event("d", published=True))
    assert anonymous.get("/api/campus/events/d").status_code == 200
    bad = client.put("/api/campus/events/e", json=event("e", published="no"))
    assert bad.status_code == 400 and "published" in bad.json()["message"]


def test_an_event_without_registration_links_to_its_page(client: TestClient, anonymous: TestClient) -> None:
    client.put("/api/campus/events/a", json=event("a", registration=None))
    parsed = icalendar.Calendar.from_ical(anonymous.get("/api/campus/events/a/ics").content)
    (entry,) = parsed.walk("VEVENT")
    assert str(entry["url"]) == "http://testserver/participate/campus/events/a"
