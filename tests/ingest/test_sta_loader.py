"""The idempotent loader the sensor connectors and the demo write through: entities found by key or
made once, observations stored once, in dataArray requests of bounded size."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.sta_loader import (
    OBSERVATION_COMPONENTS,
    Catalogue,
    ImportReport,
    ObservationWriter,
    Reading,
    data_array_batches,
)
from urbantwin.ingest.stations import StationOptions, import_stations
from urbantwin.settings import Settings

DATA = Path(__file__).parent / "data"
STATIONS = DATA / "stations_leipzig.geojson"
QUIET = StationOptions(network="LfULG", progress=False)


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


def datastream_id(sta: LocalClient, name: str) -> int:
    (found,) = sta.get("Datastreams", {"$filter": f"name eq '{name}'"})["value"]
    return found["@iot.id"]


def observation_count(sta: LocalClient, datastream: int) -> int:
    return sta.get(f"Datastreams({datastream})/Observations", {"$count": "true", "$top": "0"})["@iot.count"]


def test_the_writer_never_stores_a_value_twice_across_batches(sta: LocalClient) -> None:
    """Values wait in a buffer of `batch` rows; a repeat must be caught before and after a flush."""
    import_stations(sta, DATA / "stations_utc_part1.csv", STATIONS, QUIET)
    ident = datastream_id(sta, "NO2 at Leipzig-Mitte")
    report = ImportReport()
    writer = ObservationWriter(sta, report, batch=3)
    hours = [datetime(2014, 10, 2, h, tzinfo=UTC) for h in range(5)]
    assert writer.add(ident, [Reading(moment, None, 1.0, 2) for moment in hours]) == 5  # 3 sent, 2 wait
    assert writer.add(ident, [Reading(moment, None, 1.0, 3) for moment in hours]) == 0
    writer.flush()
    assert report.observations == 5 and report.already_present == 3 and report.duplicates == 2
    assert observation_count(sta, ident) == 3 + 5


def test_data_array_batches_are_bounded_and_split_a_datastream_between_two() -> None:
    rows = [[f"2020-01-01T00:00:{i:02d}Z", None, i] for i in range(7)]
    batches = list(data_array_batches([(1, rows), (2, rows[:3])], limit=5))
    assert [[len(item["dataArray"]) for item in batch] for batch in batches] == [[5], [2, 3]]
    assert [item["Datastream"]["@iot.id"] for item in batches[1]] == [1, 2]
    assert all(item["components"] == OBSERVATION_COMPONENTS for batch in batches for item in batch)
    assert list(data_array_batches([(1, [])])) == []


class CountingClient(LocalClient):
    """The local service, counting the requests sent by method."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(engine, settings)
        self.sent: Counter[str] = Counter()

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        self.sent[method] += 1
        return super().request(method, path, query, body)


SENSOR = {"name": "analyser", "description": "d", "encodingType": "text/plain", "metadata": "m"}


def thing(name: str) -> dict[str, Any]:
    return {"name": name, "description": "a station"}


def test_a_preloaded_collection_is_read_once_and_missing_keys_are_made_without_asking(
    engine: Engine, settings: Settings
) -> None:
    client = CountingClient(engine, settings)
    first = Catalogue(client, ImportReport())
    made = [first.ensure("Things", f"test:{n}", thing(f"Station {n}")) for n in range(3)]
    client.post("Things", thing("made by hand, no key"))

    client.sent.clear()
    report = ImportReport()
    catalogue = Catalogue(client, report)
    catalogue.preload("Things")
    assert client.sent == {"GET": 1}
    assert [catalogue.ensure("Things", f"test:{n}", thing("any")) for n in range(3)] == made
    assert catalogue.id_of("Things", "test:3") is None
    assert client.sent == {"GET": 1}, "answered from memory"
    new = catalogue.ensure("Things", "test:3", thing("Station 3"))
    assert client.sent == {"GET": 1, "POST": 1} and report.created == {"Things": 1}
    assert catalogue.known("Things") == {"test:0", "test:1", "test:2", "test:3"}
    assert catalogue.entity("Things", made[0])["name"] == "Station 0"
    assert new not in made


def test_a_key_is_a_key_of_its_collection(sta: LocalClient) -> None:
    catalogue = Catalogue(sta, ImportReport())
    sensor = catalogue.ensure("Sensors", "test:mitte", SENSOR)
    station = catalogue.ensure("Things", "test:mitte", thing("Mitte"))
    assert sta.get(f"Things({station})")["name"] == "Mitte"
    assert sta.get(f"Sensors({sensor})")["name"] == "analyser"


def test_a_name_is_not_an_identity_but_a_definition_is(sta: LocalClient) -> None:
    """An import never takes over an entity by its name (two stations may share one); an
    ObservedProperty without a key is found by its definition URI: it says what is observed."""
    by_hand = sta.post("Things", thing("Air quality station Leipzig-Mitte"))["@iot.id"]
    no2 = sta.post(
        "ObservedProperties",
        {
            "name": "NO2 (by hand)",
            "definition": "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/8",
            "description": "entered by hand",
        },
    )["@iot.id"]

    report = import_stations(sta, DATA / "stations_utc_part1.csv", STATIONS, QUIET)

    assert report.created["Things"] == 2
    (mitte,) = sta.get("Things", {"$filter": "properties/import_key eq 'station:LfULG:Leipzig-Mitte'"})[
        "value"
    ]
    assert mitte["@iot.id"] != by_hand
    assert report.created["ObservedProperties"] == 2  # SO2 and PM10; NO2 is the one made by hand
    (stream,) = sta.get(
        "Datastreams", {"$filter": "name eq 'NO2 at Leipzig-Mitte'", "$expand": "ObservedProperty"}
    )["value"]
    assert stream["ObservedProperty"]["@iot.id"] == no2


def test_entities_are_remembered_per_entity_set(sta: LocalClient) -> None:
    catalogue = Catalogue(sta, ImportReport())
    station = catalogue.ensure("Things", "test:thing", thing("Mitte"))
    sensor = catalogue.ensure("Sensors", "test:sensor", SENSOR)
    assert station == sensor == 1  # (a fresh store)
    assert catalogue.entity("Things", station)["name"] == "Mitte"
    assert catalogue.entity("Sensors", sensor)["name"] == "analyser"
