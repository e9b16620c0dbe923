"""CAMS air quality forecasts at a station (daily means, one column per model) into SensorThings.

The files look like the CAMS PM2.5 files the demo ships (`date,ENSEMBLE,EURAD-IM`): a `date` column
(YYYY-MM-DD) and one column per forecast model, values in µg/m³. They are model output, not
measurements, and everything this connector creates says so (`kind: model forecast`, the Copernicus
attribution and disclaimer on every Datastream).

For the station of the file it finds or creates the station's Thing (the same Thing the station
connector and the demo use, so forecasts sit beside the measurements), one Sensor per model and one
Datastream per model, and stores the values a Datastream does not have yet (matched by the start of
phenomenonTime): importing a file twice adds nothing, into the demo's store nothing at all.

Each daily mean covers the UTC calendar day of its date (`CAMS_TIME_ASSUMPTION`, the demo's too):
the files state neither the forecast run nor the lead time, so resultTime is unknown and left null.

Forecasts are model data under the Copernicus licence, not the station operator's measurements:
the Datastreams and Sensors an import creates go into a dataset of their own (`CAMS_DATASET`
unless told otherwise) with the Copernicus licence and attribution, never into the dataset of the
station's Thing (which a new Datastream would otherwise join).
"""

from __future__ import annotations

import csv
import math
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from urbantwin.ingest.provenance import Provenance, check_dataset, place_created
from urbantwin.ingest.sta_client import JSON, SensorThingsClient
from urbantwin.ingest.sta_loader import Catalogue, ImportReport, ObservationWriter, OnError, Reading
from urbantwin.ingest.stations import StationEntities, StationOptions, open_text, read_stations
from urbantwin.ingest.vocabulary import OBSERVED_PROPERTIES, OM_MEASUREMENT, UNITS, component_code

# --- what CAMS data say of themselves ---------------------------------------------------------------


def cams_attribution(year: int | None = None) -> str:
    """The attribution the Copernicus licence asks for, with the year the data were obtained."""
    year = year or date.today().year
    return f"Contains modified Copernicus Atmosphere Monitoring Service information [{year}]"


CAMS_DISCLAIMER = (
    "Neither the European Commission nor ECMWF is responsible for any use that may be made of the "
    "Copernicus information or data it contains."
)
CAMS_SOURCE = "CAMS European air quality forecasts (Copernicus Atmosphere Monitoring Service)"
CAMS_LICENCE = "Copernicus (CAMS) data licence, attribution required"
#: The dataset CAMS forecasts go into unless told otherwise.
CAMS_DATASET = "cams-forecasts"
CAMS_SITE = "https://ads.atmosphere.copernicus.eu/datasets/cams-europe-air-quality-forecasts"
#: The Sensors of the models the CAMS files usually carry (any other model gets a generic one).
CAMS_SENSORS: dict[str, JSON] = {
    "ENSEMBLE": {
        "name": "CAMS regional ensemble forecast",
        "description": (
            "Median of the CAMS European (regional) air quality forecast ensemble; model output, not a "
            "measuring device."
        ),
        "encodingType": "text/html",
        "metadata": CAMS_SITE,
        "properties": {"kind": "model forecast"},
    },
    "EURAD-IM": {
        "name": "CAMS regional forecast EURAD-IM",
        "description": (
            "EURAD-IM model (Jülich IEK), one member of the CAMS European air quality forecast ensemble; "
            "model output, not a measuring device."
        ),
        "encodingType": "text/html",
        "metadata": CAMS_SITE,
        "properties": {"kind": "model forecast"},
    },
}
CAMS_TIME_ASSUMPTION = (
    "Assumption: each daily mean covers the UTC calendar day of its date. The forecast run and lead time "
    "are not stated, so resultTime is unknown and left null."
)


@dataclass
class CamsOptions:
    """How to read a CAMS file and where its values belong."""

    #: The station the forecasts are for, as named in the stations GeoJSON.
    station: str
    #: The pollutant of the file (a component code or name the station connector knows).
    component: str = "pm25"
    #: The measuring network of the station's Thing (part of its key, as in the station connector).
    network: str = "stations"
    #: Source, licence, attribution, publisher and dataset (`cams_provenance()` by default).
    provenance: Provenance = field(default_factory=lambda: cams_provenance())
    on_error: OnError = OnError.skip
    progress: bool = True


def cams_provenance(
    source: str | None = None,
    licence: str | None = None,
    attribution: str | None = None,
    publisher: str | None = None,
    dataset: str | None = None,
) -> Provenance:
    """The provenance of CAMS forecasts: what is given, else the Copernicus defaults, in a dataset
    of their own (model data, not measurements)."""
    return Provenance(
        source=source or CAMS_SOURCE,
        licence=licence or CAMS_LICENCE,
        attribution=attribution or cams_attribution(),
        publisher=publisher,
        dataset=dataset or CAMS_DATASET,
        title="CAMS air quality forecasts (model data)",
        description=(
            "Daily means of the CAMS European air quality forecasts at stations. Model output, not "
            f"measurements. {CAMS_DISCLAIMER}"
        ),
        themes=("ENVI",),
        keywords=("SensorThings", "CAMS", "Copernicus", "forecast"),
    )


