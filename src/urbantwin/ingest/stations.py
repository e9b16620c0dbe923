"""Hourly station CSVs (the LfULG files and alike) into SensorThings.

Station CSVs are long files (one row per station, time and component, like the LfULG copy in
`urbantwin/demo/data`) or wide ones (one column per component), with the stations' positions from
a GeoJSON file. Time columns say their zone by their name: `…utc` is UTC, `…mez` / `…cet` is UTC+1
all year (the German air quality convention), anything else is local time in `timezone` (default
Europe/Berlin, with daylight saving time: the repeated hour of the autumn change is told apart by
the order of the rows, an hour that does not exist in spring is a bad row). Values with an offset
(`…Z`, `…+01:00`) are taken as they are.

`read_stations` and `read_station_csv` read (the demo reads its LfULG copy with them too);
`import_stations` writes what was read through the idempotent loader (`sta_loader.py`). What the
LfULG network's entities say of themselves (its Sensor, its time conventions) is here as well.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import unicodedata
from collections import defaultdict
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tqdm import tqdm

from urbantwin.errors import BadRequest
from urbantwin.http import check_json_input
from urbantwin.ingest.sta_client import JSON, SensorThingsClient
from urbantwin.ingest.sta_loader import (
    Catalogue,
    ImportReport,
    ObservationWriter,
    OnError,
    Reading,
)
from urbantwin.ingest.vocabulary import (
    GEOJSON,
    OBSERVED_PROPERTIES,
    OM_MEASUREMENT,
    UNITS,
    component_code,
    unit_code,
)
from urbantwin.settings import Settings

__all__ = [
    "DAILY_TIME_ASSUMPTION",
    "HOURLY_TIME_NOTE",
    "LFULG_AGENCY",
    "LFULG_NETWORK",
    "LFULG_NO_LICENCE",
    "LFULG_SENSOR",
    "LFULG_SITE",
    "Sample",
    "StationEntities",
    "StationOptions",
    "import_stations",
    "nfc",
    "open_text",
    "read_station_csv",
    "read_stations",
    "station_datastream_key",
    "station_key",
    "station_sensor_key",
]

# --- the LfULG network (Saxony's air quality measurements) -----------------------------------------

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


# --- reading files -------------------------------------------------------------------------------------


def open_text(path: Path) -> io.TextIOBase:
    """A CSV file as text: gzip by content (not only by name), UTF-8 with or without BOM."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - returned to the caller


def nfc(text: str) -> str:
    """Unicode NFC: the LfULG files spell "ü" decomposed; without this names would not match."""
    return unicodedata.normalize("NFC", text)


@dataclass
class StationOptions:
    """How to read a station file and describe what it creates."""

    #: The measuring network; part of every key, so two networks' "Mitte" stay apart.
    network: str = LFULG_NETWORK
    #: Zone of timestamps without an offset whose column does not say UTC or MEZ.
    timezone: str = "Europe/Berlin"
    #: Station of every row, for files without a station column.
    station: str | None = None
    #: Property of the GeoJSON features that holds the station name the CSV uses.
    station_property: str = "name"
    #: Where the data come from and under which licence (default for LfULG: the agency, no licence).
    source: str | None = None
    licence: str | None = None
    #: Components whose values are daily means (else inferred: no two rows closer than 23 h).
    daily: frozenset[str] = frozenset()
    on_error: OnError = OnError.skip
    progress: bool = True

    @property
    def is_lfulg(self) -> bool:
        return self.network.lower() == "lfulg"


@dataclass
class Sample:
    """One value of a station file, at its moment in UTC, with the line it was read from."""

    station: str
    component: str
    unit: str
    moment: datetime
    value: float
    line: int


@dataclass
class _TimeColumn:
    index: int
    #: The zone of values without an offset.
    zone: tzinfo
    #: Whether that zone has daylight saving time (naive values may be ambiguous).
    civil: bool


