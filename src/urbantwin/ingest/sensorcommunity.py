"""sensor.community (formerly luftdaten.info) archive CSVs into SensorThings.

The archive (archive.sensor.community) publishes one file per sensor and day, e.g.
`2020-01-01_sds011_sensor_12345.csv`, `;`-separated, optionally gzipped:

    sensor_id;sensor_type;location;lat;lon;timestamp;P1;durP1;ratioP1;P2;durP2;ratioP2
    12345;SDS011;6789;51.340;12.370;2020-01-01T00:00:09;12.33;;;7.40;;

The columns after `timestamp` depend on the sensor type (P1, P2, P0 for particulate matter;
temperature, humidity, pressure, pressure_sealevel for climate sensors). Timestamps are UTC (an
offset, where a file has one, is honoured). Coordinates are rounded to 3 decimals by the archive.

Mapping (the vocabulary is shared with the station importer, `stations.OBSERVED_PROPERTIES`):

* one Thing per `location` (a measuring site; one site often holds a particulate and a climate
  sensor), with its Location as a GeoJSON point (from the first row with coordinates, when the
  Thing is created; later imports do not move it);
* one Sensor per `sensor_id` and `sensor_type`, its metadata the type's datasheet;
* one Datastream per location, sensor and column, e.g. P1 of SDS011 12345 at location 6789
  (a sensor moved to another site gets new Datastreams there);
* ObservedProperties: P1 -> PM10, P2 -> PM2.5, P0 -> PM1 (the EEA pollutant vocabulary, the same
  entities as the demo's), temperature, humidity, pressure, pressure_sealevel (CF standard names);
  units µg/m³, °C, %, Pa (UCUM).

Columns without an agreed meaning (durP1, ratioP1 of the PPD42NS, altitude, particle counts, …) are
not imported; the report names them. Importing is idempotent as for every connector (keys in
`properties.import_key`, observations matched by Datastream and phenomenonTime).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from urbantwin.ingest.provenance import Provenance, check_dataset, place_created
from urbantwin.ingest.sta_client import JSON, SensorThingsClient, parse_iso
from urbantwin.ingest.sta_loader import Catalogue, ImportReport, ObservationWriter, OnError, Reading
from urbantwin.ingest.stations import nfc, open_text
from urbantwin.ingest.vocabulary import GEOJSON, OBSERVED_PROPERTIES, OM_MEASUREMENT, UNITS

__all__ = ["COLUMNS", "SENSOR_TYPES", "SensorType", "import_sensor_community"]

NETWORK = "sensor.community"
SOURCE = "sensor.community archive (https://archive.sensor.community/), formerly luftdaten.info"
LICENCE = (
    "Open Database License (ODbL) 1.0 for the database, Database Contents License (DbCL) 1.0 for its "
    "contents, as the archive states"
)
_FIXED = ("sensor_id", "sensor_type", "location", "lat", "lon", "timestamp")
_MISSING = {"", "nan", "unavailable", "null", "none"}

#: Archive column -> observed property code (`stations.OBSERVED_PROPERTIES`).
COLUMNS: dict[str, str] = {
    "P1": "pm10",
    "P2": "pm25",
    "P0": "pm1",
    "temperature": "air_temperature",
    "humidity": "relative_humidity",
    "pressure": "air_pressure",
    "pressure_sealevel": "air_pressure_at_sea_level",
}


@dataclass(frozen=True)
class SensorType:
    """What a sensor type is and where its datasheet is (the Sensor's `metadata`)."""

    description: str
    metadata: str
    encoding: str = "application/pdf"


_PAGE = "https://sensor.community/en/sensors/"
#: The sensor types of the archive (upper case, as in its `sensor_type` column).
SENSOR_TYPES: dict[str, SensorType] = {
    "SDS011": SensorType(
        "Nova Fitness SDS011 laser scattering particulate matter sensor (PM2.5, PM10)",
        "https://cdn-reichelt.de/documents/datenblatt/X200/SDS011-DATASHEET.pdf",
    ),
    "PMS5003": SensorType(
        "Plantower PMS5003 laser scattering particulate matter sensor (PM1, PM2.5, PM10)",
        "https://www.aqmd.gov/docs/default-source/aq-spec/resources-page/plantower-pms5003-manual_v2-3.pdf",
    ),
    "SPS30": SensorType(
        "Sensirion SPS30 laser scattering particulate matter sensor (PM1, PM2.5, PM4, PM10)",
        "https://sensirion.com/products/catalog/SPS30",
        "text/html",
    ),
    "DHT22": SensorType(
        "Aosong DHT22 (AM2302) capacitive humidity and thermistor temperature sensor",
        "https://www.sparkfun.com/datasheets/Sensors/Temperature/DHT22.pdf",
    ),
    "BME280": SensorType(
        "Bosch BME280 combined humidity, pressure and temperature sensor",
        "https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf",
    ),
    "BMP280": SensorType(
        "Bosch BMP280 pressure and temperature sensor",
        "https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bmp280-ds001.pdf",
    ),
    "BMP180": SensorType(
        "Bosch BMP180 pressure and temperature sensor",
        "https://cdn-shop.adafruit.com/datasheets/BST-BMP180-DS000-09.pdf",
    ),
}


@dataclass
class _Row:
    location: str
    sensor_id: str
    sensor_type: str
    lat: float | None
    lon: float | None
    moment: datetime
    values: dict[str, float]
    line: int


def _float(text: str, what: str) -> float | None:
    value = text.strip()
    if value.lower() in _MISSING:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{what}: {text!r} is not a finite number")
    return number


def read_archive_csv(path: Path, report: ImportReport, on_error: OnError) -> list[_Row]:
    """The rows of one archive file; bad rows are reported with their line (or abort)."""
    name = path.name
    with open_text(path) as handle:
        reader = csv.reader((nfc(line) for line in handle), delimiter=";")
        header = [column.strip() for column in next(reader, [])]
        if tuple(c.lower() for c in header[: len(_FIXED)]) != _FIXED:
            raise ValueError(f"{name}: not a sensor.community archive file (header {';'.join(header)!r})")
        extra = header[len(_FIXED) :]
        mapped = [(i + len(_FIXED), column) for i, column in enumerate(extra) if column in COLUMNS]
        ignored = [column for column in extra if column not in COLUMNS]
        if ignored:
            report.ignored_columns[name] = ignored
        rows: list[_Row] = []
        for fields in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in fields):
                continue
            report.rows += 1
            if len(fields) != len(header):
                report.problem(on_error, name, line, f"{len(fields)} fields, the header has {len(header)}")
                continue
            sensor_id, sensor_type, location = (fields[i].strip() for i in range(3))
            try:
                if not sensor_id.isdigit():
                    raise ValueError(f"sensor_id {sensor_id!r} is not a number")
                if not location.isdigit():
                    raise ValueError(f"location {location!r} is not a number")
                if not sensor_type:
                    raise ValueError("no sensor_type")
                lat, lon = _float(fields[3], "lat"), _float(fields[4], "lon")
                if lat is not None and not -90 <= lat <= 90 or lon is not None and not -180 <= lon <= 180:
                    raise ValueError(f"coordinates out of range: lat {lat}, lon {lon}")
                try:
                    moment = parse_iso(fields[5])
                except ValueError:
                    raise ValueError(f"timestamp {fields[5]!r} is not an ISO 8601 time") from None
                values = {}
                for index, column in mapped:
                    value = _float(fields[index], column)
                    if value is None:
                        report.empty_values += 1
                    else:
                        values[column] = value
            except ValueError as exc:
                report.problem(on_error, name, line, str(exc))
                continue
            rows.append(_Row(location, sensor_id, sensor_type.upper(), lat, lon, moment, values, line))
    return rows


