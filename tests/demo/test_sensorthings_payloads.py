"""The Leipzig demo payloads and their loader, against in-memory fakes of a SensorThings service."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from urbantwin.demo import DATA_DIR
from urbantwin.demo import sensorthings as demo
from urbantwin.demo.sensorthings import (
    MAX_ROWS_PER_REQUEST,
    OBSERVATION_COMPONENTS,
    DemoLoadReport,
    entity_payloads,
    expected_counts,
    load,
)

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


class FakeService:
    """Remembers entities by name, as the real service's `find_id` would find them."""

    def __init__(self) -> None:
        self.next_id = 1
        self.by_name: dict[tuple[str, str], int] = {}
        self.entities: dict[str, dict[int, dict]] = {}
        self.created: list[tuple[str, dict]] = []
        self.observation_requests: list[list[dict]] = []
        self.observations: dict[int, list[list[Any]]] = {}

    def _register(self, entity_set: str, payload: dict) -> int:
        key = (entity_set, payload["name"])
        assert key not in self.by_name, f"duplicate name {key}"
        entity_id = self.next_id
        self.next_id += 1
        self.by_name[key] = entity_id
        self.entities.setdefault(entity_set, {})[entity_id] = payload
        return entity_id

    def create(self, entity_set: str, payload: dict) -> int:
        json.dumps(payload, allow_nan=False)  # must be plain JSON
        self.created.append((entity_set, payload))
        entity_id = self._register(entity_set, payload)
        if entity_set == "Things":
            for location in payload.get("Locations", []):
                self.entities.setdefault("Locations", {})[self.next_id] = location
                self.next_id += 1
            for datastream in payload.get("Datastreams", []):
                for key, linked_set in (("Sensor", "Sensors"), ("ObservedProperty", "ObservedProperties")):
                    assert set(datastream[key]) == {"@iot.id"}, "shared entities are linked by id"
                    assert datastream[key]["@iot.id"] in self.entities[linked_set]
                assert "Observations" not in datastream, "observations go through dataArray"
                self._register("Datastreams", datastream)
        return entity_id

    def create_observations(self, body: list[dict]) -> int:
        json.dumps(body, allow_nan=False)
        self.observation_requests.append(body)
        created = 0
        for item in body:
            datastream_id = item["Datastream"]["@iot.id"]
            assert datastream_id in self.entities["Datastreams"]
            assert item["components"] == OBSERVATION_COMPONENTS
            for row in item["dataArray"]:
                assert len(row) == len(item["components"])
            self.observations.setdefault(datastream_id, []).extend(item["dataArray"])
            created += len(item["dataArray"])
        return created

    def find_id(self, entity_set: str, name: str) -> int | None:
        return self.by_name.get((entity_set, name))

    def load(self, **kwargs: Any) -> DemoLoadReport:
        return load(self.create, self.create_observations, self.find_id, **kwargs)


@pytest.fixture(scope="module")
def payloads() -> list[tuple[str, dict]]:
    return list(entity_payloads())


@pytest.fixture(scope="module")
def things(payloads: list[tuple[str, dict]]) -> list[dict]:
    return [payload for entity_set, payload in payloads if entity_set == "Things"]


@pytest.fixture(scope="module")
def loaded() -> tuple[FakeService, DemoLoadReport]:
    service = FakeService()
    return service, service.load()


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


def test_load_counts(loaded: tuple[FakeService, DemoLoadReport]) -> None:
    service, report = loaded
    nodes = freifunk_nodes_in_city()
    assert report.things == AIR_STATIONS + EV_STATIONS + nodes
    assert report.datastreams == 15 + 4 + nodes
    assert report.observations == HOURLY_ROWS + cams_values() + nodes
    assert report == expected_counts()
    assert sum(len(rows) for rows in service.observations.values()) == report.observations
    assert len(service.entities["Sensors"]) == 4
    assert len(service.entities["ObservedProperties"]) == 8


def test_observation_batches_are_bounded(loaded: tuple[FakeService, DemoLoadReport]) -> None:
    service, _ = loaded
    for body in service.observation_requests:
        assert 0 < sum(len(item["dataArray"]) for item in body) <= MAX_ROWS_PER_REQUEST


def test_batches_split_at_the_limit() -> None:
    rows = [[f"2020-01-01T00:00:{i % 60:02d}Z", None, i] for i in range(MAX_ROWS_PER_REQUEST + 7)]
    batches = list(demo._batches([(1, rows), (2, rows[:3])]))
    assert [sum(len(item["dataArray"]) for item in batch) for batch in batches] == [MAX_ROWS_PER_REQUEST, 10]
    assert [item["Datastream"]["@iot.id"] for item in batches[1]] == [1, 2]


def test_every_observation_arrives_in_its_datastream(loaded: tuple[FakeService, DemoLoadReport]) -> None:
    service, _ = loaded
    ids = {payload["name"]: entity_id for entity_id, payload in service.entities["Datastreams"].items()}
    for datastream in datastreams_of([p for s, p in entity_payloads() if s == "Things"]):
        rows = service.observations.get(ids[datastream["name"]], [])
        assert len(rows) == len(datastream["Observations"])


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


def test_created_payloads_have_mandatory_properties(loaded: tuple[FakeService, DemoLoadReport]) -> None:
    service, _ = loaded
    checks = {"Sensors": check_sensor, "ObservedProperties": check_observed_property, "Things": check_thing}
    for entity_set, payload in service.created:
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


def test_loading_twice_creates_nothing_the_second_time() -> None:
    service = FakeService()
    first = service.load()
    created, requests = len(service.created), len(service.observation_requests)
    second = service.load()
    assert first.things > 0
    assert second == DemoLoadReport(things=0, datastreams=0, observations=0)
    assert len(service.created) == created
    assert len(service.observation_requests) == requests


def test_progress_counts_every_thing() -> None:
    calls: list[int] = []
    service = FakeService()
    report = service.load(progress=calls.append)
    assert calls == list(range(1, report.things + 1))
    calls.clear()
    service.load(progress=calls.append)
    assert calls == list(range(1, report.things + 1)), "skipped Things count too"


def test_load_reads_only_the_given_data_dir(tmp_path: Path) -> None:
    for name in (
        demo.STATIONS_FILE,
        demo.HOURLY_FILE,
        *demo.CAMS_FILES.values(),
        demo.EV_FILE,
        demo.FREIFUNK_FILE,
    ):
        (tmp_path / name).write_bytes((DATA_DIR / name).read_bytes())
    assert FakeService().load(data_dir=tmp_path) == expected_counts()


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


def test_data_array_times_are_iso8601_utc(loaded: tuple[FakeService, DemoLoadReport]) -> None:
    service, _ = loaded
    phenomenon, result = (
        OBSERVATION_COMPONENTS.index("phenomenonTime"),
        OBSERVATION_COMPONENTS.index("resultTime"),
    )
    for rows in service.observations.values():
        for row in rows:
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