_MISSING = {"", "-", "--", "nan", "na", "n/a", "n.a.", "null", "none"}
_STATION_COLUMNS = ("station", "station_name", "stationsname", "messstation", "station_code")
_COMPONENT_COLUMNS = ("component", "komponente", "pollutant", "schadstoff")
_UNIT_COLUMNS = ("unit", "einheit")
_TIME_WORDS = ("timestamp", "time", "datetime", "date", "datum", "zeit", "zeitpunkt")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def _time_column(header: list[str], options: StationOptions) -> _TimeColumn | None:
    for index, name in enumerate(header):
        spelt = name.strip().lower()
        base = spelt.split("_")[0].split(" ")[0]
        if base not in _TIME_WORDS and spelt not in _TIME_WORDS:
            continue
        if "utc" in spelt:
            return _TimeColumn(index, UTC, civil=False)
        if ("mez" in spelt and "mesz" not in spelt) or ("cet" in spelt and "cest" not in spelt):
            return _TimeColumn(index, timezone(timedelta(hours=1), "MEZ"), civil=False)
        return _TimeColumn(index, _zone(options.timezone), civil=True)
    return None


@lru_cache(maxsize=65536)
def _parse_naive_or_aware(text: str) -> datetime:
    """ISO 8601 (`T` or space) or German `dd.mm.yyyy HH:MM[:SS]`; `24:00` is the next midnight."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    next_day = False
    if " 24:00" in value or "T24:00" in value:
        value = value.replace("24:00", "00:00", 1)
        next_day = True
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        for pattern in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"):
            try:
                moment = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{text!r} is not a time (ISO 8601 or dd.mm.yyyy HH:MM)") from None
    return moment + timedelta(days=1) if next_day else moment


class _LocalTimes:
    """Naive local times to UTC, with the repeated hour of the autumn change told apart by order.

    In October the clock shows 02:00–02:59 twice. A series written in local time has those rows
    twice, the summer-time (first) ones before the winter-time ones; for each series the first
    occurrence is taken as summer time and a repeat (a time not after the previous row's) as
    winter time. A spring time that never existed (02:30 on the last Sunday of March) is an error.
    """

    def __init__(self, column: _TimeColumn) -> None:
        self.column = column
        self.last: dict[Any, datetime] = {}

    def to_utc(self, text: str, series: Any) -> datetime:
        moment = _parse_naive_or_aware(text)
        if moment.tzinfo is not None:
            instant = moment.astimezone(UTC)
        elif not self.column.civil:
            instant = moment.replace(tzinfo=self.column.zone).astimezone(UTC)
        else:
            zone = self.column.zone
            first = moment.replace(tzinfo=zone, fold=0).astimezone(UTC)
            second = moment.replace(tzinfo=zone, fold=1).astimezone(UTC)
            if first.astimezone(zone).replace(tzinfo=None) != moment:
                raise ValueError(f"{text!r} does not exist in {zone} (skipped by the daylight saving change)")
            previous = self.last.get(series)
            instant = second if first != second and previous is not None and previous >= first else first
        self.last[series] = instant
        return instant


def _number(text: str, decimal_comma: bool, column: str) -> float | None:
    value = text.strip()
    if value.lower() in _MISSING:
        return None
    if decimal_comma and "," in value:
        value = value.replace(".", "").replace(",", ".")  # 1.234,5 -> 1234.5
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{column}: {text!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{column}: {text!r} is not a finite number")
    return number


def _wide_column(name: str) -> tuple[str, str | None] | None:
    """A component column of a wide file: `NO2`, `NO2 [µg/m³]`, `pm10_ug_m3` -> (code, unit)."""
    text = name.strip()
    unit: str | None = None
    if "[" in text and text.endswith("]"):
        text, _, rest = text.partition("[")
        unit = unit_code(rest)
    elif "(" in text and text.endswith(")"):
        text, _, rest = text.partition("(")
        unit = unit_code(rest)
    code = component_code(text)
    if code is None and "_" in text:
        head, _, tail = text.partition("_")
        code, unit = component_code(head), unit_code(tail)
    return (code, unit) if code else None


def read_station_csv(
    path: Path, options: StationOptions, report: ImportReport
) -> tuple[list[Sample], tzinfo]:
    """Every value of a station file, in UTC, with its line, and the zone of the file's calendar
    days; bad rows are reported (or abort, with `OnError.abort`)."""
    name = path.name
    with open_text(path) as handle:
        text = nfc(handle.read())
    lines = text.splitlines()
    if not lines:
        report.problem(options.on_error, name, 0, "the file is empty")
        return [], UTC
    delimiter = max((";", ",", "\t"), key=lines[0].count)
    decimal_comma = delimiter != ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    lower = [h.lower() for h in header]
    time_column = _time_column(header, options)
    if time_column is None:
        raise ValueError(f"{name}: no time column (e.g. timestamp_utc, timestamp, Datum) in {header}")
    times = _LocalTimes(time_column)
    station_index = next((lower.index(c) for c in _STATION_COLUMNS if c in lower), None)
    if station_index is None and not options.station:
        raise ValueError(f"{name}: no station column; name the station with --station")
    component_index = next((lower.index(c) for c in _COMPONENT_COLUMNS if c in lower), None)
    long_value: tuple[int, str | None] | None = None
    unit_index = next((lower.index(c) for c in _UNIT_COLUMNS if c in lower), None)
    wide: list[tuple[int, str, str | None]] = []
    ignored: list[str] = []
    used = {time_column.index, station_index, component_index, unit_index}
    if component_index is not None:
        for index, column in enumerate(lower):
            if column.startswith(("value", "wert", "messwert")):
                suffix = column.split("_", 1)[1] if "_" in column else ""
                long_value = (index, unit_code(suffix) if suffix else None)
                used.add(index)
                break
        if long_value is None:
            raise ValueError(f"{name}: a long file (with a component column) needs a value column")
    else:
        for index, column in enumerate(header):
            if index in used:
                continue
            mapped = _wide_column(column)
            if mapped is None:
                ignored.append(column)
            else:
                wide.append((index, mapped[0], mapped[1]))
        if not wide:
            raise ValueError(f"{name}: no component columns (e.g. NO2, PM10, O3) in {header}")
    if component_index is not None:
        ignored = [h for i, h in enumerate(header) if i not in used]
    if ignored:
        report.ignored_columns[name] = ignored

    samples: list[Sample] = []
    for row in reader:
        line = reader.line_num
        if not "".join(row).strip():
            continue
        report.rows += 1
        if len(row) != len(header):
            report.problem(options.on_error, name, line, f"{len(row)} fields, the header has {len(header)}")
            continue
        station = row[station_index].strip() if station_index is not None else options.station
        if not station:
            report.problem(options.on_error, name, line, "no station")
            continue
        try:
            if component_index is not None:
                assert long_value is not None
                component = component_code(row[component_index])
                if component is None:
                    raise ValueError(f"unknown component {row[component_index]!r}")
                unit = long_value[1]
                if unit_index is not None and row[unit_index].strip():
                    unit = unit_code(row[unit_index])
                    if unit is None:
                        raise ValueError(f"unknown unit {row[unit_index]!r}")
                unit = unit or OBSERVED_PROPERTIES[component].unit
                cells = [(component, unit, row[long_value[0]], row[component_index].strip())]
            else:
                cells = [
                    (code, unit or OBSERVED_PROPERTIES[code].unit, row[i], header[i])
                    for i, code, unit in wide
                ]
            values = [(c, u, _number(v, decimal_comma, label)) for c, u, v, label in cells]
            series = station if component_index is None else (station, cells[0][0])
            moment = times.to_utc(row[time_column.index], series)
        except ValueError as exc:
            report.problem(options.on_error, name, line, str(exc))
            continue
        for component, unit, value in values:
            if value is None:
                report.empty_values += 1
                continue
            samples.append(Sample(station, component, unit, moment, value, line))
    return samples, time_column.zone


def read_stations(path: Path, options: StationOptions) -> dict[str, JSON]:
    collection = json.loads(nfc(path.read_text(encoding="utf-8")))
    try:
        # The one rule of JSON input (depth, NUL): the stations' properties become Things' properties.
        check_json_input(collection, Settings.max_json_depth, path.name)
    except BadRequest as exc:
        raise ValueError(exc.message) from None
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ValueError(f"{path.name}: expected a GeoJSON FeatureCollection of station points")
    stations = {}
    for feature in collection.get("features", []):
        props = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        name = props.get(options.station_property)
        if name is None or geometry.get("type") != "Point":
            continue
        stations[str(name)] = feature
    return stations


def _is_daily(moments: list[datetime]) -> bool:
    """Daily means if no two values of the series are closer than 23 h (a DST day has 23 h)."""
    ordered = sorted(set(moments))
    if len(ordered) < 2:
        return False
    return min(b - a for a, b in zip(ordered, ordered[1:], strict=False)) >= timedelta(hours=23)


# The keys of what the station connector makes (`import_key`): whoever makes the same entity (the
# demo) uses them, so that an import joins it instead of making it twice.


def station_sensor_key(network: str) -> str:
    """The key of the one generic Sensor of a measuring network."""
    return f"station:{network}:sensor"


def station_key(network: str, station: str) -> str:
    """The key of a station's Thing (the CAMS forecasts of the station attach to it too)."""
    return f"station:{network}:{station}"


def station_datastream_key(network: str, station: str, code: str) -> str:
    """The key of the Datastream of one component (`no2`, `pm25`, …) measured at a station."""
    return f"station:{network}:{station}:{code}"


class StationEntities:
    """The Things, Sensor and Datastreams of one station file."""

    def __init__(self, catalogue: Catalogue, stations: dict[str, JSON], options: StationOptions) -> None:
        self.catalogue = catalogue
        self.stations = stations
        self.options = options
        self.network = options.network
        self.source = options.source or (LFULG_AGENCY if options.is_lfulg else None)
        self.licence = options.licence or (LFULG_NO_LICENCE if options.is_lfulg else None)

    def _provenance(self) -> JSON:
        return {k: v for k, v in (("source", self.source), ("licence", self.licence)) if v}

    def sensor(self) -> int:
        if self.options.is_lfulg:
            payload = deepcopy(LFULG_SENSOR)
        else:
            payload = {
                "name": f"{self.network} reference analyser",
                "description": (
                    f"Measuring equipment of the {self.network} air quality network; the station file "
                    "does not name the instrument, so one generic Sensor stands for all of them."
                ),
                "encodingType": "text/plain",
                "metadata": "not stated in the source file",
                "properties": {"assumption": "one generic Sensor for all analysers (not in the data)"},
            }
        payload["properties"] = {**payload.get("properties", {}), "network": self.network}
        return self.catalogue.ensure("Sensors", station_sensor_key(self.network), payload)

    def thing(self, station: str) -> int:
        feature = self.stations[station]
        props = dict(feature.get("properties") or {})
        lon, lat = feature["geometry"]["coordinates"][:2]
        street = props.get("location") if isinstance(props.get("location"), str) else None
        name = f"Air quality station {station}"
        payload = {
            "name": name,
            "description": f"{self.network} air quality monitoring station {station}"
            + (f" ({street}, {props['city']})" if street and props.get("city") else ""),
            "properties": {
                "theme": "air_quality",
                "station": station,
                "network": self.network,
                **{k: v for k, v in props.items() if k not in ("name", "location") and v is not None},
                **({"street": street} if street else {}),
                **self._provenance(),
            },
            "Locations": [
                {
                    "name": f"{station}, {street}" if street else station,
                    "description": f"Position of the {self.network} air quality station {station}",
                    "encodingType": GEOJSON,
                    "location": {"type": "Point", "coordinates": [lon, lat]},
                }
            ],
        }
        return self.catalogue.ensure("Things", station_key(self.network, station), payload)

    def datastream(self, station: str, code: str, unit: str, daily: bool) -> int:
        quantity = OBSERVED_PROPERTIES[code]
        thing = self.thing(station)
        observed_property = self.catalogue.observed_property(quantity)
        sensor = self.sensor()
        kind = "daily mean" if daily else "hourly mean"
        name = f"{quantity.label} at {station}"
        if daily:
            convention = DAILY_TIME_ASSUMPTION if self.options.is_lfulg else _DAILY_NOTE
        else:
            convention = HOURLY_TIME_NOTE if self.options.is_lfulg else _HOURLY_NOTE
        payload = {
            "name": name,
            "description": f"{quantity.label} ({kind}) measured by the {self.network} at {station}",
            "observationType": OM_MEASUREMENT,
            "unitOfMeasurement": deepcopy(UNITS[unit]),
            "properties": {
                "synthetic": False,
                "kind": "measurement",
                "component": code,
                "aggregation": "P1D" if daily else "PT1H",
                "time_convention": convention,
                "network": self.network,
                **self._provenance(),
            },
            "Thing": {"@iot.id": thing},
            "Sensor": {"@iot.id": sensor},
            "ObservedProperty": {"@iot.id": observed_property},
        }
        key = station_datastream_key(self.network, station, code)
        return self.catalogue.ensure("Datastreams", key, payload, parent=f"Things({thing})")


_HOURLY_NOTE = (
    "Hourly value; phenomenonTime is the file's timestamp converted to UTC. Whether it marks the start "
    "or the end of the averaging hour is as the source defines it."
)
_DAILY_NOTE = (
    "Daily mean; phenomenonTime is the calendar day (in the file's time zone) that starts at the "
    "file's timestamp, converted to UTC."
)


def import_stations(
    client: SensorThingsClient,
    path: Path,
    stations_file: Path,
    options: StationOptions | None = None,
) -> ImportReport:
    """Import one station CSV; Things for the stations in it, one Datastream per component.

    The whole file is read and checked before anything is written, so `OnError.abort` leaves the
    store as it was. Values are matched to what is stored by (Datastream, phenomenonTime start):
    importing the same file twice adds nothing, and a newer file that overlaps adds only the new
    values. A Datastream found already keeps its time convention (`properties.aggregation`);
    a new one is daily if the file's values of the series are at least 23 h apart (or the
    component is listed in `daily`), else hourly.
    """
    options = options or StationOptions()
    report = ImportReport(files=1)
    stations = read_stations(stations_file, options)
    samples, zone = read_station_csv(path, options, report)
    by_series: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.station not in stations:
            if not report.problems or report.problems[-1].line != sample.line:  # once per row
                message = f"station {sample.station!r} is not in {stations_file.name}"
                report.problem(options.on_error, path.name, sample.line, message)
            continue
        by_series[(sample.station, sample.component)].append(sample)
    plan: list[tuple[str, str, str, list[Sample]]] = []
    for (station, code), series in sorted(by_series.items()):
        units = sorted({sample.unit for sample in series})
        if len(units) > 1:
            for sample in series:
                message = f"{code} at {station} is given in several units ({', '.join(units)})"
                report.problem(options.on_error, path.name, sample.line, message)
            continue
        plan.append((station, code, units[0], series))

    # Every row is checked: now the entities, then the observations.
    catalogue = Catalogue(client, report)
    entities = StationEntities(catalogue, stations, options)
    streams: list[tuple[int, list[Reading]]] = []
    for station, code, unit, series in plan:
        daily = code in options.daily or _is_daily([s.moment for s in series])
        datastream = entities.datastream(station, code, unit, daily)
        stored = catalogue.entity("Datastreams", datastream)
        stored_unit = (stored.get("unitOfMeasurement") or {}).get("symbol")
        if stored_unit and stored_unit != UNITS[unit]["symbol"]:
            raise ValueError(
                f"{path.name}: {code} at {station} is in {UNITS[unit]['symbol']}, but the stored "
                f"Datastream {datastream} is in {stored_unit}; convert the file or give another --network"
            )
        aggregation = (stored.get("properties") or {}).get("aggregation")
        if aggregation in ("P1D", "PT1H"):
            daily = aggregation == "P1D"
        streams.append((datastream, [_reading(sample, daily, zone) for sample in series]))
    total = sum(len(readings) for _, readings in streams)
    with tqdm(total=total, unit="obs", desc=path.name, disable=not options.progress) as bar:
        writer = ObservationWriter(client, report, progress=bar.update)
        for datastream, readings in streams:
            writer.add(datastream, readings)
        writer.flush()
    return report


def _reading(sample: Sample, daily: bool, zone: tzinfo) -> Reading:
    if not daily:
        return Reading(sample.moment, None, sample.value, sample.line)
    # The local calendar day: 23 or 25 hours on the days of the daylight saving change.
    end = (sample.moment.astimezone(zone) + timedelta(days=1)).astimezone(UTC)
    return Reading(sample.moment, end, sample.value, sample.line)
