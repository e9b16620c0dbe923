"""The viewer's texts in German and English (web/src/i18n.js), read by Node.js from the modules themselves.

Every key the page (web/index.html, `data-i18n*`) and the code (`t('…')` in web/src) use has a text in
each language; each language has the same keys; every text that counts something has the plural
forms Intl.PluralRules knows for its language, and counts read right ("1 sensor", "2 Sensoren");
labels the data carry per language (an ObservedProperty's `properties.labels`) are shown in the
viewer's language. Texts added later (`addStrings`) live in `web/src/*-strings.js`, where this reads
them. The browser test (web/tests/viewer.test.mjs) checks the page as shown: no key as text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import backend_missing

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SOURCES = sorted((WEB / "src").glob("*.js"))

#: Loads the texts (i18n.js and every *-strings.js) and answers the calls given as JSON in argv[1].
_READ = """
import { readdirSync } from 'node:fs';
const i18n = await import('./src/i18n.js');
for (const file of readdirSync('./src').filter((f) => f.endsWith('-strings.js'))) {
  await import(`./src/${file}`);
}
const calls = JSON.parse(process.argv[1]);
console.log(JSON.stringify({
  strings: i18n.STRINGS,
  categories: Object.fromEntries(
    i18n.LANGUAGES.map((l) => [l, new Intl.PluralRules(l).resolvedOptions().pluralCategories]),
  ),
  answers: calls.map(([name, ...args]) => i18n[name](...args)),
}));
"""


def _node(calls: list[list[Any]] | None = None) -> dict[str, Any]:
    if shutil.which("node") is None:
        backend_missing("Node.js is not installed (20.19 or newer): the viewer's texts are read with it")
    done = subprocess.run(
        ["node", "--input-type=module", "-e", _READ, json.dumps(calls or [])],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@cache
def _tables() -> dict[str, Any]:
    return _node()


def _used_keys() -> dict[str, set[str]]:
    """Every key the page and the code name literally, with where."""
    used: dict[str, set[str]] = {}
    for html in sorted(WEB.glob("*.html")):  # the viewer and the participation page
        page = html.read_text(encoding="utf-8")
        for key in re.findall(r'data-i18n(?:-label|-placeholder)?="([^"]+)"', page):
            used.setdefault(key, set()).add(f"web/{html.name}")
    for source in SOURCES:
        code = source.read_text(encoding="utf-8")
        for key in re.findall(r"""\bt\(\s*['"]([^'"]+)['"]""", code):
            used.setdefault(key, set()).add(f"web/src/{source.name}")
    return used


def test_every_key_the_page_and_the_code_use_has_a_text_in_each_language() -> None:
    used = _used_keys()
    assert {"linkSta", "sensorsCount", "energyTitle"} <= set(used)  # the page, the viewer, the energy view
    strings = _tables()["strings"]
    assert sorted(strings) == ["de", "en"]
    for language, texts in strings.items():
        missing = {key: sorted(where) for key, where in used.items() if key not in texts}
        assert not missing, f"keys without a text in {language!r}: {missing}"


def test_each_language_has_the_same_texts() -> None:
    strings = _tables()["strings"]
    assert set(strings["de"]) == set(strings["en"]), set(strings["de"]) ^ set(strings["en"])


def test_texts_are_added_only_where_the_tests_read_them() -> None:
    adding = [s.name for s in SOURCES if "addStrings(" in s.read_text(encoding="utf-8")]
    assert all(name == "i18n.js" or name.endswith("-strings.js") for name in adding), adding


def test_every_count_has_the_plural_forms_of_each_language() -> None:
    tables = _tables()
    for language, texts in tables["strings"].items():
        categories = set(tables["categories"][language])
        for key, text in texts.items():
            if isinstance(text, dict):
                assert set(text) == categories, (
                    f"{language}.{key}: forms {sorted(text)}, not {sorted(categories)}"
                )
                assert all(isinstance(form, str) for form in text.values()), f"{language}.{key}"
            else:
                assert "{n}" not in text, f"{language}.{key} counts {{n}} but has no plural forms: {text!r}"


def test_counts_read_right_in_both_languages() -> None:
    asked = [
        ["translate", language, "sensorsCount", {"n": n}]
        for language in ("en", "de")
        for n in (0, 1, 2, 1234)
    ] + [
        ["translate", "en", "inDistricts", {"n": 1}],
        ["translate", "de", "inDistricts", {"n": 3}],
        ["translate", "de", "buildingsWithSensors", {"n": 1}],
        ["translate", "de", "sensorsInDistricts", {"sensors": "1 Sensor", "inDistricts": "in 1 Gebiet"}],
    ]
    assert _node(asked)["answers"] == [
        *("0 sensors", "1 sensor", "2 sensors", "1,234 sensors"),
        *("0 Sensoren", "1 Sensor", "2 Sensoren", "1.234 Sensoren"),
        "in 1 district",
        "in 3 Gebieten",
        "1 Gebäude mit Sensoren darin trägt die Farbe ihres Mittels.",
        "1 Sensor in 1 Gebiet",
    ]


@pytest.mark.parametrize(
    ("labels", "language", "shown"),
    [
        ({"de": "Stickstoffmonoxid (NO)", "en": "Nitrogen monoxide (NO)"}, "de", "Stickstoffmonoxid (NO)"),
        ({"de": "Stickstoffmonoxid (NO)", "en": "Nitrogen monoxide (NO)"}, "en", "Nitrogen monoxide (NO)"),
        ({"en": "Wi-Fi clients"}, "de", "the name"),  # no German label: the name
        (None, "de", "the name"),  # no labels at all
        ({"de": " "}, "de", "the name"),  # an empty label is none
    ],
)
def test_labels_of_the_data_are_shown_in_the_viewers_language(
    labels: dict[str, str] | None, language: str, shown: str
) -> None:
    assert _node([["labelled", labels, "the name", language]])["answers"] == [shown]
