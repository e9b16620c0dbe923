"""Participation's user-visible texts, in German and English (plurals included).

Answers carry codes (`in_review`, `declined`) and, beside them, the labels of both languages, so a
client shows them in its reader's language without a table of its own.
"""

from __future__ import annotations

LANGUAGES = ("de", "en")

#: Where an idea stands.
IDEA_STATUSES: dict[str, dict[str, str]] = {
    "received": {"de": "Eingegangen", "en": "Received"},
    "in_review": {"de": "In Prüfung", "en": "In review"},
    "project": {"de": "Wurde ein Projekt", "en": "Became a project"},
    "declined": {"de": "Abgelehnt", "en": "Declined"},
}

#: Where a map contribution or a comment stands.
CONTRIBUTION_STATUSES: dict[str, dict[str, str]] = {
    "received": {"de": "Eingegangen", "en": "Received"},
    "published": {"de": "Veröffentlicht", "en": "Published"},
    "declined": {"de": "Abgelehnt", "en": "Declined"},
}

#: The categories of an idea.
IDEA_CATEGORIES: dict[str, dict[str, str]] = {
    "mobility": {"de": "Mobilität", "en": "Mobility"},
    "environment": {"de": "Umwelt und Klima", "en": "Environment and climate"},
    "energy": {"de": "Energie", "en": "Energy"},
    "connectivity": {"de": "Digitale Infrastruktur", "en": "Digital infrastructure"},
    "education": {"de": "Bildung", "en": "Education"},
    "administration": {"de": "Verwaltung", "en": "Administration"},
    "data": {"de": "Offene Daten", "en": "Open data"},
    "other": {"de": "Sonstiges", "en": "Other"},
}

#: Label of a synthetic (made up for a demonstration) procedure.
SYNTHETIC = {
    "de": "Beispielverfahren (synthetisch, zur Vorführung)",
    "en": "Example procedure (synthetic, for demonstration)",
}


def contributions_count(count: int) -> dict[str, str]:
    """'1 contribution' / '3 contributions' in both languages."""
    return {
        "de": f"{count} Beitrag" if count == 1 else f"{count} Beiträge",
        "en": f"{count} contribution" if count == 1 else f"{count} contributions",
    }


def supports_count(count: int) -> dict[str, str]:
    """'1 supporter' / '3 supporters' in both languages."""
    return {
        "de": f"{count} Unterstützung" if count == 1 else f"{count} Unterstützungen",
        "en": f"{count} supporter" if count == 1 else f"{count} supporters",
    }
