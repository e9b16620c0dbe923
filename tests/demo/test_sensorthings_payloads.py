"""The Leipzig demo payloads and their loader, into a SQLite store through the local SensorThings service."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from urbantwin.demo import DATA_DIR
from urbantwin.demo import sensorthings as demo
from urbantwin.demo.sensorthings import (
    LFULG_SENSOR,
    MAX_ROWS_PER_REQUEST,
    OBSERVATION_COMPONENTS,
    DemoLoadReport,
    entity_payloads,
    expected_counts,
    load,
)
from urbantwin.ingest.cams import CAMS_SENSORS, cams_datastream_key, cams_sensor_key
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.sta_loader import observed_property_key
from urbantwin.ingest.stations import station_datastream_key, station_key, station_sensor_key
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

# One worker runs the whole module (`pytest -n --dist loadgroup`):
# the module's load of the demo payloads, made once, not again on the other worker.
pytestmark = pytest.mark.xdist_group("demo-payloads")

INSTANT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z"
UTC_INSTANT = re.compile(rf"^{INSTANT}$")
UTC_TIME = re.compile(rf"^{INSTANT}(?:/{INSTANT})?$")
#: Any date-time inside a string, with whatever offset it carries.
DATETIME_IN_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")

HOURLY_ROWS = 2483
AIR_STATIONS = 4
EV_STATIONS = 77
FREIFUNK_SNAPSHOT = "2020-03-03T13:26:09Z"
SHARED_SETS = ("Sensors", "ObservedProperties")


def freifunk_nodes_in_city() -> int:
    collection = json.loads((DATA_DIR / demo.FREIFUNK_FILE).read_text(encoding="utf-8"))
    return sum(1 for feature in collection["features"] if feature["properties"]["inside_leipzig_city"])


def cams_values() -> int:
    count = 0
    for name in demo.CAMS_FILES.values():
        with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                count += sum(1 for model in ("ENSEMBLE", "EURAD-IM") if row[model].strip())
    return count


class RecordingClient(LocalClient):
    """The local SensorThings service, remembering every POST body (what the loader sends)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(engine, settings)
        self.posts: list[tuple[str, Any]] = []

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        if method == "POST":
            json.dumps(body, allow_nan=False)  # must be plain JSON
            self.posts.append((path, deepcopy(body)))
        return super().request(method, path, query, body)

    @property
    def created(self) -> list[tuple[str, dict]]:
        return [(path, body) for path, body in self.posts if path != "CreateObservations"]

    @property
    def observation_requests(self) -> list[list[dict]]:
        return [body for path, body in self.posts if path == "CreateObservations"]

    def count(self, path: str, query: dict[str, str] | None = None) -> int:
        return int(self.get(path, {**(query or {}), "$count": "true", "$top": "0"})["@iot.count"])


def recording_client(folder: Path) -> RecordingClient:
    settings = Settings(database_url=f"sqlite:///{folder / 'demo.sqlite'}")
    engine = make_engine(settings)
    upgrade(engine)
    return RecordingClient(engine, settings)


def copy_of_data(folder: Path, rows: int | None = None) -> Path:
    """The demo's files in `folder`; with `rows`, each cut to its first rows (Freifunk: nodes)."""
    for name in (
        demo.STATIONS_FILE,
        demo.HOURLY_FILE,
        *demo.CAMS_FILES.values(),
        demo.EV_FILE,
        demo.FREIFUNK_FILE,
    ):
        text = (DATA_DIR / name).read_text(encoding="utf-8")
        if rows is not None and name.endswith(".csv"):
            text = "".join(text.splitlines(keepends=True)[: rows + 1])
        elif rows is not None and name == demo.FREIFUNK_FILE:
            collection = json.loads(text)
            collection["features"] = collection["features"][:rows]
            text = json.dumps(collection)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def payloads() -> list[tuple[str, dict]]:
    return list(entity_payloads())


@pytest.fixture(scope="module")
def things(payloads: list[tuple[str, dict]]) -> list[dict]:
    return [payload for entity_set, payload in payloads if entity_set == "Things"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingClient, DemoLoadReport]]:
    """The demo loaded once into a fresh SQLite store, from a copy of its files: `load` reads only
    the folder it is given."""
    client = recording_client(tmp_path_factory.mktemp("store"))
    data = copy_of_data(tmp_path_factory.mktemp("data"))
    yield client, load(client, data_dir=data)
    client.close()
    client.engine.dispose()


