"""Participation's user-visible texts, in German and English (plurals included).

Answers carry codes (`in_review`, `declined`) and, beside them, the labels of both languages, so a
client shows them in its reader's language without a table of its own.
"""

from __future__ import annotations

from urbantwin.texts import LANGUAGES, Text, Vocabulary, plural, text

#: Where an idea stands.
IDEA_STATUSES = Vocabulary(
    {
        "received": {"de": "Eingegangen", "en": "Received"},
        "in_review": {"de": "In Prüfung", "en": "In review"},
        "project": {"de": "Wurde ein Projekt", "en": "Became a project"},
        "declined": {"de": "Abgelehnt", "en": "Declined"},
        "hidden": {"de": "Verborgen (Spam oder Missbrauch)", "en": "Hidden (spam or abuse)"},
    },
    name="idea_statuses",
)

#: Where a map contribution or a comment stands.
CONTRIBUTION_STATUSES = Vocabulary(
    {
        "received": {"de": "Eingegangen", "en": "Received"},
        "published": {"de": "Veröffentlicht", "en": "Published"},
        "declined": {"de": "Abgelehnt", "en": "Declined"},
    },
    name="contribution_statuses",
)

#: The categories of an idea.
IDEA_CATEGORIES = Vocabulary(
    {
        "mobility": {"de": "Mobilität", "en": "Mobility"},
        "environment": {"de": "Umwelt und Klima", "en": "Environment and climate"},
        "energy": {"de": "Energie", "en": "Energy"},
        "connectivity": {"de": "Digitale Infrastruktur", "en": "Digital infrastructure"},
        "education": {"de": "Bildung", "en": "Education"},
        "administration": {"de": "Verwaltung", "en": "Administration"},
        "data": {"de": "Offene Daten", "en": "Open data"},
        "other": {"de": "Sonstiges", "en": "Other"},
    },
    name="idea_categories",
)

#: Label of a synthetic (made up for a demonstration) procedure.
SYNTHETIC = text(
    de="Beispielverfahren (synthetisch, zur Vorführung)",
    en="Example procedure (synthetic, for demonstration)",
)


def contributions_count(count: int) -> Text:
    """'1 contribution' / '3 contributions' in both languages."""
    return plural(count, de=("{n} Beitrag", "{n} Beiträge"), en=("{n} contribution", "{n} contributions"))


def supports_count(count: int) -> Text:
    """'1 supporter' / '3 supporters' in both languages."""
    return plural(
        count, de=("{n} Unterstützung", "{n} Unterstützungen"), en=("{n} supporter", "{n} supporters")
    )


__all__ = [
    "CONTRIBUTION_STATUSES",
    "IDEA_CATEGORIES",
    "IDEA_STATUSES",
    "LANGUAGES",
    "SYNTHETIC",
    "contributions_count",
    "supports_count",
]
