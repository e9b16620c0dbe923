"""The district profiles' texts: both languages, plurals included."""

from __future__ import annotations

from urbantwin.districts import texts


def test_left_out_counts_in_the_plural_of_each_language() -> None:
    assert texts.left_out("trees", 1) == {
        "en": "Street trees: 1 dataset you may not read was left out",
        "de": "Straßenbäume: 1 Datensatz, den Sie nicht lesen dürfen, wurde nicht berücksichtigt",
    }
    assert texts.left_out("wlan", 2) == {
        "en": "WLAN sites: 2 datasets you may not read were left out",
        "de": "WLAN-Standorte: 2 Datensätze, die Sie nicht lesen dürfen, wurden nicht berücksichtigt",
    }


def test_every_text_in_both_languages() -> None:
    tables = [
        texts.FIGURES,
        texts.TRENDS,
        texts.PLACEMENT,
        texts.SENSOR_MEAN,
        *texts.access_method(True).values(),
    ]
    for table in tables:
        entries = table.values() if all(isinstance(v, dict) for v in table.values()) else [table]
        for entry in entries:
            assert set(entry) == set(texts.LANGUAGES) and all(entry.values()), entry
