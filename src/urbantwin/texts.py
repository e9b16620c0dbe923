"""User-visible texts in every language the platform speaks (German and English), plurals included.

API answers carry codes (`in_review`, `exceeded`, `lamp_post`) and, beside them, their texts in
each language, so a client shows them in its reader's language without a table of its own. Every
module keeps its words in tables of one shape, code -> {language: text}: a `Vocabulary`, which
checks at import that each entry speaks every language, and answers the questions every module
asks of its tables (the label of a code, the code of a label, "must be one of").

Our own rather than gettext's catalogues: answers carry every language at once rather than the one
of a request's locale, and the tables are few and small, kept beside the code that uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from urbantwin.errors import BadRequest

#: The languages the platform speaks: of the viewer, the catalogue and every text of the API.
LANGUAGES = ("de", "en")

#: One text in each of `LANGUAGES`.
Text = dict[str, str]


def _checked(text: Mapping[str, str], where: str) -> Text:
    missing = [language for language in LANGUAGES if not isinstance(text.get(language), str)]
    unknown = sorted(set(text) - set(LANGUAGES))
    if missing or unknown:
        raise ValueError(
            f"{where}: a text in each of {', '.join(LANGUAGES)} is needed"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return {language: text[language] for language in LANGUAGES}


def text(**by_language: str) -> Text:
    """One text, given in each language: `text(de="Abgelehnt", en="Declined")`."""
    return _checked(by_language, "text")


def in_each(make: Callable[[str], str]) -> Text:
    """The text `make(language)` makes for each language (a sentence built with values)."""
    return {language: make(language) for language in LANGUAGES}


def plural(count: int, **forms: tuple[str, str]) -> Text:
    """`count` with the singular or plural of each language, `{n}` standing for the number:
    `plural(3, de=("{n} Beitrag", "{n} Beiträge"), en=("{n} contribution", "{n} contributions"))`
    -> {"de": "3 Beiträge", "en": "3 contributions"}.

    Both languages have one singular (1) and one plural (0, 2, …).
    """
    chosen = {language: (one if count == 1 else many) for language, (one, many) in forms.items()}
    return {language: form.format(n=count) for language, form in _checked(chosen, "plural").items()}


class Vocabulary(dict[str, Text]):
    """Codes and their texts in each language: `Vocabulary({"free": {"de": "frei", "en": "free"}})`.

    A dict (served as it is: {code: {language: text}}), checked when made: every entry has a text
    in each of `LANGUAGES`, and none other.
    """

    def __init__(self, entries: Mapping[str, Mapping[str, str]], *, name: str = "vocabulary") -> None:
        super().__init__({code: _checked(labels, f"{name}[{code!r}]") for code, labels in entries.items()})
        self.name = name

    def label(self, code: str) -> Text:
        """The texts of `code`; a code not in the vocabulary stands for itself in each language."""
        found = self.get(code)
        return dict(found) if found is not None else {language: code for language in LANGUAGES}

    def require(self, code: Any, what: str) -> str:
        """`code` if the vocabulary has it, else the 400 "`what` must be one of …"."""
        if not isinstance(code, str) or code not in self:
            raise BadRequest(f"{what} must be one of {', '.join(self)}")
        return code

    def code_of(self, given: str) -> str | None:
        """The code `given` names (the code itself or its text in any language, in any case); else None."""
        lowered = given.strip().lower()
        if lowered in self:
            return lowered
        for code, labels in self.items():
            if any(lowered == label.lower() for label in labels.values()):
                return code
        return None


__all__ = ["LANGUAGES", "Text", "Vocabulary", "in_each", "plural", "text"]