def datastreams_of(things: list[dict]) -> list[dict]:
    return [datastream for thing in things for datastream in thing.get("Datastreams", [])]


def by_theme(things: list[dict], theme: str) -> list[dict]:
    return [thing for thing in things if thing["properties"]["theme"] == theme]


# --- (a) counts ---------------------------------------------------------------------------------


def test_freifunk_fixture_is_the_documented_snapshot() -> None:
    assert freifunk_nodes_in_city() == 190
    assert cams_values() == 2 * 2 * 732


def test_thing_counts(things: list[dict]) -> None:
    assert len(by_theme(things, "air_quality")) == AIR_STATIONS
    assert len(by_theme(things, "ev_charging")) == EV_STATIONS
    assert len(by_theme(things, "public_wifi")) == freifunk_nodes_in_city()
    assert len(things) == AIR_STATIONS + EV_STATIONS + freifunk_nodes_in_city()
    assert len({thing["name"] for thing in things}) == len(things)


def test_air_quality_stations_and_datastreams(things: list[dict]) -> None:
    stations = {thing["properties"]["station"]: thing for thing in by_theme(things, "air_quality")}
    assert set(stations) == {"Leipzig-Lützner Str.", "Leipzig-Mitte", "Leipzig-Thekla", "Leipzig-West"}
    names = {name: [d["name"] for d in thing["Datastreams"]] for name, thing in stations.items()}
    assert sorted(names["Leipzig-Thekla"]) == ["O3 at Leipzig-Thekla"]
    assert sorted(names["Leipzig-Lützner Str."]) == [
        "NO at Leipzig-Lützner Str.",
        "NO2 at Leipzig-Lützner Str.",
        "PM10 at Leipzig-Lützner Str.",
    ]
    assert len(names["Leipzig-Mitte"]) == 6 + 2
    assert len(names["Leipzig-West"]) == 5 + 2
    for station in ("Leipzig-Mitte", "Leipzig-West"):
        assert f"PM2.5 forecast CAMS ENSEMBLE at {station}" in names[station]
        assert f"PM2.5 forecast CAMS EURAD-IM at {station}" in names[station]
    measured = [
        d
        for thing in stations.values()
        for d in thing["Datastreams"]
        if d["properties"]["kind"] == "measurement"
    ]
    assert sum(len(d["Observations"]) for d in measured) == HOURLY_ROWS


def test_ev_things_have_no_datastreams(things: list[dict]) -> None:
    for thing in by_theme(things, "ev_charging"):
        assert not thing.get("Datastreams")
        assert thing["properties"]["kind"] in {"normal", "fast"}
        assert thing["properties"]["charge_points"] >= 1
    kinds = [thing["properties"]["kind"] for thing in by_theme(things, "ev_charging")]
    assert kinds.count("fast") == 2


def test_load_counts(loaded: tuple[RecordingClient, DemoLoadReport]) -> None:
    client, report = loaded
    nodes = freifunk_nodes_in_city()
    assert report.things == AIR_STATIONS + EV_STATIONS + nodes
    assert report.datastreams == 15 + 4 + nodes
    assert report.observations == HOURLY_ROWS + cams_values() + nodes
    assert report == expected_counts()
    assert client.count("Things") == report.things
    assert client.count("Datastreams") == report.datastreams
    assert client.count("Observations") == report.observations
    assert client.count("Sensors") == 4
    assert client.count("ObservedProperties") == 8


