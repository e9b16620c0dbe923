"""The head of an event's page, written by the server for search engines and link previews: title,
description, canonical link and schema.org `Event` as JSON-LD, in the page's language; the head of
the "not found" page kept out of search engines."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.campus.test_service import event
from urbantwin.campus.events import check_event
from urbantwin.campus.page import event_page, language_of, structured_data

TEMPLATE = (
    '<!doctype html>\n<html lang="en">\n<head><meta name="description" content="An event" />'
    "<title>Digitalcampus</title></head><body><main id=main></main></body></html>"
)
URL = "https://city.example/participate/campus/events/a"


def _data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/ld\+json" id="event-data">(.*?)</script>', page, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_the_head_names_the_event_in_the_pages_language() -> None:
    page = event_page(TEMPLATE, check_event(event("a")), URL, "de")
    assert '<html lang="de">' in page
    assert "<title>Werkstatt a · Digitalcampus</title>" in page
    assert '<meta name="description" content="Programmieren mit Sensoren">' in page
    assert f'<link rel="canonical" href="{URL}">' in page
    assert f'<link rel="alternate" hreflang="en" href="{URL}?lang=en">' in page
    assert page.count("<title>") == 1 and "An event" not in page
    assert "noindex" not in page


def test_schema_org_event_carries_time_place_organiser_and_registration() -> None:
    data = _data(event_page(TEMPLATE, check_event(event("a")), URL, "en"))
    assert data["@context"] == "https://schema.org" and data["@type"] == "Event"
    assert data["name"] == "Workshop a" and data["url"] == URL
    assert (data["startDate"], data["endDate"]) == ("2027-05-20T14:00:00Z", "2027-05-20T16:00:00Z")
    assert data["location"] == {
        "@type": "Place",
        "name": "City library",
        "address": "Square 1",
        "geo": {"@type": "GeoCoordinates", "latitude": 51.34, "longitude": 12.37},
    }
    assert data["organizer"] == {"@type": "Organization", "name": "Digital-city department"}
    assert data["offers"]["url"] == "https://example.org/register"
    assert data["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"


def test_an_online_event_and_one_at_a_place_and_online() -> None:
    online = structured_data(check_event(event("b", place={"online": "https://meet.example/b"})), URL, "en")
    assert online["location"] == {"@type": "VirtualLocation", "url": "https://meet.example/b"}
    assert online["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"
    both = structured_data(
        check_event(event("c", place={"name": "Hall", "online": "https://meet.example/c"})), URL, "en"
    )
    assert [place["@type"] for place in both["location"]] == ["Place", "VirtualLocation"]
    assert both["eventAttendanceMode"] == "https://schema.org/MixedEventAttendanceMode"


def test_no_text_of_the_event_ends_the_json_ld_early_or_breaks_the_head() -> None:
    hostile = check_event(
        event(
            "x",
            title={"en": 'Bad </script><script>alert(1)</script> "quoted" & more'},
            description={"en": "word " * 100},
        )
    )
    page = event_page(TEMPLATE, hostile, URL, "en")
    assert "<script>alert(1)" not in page
    assert _data(page)["name"] == hostile["title"]["en"]
    assert (
        "<title>Bad &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; more"
        in page
    )
    description = re.search(r'<meta name="description" content="([^"]*)">', page)
    assert description is not None and len(description.group(1)) <= 160
    assert description.group(1).endswith("…")


def test_the_not_found_page_says_so_and_stays_out_of_search_engines() -> None:
    for language, title in (("de", "Veranstaltung nicht gefunden"), ("en", "Event not found")):
        page = event_page(TEMPLATE, None, URL, language)
        assert f"<title>{title} · Digitalcampus</title>" in page
        assert '<meta name="robots" content="noindex">' in page
        assert "ld+json" not in page and "canonical" not in page


def test_the_language_is_the_links_else_the_browsers_else_the_citys_first() -> None:
    assert language_of("en", "de-DE,de;q=0.9") == "en"
    assert language_of(None, "fr-FR,fr;q=0.9,en;q=0.8,de;q=0.5") == "en"
    assert language_of("xx", "de;q=0.2, en;q=0.7") == "en"
    assert language_of(None, "") == "de"
    assert language_of(None, "fr", ("en", "de")) == "en"