def import_cams(
    client: SensorThingsClient, path: Path, stations_file: Path, options: CamsOptions
) -> ImportReport:
    """Import one CAMS forecast file (see the module docstring); the report of what it stored."""
    code = component_code(options.component)
    if code is None:
        raise ValueError(f"unknown component {options.component!r}")
    station_options = StationOptions(network=options.network, on_error=options.on_error, progress=False)
    stations = read_stations(stations_file, station_options)
    if options.station not in stations:
        raise ValueError(f"station {options.station!r} is not in {stations_file.name}")
    report = ImportReport(files=1)
    series = read_cams_file(path, report, options.on_error)

    check_dataset(client, options.provenance)
    catalogue = Catalogue(client, report)
    entities = StationEntities(catalogue, stations, station_options)
    thing = entities.thing(options.station)
    observed_property = catalogue.observed_property(OBSERVED_PROPERTIES[code])
    streams = []
    for model, readings in series.items():
        sensor = _sensor(catalogue, model, options.provenance)
        datastream = _datastream(
            catalogue, options.station, code, model, thing, sensor, observed_property, options.provenance
        )
        streams.append((datastream, readings))
    total = sum(len(readings) for _, readings in streams)
    with tqdm(total=total, unit="obs", desc=path.name, disable=not options.progress) as bar:
        writer = ObservationWriter(client, report, progress=bar.update)
        for datastream, readings in streams:
            writer.add(datastream, readings)
        writer.flush()
    # The forecasts' own dataset: their Datastreams and Sensors, not the station's Thing.
    place_created(client, options.provenance, catalogue.created, ("Sensors", "Datastreams"))
    return report


def read_cams_file(path: Path, report: ImportReport, on_error: OnError) -> dict[str, list[Reading]]:
    """The readings of each model column that has any, in the file's order (each the UTC day of its
    date); every row checked before anything is written."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if not header or header[0].lower() != "date" or len(header) < 2:
            raise ValueError(f"{path.name}: expected a header 'date,<model>,…' (one column per model)")
        models = header[1:]
        series: dict[str, list[Reading]] = {model: [] for model in models}
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            report.rows += 1
            try:
                day = date.fromisoformat(row[0].strip())
            except ValueError:
                report.problem(on_error, path.name, line, f"date: {row[0]!r} is not YYYY-MM-DD")
                continue
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            for model, cell in zip(models, row[1:], strict=False):
                text = cell.strip()
                if not text or text.lower() in ("nan", "na"):
                    report.empty_values += 1
                    continue
                try:
                    value = float(text)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    report.problem(on_error, path.name, line, f"{model}: {cell!r} is not a number")
                    continue
                series[model].append(Reading(start, start + timedelta(days=1), value, line))
    return {model: readings for model, readings in series.items() if readings}


# The keys of what the CAMS connector makes (`import_key`): whoever makes the same entity (the demo)
# uses them, so that an import joins it instead of making it twice.


def cams_sensor_key(model: str) -> str:
    """The key of the Sensor of one forecast model (`ENSEMBLE`, `EURAD-IM`, …)."""
    return f"cams:sensor:{model}"


def cams_datastream_key(station: str, code: str, model: str) -> str:
    """The key of the Datastream of one model's forecasts of a component at a station."""
    return f"cams:{station}:{code}:{model}"


def _sensor(catalogue: Catalogue, model: str, provenance: Provenance) -> int:
    payload: JSON = deepcopy(CAMS_SENSORS.get(model) or _generic_sensor(model))
    payload["properties"] = {**payload["properties"], **provenance.properties()}
    return catalogue.ensure("Sensors", cams_sensor_key(model), payload)


def _generic_sensor(model: str) -> JSON:
    return {
        "name": f"CAMS regional forecast {model}",
        "description": (
            f"The {model} model of the CAMS European air quality forecasts; model output, not a measurement."
        ),
        "encodingType": "text/html",
        "metadata": CAMS_SITE,
        "properties": {"kind": "model forecast"},
    }


def _datastream(
    catalogue: Catalogue,
    station: str,
    code: str,
    model: str,
    thing: int,
    sensor: int,
    observed_property: int,
    provenance: Provenance,
) -> int:
    quantity = OBSERVED_PROPERTIES[code]
    name = f"{quantity.label} forecast CAMS {model} at {station}"
    payload: JSON = {
        "name": name,
        "description": (
            f"Daily mean of the hourly CAMS {model} {quantity.label} forecasts at the station {station}. "
            "Model data, not measurements."
        ),
        "observationType": OM_MEASUREMENT,
        "unitOfMeasurement": deepcopy(UNITS["ug/m3"]),
        "properties": {
            "synthetic": False,
            "kind": "model forecast",
            "component": code,
            "disclaimer": CAMS_DISCLAIMER,
            "model": "ENSEMBLE median" if model == "ENSEMBLE" else model,
            "aggregation": "P1D",
            "time_convention": CAMS_TIME_ASSUMPTION,
            **provenance.properties(),
        },
        "Thing": {"@iot.id": thing},
        "Sensor": {"@iot.id": sensor},
        "ObservedProperty": {"@iot.id": observed_property},
    }
    key = cams_datastream_key(station, code, model)
    return catalogue.ensure("Datastreams", key, payload, parent=f"Things({thing})")
