"""The head of an event's page in the web app (`web/event.html`, served at
`/participate/campus/events/<id>`), written by the server so that a search engine or a link preview
reads the event without running the page's script: the `<title>`, the meta description, the
canonical link, Open Graph's fields and schema.org's `Event` as JSON-LD (https://schema.org/Event,
as search engines read events). The body is the page's script's: it shows the event in the reader's
language and switches between German and English.

Knows no HTTP: it takes the page's built HTML and the event, and gives the HTML to send.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import orjson

from urbantwin.texts import LANGUAGES, text

#: The site's name beside each page's own title.
SITE = "Digitalcampus"
NOT_FOUND_TITLE = text(de="Veranstaltung nicht gefunden", en="Event not found")
NOT_FOUND = text(
    de="Diese Veranstaltung gibt es nicht, oder sie ist nicht veröffentlicht.",
    en="There is no such event, or it is not published.",
)
#: The longest meta description (search engines cut theirs at about this length).
DESCRIPTION_CHARS = 160
_TITLE = re.compile(r"<title>[^<]*</title>")
_DESCRIPTION = re.compile(r'<meta name="description"[^>]*>')
#: schema.org's attendance modes: at a place, online, or both.
_ATTENDANCE = "https://schema.org/{}EventAttendanceMode"


def language_of(asked: str | None, accept_language: str, offered: tuple[str, ...] = LANGUAGES) -> str:
    """The page's language: `asked` (the link's `?lang=`) if offered, else the first offered language
    the browser's Accept-Language names, else the city's first."""
    if asked in offered:
        return str(asked)
    wanted = []
    for position, part in enumerate(accept_language.split(",")):
        name, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        wanted.append((-weight, position, name.strip()[:2].lower()))
    for _, _, name in sorted(wanted):
        if name in offered:
            return name
    return offered[0] if offered else LANGUAGES[0]


def in_language(texts: dict[str, str] | None, language: str) -> str:
    """The text in `language`, else in the first language it has; "" without one."""
    if not texts:
        return ""
    return texts.get(language) or next(iter(texts.values()))


def _short(words: str) -> str:
    flat = " ".join(words.split())
    if len(flat) <= DESCRIPTION_CHARS:
        return flat
    return flat[: DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"


def structured_data(event: dict[str, Any], url: str, language: str) -> dict[str, Any]:
    """schema.org's `Event` of `event` (its page at `url`), with the texts in `language`."""
    place = event.get("place") or {}
    located: list[dict[str, Any]] = []
    if place.get("name") or place.get("address") or place.get("geometry"):
        spot: dict[str, Any] = {"@type": "Place", "name": place.get("name") or place.get("address")}
        if place.get("address"):
            spot["address"] = place["address"]
        if place.get("geometry"):
            lon, lat = place["geometry"]["coordinates"][:2]
            spot["geo"] = {"@type": "GeoCoordinates", "latitude": lat, "longitude": lon}
        located.append(spot)
    if place.get("online"):
        located.append({"@type": "VirtualLocation", "url": place["online"]})
    mode = "Mixed" if len(located) == 2 else "Online" if place.get("online") else "Offline"
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": url,
        "url": url,
        "name": in_language(event["title"], language),
        "inLanguage": language,
        "eventStatus": "https://schema.org/EventScheduled",
        "eventAttendanceMode": _ATTENDANCE.format(mode),
        "audience": {"@type": "Audience", "audienceType": ", ".join(event["ages"] + event["experience"])},
        "keywords": event["format"],
    }
    description = in_language(event.get("description"), language)
    if description:
        data["description"] = description
    if event.get("start"):
        data["startDate"] = event["start"]
    if event.get("end"):
        data["endDate"] = event["end"]
    if located:
        data["location"] = located[0] if len(located) == 1 else located
    if event.get("organiser"):
        data["organizer"] = {"@type": "Organization", "name": event["organiser"]}
    if event.get("registration"):
        data["offers"] = {"@type": "Offer", "url": event["registration"]}
    if event.get("series"):
        data["superEvent"] = {"@type": "EventSeries", "name": event["series"]}
    return data


def event_page(template: str, event: dict[str, Any] | None, url: str, language: str) -> str:
    """The page `template` (the built `event.html`) with the head of `event` at `url` in `language`;
    for None (no such event, or a draft) the head of the "not found" page, kept out of search
    engines."""
    if event is None:
        title = f"{NOT_FOUND_TITLE[language]} · {SITE}"
        description = NOT_FOUND[language]
        extra = '<meta name="robots" content="noindex">'
    else:
        title = f"{in_language(event['title'], language)} · {SITE}"
        description = _short(in_language(event.get("description"), language) or title)
        data = orjson.dumps(structured_data(event, url, language)).decode()
        # JSON in a <script> ends at the first "</": escaped, no text of the event can end it early.
        data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        alternates = "".join(
            f'<link rel="alternate" hreflang="{other}" href="{escape(url)}?lang={other}">'
            for other in LANGUAGES
        )
        extra = (
            f'<link rel="canonical" href="{escape(url)}">{alternates}'
            f'<meta property="og:type" content="website">'
            f'<meta property="og:title" content="{escape(title)}">'
            f'<meta property="og:description" content="{escape(description)}">'
            f'<meta property="og:url" content="{escape(url)}">'
            f'<script type="application/ld+json" id="event-data">{data}</script>'
        )
    page = _TITLE.sub(lambda _: f"<title>{escape(title)}</title>", template, count=1)
    page = _DESCRIPTION.sub(
        lambda _: f'<meta name="description" content="{escape(description)}">', page, count=1
    )
    page = re.sub(r'<html lang="[a-z]+"', f'<html lang="{language}"', page, count=1)
    return page.replace("</head>", f"{extra}</head>", 1)
