"""The demo's catalogue: who published each Leipzig dataset, under which licence, about what.

The SensorThings entities and feature collections of the demo are grouped into datasets by their
source (every demo entity carries its source and licence note in `properties`, see
`sensorthings.py`), and each dataset gets its real publisher, EU data themes and licence. All
demo data is open, as its sources are. Running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from urbantwin.access.datasets import create_dataset, move_entities, update_dataset
from urbantwin.demo.sensorthings import CAMS_SOURCE, EV_SOURCE, FREIFUNK_SOURCE, LFULG_SOURCE
from urbantwin.store.access_schema import datasets, organisations
from urbantwin.store.engine import for_writes
from urbantwin.store.schema import datastreams, observations, things

ORGANISATIONS = {
    "stadt-leipzig": ("Stadt Leipzig", "local-authority", "https://www.leipzig.de/"),
    "lfulg": (
        "Sächsisches Landesamt für Umwelt, Landwirtschaft und Geologie",
        "regional-authority",
        "https://www.lfulg.sachsen.de/",
    ),
    "copernicus-cams": (
        "Copernicus Atmosphere Monitoring Service (ECMWF)",
        "supranational-authority",
        "https://atmosphere.copernicus.eu/",
    ),
    "bundesnetzagentur": ("Bundesnetzagentur", "national-authority", "https://www.bundesnetzagentur.de/"),
    "lvb": (
        "Leipziger Verkehrsbetriebe (LVB) GmbH",
        "municipal-company",
        "https://www.l.de/verkehrsbetriebe",
    ),
    # Publisher of the demo's transit feed, of another city (demo/gtfs.py): Leipzig's is not open.
    "pmdp": (
        "Plzeňské městské dopravní podniky, a.s. (PMDP), Plzeň",
        "municipal-company",
        "https://www.pmdp.cz/",
    ),
    "freifunk-leipzig": ("Freifunk Leipzig", "ngo", "https://leipzig.freifunk.net/"),
    "openstreetmap": ("OpenStreetMap contributors", "ngo", "https://www.openstreetmap.org/"),
    "code-for-leipzig": ("OK Lab Leipzig / Code for Leipzig", "ngo", "https://codefor.de/leipzig/"),
}


@dataclass(frozen=True)
class SensorDataset:
    id: str
    title: str
    description: str
    publisher: str
    themes: list[str]
    licence: str
    frequency: str
    #: Datastreams whose `properties.source` is this belong here (with their Things).
    source: str


SENSOR_DATASETS = [
    SensorDataset(
        "luftqualitaet-lfulg-2014",
        "Luftqualität Leipzig (LfULG-Messnetz), Sept.–Nov. 2014",
        "Hourly gases and daily particulate matter at the Leipzig stations of Saxony's air quality network.",
        "lfulg",
        ["ENVI", "HEAL"],
        "other-open",
        "HOURLY",
        LFULG_SOURCE,
    ),
    SensorDataset(
        "cams-pm25-vorhersage",
        "CAMS PM2.5 forecasts for Leipzig, 2020–2021 (model data)",
        "Daily mean PM2.5 forecasts of the CAMS regional ensemble and EURAD-IM at two Leipzig stations. "
        "Model output, not measurements.",
        "copernicus-cams",
        ["ENVI"],
        "other-open",
        "DAILY",
        CAMS_SOURCE,
    ),
    SensorDataset(
        "ladesaeulen-register",
        "Public EV charging stations in Leipzig (register of 2019-07-19)",
        "Charging stations of the Bundesnetzagentur's register as SensorThings Things with their Locations.",
        "bundesnetzagentur",
        ["TRAN", "ENER"],
        "cc-by/4.0",
        "IRREG",
        EV_SOURCE,
    ),
    SensorDataset(
        "freifunk-clients",
        "Freifunk Leipzig WLAN nodes and their clients (2020-03-03)",
        "The community mesh network's nodes in Leipzig with the number of Wi-Fi clients at the snapshot.",
        "freifunk-leipzig",
        ["TECH"],
        "other-open",
        "IRREG",
        FREIFUNK_SOURCE,
    ),
]

#: The collections' datasets (made by the importer, one per collection): publisher and themes.
COLLECTION_DATASETS = {
    "ortsteile": ("stadt-leipzig", ["REGI", "SOCI"]),
    "stadtbezirke": ("stadt-leipzig", ["REGI", "SOCI"]),
    "city-boundary": ("stadt-leipzig", ["REGI"]),
    "buildings": ("openstreetmap", ["REGI"]),
    "buildings_lod1_plagwitz": ("openstreetmap", ["REGI"]),
    "lvb-stops": ("lvb", ["TRAN"]),
    "freifunk-nodes": ("freifunk-leipzig", ["TECH"]),
    "ev-charging": ("bundesnetzagentur", ["TRAN", "ENER"]),
    "street_trees": ("stadt-leipzig", ["ENVI"]),
}

#: The political geocoding of every demo dataset: the municipality Leipzig (AGS 14713000).
LEIPZIG = {
    "political_geocoding_uri": "http://dcat-ap.de/def/politicalGeocoding/municipalityKey/14713000",
    "political_geocoding_level_uri": "http://dcat-ap.de/def/politicalGeocodingLevel/municipality",
}


def publish_demo_catalogue(engine: Engine) -> None:
    now = datetime.now(UTC)
    with for_writes(engine).begin() as connection:
        for ident, (title, kind, homepage) in ORGANISATIONS.items():
            stored = connection.execute(
                select(organisations.c.kind).where(organisations.c.id == ident)
            ).first()
            if stored is None:
                connection.execute(
                    organisations.insert().values(
                        id=ident, title=title, kind=kind, homepage=homepage, created=now
                    )
                )
            elif stored.kind != kind:
                # A demo stored before kinds told the levels of authority apart (the state and the
                # federal agency were "administration", a local authority after migration 0010).
                connection.execute(update(organisations).where(organisations.c.id == ident).values(kind=kind))
        for spec in SENSOR_DATASETS:
            fields = {
                "title": spec.title,
                "description": spec.description,
                "publisher_id": spec.publisher,
                "themes": spec.themes,
                "keywords": ["Leipzig", "SensorThings"],
                "licence": spec.licence,
                "update_frequency": spec.frequency,
                "extra": {**LEIPZIG, "source": spec.source},
            }
            if connection.execute(select(datasets.c.id).where(datasets.c.id == spec.id)).first():
                update_dataset(connection, spec.id, **fields)
            else:
                create_dataset(connection, spec.id, **fields)
            source = datastreams.c.properties["source"].as_string() == spec.source
            stream_ids = list(connection.execute(select(datastreams.c.id).where(source)).scalars())
            thing_ids = list(
                connection.execute(select(datastreams.c.thing_id).where(source).distinct()).scalars()
            )
            thing_source = things.c.properties["source"].as_string() == spec.source
            thing_ids += list(connection.execute(select(things.c.id).where(thing_source)).scalars())
            if thing_ids:
                move_entities(connection, spec.id, "Things", sorted(set(thing_ids)))
            if stream_ids:
                # A station Thing carries measurements and forecasts: each Datastream goes to its own.
                move_entities(connection, spec.id, "Datastreams", stream_ids)
                features = (
                    select(observations.c.feature_of_interest_id)
                    .where(observations.c.datastream_id.in_(stream_ids))
                    .distinct()
                )
                move_entities(
                    connection, spec.id, "FeaturesOfInterest", list(connection.execute(features).scalars())
                )
                for entity_set, column in (
                    ("Sensors", datastreams.c.sensor_id),
                    ("ObservedProperties", datastreams.c.observed_property_id),
                ):
                    used = select(column).where(datastreams.c.id.in_(stream_ids)).distinct()
                    move_entities(connection, spec.id, entity_set, list(connection.execute(used).scalars()))
        for collection, (publisher, themes) in COLLECTION_DATASETS.items():
            if connection.execute(select(datasets.c.id).where(datasets.c.id == collection)).first():
                extra = (
                    connection.execute(select(datasets.c.extra).where(datasets.c.id == collection)).scalar()
                    or {}
                )
                connection.execute(
                    update(datasets)
                    .where(datasets.c.id == collection)
                    .values(publisher_id=publisher, themes=themes, extra={**extra, **LEIPZIG}, modified=now)
                )
