"""A small catalogue in the store: organisations of every kind, datasets at every access level, and
their members (feature collections with features, SensorThings entities with observations), written
through SQLAlchemy Core so each test knows exactly what the catalogue must show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pyshacl
import pytest
import rdflib
import shapely
from rdflib import RDF, Namespace
from sqlalchemy import Connection, Engine, insert

from urbantwin.store import schema
from urbantwin.store.access_schema import datasets, organisations
from urbantwin.store.features_schema import collections, features

SHAPES = Path(__file__).parent / "shapes"
#: The shapes validated against: GovData's (the German profile, its additions, its deprecations and
#: its controlled vocabularies) and SEMIC's DCAT-AP 3.0 base shapes with their class ranges.
SHAPE_FILES = (
    "semic_dcat-ap-3.0.0-SHACL.ttl",
    "semic_dcat-ap-3.0.0-range.ttl",
    "dcat-ap-SHACL-DE.ttl",
    "dcat-ap-spec-german-additions.ttl",
    "dcat-ap-de-deprecated.ttl",
    "dcat-ap-de-controlledvocabularies.ttl",
)
SH = Namespace("http://www.w3.org/ns/shacl#")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
MUNICIPALITY = "http://dcat-ap.de/def/politicalGeocoding/municipalityKey/147130000000"
MUNICIPALITY_LEVEL = "http://dcat-ap.de/def/politicalGeocoding/Level/municipality"

#: The datasets of the fixture, by id, with their access level.
LEVELS = {
    "luftqualitaet": "open",
    "ortsteile": "open",
    "ladesaeulen": "registered",
    "verkehr": "partner",
    "energie-intern": "internal",
}


def at(year: int, month: int = 1, day: int = 1, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def add_organisation(connection: Connection, org_id: str, title: str, kind: str, **extra: Any) -> None:
    connection.execute(insert(organisations).values(id=org_id, title=title, kind=kind, created=T0, **extra))


def add_dataset(connection: Connection, dataset_id: str, title: str, **values: Any) -> None:
    row = {
        "id": dataset_id,
        "title": title,
        "description": "",
        "themes": [],
        "keywords": [],
        "licence": "dl-by-de/2.0",
        "access_level": "open",
        "read_groups": [],
        "writers": [],
        "update_frequency": "UNKNOWN",
        "created": T0,
        "modified": T0,
    }
    row.update(values)
    connection.execute(insert(datasets).values(**row))


def add_collection(
    connection: Connection,
    collection_id: str,
    dataset_id: str | None,
    title: str,
    *,
    bbox: Sequence[float] | None = None,
    attribution: str | None = None,
    validity: Sequence[tuple[datetime | None, datetime | None]] = (),
) -> None:
    """A collection with one feature per validity interval (or one without validity): the box
    `bbox` (the collection's extent then), else a point."""
    connection.execute(
        insert(collections).values(
            id=collection_id,
            title=title,
            description=f"{title}, as features",
            licence="CC-BY-4.0",
            attribution=attribution,
            keywords=["test"],
            created=T0,
            updated=at(2024, 6, 1),
            version=1,
            dataset_id=dataset_id,
        )
    )
    for n, (valid_from, valid_to) in enumerate(validity or [(None, None)]):
        connection.execute(
            insert(features).values(
                collection_id=collection_id,
                feature_key=f"f{n}",
                properties={"n": n},
                geom=shapely.to_wkb(shapely.box(*bbox) if bbox else shapely.Point(12.3 + n / 100, 51.3)),
                valid_from=valid_from,
                valid_to=valid_to,
            )
        )


def add_sensorthings(
    connection: Connection,
    dataset_id: str,
    name: str,
    point: tuple[float, float],
    series: dict[str, Sequence[tuple[datetime, datetime | None]]],
) -> list[int]:
    """A Thing at `point` with one Datastream per entry of `series` (name -> observation times as
    (start, end)); returns the Datastream ids."""

    def new(table: Any, **values: Any) -> int:
        return connection.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()

    geometry = {"type": "Point", "coordinates": list(point)}
    wkb = shapely.to_wkb(shapely.Point(*point))
    thing = new(schema.things, dataset_id=dataset_id, name=name, description=f"{name} station")
    location = new(
        schema.locations,
        dataset_id=dataset_id,
        name=name,
        description="where it stands",
        encoding_type="application/geo+json",
        location=geometry,
        geom=wkb,
    )
    connection.execute(insert(schema.thing_locations).values(thing_id=thing, location_id=location))
    sensor = new(
        schema.sensors,
        dataset_id=dataset_id,
        name=f"{name} sensor",
        description="a sensor",
        encoding_type="text/html",
        metadata="https://example.org/sensor",
    )
    foi = new(
        schema.features_of_interest,
        dataset_id=dataset_id,
        name=name,
        description="the air around it",
        encoding_type="application/geo+json",
        feature=geometry,
        geom=wkb,
    )
    ids = []
    for stream, times in series.items():
        prop = new(
            schema.observed_properties,
            dataset_id=dataset_id,
            name=stream,
            definition=f"https://example.org/{stream}",
            description=stream,
        )
        datastream = new(
            schema.datastreams,
            dataset_id=dataset_id,
            name=f"{stream} at {name}",
            description=stream,
            observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            unit_of_measurement={"name": "µg/m³", "symbol": "µg/m³", "definition": "ucum:ug/m3"},
            thing_id=thing,
            sensor_id=sensor,
            observed_property_id=prop,
        )
        ids.append(datastream)
        for n, (start, end) in enumerate(times):
            connection.execute(
                insert(schema.observations).values(
                    phenomenon_time_start=start,
                    phenomenon_time_end=end,
                    result_time=start,
                    result_type=schema.RESULT_NUMBER,
                    result_number=float(n),
                    datastream_id=datastream,
                    feature_of_interest_id=foi,
                )
            )
    return ids


def fill(engine: Engine) -> None:
    """The fixture's catalogue: five datasets, one per access level and one more open one."""
    with engine.begin() as connection:
        add_organisation(
            connection,
            "stadt-leipzig",
            "Stadt Leipzig",
            "local-authority",
            homepage="https://www.leipzig.de/",
            email="opendata@leipzig.de",
        )
        add_organisation(
            connection, "lfulg", "Landesamt für Umwelt, Landwirtschaft und Geologie", "regional-authority"
        )
        add_organisation(connection, "lvb", "Leipziger Verkehrsbetriebe", "municipal-company")
        add_organisation(connection, "ufz", "Helmholtz-Zentrum für Umweltforschung", "research")
        add_dataset(
            connection,
            "luftqualitaet",
            "Air quality in Leipzig",
            description="Hourly NO2 and PM10 at the LfULG stations <Mitte> & West",
            publisher_id="lfulg",
            contact_name="Luftmessnetz Sachsen",
            contact_email="luft@example.org",
            themes=["ENVI", "HEAL"],
            keywords=["Luftqualität", "NO2", "Feinstaub"],
            licence="dl-by-de/2.0",
            update_frequency="HOURLY",
            extra={
                "political_geocoding_uri": MUNICIPALITY,
                "political_geocoding_level_uri": MUNICIPALITY_LEVEL,
            },
            created=at(2014, 9, 1),
            modified=at(2024, 3, 1),
        )
        add_sensorthings(
            connection,
            "luftqualitaet",
            "Leipzig-Mitte",
            (12.3785, 51.3443),
            {
                "NO2": [(at(2014, 9, 1, 1), None), (at(2014, 11, 30, 23), None)],
                "PM10": [(at(2014, 9, 2), at(2014, 9, 3)), (at(2014, 12, 1), at(2014, 12, 2))],
            },
        )
        add_sensorthings(
            connection,
            "luftqualitaet",
            "Leipzig-West",
            (12.2977, 51.3180),
            {"NO2": [(at(2014, 10, 1), None)]},
        )
        add_dataset(
            connection,
            "ortsteile",
            "Ortsteile of Leipzig",
            description="The 63 Ortsteile (districts) with their boundaries",
            publisher_id="stadt-leipzig",
            themes=["REGI"],
            keywords=["Ortsteil", "boundaries"],
            licence="dl-zero-de/2.0",
            update_frequency="ANNUAL",
            created=at(2020, 1, 1),
            modified=at(2024, 6, 1),
        )
        add_collection(
            connection,
            "ortsteile",
            "ortsteile",
            "Ortsteile",
            bbox=[12.2366, 51.2381, 12.5425, 51.4481],
            attribution="Stadt Leipzig, Amt für Statistik und Wahlen",
            validity=[(at(2000, 1, 1), at(2012, 12, 31)), (at(2013, 1, 1), at(2024, 12, 31))],
        )
        add_dataset(
            connection,
            "ladesaeulen",
            "EV charging stations",
            description="Public charging points of the Bundesnetzagentur register",
            publisher_id="stadt-leipzig",
            themes=["ENER", "TRAN"],
            keywords=["E-Mobilität", "charging"],
            licence="cc-by/4.0",
            access_level="registered",
            update_frequency="IRREG",
            created=at(2019, 7, 19),
            modified=at(2019, 7, 19),
        )
        add_collection(
            connection, "ladesaeulen", "ladesaeulen", "Charging stations", bbox=[12.3, 51.3, 12.4, 51.4]
        )
        add_sensorthings(
            connection, "ladesaeulen", "Charger 1", (12.45, 51.25), {"occupancy": [(at(2019, 7, 1), None)]}
        )
        add_dataset(
            connection,
            "verkehr",
            "Traffic counts",
            description="Vehicles per hour at counting stations",
            publisher_id="lvb",
            themes=["TRAN"],
            keywords=["Verkehr"],
            licence="odbl",
            access_level="partner",
            created=at(2022, 1, 1),
            modified=at(2023, 1, 1),
        )
        add_dataset(
            connection,
            "energie-intern",
            "Energy use of municipal buildings",
            description="Metered heat and power of the city's buildings",
            publisher_id="stadt-leipzig",
            themes=["ENER"],
            keywords=["energy"],
            licence="other-closed",
            access_level="internal",
            created=at(2023, 1, 1),
            modified=at(2025, 1, 1),
        )


@pytest.fixture
def store(engine: Engine) -> Engine:
    """The migrated store with the fixture's catalogue."""
    fill(engine)
    return engine


@cache
def _shapes() -> tuple[rdflib.Graph, rdflib.Graph]:
    """Every SHACL shape of DCAT-AP.de 3.0 and of its European base (SOURCE.md in shapes/), and the
    ontologies they rely on (FOAF, ORG, vCard) for subclass reasoning."""
    shapes = rdflib.Graph()
    for name in SHAPE_FILES:
        shapes.parse(SHAPES / name)
    ontologies = rdflib.Graph()
    for name in ("mirror_foaf_0_1.rdf", "mirror_org.ttl", "mirror_vcard.ttl"):
        ontologies.parse(SHAPES / name)
    return shapes, ontologies


def shacl_results(graph: rdflib.Graph) -> Counter[tuple[str, str, str]]:
    """(severity, path, message) of each result of validating `graph`, counted."""
    shapes, ontologies = _shapes()
    _, report, _ = pyshacl.validate(
        graph,
        shacl_graph=shapes,
        ont_graph=ontologies,
        inference="none",
        allow_warnings=True,
        do_owl_imports=False,
    )
    results: Counter[tuple[str, str, str]] = Counter()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        severity = str(report.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
        results[
            (severity, str(report.value(result, SH.resultPath)), str(report.value(result, SH.resultMessage)))
        ] += 1
    return results


def violations(graph: rdflib.Graph) -> Counter[tuple[str, str, str]]:
    return Counter({key: n for key, n in shacl_results(graph).items() if key[0] == "Violation"})
