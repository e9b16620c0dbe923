"""`urbantwin import sensor-community`: archive CSVs of the citizen science network.

`data/` holds three small archive files in the archive's own format: an SDS011 file with a bad
timestamp (line 4) and a bad value (line 6), a gzipped DHT22 file at the same location and a BME280
file at another; and a later download of the SDS011 day that overlaps the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from urbantwin.cli import app
from urbantwin.ingest.sensorcommunity import import_sensor_community
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.sta_loader import ImportAborted, OnError
from urbantwin.ingest.stations import StationOptions, import_stations
from urbantwin.settings import Settings

DATA = Path(__file__).parent / "data"
SDS011 = DATA / "2020-01-01_sds011_sensor_1001.csv"
SDS011_LATER = DATA / "2020-01-01_sds011_sensor_1001_later.csv"
DHT22_GZ = DATA / "2020-01-01_dht22_sensor_1002.csv.gz"
BME280 = DATA / "2020-01-01_bme280_sensor_1003.csv"
EEA = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
UCUM = "http://www.opengis.net/def/uom/UCUM/0/"
runner = CliRunner()


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


def count(sta: LocalClient, path: str, where: str | None = None) -> int:
    query = {"$count": "true", "$top": "0", **({"$filter": where} if where else {})}
    return sta.get(path, query)["@iot.count"]


def by_key(sta: LocalClient, key: str) -> dict[str, Any]:
    found = sta.get(
        "Datastreams",
        {
            "$filter": f"properties/import_key eq '{key}'",
            "$expand": "ObservedProperty,Sensor,Thing($expand=Locations),"
            "Observations($orderby=phenomenonTime asc;$top=100)",
        },
    )["value"]
    assert len(found) == 1, key
    return found[0]


def series(datastream: dict[str, Any]) -> list[tuple[str, float]]:
    return [(o["phenomenonTime"], o["result"]) for o in datastream["Observations"]]


def test_archive_files_become_things_sensors_and_datastreams(sta: LocalClient) -> None:
    report = import_sensor_community(sta, [SDS011, DHT22_GZ, BME280], progress=False)

    assert report.files == 3 and report.rows == 11
    assert [str(p) for p in report.problems] == [
        "2020-01-01_sds011_sensor_1001.csv:4: timestamp 'not-a-time' is not an ISO 8601 time",
        "2020-01-01_sds011_sensor_1001.csv:6: P1: 'abc' is not a number",
    ]
    assert report.empty_values == 1  # P2 of line 5
    assert report.ignored_columns == {
        "2020-01-01_sds011_sensor_1001.csv": ["durP1", "ratioP1", "durP2", "ratioP2"],
        "2020-01-01_bme280_sensor_1003.csv": ["altitude"],
    }
    # One Thing per location (501 has the SDS011 and the DHT22), one Sensor per sensor.
    assert report.created == {"Things": 2, "Sensors": 3, "ObservedProperties": 6, "Datastreams": 8}
    assert report.observations == 4 + 3 + 3 + 3 + 4 * 2
    assert count(sta, "Observations") == report.observations

    pm10 = by_key(sta, "sensor.community:location:501:sensor:1001:SDS011:P1")
    assert pm10["ObservedProperty"]["definition"] == EEA + "5"
    assert pm10["ObservedProperty"]["name"] == "Particulate matter < 10 µm (PM10)"  # the demo's entity
    assert pm10["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert series(pm10) == [
        ("2020-01-01T00:01:12Z", 12.3),
        ("2020-01-01T00:03:41Z", 14.1),
        ("2020-01-01T00:06:10Z", 11.9),
        ("2020-01-01T00:11:08Z", 15.2),
    ]
    pm25 = by_key(sta, "sensor.community:location:501:sensor:1001:SDS011:P2")
    assert pm25["ObservedProperty"]["definition"] == EEA + "6001"
    assert [value for _, value in series(pm25)] == [7.4, 8.05, 9.1]
    sensor = pm10["Sensor"]
    assert sensor["name"] == "SDS011 sensor 1001 (sensor.community)"
    assert sensor["encodingType"] == "application/pdf" and sensor["metadata"].endswith(".pdf")
    thing = pm10["Thing"]
    assert thing["name"] == "sensor.community location 501"
    assert thing["properties"]["import_key"] == "sensor.community:location:501"
    assert thing["Locations"][0]["location"] == {"type": "Point", "coordinates": [12.375, 51.34]}

    temperature = by_key(sta, "sensor.community:location:501:sensor:1002:DHT22:temperature")
    assert temperature["Thing"]["@iot.id"] == thing["@iot.id"]  # the gzipped file, same site
    assert temperature["unitOfMeasurement"] == {
        "name": "degree Celsius",
        "symbol": "°C",
        "definition": UCUM + "Cel",
    }
    assert (
        temperature["ObservedProperty"]["definition"]
        == "http://vocab.nerc.ac.uk/standard_name/air_temperature/"
    )
    humidity = by_key(sta, "sensor.community:location:501:sensor:1002:DHT22:humidity")
    assert humidity["unitOfMeasurement"]["definition"] == UCUM + "%25"
    assert [value for _, value in series(humidity)] == [87.3, 87.9, 88.4]
    pressure = by_key(sta, "sensor.community:location:502:sensor:1003:BME280:pressure")
    assert pressure["unitOfMeasurement"]["symbol"] == "Pa"
    assert series(pressure)[0] == ("2020-01-01T00:00:45Z", 100512.34)
    sea_level = by_key(sta, "sensor.community:location:502:sensor:1003:BME280:pressure_sealevel")
    assert sea_level["ObservedProperty"]["name"] == "Air pressure at mean sea level"


def test_importing_again_adds_nothing_and_a_later_download_only_what_is_new(sta: LocalClient) -> None:
    import_sensor_community(sta, [SDS011], progress=False)
    stored = count(sta, "Observations")

    again = import_sensor_community(sta, [SDS011], progress=False)
    assert again.observations == 0 and again.already_present == stored == 7
    assert not again.created

    later = import_sensor_community(sta, [SDS011_LATER], progress=False)
    assert later.observations == 4 and later.already_present == 7
    assert not later.created
    pm10 = by_key(sta, "sensor.community:location:501:sensor:1001:SDS011:P1")
    assert [value for _, value in series(pm10)] == [12.3, 14.1, 11.9, 15.2, 16.8, 17.4]


def test_the_same_file_twice_in_one_call_counts_once(sta: LocalClient) -> None:
    report = import_sensor_community(sta, [SDS011, SDS011], progress=False)
    assert report.observations == 7
    assert report.already_present + report.duplicates == 7


def test_station_and_citizen_data_share_observed_properties(sta: LocalClient) -> None:
    import_sensor_community(sta, [SDS011], progress=False)
    import_stations(
        sta,
        DATA / "stations_utc_part1.csv",
        DATA / "stations_leipzig.geojson",
        StationOptions(network="LfULG", progress=False),
    )
    assert count(sta, "ObservedProperties", f"definition eq '{EEA}5'") == 1


def test_abort_keeps_the_files_before_and_writes_nothing_of_the_bad_one(sta: LocalClient) -> None:
    with pytest.raises(ImportAborted) as aborted:
        import_sensor_community(sta, [BME280, SDS011], on_error=OnError.abort, progress=False)
    assert (aborted.value.problem.file, aborted.value.problem.line) == (SDS011.name, 4)
    assert count(sta, "Observations") == 8  # the BME280 file, none of the SDS011 file
    assert count(sta, "Datastreams", "properties/sensor_type eq 'SDS011'") == 0


def test_a_file_of_another_format_is_refused(sta: LocalClient, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("station,timestamp_utc,component,value_ug_m3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a sensor.community archive file"):
        import_sensor_community(sta, [other], progress=False)


def test_the_command(engine: Engine, settings: Settings) -> None:
    files = [str(SDS011), str(DHT22_GZ), str(BME280)]
    url = ["--database-url", settings.database_url]
    first = runner.invoke(app, ["import", "sensor-community", *files, *url])
    assert first.exit_code == 0, first.output
    assert "3 file(s), 11 rows: 21 observations added" in first.output
    assert "2020-01-01_sds011_sensor_1001.csv:4: timestamp 'not-a-time'" in first.output
    assert "Created: 2 Things, 3 Sensors, 6 ObservedProperties, 8 Datastreams." in first.output

    again = runner.invoke(app, ["import", "sensor-community", *files, *url])
    assert again.exit_code == 0, again.output
    assert "0 observations added, 21 already present" in again.output
    assert "Created: nothing new." in again.output

    aborted = runner.invoke(app, ["import", "sensor-community", str(SDS011), "--on-error", "abort", *url])
    assert aborted.exit_code == 1
    assert "2020-01-01_sds011_sensor_1001.csv:4:" in aborted.output


def test_the_command_puts_what_it_makes_into_a_dataset(engine: Engine, settings: Settings) -> None:
    from sqlalchemy import select

    from urbantwin.store.access_schema import datasets
    from urbantwin.store.schema import datastreams, sensors, things

    url = ["--database-url", settings.database_url]
    result = runner.invoke(app, ["import", "sensor-community", str(SDS011), "--dataset", "citizen-pm", *url])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        record = connection.execute(select(datasets).where(datasets.c.id == "citizen-pm")).one()
        placed = {
            table.name: set(connection.execute(select(table.c.dataset_id)).scalars())
            for table in (things, sensors, datastreams)
        }
    assert record.licence == "odbl" and "ODbL" in record.extra["licence_note"]
    assert placed == {"things": {"citizen-pm"}, "sensors": {"citizen-pm"}, "datastreams": {"citizen-pm"}}
