"""The platform's texts in German and English (`texts.py`): vocabularies of codes and their labels,
checked when made, and texts with numbers in them, plurals included."""

from __future__ import annotations

import orjson
import pytest

from urbantwin.errors import BadRequest
from urbantwin.texts import LANGUAGES, Vocabulary, in_each, plural, text

STATES = Vocabulary(
    {
        "free": {"de": "frei", "en": "free"},
        "occupied": {"de": "belegt", "en": "occupied"},
    },
    name="slot_states",
)


def test_the_platform_speaks_german_and_english() -> None:
    assert LANGUAGES == ("de", "en")


def test_a_vocabulary_is_served_as_codes_and_their_texts() -> None:
    assert STATES["free"] == {"de": "frei", "en": "free"}
    assert list(STATES) == ["free", "occupied"]
    assert orjson.loads(orjson.dumps(STATES)) == {
        "free": {"de": "frei", "en": "free"},
        "occupied": {"de": "belegt", "en": "occupied"},
    }


def test_every_entry_has_a_text_in_each_language_and_no_other() -> None:
    needed = r"slot_states\['free'\]: a text in each of de, en is needed; missing: de"
    with pytest.raises(ValueError, match=needed):
        Vocabulary({"free": {"en": "free"}}, name="slot_states")
    with pytest.raises(ValueError, match="unknown: fr"):
        Vocabulary({"free": {"de": "frei", "en": "free", "fr": "libre"}})
    with pytest.raises(ValueError, match="missing: en"):
        Vocabulary({"free": {"de": "frei", "en": None}})  # type: ignore[dict-item]


def test_the_label_of_a_code_not_in_the_vocabulary_is_the_code_itself() -> None:
    assert STATES.label("occupied") == {"de": "belegt", "en": "occupied"}
    assert STATES.label("broken") == {"de": "broken", "en": "broken"}


def test_require_names_the_codes_a_value_must_be_one_of() -> None:
    assert STATES.require("free", "state") == "free"
    for wrong in ("Free", "", None, {"code": "free"}, ["free"]):
        with pytest.raises(BadRequest, match="^state must be one of free, occupied$"):
            STATES.require(wrong, "state")


def test_a_code_is_found_by_itself_or_by_its_text_in_either_language() -> None:
    assert STATES.code_of("occupied") == "occupied"
    assert STATES.code_of(" Belegt ") == "occupied"
    assert STATES.code_of("FREE") == "free"
    assert STATES.code_of("reserved") is None


def test_a_single_text_needs_both_languages() -> None:
    assert text(de="Abgelehnt", en="Declined") == {"de": "Abgelehnt", "en": "Declined"}
    with pytest.raises(ValueError, match="missing: en"):
        text(de="Abgelehnt")


def test_in_each_makes_a_sentence_per_language() -> None:
    def greeting(language: str) -> str:
        return "Guten Tag" if language == "de" else "Good day"

    assert in_each(greeting) == {"de": "Guten Tag", "en": "Good day"}


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, {"de": "0 Beiträge", "en": "0 contributions"}),
        (1, {"de": "1 Beitrag", "en": "1 contribution"}),
        (2, {"de": "2 Beiträge", "en": "2 contributions"}),
    ],
)
def test_plural_takes_the_singular_for_one_alone(count: int, expected: dict[str, str]) -> None:
    forms = {"de": ("{n} Beitrag", "{n} Beiträge"), "en": ("{n} contribution", "{n} contributions")}
    assert plural(count, **forms) == expected


def test_plural_needs_the_forms_of_both_languages() -> None:
    with pytest.raises(ValueError, match="missing: de"):
        plural(2, en=("{n} day", "{n} days"))