def test_observation_batches_are_bounded(loaded: tuple[RecordingClient, DemoLoadReport]) -> None:
    client, report = loaded
    sizes = [sum(len(item["dataArray"]) for item in body) for body in client.observation_requests]
    assert all(0 < size <= MAX_ROWS_PER_REQUEST for size in sizes)
    assert len(sizes) == -(-report.observations // MAX_ROWS_PER_REQUEST), "few large requests"


def test_batches_split_at_the_limit() -> None:
    rows = [[f"2020-01-01T00:00:{i % 60:02d}Z", None, i] for i in range(MAX_ROWS_PER_REQUEST + 7)]
    batches = list(demo._batches([(1, rows), (2, rows[:3])]))
    assert [sum(len(item["dataArray"]) for item in batch) for batch in batches] == [MAX_ROWS_PER_REQUEST, 10]
    assert [item["Datastream"]["@iot.id"] for item in batches[1]] == [1, 2]


def test_every_observation_arrives_in_its_datastream(loaded: tuple[RecordingClient, DemoLoadReport]) -> None:
    client, _ = loaded
    ids = {
        datastream["name"]: datastream["@iot.id"]
        for datastream in client.entities("Datastreams", {"$select": "id,name"})
    }
    sent: dict[int, int] = {}
    for body in client.observation_requests:
        for item in body:
            sent[item["Datastream"]["@iot.id"]] = sent.get(item["Datastream"]["@iot.id"], 0) + len(
                item["dataArray"]
            )
    for datastream in datastreams_of([p for s, p in entity_payloads() if s == "Things"]):
        assert sent[ids[datastream["name"]]] == len(datastream["Observations"])


def test_every_entity_carries_its_key(loaded: tuple[RecordingClient, DemoLoadReport]) -> None:
    """The connectors' keys where a connector makes the same entity, so an import joins them."""
    client, _ = loaded
    for entity_set in ("Things", "Sensors", "ObservedProperties", "Datastreams"):
        assert client.count(entity_set, {"$filter": "properties/import_key eq null"}) == 0, entity_set

    def key_of(path: str, name: str) -> str:
        (found,) = client.get(path, {"$filter": f"name eq '{name}'"})["value"]
        return found["properties"]["import_key"]

    assert key_of("Things", "Air quality station Leipzig-Mitte") == station_key("LfULG", "Leipzig-Mitte")
    assert key_of("Datastreams", "PM2.5 at Leipzig-Mitte") == station_datastream_key(
        "LfULG", "Leipzig-Mitte", "pm25"
    )
    assert key_of("Sensors", LFULG_SENSOR["name"]) == station_sensor_key("LfULG")
    assert key_of("Datastreams", "PM2.5 forecast CAMS EURAD-IM at Leipzig-West") == cams_datastream_key(
        "Leipzig-West", "pm25", "EURAD-IM"
    )
    assert key_of("Sensors", CAMS_SENSORS["ENSEMBLE"]["name"]) == cams_sensor_key("ENSEMBLE")
    assert key_of("ObservedProperties", "Ozone (O3)") == observed_property_key(
        "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/7"
    )


# --- (b) mandatory properties ---------------------------------------------------------------------


def check_thing(thing: dict) -> None:
    assert isinstance(thing["name"], str) and thing["name"]
    assert isinstance(thing["description"], str) and thing["description"]
    assert thing["properties"]["source"] and thing["properties"]["licence"]
    assert len(thing["Locations"]) == 1
    for location in thing["Locations"]:
        check_location(location)


def check_location(location: dict) -> None:
    for key in ("name", "description", "encodingType", "location"):
        assert location[key], key
    assert location["encodingType"] == "application/geo+json"
    geometry = location["location"]
    assert geometry["type"] == "Point"
    lon, lat = geometry["coordinates"]
    assert 12.0 < lon < 12.7 and 51.2 < lat < 51.5, "inside the Leipzig area"


def check_sensor(sensor: dict) -> None:
    for key in ("name", "description", "encodingType", "metadata"):
        assert isinstance(sensor[key], str) and sensor[key], key
    assert sensor["encodingType"] == "text/html"


def check_observed_property(observed_property: dict) -> None:
    for key in ("name", "definition", "description"):
        assert isinstance(observed_property[key], str) and observed_property[key], key


def check_datastream(datastream: dict, *, linked: bool) -> None:
    """A Datastream of a Thing deep insert: its Thing is the enclosing entity, so it has no `Thing` key."""
    assert "Thing" not in datastream
    for key in ("name", "description", "observationType"):
        assert isinstance(datastream[key], str) and datastream[key], key
    assert datastream["observationType"].startswith("http://www.opengis.net/def/observationType/OGC-OM/2.0/")
    unit = datastream["unitOfMeasurement"]
    for key in ("name", "symbol", "definition"):
        assert isinstance(unit[key], str) and unit[key], key
    if linked:
        assert set(datastream["Sensor"]) == {"@iot.id"}
        assert set(datastream["ObservedProperty"]) == {"@iot.id"}
    else:
        check_sensor(datastream["Sensor"])
        check_observed_property(datastream["ObservedProperty"])


def test_payloads_have_mandatory_properties(payloads: list[tuple[str, dict]]) -> None:
    seen_things = False
    for entity_set, payload in payloads:
        if entity_set == "Sensors":
            assert not seen_things, "shared entities come first"
            check_sensor(payload)
        elif entity_set == "ObservedProperties":
            assert not seen_things, "shared entities come first"
            check_observed_property(payload)
        else:
            assert entity_set == "Things"
            seen_things = True
            check_thing(payload)
            for datastream in payload.get("Datastreams", []):
                check_datastream(datastream, linked=False)
                assert datastream["Observations"], "no Datastream without an Observation"


def test_created_payloads_have_mandatory_properties(loaded: tuple[RecordingClient, DemoLoadReport]) -> None:
    client, _ = loaded
    checks = {"Sensors": check_sensor, "ObservedProperties": check_observed_property, "Things": check_thing}
    for entity_set, payload in client.created:
        checks[entity_set](payload)
        for datastream in payload.get("Datastreams", []):
            check_datastream(datastream, linked=True)


def test_text_is_nfc(payloads: list[tuple[str, dict]]) -> None:
    for _, payload in payloads:
        for text in walk_strings(payload):
            assert unicodedata.is_normalized("NFC", text), text


def test_datastream_names_are_unique(things: list[dict]) -> None:
    names = [datastream["name"] for datastream in datastreams_of(things)]
    assert len(names) == len(set(names))


def test_shared_entities_are_consistent(payloads: list[tuple[str, dict]], things: list[dict]) -> None:
    shared = {
        (entity_set, payload["name"]): payload
        for entity_set, payload in payloads
        if entity_set in SHARED_SETS
    }
    for datastream in datastreams_of(things):
        assert shared[("Sensors", datastream["Sensor"]["name"])] == datastream["Sensor"]
        assert (
            shared[("ObservedProperties", datastream["ObservedProperty"]["name"])]
            == datastream["ObservedProperty"]
        )


def test_eea_pollutant_definitions(payloads: list[tuple[str, dict]]) -> None:
    definitions = {p["name"]: p["definition"] for s, p in payloads if s == "ObservedProperties"}
    eea = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
    assert definitions["Nitrogen dioxide (NO2)"] == eea + "8"
    assert definitions["Nitrogen monoxide (NO)"] == eea + "38"
    assert definitions["Ozone (O3)"] == eea + "7"
    assert definitions["Sulphur dioxide (SO2)"] == eea + "1"
    assert definitions["Particulate matter < 10 µm (PM10)"] == eea + "5"
    assert definitions["Particulate matter < 2.5 µm (PM2.5)"] == eea + "6001"
    assert definitions["Benzene (C6H6)"] == eea + "20"


def test_cams_datastreams_are_labelled_model_data(things: list[dict]) -> None:
    forecasts = [d for d in datastreams_of(things) if "forecast" in d["name"]]
    assert len(forecasts) == 4
    for datastream in forecasts:
        properties = datastream["properties"]
        assert properties["synthetic"] is False
        assert properties["kind"] == "model forecast"
        assert properties["attribution"] == (
            "Contains modified Copernicus Atmosphere Monitoring Service information [2023]"
        )
        assert datastream["Sensor"]["name"].startswith("CAMS regional")
        first = datastream["Observations"][0]
        assert first["phenomenonTime"] == "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z"
        assert first["resultTime"] is None  # forecast run time unknown


def test_pm_daily_means_cover_a_day(things: list[dict]) -> None:
    mitte = next(t for t in things if t["name"] == "Air quality station Leipzig-Mitte")
    pm25 = next(d for d in mitte["Datastreams"] if d["name"] == "PM2.5 at Leipzig-Mitte")
    first = pm25["Observations"][0]
    assert first == {
        "phenomenonTime": "2014-10-02T22:00:00Z/2014-10-03T22:00:00Z",
        "resultTime": "2014-10-03T22:00:00Z",
        "result": 26.19,
    }
    assert "Assumption" in pm25["properties"]["time_convention"]


def test_freifunk_single_snapshot_observation(things: list[dict]) -> None:
    for thing in by_theme(things, "public_wifi"):
        assert not {"owner", "hostname", "mac", "contact"} & set(thing["properties"])
        (datastream,) = thing["Datastreams"]
        assert datastream["name"] == f"Wi-Fi clients at Freifunk node {thing['properties']['node_id']}"
        assert datastream["observationType"].endswith("OM_CountObservation")
        assert datastream["unitOfMeasurement"]["symbol"] == "{clients}"
        (observation,) = datastream["Observations"]
        assert observation["phenomenonTime"] == observation["resultTime"] == FREIFUNK_SNAPSHOT
        assert isinstance(observation["result"], int) and observation["result"] >= 0


# --- (c) idempotent loading -----------------------------------------------------------------------


def test_loading_again_creates_nothing_and_completes_a_load_that_stopped(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    client = RecordingClient(engine, settings)
    data = copy_of_data(tmp_path, rows=15)  # the rules of loading need a few rows of each file only
    try:
        calls: list[int] = []
        first = load(client, data_dir=data, progress=calls.append)
        assert first == expected_counts(data)
        assert calls == list(range(1, first.things + 1))
        calls.clear()
        posts = len(client.posts)
        nothing = DemoLoadReport(things=0, datastreams=0, observations=0)
        assert load(client, data_dir=data, progress=calls.append) == nothing
        assert len(client.posts) == posts, "nothing is sent the second time"
        assert calls == list(range(1, first.things + 1)), "Things found count too"

        # A load stopped half way: a Datastream without some of its Observations, one missing.
        def datastream(name: str) -> int:
            (found,) = client.get("Datastreams", {"$filter": f"name eq '{name}'"})["value"]
            return int(found["@iot.id"])

        ensemble = datastream("PM2.5 forecast CAMS ENSEMBLE at Leipzig-Mitte")
        eurad = datastream("PM2.5 forecast CAMS EURAD-IM at Leipzig-West")
        observations = f"Datastreams({ensemble})/Observations"
        kept = client.count(observations)
        for observation in client.get(observations, {"$orderby": "phenomenonTime", "$top": "10"})["value"]:
            client.request("DELETE", f"Observations({observation['@iot.id']})")
        lost = client.count(f"Datastreams({eurad})/Observations")
        client.request("DELETE", f"Datastreams({eurad})")

        again = load(client, data_dir=data)
        assert again == DemoLoadReport(things=0, datastreams=1, observations=10 + lost)
        assert client.count(observations) == kept
        totals = (client.count("Datastreams"), client.count("Observations"))
        assert totals == (first.datastreams, first.observations)
    finally:
        client.close()


# --- (d) times ------------------------------------------------------------------------------------


def walk_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in walk_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in walk_strings(item)]
    return []


def test_every_time_is_iso8601_utc(payloads: list[tuple[str, dict]]) -> None:
    times = 0
    for _, payload in payloads:
        for datastream in payload.get("Datastreams", []):
            for observation in datastream["Observations"]:
                assert UTC_TIME.match(observation["phenomenonTime"]), observation
                assert observation["resultTime"] is None or UTC_INSTANT.match(observation["resultTime"])
                times += 1
        for text in walk_strings(payload):
            for found in DATETIME_IN_TEXT.findall(text):
                assert UTC_INSTANT.match(found), text
    assert times > HOURLY_ROWS


def test_data_array_times_are_iso8601_utc(loaded: tuple[RecordingClient, DemoLoadReport]) -> None:
    client, _ = loaded
    phenomenon, result = (
        OBSERVATION_COMPONENTS.index("phenomenonTime"),
        OBSERVATION_COMPONENTS.index("resultTime"),
    )
    for body in client.observation_requests:
        for row in (row for item in body for row in item["dataArray"]):
            assert UTC_TIME.match(row[phenomenon]), row
            assert row[result] is None or UTC_INSTANT.match(row[result]), row
            if "/" in row[phenomenon] and row[result] is not None:
                assert row[result] == row[phenomenon].split("/")[1], "resultTime is the end of the interval"


# --- packaging ------------------------------------------------------------------------------------


def test_demo_does_not_read_outside_the_package() -> None:
    source = Path(demo.__file__).read_text(encoding="utf-8")
    assert "/work/shared" not in source
    assert Path(demo.__file__).resolve().parent / "data" == DATA_DIR
    assert (DATA_DIR.parent / "SOURCES.md").is_file()
