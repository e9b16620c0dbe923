"""Hourly station CSVs (the state agencies' exports and alike) into SensorThings.

Station CSVs are long files (one row per station, time and component) or wide ones (one column per
component), with the stations' positions from a GeoJSON file. The format is documented with a
sample in docs/imports.md. What is read, and how:

* **time**: one column (`timestamp_utc`, `Datum Zeit`, …) or a date column and a time column
  (`Datum` + `Zeit`), which are joined. Columns say their zone by their name: `…utc` is UTC,
  `…mez` / `…cet` is UTC+1 all year (the German air quality convention), anything else is
  `timezone` (an IANA zone such as Europe/Berlin, with daylight saving time: the repeated hour of
  the autumn change is told apart by the order of the rows, an hour that does not exist in spring
  is a bad row; or a fixed offset such as `+01:00`). Values with an offset (`…Z`, `…+01:00`) are
  taken as they are; `24:00` is the next midnight.
* **stamping** (`stamp`): whether a time marks the `start` or the `end` of its averaging period
  (an hour, or a day for daily means). Unstated (None), an hourly value's phenomenonTime is the
  instant of its stamp and a daily mean covers the calendar day starting at it, as the file gives.
  With `end`, a value stamped 01:00 is the mean of 00:00/01:00.
* **units**: from the column name (`NO2 [µg/m³]`, `pm10_ug_m3`), a unit column of a long file, or a
  units line right under the header (a row naming units instead of a time); else the component's
  usual unit.
* **one column per component**: two columns of one component (`PM10_HVS`, `PM10_TEOM`: two
  instruments) are refused with both named, unless `take` says which one to import.

A named preset (`PRESETS`, `--preset`) sets what an agency's export needs in one word.

`read_stations` and `read_station_csv` read (the demo reads its copy of the LfULG values with them
too); `import_stations` writes what was read through the idempotent loader (`sta_loader.py`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import unicodedata
from collections import defaultdict
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tqdm import tqdm

from urbantwin.errors import BadRequest
from urbantwin.http import check_json_input
from urbantwin.ingest.provenance import Provenance, check_dataset, dataset_slug, place_created
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
    "PRESETS",
    "Sample",
    "Stamp",
    "StationEntities",
    "StationOptions",
    "StationPreset",
    "import_stations",
    "nfc",
    "open_text",
    "read_station_csv",
    "read_stations",
    "station_datastream_key",
    "station_key",
    "station_sensor_key",
    "time_convention",
]

#: Whether a file's time marks the start or the end of the period its value is the mean of.
Stamp = Literal["start", "end"]


@dataclass(frozen=True)
class StationPreset:
    """How one publisher's station exports are to be read, under one name (`--preset NAME`)."""

    name: str
    description: str
    network: str
    timezone: str
    stamp: Stamp


PRESETS: dict[str, StationPreset] = {
    "lfulg": StationPreset(
        "lfulg",
        "Hourly CSV export of Saxony's state agency for environment (LfULG, 'Luft online'): ';' and "
        "decimal comma, a 'Datum' and a 'Zeit' column, a units line under the header; times in MEZ "
        "(UTC+1 all year) stamping the end of each hour (01:00 … 24:00), daily means the end of "
        "their day.",
        network="LfULG",
        timezone="+01:00",
        stamp="end",
    ),
}


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
    network: str = "stations"
    #: Zone of timestamps without an offset whose column does not say UTC or MEZ (IANA name or
    #: a fixed offset such as `+01:00`).
    timezone: str = "Europe/Berlin"
    #: Station of every row, for files without a station column.
    station: str | None = None
    #: Property of the GeoJSON features that holds the station name the CSV uses.
    station_property: str = "name"
    #: Where the data come from, under which licence, published by whom, in which dataset.
    provenance: Provenance = field(default_factory=Provenance)
    #: Components whose values are daily means (else inferred: no two rows closer than 23 h).
    daily: frozenset[str] = frozenset()
    #: Whether a time stamps the start or the end of its period (None: not stated).
    stamp: Stamp | None = None
    #: The column to import of a component that several columns give (`{"pm10": "PM10_TEOM"}`).
    take: dict[str, str] = field(default_factory=dict)
    on_error: OnError = OnError.skip
    progress: bool = True

    @classmethod
    def preset(cls, name: str, **given: Any) -> StationOptions:
        """The options of preset `name`, with what is `given` (not None) in their place."""
        found = PRESETS.get(name.lower())
        if found is None:
            raise ValueError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
        values: dict[str, Any] = {"network": found.network, "timezone": found.timezone, "stamp": found.stamp}
        values.update({key: value for key, value in given.items() if value is not None})
        return cls(**values)