class _Entities:
    """Things, Sensors and Datastreams of the archive, by key."""

    def __init__(self, catalogue: Catalogue, provenance: Provenance) -> None:
        self.catalogue = catalogue
        self.provenance = provenance.properties()

    def thing(self, location: str, lon: float, lat: float) -> int:
        name = f"sensor.community location {location}"
        payload: JSON = {
            "name": name,
            "description": (
                f"Measuring site {location} of the citizen science network sensor.community (formerly "
                "luftdaten.info); a site often holds a particulate matter and a climate sensor"
            ),
            "properties": {
                "theme": "air_quality",
                "network": NETWORK,
                "location_id": int(location),
                "kind": "citizen science, low-cost sensors",
                **self.provenance,
            },
            "Locations": [
                {
                    "name": name,
                    "description": (
                        "Position of the site as the sensor.community archive publishes it (rounded to 3 "
                        "decimals, about 100 m)"
                    ),
                    "encodingType": GEOJSON,
                    "location": {"type": "Point", "coordinates": [lon, lat]},
                }
            ],
        }
        return self.catalogue.ensure("Things", f"{NETWORK}:location:{location}", payload)

    def sensor(self, sensor_id: str, sensor_type: str) -> int:
        kind = SENSOR_TYPES.get(sensor_type)
        name = f"{sensor_type} sensor {sensor_id} (sensor.community)"
        payload: JSON = {
            "name": name,
            "description": (
                f"{kind.description if kind else sensor_type + ' sensor'}, sensor {sensor_id} of the "
                "sensor.community network"
            ),
            "encodingType": kind.encoding if kind else "text/html",
            "metadata": kind.metadata if kind else _PAGE,
            "properties": {
                "network": NETWORK,
                "sensor_id": int(sensor_id),
                "sensor_type": sensor_type,
                "metadata_note": "the datasheet of the sensor type"
                if kind
                else "type unknown to the importer: the network's list of sensors",
                **self.provenance,
            },
        }
        key = f"{NETWORK}:sensor:{sensor_id}:{sensor_type}"
        return self.catalogue.ensure("Sensors", key, payload)

    def datastream(self, thing: int, location: str, sensor_id: str, sensor_type: str, column: str) -> int:
        quantity = OBSERVED_PROPERTIES[COLUMNS[column]]
        sensor = self.sensor(sensor_id, sensor_type)
        observed_property = self.catalogue.observed_property(quantity)
        name = f"{quantity.label} of {sensor_type} sensor {sensor_id} at sensor.community location {location}"
        payload: JSON = {
            "name": name,
            "description": (
                f"{quantity.observed_property['name']} measured by the low-cost {sensor_type} sensor "
                f"{sensor_id} (archive column {column}), raw values as published"
            ),
            "observationType": OM_MEASUREMENT,
            "unitOfMeasurement": dict(UNITS[quantity.unit]),
            "properties": {
                "synthetic": False,
                "kind": "measurement",
                "network": NETWORK,
                "sensor_id": int(sensor_id),
                "sensor_type": sensor_type,
                "column": column,
                "time_convention": "phenomenonTime is the time of the reading as the archive gives it (UTC)",
                "quality": "low-cost sensor, not calibrated against reference instruments",
                **self.provenance,
            },
            "Thing": {"@iot.id": thing},
            "Sensor": {"@iot.id": sensor},
            "ObservedProperty": {"@iot.id": observed_property},
        }
        key = f"{NETWORK}:location:{location}:sensor:{sensor_id}:{sensor_type}:{column}"
        return self.catalogue.ensure("Datastreams", key, payload, parent=f"Things({thing})")


