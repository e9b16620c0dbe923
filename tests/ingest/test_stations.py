"""`urbantwin import stations`: hourly station CSVs (LfULG and alike) through the SensorThings service.

The small files in `data/` cover the mapping (units, observed properties, daily means), local time
across the autumn daylight saving change, bad rows and overlapping files; the real LfULG file the
demo ships is imported whole, into an empty store and into the demo's own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.conftest import DemoSensors
from urbantwin.cli import app
from urbantwin.demo import DATA_DIR
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.sta_loader import ImportAborted, ImportReport, OnError
from urbantwin.ingest.stations import StationOptions, import_stations, read_station_csv, read_stations
from urbantwin.settings import Settings

DATA = Path(__file__).parent / "data"
STATIONS = DATA / "stations_leipzig.geojson"
LFULG_HOURLY = DATA_DIR / "lfulg_leipzig_hourly_2014-09_2014-11.csv"
LFULG_STATIONS = DATA_DIR / "lfulg_saxony_stations_2014.geojson"
EEA = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
QUIET = StationOptions(network="LfULG", progress=False)
runner = CliRunner()


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


def count(sta: LocalClient, path: str) -> int:
    return sta.get(path, {"$count": "true", "$top": "0"})["@iot.count"]


def datastream(sta: LocalClient, name: str) -> dict[str, Any]:
    found = sta.get(
        "Datastreams",
        {"$filter": f"name eq '{name}'", "$expand": "ObservedProperty,Sensor,Thing($expand=Locations)"},
    )["value"]
    assert len(found) == 1, (name, found)
    return found[0]


def observations(sta: LocalClient, name: str) -> list[dict[str, Any]]:
    ident = datastream(sta, name)["@iot.id"]
    query = {"$orderby": "phenomenonTime asc", "$top": "10000"}
    return list(sta.entities(f"Datastreams({ident})/Observations", query))


def test_a_long_utc_file_maps_stations_components_and_units(sta: LocalClient) -> None:
    report = import_stations(sta, DATA / "stations_utc_part1.csv", STATIONS, QUIET)

    assert report.observations == 7
    assert [str(p) for p in report.problems] == ["stations_utc_part1.csv:9: unknown component 'zz'"]
    assert report.created == {"Things": 2, "Sensors": 1, "ObservedProperties": 3, "Datastreams": 3}
    assert count(sta, "Things") == 2 and count(sta, "Datastreams") == 3

    no2 = datastream(sta, "NO2 at Leipzig-Mitte")
    assert no2["ObservedProperty"]["definition"] == EEA + "8"
    assert no2["unitOfMeasurement"] == {
        "name": "microgram per cubic metre",
        "symbol": "µg/m³",
        "definition": "http://www.opengis.net/def/uom/UCUM/0/ug%2Fm3",
    }
    assert no2["properties"]["aggregation"] == "PT1H"
    assert no2["properties"]["import_key"] == "station:LfULG:Leipzig-Mitte:no2"
    assert no2["Sensor"]["name"] == "LfULG reference analyser"
    thing = no2["Thing"]
    assert thing["name"] == "Air quality station Leipzig-Mitte"
    assert thing["properties"]["import_key"] == "station:LfULG:Leipzig-Mitte"
    assert thing["Locations"][0]["location"] == {"type": "Point", "coordinates": [12.37715, 51.344167]}
    assert [(o["phenomenonTime"], o["result"]) for o in observations(sta, "NO2 at Leipzig-Mitte")] == [
        ("2014-10-01T10:00:00Z", 30.0),
        ("2014-10-01T11:00:00Z", 32.0),
        ("2014-10-01T12:00:00Z", 35.0),
    ]
    assert datastream(sta, "SO2 at Leipzig-Mitte")["ObservedProperty"]["definition"] == EEA + "1"

    # Values a day apart are daily means: the local day starting at the timestamp.
    pm10 = datastream(sta, "PM10 at Leipzig-West")
    assert pm10["properties"]["aggregation"] == "P1D"
    assert pm10["ObservedProperty"]["definition"] == EEA + "5"
    assert [(o["phenomenonTime"], o["resultTime"]) for o in observations(sta, "PM10 at Leipzig-West")] == [
        ("2014-09-30T22:00:00Z/2014-10-01T22:00:00Z", "2014-10-01T22:00:00Z"),
        ("2014-10-01T22:00:00Z/2014-10-02T22:00:00Z", "2014-10-02T22:00:00Z"),
    ]


def test_importing_again_adds_nothing_and_a_newer_file_only_what_is_new(sta: LocalClient) -> None:
    import_stations(sta, DATA / "stations_utc_part1.csv", STATIONS, QUIET)

    again = import_stations(sta, DATA / "stations_utc_part1.csv", STATIONS, QUIET)
    assert again.observations == 0 and again.already_present == 7
    assert not again.created
    assert count(sta, "Observations") == 7

    newer = import_stations(sta, DATA / "stations_utc_part2.csv", STATIONS, QUIET)
    assert newer.observations == 3 and newer.already_present == 3
    assert not newer.created
    assert count(sta, "Observations") == 10
    assert [o["result"] for o in observations(sta, "NO2 at Leipzig-Mitte")] == [30.0, 32.0, 35.0, 37.5, 36.0]
    assert observations(sta, "PM10 at Leipzig-West")[-1]["phenomenonTime"] == (
        "2014-10-02T22:00:00Z/2014-10-03T22:00:00Z"
    )


def test_local_time_across_the_autumn_change_and_bad_rows(sta: LocalClient) -> None:
    """26 Oct 2014, Europe/Berlin: 02:00 happens twice (CEST, then CET); 30 Mar 2014 02:30 never."""
    report = import_stations(sta, DATA / "stations_local_dst.csv", STATIONS, QUIET)

    assert [o["phenomenonTime"] for o in observations(sta, "NO2 at Leipzig-Mitte")] == [
        "2014-10-25T22:00:00Z",  # 00:00 CEST
        "2014-10-25T23:00:00Z",  # 01:00 CEST
        "2014-10-26T00:00:00Z",  # 02:00 CEST
        "2014-10-26T01:00:00Z",  # 02:00 CET, the repeated hour
        "2014-10-26T02:00:00Z",  # 03:00 CET
    ]
    assert [o["result"] for o in observations(sta, "NO2 at Leipzig-Mitte")] == [31.5, 29.0, 27.5, 26.0, 25.0]
    assert len(observations(sta, "O3 at Leipzig-Mitte")) == 5  # the row of the bad NO2 value is skipped
    co = datastream(sta, "CO at Leipzig-Mitte")
    assert co["unitOfMeasurement"]["symbol"] == "mg/m³"
    assert co["ObservedProperty"]["definition"] == EEA + "10"
    assert [o["result"] for o in observations(sta, "CO at Leipzig-Mitte")] == [0.41, 0.40, 0.38, 0.37]
    assert report.empty_values == 1
    assert report.ignored_columns == {"stations_local_dst.csv": ["Bemerkung"]}
    problems = [str(p) for p in report.problems]
    assert problems[0] == "stations_local_dst.csv:7: NO2 [µg/m³]: 'x' is not a number"
    assert problems[1].startswith(
        "stations_local_dst.csv:8: '30.03.2014 02:30' does not exist in Europe/Berlin"
    )
    assert (
        problems[2] == "stations_local_dst.csv:9: station 'Leipzig-Nord' is not in stations_leipzig.geojson"
    )
    assert len(problems) == 3


def test_a_fixed_utc_offset_column_has_no_daylight_saving(sta: LocalClient, tmp_path: Path) -> None:
    file = tmp_path / "mez.csv"
    file.write_text("station;zeit_mez;NO2\nLeipzig-West;2014-07-01 13:00;20,5\n", encoding="utf-8")
    import_stations(sta, file, STATIONS, QUIET)
    assert [o["phenomenonTime"] for o in observations(sta, "NO2 at Leipzig-West")] == ["2014-07-01T12:00:00Z"]


def test_abort_on_a_bad_row_writes_nothing(sta: LocalClient) -> None:
    options = StationOptions(network="LfULG", progress=False, on_error=OnError.abort)
    with pytest.raises(ImportAborted) as aborted:
        import_stations(sta, DATA / "stations_local_dst.csv", STATIONS, options)
    assert aborted.value.problem.line == 7
    assert count(sta, "Things") == 0 and count(sta, "Observations") == 0


@pytest.mark.long  # a year of the real stations' file
def test_the_real_lfulg_file_imports_whole_and_once(sta: LocalClient, backend: str) -> None:
    began = time.perf_counter()
    report = import_stations(sta, LFULG_HOURLY, LFULG_STATIONS, QUIET)
    seconds = time.perf_counter() - began
    print(f"\nLfULG hourly file on {backend}: {report.observations} observations in {seconds:.2f} s")

    assert report.rows == 2483 and report.observations == 2483 and not report.problems
    assert report.created == {"Things": 4, "Sensors": 1, "ObservedProperties": 7, "Datastreams": 15}
    first = observations(sta, "NO at Leipzig-Lützner Str.")[0]  # the file's first row, its "ü" composed
    assert (first["phenomenonTime"], first["result"]) == ("2014-09-28T21:00:00Z", 2.0)
    assert datastream(sta, "PM2.5 at Leipzig-Mitte")["properties"]["aggregation"] == "P1D"

    again = import_stations(sta, LFULG_HOURLY, LFULG_STATIONS, QUIET)
    assert again.observations == 0 and again.already_present == 2483 and not again.created


@pytest.mark.long  # the demo (loaded once per test process and backend, `demo_sensors`)
@pytest.mark.xdist_group("demo-sensors")
def test_the_real_lfulg_file_joins_the_demo_stations(demo_sensors: DemoSensors) -> None:
    """The demo loaded the same file: the import finds its Things, Datastreams and values."""
    sets = ("Things", "Locations", "Sensors", "ObservedProperties", "Datastreams", "Observations")
    with demo_sensors.client() as sta:
        before = {entity_set: count(sta, entity_set) for entity_set in sets}

        report = import_stations(sta, LFULG_HOURLY, LFULG_STATIONS, QUIET)

        assert report.observations == 0 and report.already_present == 2483
        assert not report.created  # found by the connector's keys, which the demo's entities carry
        assert {entity_set: count(sta, entity_set) for entity_set in sets} == before


def test_the_command(engine: Engine, settings: Settings) -> None:
    url = ["--database-url", settings.database_url, "--network", "LfULG"]
    first = runner.invoke(
        app, ["import", "stations", str(DATA / "stations_utc_part1.csv"), "--stations", str(STATIONS), *url]
    )
    assert first.exit_code == 0, first.output
    assert "7 observations added" in first.output
    assert "stations_utc_part1.csv:9: unknown component 'zz'" in first.output
    assert "Created: 2 Things, 1 Sensors, 3 ObservedProperties, 3 Datastreams." in first.output

    again = runner.invoke(
        app, ["import", "stations", str(DATA / "stations_utc_part1.csv"), "--stations", str(STATIONS), *url]
    )
    assert again.exit_code == 0, again.output
    assert "0 observations added, 7 already present" in again.output

    aborted = runner.invoke(
        app,
        [
            "import",
            "stations",
            str(DATA / "stations_local_dst.csv"),
            "--stations",
            str(STATIONS),
            "--on-error",
            "abort",
            *url,
        ],
    )
    assert aborted.exit_code == 1
    assert "stations_local_dst.csv:7:" in aborted.output


def test_the_command_against_a_running_server(sta: LocalClient, settings: Settings, live_server: str) -> None:
    args = ["import", "stations", str(DATA / "stations_utc_part1.csv"), "--stations", str(STATIONS)]
    args += ["--network", "LfULG"]
    result = runner.invoke(app, [*args, "--url", live_server, "--token", settings.admin_token])
    assert result.exit_code == 0, result.output
    assert "7 observations added" in result.output
    assert count(sta, "Observations") == 7
    newer = ["import", "stations", str(DATA / "stations_utc_part2.csv"), "--stations", str(STATIONS)]
    newer += ["--network", "LfULG"]
    anonymous = runner.invoke(app, [*newer, "--url", live_server], env={"URBANTWIN_TOKEN": ""})
    assert anonymous.exit_code == 1
    assert "401" in anonymous.output  # reading is open, writing needs the token
    assert count(sta, "Observations") == 7


def test_a_stations_file_passes_the_one_rule_of_json_input(tmp_path: Path) -> None:
    # The stations' properties become Things' properties: held to the same depth and NUL rule.
    deep: Any = 1
    for _ in range(100):
        deep = {"a": deep}
    for properties, problem in (({"deep": deep}, "nests deeper than 64 levels"), ({"name": "a\x00"}, "NUL")):
        feature = {
            "type": "Feature",
            "properties": properties,
            "geometry": {"type": "Point", "coordinates": [12, 51]},
        }
        path = tmp_path / "stations.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        with pytest.raises(ValueError, match=problem):
            read_stations(path, QUIET)


# --- a state agency's raw export: Datum + Zeit, a units line, two instruments of one component ------

AGENCY = DATA / "stations_agency_raw.csv"


def agency(**given: Any) -> StationOptions:
    return StationOptions.preset("lfulg", station="Leipzig-Mitte", progress=False, **given)


def test_date_and_time_columns_a_units_line_and_end_stamping(sta: LocalClient) -> None:
    """Every hour is its own value (not one per day), each the hour ending at its MEZ stamp."""
    report = import_stations(sta, AGENCY, STATIONS, agency(take={"pm10": "PM10_TEOM"}))

    assert report.rows == 5 and not report.problems  # the units line is no row
    assert report.observations == 15  # NO2, PM10 (TEOM) and CO of 5 hours
    assert report.ignored_columns == {AGENCY.name: ["Bemerkung", "PM10_HVS"]}
    no2 = datastream(sta, "NO2 at Leipzig-Mitte")
    assert no2["properties"]["aggregation"] == "PT1H" and no2["properties"]["stamp"] == "end"
    assert "end of each hour" in no2["properties"]["time_convention"]
    # 01.10.2014 01:00 MEZ (UTC+1) ends the hour 00:00-01:00 MEZ, i.e. 23:00Z-00:00Z.
    assert [
        (o["phenomenonTime"], o["resultTime"], o["result"]) for o in observations(sta, "NO2 at Leipzig-Mitte")
    ] == [
        ("2014-09-30T23:00:00Z/2014-10-01T00:00:00Z", "2014-10-01T00:00:00Z", 31.5),
        ("2014-10-01T00:00:00Z/2014-10-01T01:00:00Z", "2014-10-01T01:00:00Z", 29.0),
        ("2014-10-01T01:00:00Z/2014-10-01T02:00:00Z", "2014-10-01T02:00:00Z", 27.5),
        ("2014-10-01T22:00:00Z/2014-10-01T23:00:00Z", "2014-10-01T23:00:00Z", 35.0),  # 24:00
        ("2014-10-01T23:00:00Z/2014-10-02T00:00:00Z", "2014-10-02T00:00:00Z", 33.0),
    ]
    assert [o["result"] for o in observations(sta, "PM10 at Leipzig-Mitte")] == [22.4, 21.0, 19.8, 23.5, 20.2]
    # The units line names mg/m³ for CO (also its usual unit) and µg/m³ for the others.
    assert datastream(sta, "CO at Leipzig-Mitte")["unitOfMeasurement"]["symbol"] == "mg/m³"

    again = import_stations(sta, AGENCY, STATIONS, agency(take={"pm10": "PM10_TEOM"}))
    assert again.observations == 0 and again.already_present == 15


def test_start_stamping_and_a_fixed_offset(sta: LocalClient) -> None:
    options = agency(take={"pm10": "PM10_TEOM"}, stamp="start", timezone="UTC")
    import_stations(sta, AGENCY, STATIONS, options)
    first = observations(sta, "NO2 at Leipzig-Mitte")[0]
    assert first["phenomenonTime"] == "2014-10-01T01:00:00Z/2014-10-01T02:00:00Z"


def test_two_columns_of_one_component_are_refused_naming_both(sta: LocalClient) -> None:
    with pytest.raises(ValueError, match=r"columns 'PM10_HVS' and 'PM10_TEOM' are both pm10.*--take pm10="):
        import_stations(sta, AGENCY, STATIONS, agency())
    assert count(sta, "Things") == 0  # refused before anything was written
    with pytest.raises(ValueError, match=r"no such pm10 column \(the file has 'PM10_HVS', 'PM10_TEOM'\)"):
        import_stations(sta, AGENCY, STATIONS, agency(take={"pm10": "PM10_BETA"}))

    report = import_stations(sta, AGENCY, STATIONS, agency(take={"PM10": "PM10_HVS"}))
    assert [o["result"] for o in observations(sta, "PM10 at Leipzig-Mitte")] == [24.1]
    assert "PM10_TEOM" in report.ignored_columns[AGENCY.name]


def test_a_unit_the_units_line_names_wrongly_is_refused(sta: LocalClient, tmp_path: Path) -> None:
    file = tmp_path / "raw.csv"
    file.write_text("Datum;Zeit;NO2\n;;ppb\n01.10.2014;01:00;12\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"column 'NO2': unknown unit 'ppb' in the units line"):
        import_stations(sta, file, STATIONS, agency())


def test_an_unknown_preset_or_time_zone_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown preset 'sachsen'; known: lfulg"):
        StationOptions.preset("sachsen")
    with pytest.raises(ValueError, match=r"unknown time zone 'Mars/Olympus'"):
        read_station_csv(AGENCY, agency(timezone="Mars/Olympus"), ImportReport())


def test_the_command_with_the_preset_and_provenance(engine: Engine, settings: Settings) -> None:
    """Source, licence and publisher as given; nothing claimed that was not; the network's dataset."""
    from sqlalchemy import select

    from urbantwin.store.access_schema import datasets
    from urbantwin.store.schema import datastreams, things

    base = ["import", "stations", str(AGENCY), "--stations", str(STATIONS), "--station", "Leipzig-Mitte"]
    base += ["--database-url", settings.database_url]
    refused = runner.invoke(app, [*base, "--preset", "lfulg"])
    assert refused.exit_code == 1
    assert "'PM10_HVS' and 'PM10_TEOM' are both pm10" in refused.output

    unnamed = runner.invoke(app, [*base, "--take", "pm10=PM10_TEOM"])
    assert unnamed.exit_code == 2 and "--network" in unnamed.output

    org = ["org", "add", "state-agency", "--title", "State agency", "--kind", "administration"]
    assert runner.invoke(app, [*org, "--database-url", settings.database_url]).exit_code == 0
    provenance = ["--source", "State agency, hourly export", "--licence", "dl-de/by-2-0"]
    provenance += ["--publisher", "state-agency"]
    result = runner.invoke(app, [*base, "--preset", "lfulg", "--take", "pm10=PM10_TEOM", *provenance])
    assert result.exit_code == 0, result.output
    assert "15 observations added" in result.output

    with engine.connect() as connection:
        record = connection.execute(select(datasets).where(datasets.c.id == "lfulg-stations")).one()
        thing = connection.execute(select(things.c.properties, things.c.dataset_id)).one()
        streams = set(connection.execute(select(datastreams.c.dataset_id)).scalars())
    assert (record.publisher_id, record.licence) == ("state-agency", "dl-by-de/2.0")
    assert record.extra["source"] == "State agency, hourly export"
    assert thing.dataset_id == "lfulg-stations" and streams == {"lfulg-stations"}
    assert thing.properties["source"] == "State agency, hourly export"
    assert thing.properties["licence"] == "dl-de/by-2-0"

    missing = runner.invoke(
        app, [*base, "--network", "Other", "--take", "pm10=PM10_TEOM", "--publisher", "nobody"]
    )
    assert missing.exit_code == 1 and "no organisation 'nobody'" in missing.output


def test_no_source_is_claimed_unless_given(sta: LocalClient) -> None:
    import_stations(sta, DATA / "stations_utc_part1.csv", STATIONS, QUIET)
    no2 = datastream(sta, "NO2 at Leipzig-Mitte")
    assert "source" not in no2["properties"] and "licence" not in no2["properties"]
    assert "source" not in no2["Thing"]["properties"]
    assert "scraped" not in no2["properties"]["time_convention"]
    assert no2["properties"]["stamp"] == "not stated"


def test_dataset_none_joins_the_default_dataset(engine: Engine, settings: Settings) -> None:
    from sqlalchemy import select

    from urbantwin.store.schema import things

    args = ["import", "stations", str(DATA / "stations_utc_part1.csv"), "--stations", str(STATIONS)]
    args += ["--network", "LfULG", "--dataset", "none", "--database-url", settings.database_url]
    assert runner.invoke(app, args).exit_code == 0
    with engine.connect() as connection:
        assert set(connection.execute(select(things.c.dataset_id)).scalars()) == {settings.default_dataset}