@dataclass
class Sample:
    """One value of a station file, at its moment in UTC, with the line it was read from."""

    station: str
    component: str
    unit: str
    moment: datetime
    value: float
    line: int
    #: The time was a date alone (a daily value names its day, whatever the stamping).
    day_only: bool = False


@dataclass
class _TimeColumn:
    index: int
    #: The zone of values without an offset.
    zone: tzinfo
    #: Whether that zone has daylight saving time (naive values may be ambiguous).
    civil: bool
    #: A separate column with the time of day (`Zeit`) beside a date column (`Datum`).
    clock: int | None = None

    def text(self, row: list[str]) -> str:
        day = row[self.index].strip()
        if self.clock is None:
            return day
        clock = row[self.clock].strip()
        return f"{day} {clock}" if clock else day


_MISSING = {"", "-", "--", "nan", "na", "n/a", "n.a.", "null", "none"}
_STATION_COLUMNS = ("station", "station_name", "stationsname", "messstation", "station_code")
_COMPONENT_COLUMNS = ("component", "komponente", "pollutant", "schadstoff")
_UNIT_COLUMNS = ("unit", "einheit")
_TIME_WORDS = ("timestamp", "time", "datetime", "date", "datum", "zeit", "zeitpunkt", "uhrzeit")
#: Words of a column holding the date alone, and of one holding the time of day alone.
_DATE_WORDS = ("date", "datum")
_CLOCK_WORDS = ("time", "zeit", "uhrzeit")
_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def _zone(name: str) -> tuple[tzinfo, bool]:
    """A zone by IANA name or fixed offset (`+01:00`, `UTC+1`, `MEZ`); whether it is civil (DST)."""
    spelt = name.strip()
    if spelt.upper() in ("MEZ", "UTC+1"):
        return timezone(timedelta(hours=1), "MEZ"), False
    if spelt.upper() in ("UTC", "Z", "GMT"):
        return UTC, False
    offset = _OFFSET.match(spelt)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta), False
    try:
        return ZoneInfo(spelt), True
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin, or an offset such as +01:00)"
        ) from None


def _words(name: str) -> tuple[str, str]:
    spelt = name.strip().lower()
    return spelt, spelt.split("_")[0].split(" ")[0]


def _time_column(header: list[str], options: StationOptions) -> _TimeColumn | None:
    timed = [i for i, name in enumerate(header) if any(w in _TIME_WORDS for w in _words(name))]
    if not timed:
        return None
    index, clock = timed[0], None
    # A date column (`Datum`) and, beside it, one with the time of day (`Zeit`): one time.
    day = next((i for i in timed if _words(header[i])[1] in _DATE_WORDS), None)
    hour = next((i for i in timed if i != day and _words(header[i])[1] in _CLOCK_WORDS), None)
    if day is not None and hour is not None:
        index, clock = day, hour
    names = " ".join(header[i].strip().lower() for i in (index, clock) if i is not None)
    if "utc" in names:
        return _TimeColumn(index, UTC, civil=False, clock=clock)
    if ("mez" in names and "mesz" not in names) or ("cet" in names and "cest" not in names):
        return _TimeColumn(index, timezone(timedelta(hours=1), "MEZ"), civil=False, clock=clock)
    zone, civil = _zone(options.timezone)
    return _TimeColumn(index, zone, civil=civil, clock=clock)


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


