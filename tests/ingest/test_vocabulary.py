"""The connectors' vocabulary: every observed property named in English (its canonical name) and
labelled in each language of the viewer, and an import stores those labels on the ObservedProperty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.sta_loader import Catalogue, ImportReport
from urbantwin.ingest.vocabulary import LANGUAGES, OBSERVED_PROPERTIES
from urbantwin.settings import Settings


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


@pytest.mark.parametrize("code", sorted(OBSERVED_PROPERTIES))
def test_every_observed_property_is_labelled_in_every_language(code: str) -> None:
    quantity = OBSERVED_PROPERTIES[code]
    assert sorted(quantity.labels) == sorted(LANGUAGES) == ["de", "en"]
    assert quantity.labels["en"] == quantity.observed_property["name"]
    assert quantity.labels["de"].strip() and quantity.labels["de"] != quantity.labels["en"]


def test_an_imported_observed_property_keeps_its_english_name_and_carries_its_labels(
    sta: LocalClient,
) -> None:
    catalogue = Catalogue(sta, ImportReport())
    made = catalogue.observed_property(OBSERVED_PROPERTIES["no"])
    stored = sta.get(f"ObservedProperties({made})")
    assert stored["name"] == "Nitrogen monoxide (NO)"
    assert stored["properties"]["labels"] == {"de": "Stickstoffmonoxid (NO)", "en": "Nitrogen monoxide (NO)"}
    # As the viewer asks for them: the labels travel with the name.
    (listed,) = sta.get("ObservedProperties", {"$select": "@iot.id,name,properties"})["value"]
    assert listed["properties"]["labels"]["de"] == "Stickstoffmonoxid (NO)"
