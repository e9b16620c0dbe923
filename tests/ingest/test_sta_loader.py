"""The idempotent loader the sensor connectors write through: entities found or made once,
observations stored once, in dataArray requests of bounded size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.sta_loader import (
    OBSERVATION_COMPONENTS,
    ImportReport,
    ObservationWriter,
    Reading,
    data_array_batches,
)
from urbantwin.ingest.stations import StationOptions, import_stations
from urbantwin.settings import Settings

DATA = Path(__file__).parent / "data"
STATIONS = DATA / "stations_leipzig.geojson"
QUIET = StationOptions(progress=False)


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
