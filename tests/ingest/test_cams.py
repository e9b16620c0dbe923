"""`urbantwin import cams`: CAMS forecast files (daily means per model) through the SensorThings service.

The real files are the two the demo ships (copies of the shared CAMS PM2.5 forecasts for Leipzig-Mitte
and Leipzig-West); they import into an empty store once, and into the demo's store not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.conftest import DemoSensors
from urbantwin.cli import app
from urbantwin.demo import DATA_DIR
from urbantwin.ingest.cams import CamsOptions, import_cams
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.sta_loader import ImportAborted, OnError
from urbantwin.settings import Settings

WEST = DATA_DIR / "cams_pm25_daily_forecast_L-West.csv"
MITTE = DATA_DIR / "cams_pm25_daily_forecast_L-Mitte.csv"
STATIONS = DATA_DIR / "lfulg_saxony_stations_2014.geojson"
runner = CliRunner()


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


def options(station: str = "Leipzig-West", **kwargs: object) -> CamsOptions:
    return CamsOptions(station=station, network="LfULG", progress=False, **kwargs)  # type: ignore[arg-type]


def count(sta: LocalClient, path: str) -> int:
    return sta.get(path, {"$count": "true", "$top": "0"})["@iot.count"]


def values_in(path: Path) -> int:
    """Non-empty model values in a CAMS file: what an import must store."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return sum(1 for line in lines for cell in line.split(",")[1:] if cell.strip())