def import_sensor_community(
    client: SensorThingsClient,
    files: Sequence[Path],
    on_error: OnError = OnError.skip,
    progress: bool = True,
    provenance: Provenance | None = None,
) -> ImportReport:
    """Import archive files, one after the other, with one report for all.

    Each file is read and checked whole before anything of it is written, so with
    `OnError.abort` a bad row leaves that file (and the ones after it) unwritten; the files before
    it stay imported, and importing them again adds nothing.
    """
    provenance = provenance or sensor_community_provenance()
    report = ImportReport()
    check_dataset(client, provenance)
    catalogue = Catalogue(client, report)
    entities = _Entities(catalogue, provenance)
    with tqdm(total=len(files), unit="file", desc="sensor.community", disable=not progress) as bar:
        writer = ObservationWriter(client, report)
        try:
            for path in files:
                rows = read_archive_csv(path, report, on_error)
                report.files += 1
                _write(path.name, rows, entities, writer, report, on_error)
                bar.update(1)
                bar.set_postfix(rows=report.rows, refresh=False)
        finally:
            # What earlier files queued is stored even when a bad row aborts a later file.
            writer.flush()
            place_created(client, provenance, catalogue.created)
    return report


def sensor_community_provenance(
    source: str | None = None,
    licence: str | None = None,
    attribution: str | None = None,
    publisher: str | None = None,
    dataset: str | None = None,
) -> Provenance:
    """What is given, else the archive's own source and licence (the platform's default dataset
    unless a dataset is named)."""
    return Provenance(
        source=source or SOURCE,
        licence=licence or LICENCE,
        attribution=attribution,
        publisher=publisher,
        dataset=dataset,
        title="sensor.community measurements",
        description="Citizen science low-cost sensors of the sensor.community network.",
        themes=("ENVI",),
    )


def _write(
    name: str,
    rows: list[_Row],
    entities: _Entities,
    writer: ObservationWriter,
    report: ImportReport,
    on_error: OnError,
) -> None:
    positions: dict[str, tuple[float, float]] = {}
    for row in rows:
        if row.lat is not None and row.lon is not None:
            positions.setdefault(row.location, (row.lon, row.lat))
    series: dict[tuple[str, str, str, str], list[Reading]] = defaultdict(list)
    for row in rows:
        if row.location not in positions:
            report.problem(
                on_error, name, row.line, f"location {row.location} has no coordinates in the file"
            )
            continue
        for column, value in row.values.items():
            series[(row.location, row.sensor_id, row.sensor_type, column)].append(
                Reading(row.moment, None, value, row.line)
            )
    for (location, sensor_id, sensor_type, column), readings in sorted(series.items()):
        lon, lat = positions[location]
        thing = entities.thing(location, lon, lat)
        datastream = entities.datastream(thing, location, sensor_id, sensor_type, column)
        writer.add(datastream, readings)
