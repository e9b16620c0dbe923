"""The Leipzig demo data as OGC SensorThings API 1.1 payloads, and a loader that writes them to any
SensorThings service through the connectors' idempotent loader.

Nothing here knows the store or the server: `entity_payloads` only reads the bundled files
(`urbantwin/demo/data`, described in `SOURCES.md`) and yields standard STA JSON as a client would
POST it; `load` writes it through a `SensorThingsClient` (in process or over HTTP) with the
connectors' `Catalogue` and dataArray batches (`urbantwin.ingest.sta_loader`). The air quality
files are read by the sensor connectors' readers (`urbantwin.ingest.stations`, `.cams`), in their
vocabulary (`urbantwin.ingest.vocabulary`): the demo uses `ingest`, never the other way round.

Every entity carries an `import_key` (`properties`); where a connector makes the same entity (the
LfULG stations, their Sensor and Datastreams, the CAMS Sensors and Datastreams, the
ObservedProperties) it is the connector's key, so `urbantwin import stations` or `import cams` into
the demo's store joins the demo's entities instead of making them twice.

Content (all real data, nothing invented):

* LfULG air quality, Sept-Nov 2014: one Thing per Leipzig station, one Datastream per measured
  component (hourly gases, daily PM means).
* CAMS PM2.5 daily forecasts 2020-01-01 .. 2022-01-01 (model data) at Leipzig-Mitte and
  Leipzig-West, attached to the same station Things.
* Bundesnetzagentur EV charging stations (register of 2019-07-19): Things with a Location only.
* Freifunk Leipzig mesh nodes inside the city (snapshot 2020-03-03): one Thing each, with one
  client-count Observation at the snapshot time.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from urbantwin.demo import DATA_DIR
from urbantwin.infrastructure.freifunk import clients_key, node_key
from urbantwin.ingest.cams import (
    CAMS_DISCLAIMER,
    CAMS_SENSORS,
    CAMS_TIME_ASSUMPTION,
    cams_attribution,
    cams_datastream_key,
    cams_sensor_key,
    read_cams_file,
)
from urbantwin.ingest.sta_client import SensorThingsClient, phenomenon_start
from urbantwin.ingest.sta_loader import (
    KEY,
    MAX_ROWS_PER_REQUEST,
    OBSERVATION_COMPONENTS,
    Catalogue,
    ImportReport,
    ObservationWriter,
    OnError,
    data_array_batches,
    observed_property_key,
)
from urbantwin.ingest.stations import (
    Sample,
    StationOptions,
    nfc,
    read_station_csv,
    read_stations,
    station_datastream_key,
    station_key,
    station_sensor_key,
)
from urbantwin.ingest.vocabulary import GEOJSON, OBSERVED_PROPERTIES, OM_COUNT_OBSERVATION, OM_MEASUREMENT

__all__ = [
    "MAX_ROWS_PER_REQUEST",
    "OBSERVATION_COMPONENTS",
    "DemoLoadReport",
    "entity_payloads",
    "expected_counts",
    "load",
]

JSON = dict[str, Any]

STATIONS_FILE = "lfulg_saxony_stations_2014.geojson"
HOURLY_FILE = "lfulg_leipzig_hourly_2014-09_2014-11.csv"
CAMS_FILES = {
    "Leipzig-Mitte": "cams_pm25_daily_forecast_L-Mitte.csv",
    "Leipzig-West": "cams_pm25_daily_forecast_L-West.csv",
}
EV_FILE = "ladesaeulen_leipzig_2019-07-19.csv"
FREIFUNK_FILE = "freifunk_leipzig_nodes_2020-03-03.geojson"

UG_PER_M3: JSON = {
    "name": "microgram per cubic metre",
    "symbol": "µg/m³",
    "definition": "https://qudt.org/vocab/unit/MicroGM-PER-M3",
}
CLIENT_COUNT: JSON = {
    "name": "count",
    "symbol": "{clients}",
    "definition": "http://unitsofmeasure.org/ucum.html",
}

# --- provenance -------------------------------------------------------------------------------
#: The network name of the LfULG stations (part of their keys).
LFULG_NETWORK = "LfULG"
LFULG_AGENCY = "Sächsisches Landesamt für Umwelt, Landwirtschaft und Geologie (LfULG)"
#: The LfULG publishes its values without a data licence.
LFULG_NO_LICENCE = "No data licence stated for the LfULG values"
LFULG_SITE = "https://www.umwelt.sachsen.de/umwelt/infosysteme/luftonline/"
LFULG_SENSOR: JSON = {
    "name": "LfULG reference analyser",
    "description": (
        "Reference measuring equipment of the LfULG air quality network in Saxony. The source data do not "
        "give the measuring principle per component, so one generic Sensor stands for all of them."
    ),
    "encodingType": "text/html",
    "metadata": LFULG_SITE,
    "properties": {"assumption": "one generic Sensor for all LfULG analysers (principle not in the data)"},
}
HOURLY_TIME_NOTE = (
    "Hourly value; phenomenonTime is the timestamp as scraped (converted to UTC). Whether it marks the "
    "start or the end of the averaging hour is not documented in the source."
)
DAILY_TIME_ASSUMPTION = (
    "Assumption: daily mean. The scraper stored the date of the mean as local midnight (Europe/Berlin), "
    "which appears as 22:00Z; phenomenonTime is the 24 h starting there (the local calendar day of the "
    "mean). LfULG may define the day in MEZ (UTC+1), i.e. 1 h later."
)


# The demo's CAMS files are evalPM's daily means of the CAMS forecasts, obtained in 2023.
CAMS_ATTRIBUTION = cams_attribution(2023)
CAMS_SOURCE = (
    "CAMS European air quality forecasts (Copernicus Atmosphere Monitoring Service, Atmosphere Data Store), "
    "daily means computed by github.com/db-tu-dresden/evalPM @ e8ff0fcda0a6d616c4a59d6eb40546dacbb9e832"
)
CAMS_LICENCE = "Copernicus (CAMS) data licence, attribution required; evalPM repository: MIT"

# The demo's LfULG values are the 2014 scrape of OK Lab Leipzig: the agency's data, their repository.
LFULG_SOURCE = (
    f"{LFULG_AGENCY}, scraped in 2014 by OK Lab "
    "Leipzig: github.com/CodeforLeipzig/luftqualitaet_sachsen @ 4e6215672f5aedbed11a309bdefac54461d8ea6d"
)
LFULG_LICENCE = (
    f"{LFULG_NO_LICENCE}; the OK Lab Leipzig repository is BSD-3-style (Copyright (c) 2014, OK Lab Leipzig)"
)

EV_SOURCE = (
    "Bundesnetzagentur, Ladesäulenregister (Stand: 19.07.2019), via "
    "github.com/OpenChargingCommunity/WWCP_BNetzA @ 48296f74ef592e8808469fc2b11b2779826186e8"
)
EV_LICENCE = "CC BY 4.0 (Bundesnetzagentur)"
EV_ATTRIBUTION = "Bundesnetzagentur, Ladesäulenregister, Stand 19.07.2019, CC BY 4.0"
EV_REGISTER_DATE = "2019-07-19"

FREIFUNK_SOURCE = (
    "Freifunk Leipzig community node map (karte.leipzig.freifunk.net), meshviewer snapshot, via "
    "github.com/mwarning/meshnet-lab @ 148b3bd9afc4ae8b01530ed0af6e0ee82018764f"
)
FREIFUNK_LICENCE = "No licence stated for the meshviewer data; the meshnet-lab repository is MIT"
FREIFUNK_SITE = "https://karte.leipzig.freifunk.net/"

# --- shared Sensors and ObservedProperties ------------------------------------------------------
# (the LfULG Sensor and the CAMS models' Sensors are the connectors' own, `urbantwin.ingest`)

FREIFUNK_SENSOR: JSON = {
    "name": "Freifunk node statistics (meshviewer)",
    "description": (
        "Statistics a Freifunk router reports about itself, as published by the Freifunk Leipzig "
        "meshviewer node map."
    ),
    "encodingType": "text/html",
    "metadata": FREIFUNK_SITE,
}

#: The demo's own keys (`import_key`) where no connector makes the entity.
FREIFUNK_SENSOR_KEY = "freifunk:sensor"


def ev_key(register_row: int) -> str:
    """An EV charging station: its row in the register file (the register has no id of its own)."""
    return f"ev:{register_row}"


def freifunk_key(node_id: str) -> str:
    """A Freifunk node's Thing, keyed as `urbantwin infrastructure freifunk` keys it (a poll of the
    live feed into the demo's store joins the demo's nodes)."""
    return node_key(node_id)


def freifunk_datastream_key(node_id: str) -> str:
    return clients_key(node_id)


def _keyed(entity: JSON, key: str) -> JSON:
    """A copy of `entity` with `key` as its `import_key`."""
    keyed = deepcopy(entity)
    keyed["properties"] = {**(keyed.get("properties") or {}), KEY: key}
    return keyed


def _observed_property(payload: JSON) -> JSON:
    """An ObservedProperty keyed as `Catalogue.observed_property` keys it (by its definition)."""
    return _keyed(payload, observed_property_key(payload["definition"]))


#: LfULG component code -> (short label used in names, ObservedProperty): the connectors' vocabulary.
COMPONENTS: dict[str, tuple[str, JSON]] = {
    code: (OBSERVED_PROPERTIES[code].label, _observed_property(OBSERVED_PROPERTIES[code].observed_property))
    for code in ("no2", "no", "o3", "so2", "pm10", "pm25", "ben")
}
WIFI_CLIENTS: JSON = {
    "name": "Wi-Fi clients",
    "definition": FREIFUNK_SITE,
    "description": (
        "Number of clients connected to a Freifunk node, the `clients` field of the meshviewer data. "
        "No standard vocabulary term exists; the definition points to the map that publishes it."
    ),
    "properties": {"labels": {"de": "WLAN-Clients", "en": "Wi-Fi clients"}},
}

#: Daily means (PM) of the LfULG data; all other components are hourly values.
DAILY_COMPONENTS = frozenset({"pm10", "pm25"})
ZERO_NOTE = "Values equal to 0.0 were dropped: the source uses 0.0 for 'missing', so a true 0 is lost."


@dataclass
class DemoLoadReport:
    """What `load` created (entities it skipped because they already existed are not counted)."""

    things: int
    datastreams: int
    observations: int


# --- small helpers -----------------------------------------------------------------------------


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, to the second."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return moment


def _utc_or_none(text: str | None) -> str | None:
    return _utc(_parse_time(text)) if text else None


def _interval(start: datetime, end: datetime) -> str:
    return f"{_utc(start)}/{_utc(end)}"


def _point(lon: float, lat: float) -> JSON:
    return {"type": "Point", "coordinates": [lon, lat]}


def _location(name: str, description: str, lon: float, lat: float) -> JSON:
    return {"name": name, "description": description, "encodingType": GEOJSON, "location": _point(lon, lat)}


def _observation(phenomenon_time: str, result_time: str | None, result: float | int) -> JSON:
    return {"phenomenonTime": phenomenon_time, "resultTime": result_time, "result": result}


def _without_none(mapping: JSON) -> JSON:
    return {key: value for key, value in mapping.items() if value is not None}


def _read_text(path: Path) -> str:
    """A bundled file as text, in Unicode NFC (the LfULG files spell "ü" decomposed, as "u" + U+0308)."""
    return nfc(path.read_text(encoding="utf-8"))


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_read_text(path), newline="")))


def _read_json(path: Path) -> Any:
    return json.loads(_read_text(path))


def _float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


# --- air quality: LfULG measurements and CAMS forecasts ----------------------------------------


def _lfulg_observations(samples: Iterable[Sample], component: str) -> list[JSON]:
    observations = []
    for sample in samples:
        moment, value = sample.moment, sample.value
        if component in DAILY_COMPONENTS:
            end = moment + timedelta(days=1)
            observations.append(_observation(_interval(moment, end), _utc(end), value))
        else:
            observations.append(_observation(_utc(moment), _utc(moment), value))
    observations.sort(key=lambda observation: observation["phenomenonTime"])
    return observations


def _lfulg_datastream(station: str, component: str, samples: list[Sample]) -> JSON:
    label, observed_property = COMPONENTS[component]
    daily = component in DAILY_COMPONENTS
    kind = "daily mean" if daily else "hourly mean"
    return {
        "name": f"{label} at {station}",
        "description": f"{label} concentration ({kind}) measured by the LfULG at the station {station}",
        "observationType": OM_MEASUREMENT,
        "unitOfMeasurement": deepcopy(UG_PER_M3),
        "properties": {
            "synthetic": False,
            "kind": "measurement",
            "component": component,
            "aggregation": "P1D" if daily else "PT1H",
            "time_convention": DAILY_TIME_ASSUMPTION if daily else HOURLY_TIME_NOTE,
            "missing_values": ZERO_NOTE,
            "source": LFULG_SOURCE,
            "licence": LFULG_LICENCE,
            KEY: station_datastream_key(LFULG_NETWORK, station, component),
        },
        "Sensor": _keyed(LFULG_SENSOR, station_sensor_key(LFULG_NETWORK)),
        "ObservedProperty": deepcopy(observed_property),
        "Observations": _lfulg_observations(samples, component),
    }


def _cams_datastreams(station: str, path: Path) -> list[JSON]:
    # Read as `urbantwin import cams` reads the file; a row it cannot read stops the demo.
    series = read_cams_file(path, ImportReport(), OnError.abort)
    datastreams = []
    for model, sensor in CAMS_SENSORS.items():
        observations = [
            _observation(_interval(reading.start, reading.end), None, reading.result)
            for reading in series.get(model, [])
            if reading.end is not None  # (always: a CAMS value is the mean of its day)
        ]
        datastreams.append(
            {
                "name": f"PM2.5 forecast CAMS {model} at {station}",
                "description": (
                    f"Daily mean of the hourly CAMS {model} PM2.5 forecasts at the station {station}. "
                    "Model data, not measurements."
                ),
                "observationType": OM_MEASUREMENT,
                "unitOfMeasurement": deepcopy(UG_PER_M3),
                "properties": {
                    "synthetic": False,
                    "kind": "model forecast",
                    "attribution": CAMS_ATTRIBUTION,
                    "disclaimer": CAMS_DISCLAIMER,
                    "model": "ENSEMBLE median" if model == "ENSEMBLE" else model,
                    "aggregation": "P1D",
                    "time_convention": CAMS_TIME_ASSUMPTION,
                    "source": CAMS_SOURCE,
                    "licence": CAMS_LICENCE,
                    KEY: cams_datastream_key(station, "pm25", model),
                },
                "Sensor": _keyed(
                    {**sensor, "properties": {**sensor["properties"], "attribution": CAMS_ATTRIBUTION}},
                    cams_sensor_key(model),
                ),
                "ObservedProperty": deepcopy(COMPONENTS["pm25"][1]),
                "Observations": observations,
            }
        )
    return datastreams


def _air_quality_things(data_dir: Path) -> Iterator[JSON]:
    # Read as `urbantwin import stations` reads the file; a row it cannot read stops the demo.
    options = StationOptions(on_error=OnError.abort, progress=False)
    stations = {
        name: feature
        for name, feature in read_stations(data_dir / STATIONS_FILE, options).items()
        if name.startswith("Leipzig")
    }
    samples, _ = read_station_csv(data_dir / HOURLY_FILE, options, ImportReport())
    rows_by_stream: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        rows_by_stream.setdefault((sample.station, sample.component), []).append(sample)
    unknown = {station for station, _ in rows_by_stream} - stations.keys()
    if unknown:
        raise ValueError(f"stations in {HOURLY_FILE} missing from {STATIONS_FILE}: {sorted(unknown)}")
    unknown = {component for _, component in rows_by_stream} - COMPONENTS.keys()
    if unknown:
        raise ValueError(f"unknown components in {HOURLY_FILE}: {sorted(unknown)}")

    for name in sorted(stations):
        components = sorted(component for station, component in rows_by_stream if station == name)
        cams_file = CAMS_FILES.get(name)
        if not components and cams_file is None:
            continue  # a Leipzig station without any data in the demo files
        feature = stations[name]
        props = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        datastreams = [_lfulg_datastream(name, c, rows_by_stream[(name, c)]) for c in components]
        if cams_file is not None:
            datastreams += _cams_datastreams(name, data_dir / cams_file)
        yield {
            "name": f"Air quality station {name}",
            "description": (
                f"LfULG air quality monitoring station {name} ({props['location']}, {props['city']})"
            ),
            "properties": {
                "theme": "air_quality",
                "station": name,
                "lfulg_slug": props["slug"],
                "lfulg_form_id": props["lfulg_form_id"],
                "altitude_m": props["altitude_m"],
                "category": props["category"],
                "eu_typing": props["eu_typing"],
                "classification_note": "LfULG/EU classification codes as scraped; meaning not documented",
                "street": props["location"],
                "city": props["city"],
                "components_listed": props["components"],
                "source": LFULG_SOURCE,
                "licence": LFULG_LICENCE,
                KEY: station_key(LFULG_NETWORK, name),
            },
            "Locations": [
                _location(
                    f"{name}, {props['location']}",
                    f"Position of the LfULG air quality station {name}",
                    lon,
                    lat,
                )
            ],
            "Datastreams": datastreams,
        }


# --- EV charging stations ----------------------------------------------------------------------

EV_KINDS = {"Normalladeeinrichtung": "normal", "Schnellladeeinrichtung": "fast"}


def _ev_things(data_dir: Path) -> Iterator[JSON]:
    rows = _read_csv(data_dir / EV_FILE)
    per_site = Counter((row["betreiber"], row["adresse"]) for row in rows)
    seen: Counter[tuple[str, str]] = Counter()
    for number, row in enumerate(rows, start=1):
        site = (row["betreiber"], row["adresse"])
        seen[site] += 1
        name = f"EV charging station {row['betreiber']}, {row['adresse']}"
        if per_site[site] > 1:  # several register entries at one address: number them in file order
            name += f" ({seen[site]} of {per_site[site]})"
        address = f"{row['adresse']}, {row['plz']} {row['ort']}"
        charge_points = int(row["anzahl_ladepunkte"])
        connectors = []
        for point in range(1, 5):
            types = row[f"stecker{point}"].strip()
            if types:
                connectors.append(
                    {
                        "charge_point": point,
                        "connector_types": [t.strip() for t in types.split(",")],
                        "power_kw": _float(row[f"p{point}_kw"]),
                    }
                )
        kind = EV_KINDS.get(row["art"])
        if kind is None:
            raise ValueError(f"unknown charger kind {row['art']!r} in {EV_FILE}")
        yield {
            "name": name,
            "description": (
                f"Public EV charging station ({kind} charging, {charge_points} charge point(s)) operated by "
                f"{row['betreiber']}, as registered with the Bundesnetzagentur on {EV_REGISTER_DATE}"
            ),
            "properties": {
                "theme": "ev_charging",
                "operator": row["betreiber"],
                "address": address,
                "postcode": row["plz"],
                "power_kw": _float(row["anschlussleistung_kw"]),
                "kind": kind,
                "kind_de": row["art"],
                "charge_points": charge_points,
                "connectors": connectors,
                "commissioning_date": date.fromisoformat(row["inbetriebnahme"]).isoformat(),
                "register_date": EV_REGISTER_DATE,
                "register_row": number,
                "source": EV_SOURCE,
                "licence": EV_LICENCE,
                "attribution": EV_ATTRIBUTION,
                KEY: ev_key(number),
            },
            "Locations": [
                _location(
                    address,
                    f"Position of the charging station as registered with the Bundesnetzagentur ({name})",
                    float(row["lon"]),
                    float(row["lat"]),
                )
            ],
        }


# --- Freifunk nodes ----------------------------------------------------------------------------


def _freifunk_things(data_dir: Path) -> Iterator[JSON]:
    collection = _read_json(data_dir / FREIFUNK_FILE)
    snapshot = _utc(_parse_time(collection["timestamp"]))
    for feature in collection["features"]:
        props = feature["properties"]
        if props["inside_leipzig_city"] is not True:
            continue
        node = props["node_id"]
        lon, lat = feature["geometry"]["coordinates"]
        model = props["model"] or "unknown model"
        clients = props["clients"]
        if not isinstance(clients, int) or isinstance(clients, bool):
            raise ValueError(f"node {node}: clients is not an integer: {clients!r}")
        yield {
            "name": f"Freifunk node {node}",
            "description": f"Freifunk Leipzig community Wi-Fi mesh router ({model})",
            "properties": _without_none(
                {
                    "theme": "public_wifi",
                    "node_id": node,
                    "model": props["model"],
                    "firmware_base": props["firmware_base"],
                    "firmware_release": props["firmware_release"],
                    "is_gateway": props["is_gateway"],
                    "is_online_at_snapshot": props["is_online"],
                    "vpn": props["vpn"],
                    "domain": props["domain"],
                    "firstseen": _utc_or_none(props["firstseen"]),
                    "lastseen": _utc_or_none(props["lastseen"]),
                    "uptime_since": _utc_or_none(props["uptime_since"]),
                    "snapshot_time": snapshot,
                    "source": FREIFUNK_SOURCE,
                    "licence": FREIFUNK_LICENCE,
                    KEY: freifunk_key(node),
                }
            ),
            "Locations": [
                _location(
                    f"Freifunk node {node}",
                    "Router position as published on the Freifunk Leipzig node map",
                    lon,
                    lat,
                )
            ],
            "Datastreams": [
                {
                    "name": f"Wi-Fi clients at Freifunk node {node}",
                    "description": (
                        "Clients connected to the node (meshviewer field `clients`), from the node map "
                        f"snapshot of {snapshot}: a single observation"
                    ),
                    "observationType": OM_COUNT_OBSERVATION,
                    "unitOfMeasurement": deepcopy(CLIENT_COUNT),
                    "properties": {
                        "synthetic": False,
                        "kind": "snapshot",
                        "snapshot_time": snapshot,
                        "source": FREIFUNK_SOURCE,
                        "licence": FREIFUNK_LICENCE,
                        KEY: freifunk_datastream_key(node),
                    },
                    "Sensor": _keyed(FREIFUNK_SENSOR, FREIFUNK_SENSOR_KEY),
                    "ObservedProperty": _observed_property(WIFI_CLIENTS),
                    "Observations": [_observation(snapshot, snapshot, clients)],
                }
            ],
        }


# --- public API --------------------------------------------------------------------------------


def _things(data_dir: Path) -> Iterator[JSON]:
    yield from _air_quality_things(data_dir)
    yield from _ev_things(data_dir)
    yield from _freifunk_things(data_dir)


def entity_payloads(data_dir: Path | None = None) -> Iterator[tuple[str, dict]]:
    """The demo as `(entity set, STA JSON)` pairs, each a valid POST body on its own.

    First every shared Sensor (`"Sensors"`) and ObservedProperty (`"ObservedProperties"`) in use,
    then every Thing (`"Things"`) as one deep insert: its Locations, its Datastreams and, inside
    each Datastream, its Sensor and ObservedProperty (repeated in full) and its Observations. Every
    entity but a Location has its key in `properties.import_key` (a Sensor or ObservedProperty
    repeated has the same). Posted as they are, each Thing would get its own copy of the Sensors and
    ObservedProperties; `load` instead links the shared ones by id and sends the Observations in
    dataArray batches.
    """
    data_dir = DATA_DIR if data_dir is None else Path(data_dir)
    things = list(_things(data_dir))
    shared: dict[tuple[str, str], JSON] = {}
    for thing in things:
        for datastream in thing.get("Datastreams", []):
            for key, entity_set in (("Sensor", "Sensors"), ("ObservedProperty", "ObservedProperties")):
                entity = datastream[key]
                known = shared.setdefault((entity_set, entity["name"]), entity)
                if known != entity:
                    raise ValueError(f"two different {entity_set} named {entity['name']!r}")
    for entity_set in ("Sensors", "ObservedProperties"):
        for (kind, _name), entity in shared.items():
            if kind == entity_set:
                yield entity_set, deepcopy(entity)
    for thing in things:
        yield "Things", thing


def expected_counts(data_dir: Path | None = None) -> DemoLoadReport:
    """What `load` creates on an empty service (useful for a progress total or a check)."""
    things = datastreams = observations = 0
    for entity_set, payload in entity_payloads(data_dir):
        if entity_set == "Things":
            things += 1
            for datastream in payload.get("Datastreams", []):
                datastreams += 1
                observations += len(datastream.get("Observations", []))
    return DemoLoadReport(things=things, datastreams=datastreams, observations=observations)


def _observation_rows(observations: Iterable[JSON]) -> list[list[Any]]:
    return [[observation[component] for component in OBSERVATION_COMPONENTS] for observation in observations]


def _batches(streams: Iterable[tuple[int, list[list[Any]]]]) -> Iterator[list[JSON]]:
    """dataArray request bodies of at most `MAX_ROWS_PER_REQUEST` rows in all."""
    return data_array_batches(streams, MAX_ROWS_PER_REQUEST)


def _key(entity: JSON) -> str:
    key = entity["properties"][KEY]
    assert isinstance(key, str)
    return key


def load(
    client: SensorThingsClient,
    data_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoLoadReport:
    """Load the demo into a SensorThings service through `client`, idempotently.

    Every entity is found by its `import_key` with the connectors' `Catalogue` (each collection read
    once, not asked entity by entity) and made only if missing: Sensors and ObservedProperties once,
    linked by id; a missing Thing as one deep insert with its Locations and Datastreams. Then the
    Observations, in dataArray batches; those of a Datastream that was there before only where its
    phenomenonTime start is not stored yet. So loading twice creates nothing the second time, and a
    load that stopped half way is completed by the next one. `progress(n)` is called after each
    Thing, made or found, with the number of Things handled so far.
    """
    catalogue = Catalogue(client, ImportReport())
    for entity_set in ("Sensors", "ObservedProperties", "Things", "Datastreams"):
        catalogue.preload(entity_set)
    stored = catalogue.known("Datastreams")

    def shared(entity_set: str, payload: JSON) -> int:
        if entity_set == "ObservedProperties":
            return catalogue.ensure_observed_property(payload)
        return catalogue.ensure(entity_set, _key(payload), payload)

    things = datastreams = handled = 0
    pending: list[tuple[int, JSON]] = []  # (Thing id, Datastream payload) of every Thing
    for entity_set, payload in entity_payloads(data_dir):
        if entity_set != "Things":
            shared(entity_set, payload)
            continue
        thing = catalogue.id_of("Things", _key(payload))
        if thing is None:
            body = {key: value for key, value in payload.items() if key != "Datastreams"}
            if payload.get("Datastreams"):
                body["Datastreams"] = [
                    _linked(
                        datastream,
                        shared("Sensors", datastream["Sensor"]),
                        shared("ObservedProperties", datastream["ObservedProperty"]),
                    )
                    for datastream in payload["Datastreams"]
                ]
                datastreams += len(body["Datastreams"])
            thing = catalogue.ensure("Things", _key(payload), body)
            things += 1
        pending.extend((thing, datastream) for datastream in payload.get("Datastreams", []))
        handled += 1
        if progress is not None:
            progress(handled)
    if datastreams:
        # The ids of the Datastreams the deep inserts made: one read of them all.
        catalogue.preload("Datastreams")

    existing = ObservationWriter(client, catalogue.report)
    streams: list[tuple[int, list[list[Any]]]] = []
    for thing, datastream in pending:
        key = _key(datastream)
        rows = _observation_rows(datastream.get("Observations", []))
        ident = catalogue.id_of("Datastreams", key)
        if ident is None:  # missing from a Thing that was there: a load stopped half way
            body = _linked(
                datastream,
                shared("Sensors", datastream["Sensor"]),
                shared("ObservedProperties", datastream["ObservedProperty"]),
            )
            ident = catalogue.ensure("Datastreams", key, {**body, "Thing": {"@iot.id": thing}})
            datastreams += 1
        elif key in stored and rows:  # there before this load: it may have some of them
            rows = _new_rows(existing, ident, rows)
        if rows:
            streams.append((ident, rows))
    # Few large requests (each one transaction).
    observations = 0
    for batch in _batches(streams):
        answer = client.post("CreateObservations", batch)
        observations += sum(1 for link in answer if link != "error")
    return DemoLoadReport(things=things, datastreams=datastreams, observations=observations)


def _linked(datastream: JSON, sensor: int, observed_property: int) -> JSON:
    """A Datastream's body for a POST: its Sensor and ObservedProperty by id, no Observations."""
    body = {
        key: value
        for key, value in datastream.items()
        if key not in ("Sensor", "ObservedProperty", "Observations")
    }
    body["Sensor"] = {"@iot.id": sensor}
    body["ObservedProperty"] = {"@iot.id": observed_property}
    return body


def _new_rows(writer: ObservationWriter, datastream: int, rows: list[list[Any]]) -> list[list[Any]]:
    """The rows whose phenomenonTime start the Datastream does not have yet."""
    start = OBSERVATION_COMPONENTS.index("phenomenonTime")
    starts = [phenomenon_start(row[start]) for row in rows]
    present = writer.existing_starts(datastream, min(starts), max(starts))
    return [row for row, moment in zip(rows, starts, strict=True) if moment not in present]