def test_a_real_cams_file_imports_as_model_forecasts_once(sta: LocalClient) -> None:
    report = import_cams(sta, WEST, STATIONS, options())

    assert report.rows == 732 and not report.problems
    assert report.observations == values_in(WEST)
    assert report.created == {"Things": 1, "Sensors": 2, "ObservedProperties": 1, "Datastreams": 2}
    found = sta.get(
        "Datastreams",
        {"$filter": "name eq 'PM2.5 forecast CAMS ENSEMBLE at Leipzig-West'", "$expand": "Thing,Sensor"},
    )["value"]
    assert len(found) == 1
    ensemble = found[0]
    assert ensemble["properties"]["kind"] == "model forecast"
    assert ensemble["properties"]["attribution"].startswith("Contains modified Copernicus")
    assert ensemble["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert ensemble["Thing"]["name"] == "Air quality station Leipzig-West"
    assert ensemble["Sensor"]["name"] == "CAMS regional ensemble forecast"
    first = sta.get(
        f"Datastreams({ensemble['@iot.id']})/Observations", {"$orderby": "phenomenonTime asc", "$top": "1"}
    )["value"][0]
    # 2020-01-01,9.837641716003418,… : the UTC calendar day of the date.
    assert first["phenomenonTime"] == "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z"
    assert first["result"] == pytest.approx(9.837641716003418)

    again = import_cams(sta, WEST, STATIONS, options())
    assert again.observations == 0 and again.already_present == values_in(WEST) and not again.created


@pytest.mark.long  # the demo (loaded once per test process and backend, `demo_sensors`)
@pytest.mark.xdist_group("demo-sensors")
def test_both_real_files_join_the_demo_stations_and_add_nothing(demo_sensors: DemoSensors) -> None:
    """The demo loaded the same forecasts: the import finds its Things, Datastreams and values."""
    sets = ("Things", "Sensors", "ObservedProperties", "Datastreams", "Observations")
    with demo_sensors.client() as sta:
        before = {entity_set: count(sta, entity_set) for entity_set in sets}

        for station, path in (("Leipzig-West", WEST), ("Leipzig-Mitte", MITTE)):
            report = import_cams(sta, path, STATIONS, options(station))
            assert report.observations == 0 and report.already_present == values_in(path)
            assert not report.created

        assert {entity_set: count(sta, entity_set) for entity_set in sets} == before


def test_bad_rows_are_named_and_abort_writes_nothing(sta: LocalClient, tmp_path: Path) -> None:
    file = tmp_path / "cams.csv"
    file.write_text(
        "date,ENSEMBLE,MYMODEL\n2021-03-01,10.5,11\n2021-03-02,,12.5\n2021-3-x,1,2\n2021-03-04,many,3\n",
        encoding="utf-8",
    )
    report = import_cams(sta, file, STATIONS, options())
    assert [str(p) for p in report.problems] == [
        "cams.csv:4: date: '2021-3-x' is not YYYY-MM-DD",
        "cams.csv:5: ENSEMBLE: 'many' is not a number",
    ]
    assert report.empty_values == 1
    assert report.observations == 4  # ENSEMBLE 03-01; MYMODEL 03-01, 03-02, 03-04
    model = sta.get("Datastreams", {"$filter": "name eq 'PM2.5 forecast CAMS MYMODEL at Leipzig-West'"})
    assert model["value"][0]["properties"]["kind"] == "model forecast"

    with pytest.raises(ImportAborted):
        import_cams(sta, file, STATIONS, options(station="Leipzig-Mitte", on_error=OnError.abort))
    assert count(sta, "Datastreams") == 2  # the abort happened before Leipzig-Mitte got anything


def test_an_unknown_station_or_header_is_refused(sta: LocalClient, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="station 'Leipzig-Nord' is not in"):
        import_cams(sta, WEST, STATIONS, options(station="Leipzig-Nord"))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("day;value\n2021-01-01;1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a header 'date,<model>"):
        import_cams(sta, wrong, STATIONS, options())


def test_the_command_line_imports_into_a_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cams.sqlite'}"
    args = [
        "import",
        "cams",
        str(MITTE),
        "--station",
        "Leipzig-Mitte",
        "--stations",
        str(STATIONS),
        "--network",
        "LfULG",
    ]
    first = runner.invoke(app, [*args, "--database-url", url])
    assert first.exit_code == 0, first.output
    assert f"{values_in(MITTE)} observations added" in first.output
    again = runner.invoke(app, [*args, "--database-url", url])
    assert again.exit_code == 0 and "0 observations added" in again.output
    assert "Created: nothing new." in again.output


def test_forecasts_go_into_their_own_dataset_not_the_stations(
    sta: LocalClient, engine: Engine, settings: Settings
) -> None:
    """Model data under the Copernicus licence and attribution, beside the agency's measurements."""
    from sqlalchemy import select

    from urbantwin.ingest.provenance import Provenance
    from urbantwin.ingest.stations import StationOptions, import_stations
    from urbantwin.store.access_schema import datasets
    from urbantwin.store.schema import datastreams, sensors, things

    measured = Provenance(source="the agency", licence="dl-de/by-2-0", dataset="agency-stations")
    station_options = StationOptions(
        network="LfULG", station="Leipzig-West", provenance=measured, progress=False
    )
    hourly = DATA_DIR / "lfulg_leipzig_hourly_2014-09_2014-11.csv"
    import_stations(sta, hourly, STATIONS, station_options)

    import_cams(sta, WEST, STATIONS, options())

    with engine.connect() as connection:
        record = connection.execute(select(datasets).where(datasets.c.id == "cams-forecasts")).one()
        forecast = select(datastreams.c.dataset_id).where(
            datastreams.c.properties["kind"].as_string() == "model forecast"
        )
        forecast_datasets = set(connection.execute(forecast).scalars())
        measured_datasets = set(
            connection.execute(
                select(datastreams.c.dataset_id).where(
                    datastreams.c.properties["kind"].as_string() == "measurement"
                )
            ).scalars()
        )
        west = things.c.name == "Air quality station Leipzig-West"
        thing_dataset = connection.execute(select(things.c.dataset_id).where(west)).scalar_one()
        model_sensors = (
            connection.execute(select(sensors.c.dataset_id).where(sensors.c.name.like("CAMS%")))
            .scalars()
            .all()
        )
    assert forecast_datasets == {"cams-forecasts"} and set(model_sensors) == {"cams-forecasts"}
    assert measured_datasets == {"agency-stations"} and thing_dataset == "agency-stations"
    assert record.licence == "other-open" and record.extra["licence_note"].startswith("Copernicus")
    assert record.extra["attribution"].startswith(
        "Contains modified Copernicus Atmosphere Monitoring Service"
    )
    assert "Contains modified Copernicus" in record.description
    ensemble = sta.get("Datastreams", {"$filter": "name eq 'PM2.5 forecast CAMS ENSEMBLE at Leipzig-West'"})
    properties = ensemble["value"][0]["properties"]
    assert properties["source"].startswith("CAMS European air quality forecasts")
    assert "evalPM" not in properties["source"]  # the demo's own text stays in the demo


def test_the_command_takes_source_licence_publisher_and_dataset(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, select

    from urbantwin.store.access_schema import datasets

    url = f"sqlite:///{tmp_path / 'cams.sqlite'}"
    org = ["org", "add", "copernicus", "--title", "Copernicus (ECMWF)", "--kind", "science"]
    assert runner.invoke(app, [*org, "--database-url", url]).exit_code == 0
    args = ["import", "cams", str(MITTE), "--station", "Leipzig-Mitte", "--stations", str(STATIONS)]
    args += ["--network", "LfULG", "--source", "CAMS via ADS", "--licence", "CC BY 4.0"]
    args += ["--publisher", "copernicus", "--dataset", "pm-forecasts", "--database-url", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    with engine.connect() as connection:
        record = connection.execute(select(datasets).where(datasets.c.id == "pm-forecasts")).one()
    engine.dispose()
    assert (record.publisher_id, record.licence, record.extra["source"]) == (
        "copernicus",
        "cc-by/4.0",
        "CAMS via ADS",
    )


def test_forecasts_cannot_join_the_stations_dataset(tmp_path: Path) -> None:
    args = ["import", "cams", str(MITTE), "--station", "Leipzig-Mitte", "--stations", str(STATIONS)]
    args += [
        "--network",
        "LfULG",
        "--dataset",
        "none",
        "--database-url",
        f"sqlite:///{tmp_path / 'c.sqlite'}",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "model data" in result.output