def _units_line(row: list[str], time_column: _TimeColumn, columns: list[int]) -> bool:
    """Whether the row under the header names units (`;;µg/m³;mg/m³`) instead of giving values:
    no time, and the value columns hold units or other words, no numbers."""
    if time_column.index >= len(row) or (time_column.clock or 0) >= len(row):
        return False
    stamp = time_column.text(row)
    if stamp:
        try:
            _parse_naive_or_aware(stamp)
            return False
        except ValueError:
            pass
    cells = [row[i].strip() for i in columns if i < len(row) and row[i].strip()]
    return bool(cells) and not any(re.fullmatch(r"[-+]?[\d.,]+", cell) for cell in cells)


_Wide = list[tuple[int, str, str | None]]


def _choose(
    name: str, wide: _Wide, header: list[str], take: dict[str, tuple[str, str]]
) -> tuple[_Wide, list[str]]:
    """One column per component: several of one are refused (both named) unless `take` picks one."""
    by_code: dict[str, list[int]] = defaultdict(list)
    for position, (_, code, _) in enumerate(wide):
        by_code[code].append(position)
    chosen: _Wide = []
    dropped: list[str] = []
    for code, wanted in take.items():
        if code not in by_code:
            raise ValueError(f"{name}: --take {code}=…: the file has no {code} column")
        if not any(header[wide[p][0]] == wanted[1] for p in by_code[code]):
            columns = ", ".join(repr(header[wide[p][0]]) for p in by_code[code])
            raise ValueError(
                f"{name}: --take {code}={wanted[1]}: no such {code} column (the file has {columns})"
            )
    for code, positions in by_code.items():
        if len(positions) > 1 and code not in take:
            columns = " and ".join(repr(header[wide[p][0]]) for p in positions)
            first = header[wide[positions[0]][0]]
            raise ValueError(
                f"{name}: columns {columns} are both {code}; choose one with --take {code}={first} "
                "(two instruments of one component would otherwise be mixed into one series)"
            )
    for index, code, unit in wide:
        if code in take and header[index] != take[code][1]:
            dropped.append(header[index])
            continue
        chosen.append((index, code, unit))
    return chosen, dropped


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
    used = {time_column.index, time_column.clock, station_index, component_index, unit_index}
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
        take = {}
        for spelt, column in options.take.items():
            code = component_code(spelt)
            if code is None:
                raise ValueError(f"--take {spelt}={column}: unknown component {spelt!r}")
            take[code] = (spelt, column)
        wide, dropped = _choose(name, wide, header, take)
        ignored += dropped
    if component_index is not None:
        ignored = [h for i, h in enumerate(header) if i not in used]
    if ignored:
        report.ignored_columns[name] = ignored

    rows = iter(reader)
    first = next(rows, None)
    pending: list[tuple[int, list[str]]] = []
    if first is not None:
        value_columns = [i for i, _, _ in wide] + ([long_value[0]] if long_value else [])
        if _units_line(first, time_column, value_columns):
            # A units line: the unit of each component column that names one.
            named = []
            for index, code, unit in wide:
                cell = first[index].strip() if index < len(first) else ""
                if not cell:
                    named.append((index, code, unit))
                    continue
                stated = unit_code(cell)
                if stated is None:
                    raise ValueError(
                        f"{name}: column {header[index]!r}: unknown unit {cell!r} in the units line"
                    )
                if unit is not None and unit != stated:
                    raise ValueError(
                        f"{name}: column {header[index]!r} names {unit}, the units line {cell!r}"
                    )
                named.append((index, code, stated))
            wide = named
            if long_value is not None and unit_index is None:
                cell = first[long_value[0]].strip() if long_value[0] < len(first) else ""
                if cell:
                    stated = unit_code(cell)
                    if stated is None:
                        raise ValueError(f"{name}: unknown unit {cell!r} in the units line")
                    long_value = (long_value[0], stated)
        else:
            pending.append((reader.line_num, first))

    def numbered() -> Any:
        yield from pending
        for row in rows:
            yield reader.line_num, row

    samples: list[Sample] = []
    for line, row in numbered():
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
            stamp = time_column.text(row)
            moment = times.to_utc(stamp, series)
        except ValueError as exc:
            report.problem(options.on_error, name, line, str(exc))
            continue
        day_only = ":" not in stamp
        for component, unit, value in values:
            if value is None:
                report.empty_values += 1
                continue
            samples.append(Sample(station, component, unit, moment, value, line, day_only))
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

    def _provenance(self) -> JSON:
        return self.options.provenance.properties()

    def sensor(self) -> int:
        payload: JSON = {
            "name": f"{self.network} reference analyser",
            "description": (
                f"Measuring equipment of the {self.network} air quality network; the station file "
                "does not name the instrument, so one generic Sensor stands for all of them."
            ),
            "encodingType": "text/plain",
            "metadata": "not stated in the source file",
            "properties": {
                "assumption": "one generic Sensor for all analysers (not in the data)",
                "network": self.network,
            },
        }
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
        stamp = self.options.stamp
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
                "stamp": stamp or "not stated",
                "time_convention": time_convention(daily, stamp),
                "network": self.network,
                **self._provenance(),
            },
            "Thing": {"@iot.id": thing},
            "Sensor": {"@iot.id": sensor},
            "ObservedProperty": {"@iot.id": observed_property},
        }
        key = station_datastream_key(self.network, station, code)
        return self.catalogue.ensure("Datastreams", key, payload, parent=f"Things({thing})")


