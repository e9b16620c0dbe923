"""Where imported sensor data come from, under which licence, and the dataset they go into.

Every sensor importer (`import stations`, `import cams`, `import things`) takes the same three
statements of provenance — `--source`, `--licence`, `--publisher` (an organisation id) — and a
dataset. Source, licence and attribution are written into the `properties` of what the import
creates; the entities it creates are then put into the dataset (made if missing, with the publisher,
the licence code the licence note names and the note itself), so the catalogue lists them under
their own publisher and licence. Nothing is assumed: without `--source` no source is claimed.

A dataset that exists already keeps its record (a data steward's edits stay); entities an earlier
import made stay where they are (an import run twice moves nothing).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from urbantwin.access.datasets import licence_code
from urbantwin.ingest.sta_client import JSON, SensorThingsClient

__all__ = ["NO_DATASET", "Provenance", "chosen_dataset", "dataset_slug", "place_created"]

#: What `--dataset` says for "no dataset of the import's own": new entities join the writer's
#: default dataset, as those of any SensorThings client.
NO_DATASET = "none"


def chosen_dataset(given: str | None, default: str) -> str | None:
    """The dataset of `--dataset` (`none`: None), else `default`."""
    if given is None:
        return default
    return None if given.strip().lower() == NO_DATASET else given


def dataset_slug(text: str) -> str:
    """A dataset id from a name: lower-case ASCII letters, digits and '-' (`LfULG` -> `lfulg`)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:100] or "import"


@dataclass(frozen=True)
class Provenance:
    """What an import says of its data, and the dataset its new entities join."""

    #: Where the data come from (a free text: the publisher's name, the file's address).
    source: str | None = None
    #: The licence as the source states it (`dl-de/by-2-0`, `CC BY 4.0`, a sentence).
    licence: str | None = None
    #: The attribution the licence asks for.
    attribution: str | None = None
    #: The organisation (its id) that publishes the dataset; it must exist.
    publisher: str | None = None
    #: The dataset the import's new entities go into; None: the platform's default dataset.
    dataset: str | None = None
    #: Title and description of the dataset when the import makes it.
    title: str | None = None
    description: str = ""
    themes: tuple[str, ...] = ()
    keywords: tuple[str, ...] = field(default=("SensorThings",))

    def properties(self) -> JSON:
        """The `properties` every entity of the import carries: source, licence, attribution."""
        given = (("source", self.source), ("licence", self.licence), ("attribution", self.attribution))
        return {key: value for key, value in given if value}

    def dataset_fields(self) -> dict[str, Any]:
        """The record of the dataset when the import creates it (`access.datasets.create_dataset`)."""
        extra = {
            key: value
            for key, value in (
                ("source", self.source),
                ("licence_note", self.licence),
                ("attribution", self.attribution),
            )
            if value
        }
        description = self.description
        if self.attribution and self.attribution not in description:
            description = f"{description} {self.attribution}".strip()
        return {
            "title": self.title or self.dataset or "",
            "description": description,
            "publisher_id": self.publisher,
            "licence": licence_code(self.licence) if self.licence else "other-closed",
            "access_level": "open",
            "themes": list(self.themes),
            "keywords": list(self.keywords),
            "update_frequency": "IRREG",
            "extra": extra,
        }


def check_dataset(client: SensorThingsClient, provenance: Provenance) -> None:
    """Refuse before anything is written when the dataset could not be made (no such publisher)."""
    if provenance.dataset is not None:
        client.check_dataset(provenance.dataset, provenance.dataset_fields())
    elif provenance.publisher is not None:
        raise ValueError("--publisher needs a dataset to publish: give --dataset")


def place_created(
    client: SensorThingsClient,
    provenance: Provenance,
    created: dict[str, list[int]],
    entity_sets: Iterable[str] = ("Things", "Sensors", "Datastreams"),
) -> None:
    """Put the entities the import created (of `entity_sets`) into the provenance's dataset."""
    if provenance.dataset is None:
        return
    members = {name: sorted(set(created[name])) for name in entity_sets if created.get(name)}
    if members:
        client.place_in_dataset(provenance.dataset, provenance.dataset_fields(), members)