def time_convention(daily: bool, stamp: Stamp | None) -> str:
    """What a station Datastream's phenomenonTime means, as its `properties.time_convention` says."""
    period = "day" if daily else "hour"
    if stamp == "end":
        return (
            f"{'Daily' if daily else 'Hourly'} mean; the file stamps the end of each {period}: "
            f"phenomenonTime is the {period} ending at the stamp (a date alone names its day), in UTC."
        )
    if stamp == "start":
        return (
            f"{'Daily' if daily else 'Hourly'} mean; the file stamps the start of each {period}: "
            f"phenomenonTime is the {period} starting at the stamp, in UTC."
        )
    if daily:
        return (
            "Daily mean; phenomenonTime is the calendar day (in the file's time zone) that starts at the "
            "file's timestamp, converted to UTC. Whether the source stamps the start or the end of the "
            "day was not stated at import."
        )
    return (
        "Hourly value; phenomenonTime is the file's timestamp converted to UTC. Whether it marks the "
        "start or the end of the averaging hour was not stated at import."
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
    component is listed in `daily`), else hourly. What the import creates goes into the
    provenance's dataset (see `provenance.py`).
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

    # Every row is checked: now the dataset, the entities, then the observations.
    check_dataset(client, options.provenance)
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
        streams.append((datastream, [_reading(sample, daily, zone, options.stamp) for sample in series]))
    total = sum(len(readings) for _, readings in streams)
    with tqdm(total=total, unit="obs", desc=path.name, disable=not options.progress) as bar:
        writer = ObservationWriter(client, report, progress=bar.update)
        for datastream, readings in streams:
            writer.add(datastream, readings)
        writer.flush()
    place_created(client, options.provenance, catalogue.created)
    return report


def _reading(sample: Sample, daily: bool, zone: tzinfo, stamp: Stamp | None = None) -> Reading:
    moment = sample.moment
    if not daily:
        if stamp == "end":
            return Reading(moment - timedelta(hours=1), moment, sample.value, sample.line)
        if stamp == "start":
            return Reading(moment, moment + timedelta(hours=1), sample.value, sample.line)
        return Reading(moment, None, sample.value, sample.line)
    # The local calendar day: 23 or 25 hours on the days of the daylight saving change.
    local = moment.astimezone(zone)
    if stamp == "end" and not sample.day_only:
        return Reading((local - timedelta(days=1)).astimezone(UTC), moment, sample.value, sample.line)
    return Reading(moment, (local + timedelta(days=1)).astimezone(UTC), sample.value, sample.line)


def default_dataset(network: str) -> str:
    """The dataset a network's stations go into unless told otherwise (`LfULG` -> `lfulg-stations`)."""
    return f"{dataset_slug(network)}-stations"
