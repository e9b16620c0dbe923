"""Hourly station CSVs (the LfULG files and alike) into SensorThings, and what every sensor connector
shares.

The first half is the SensorThings side of the sensor connectors (`sensorcommunity.py` and
`replay.py` use it too):

* a client of the SensorThings API, either in process (`LocalClient`, through
  `SensorThingsService.handle`, so access rules, validation and notifications apply exactly as for
  a client of the server) or over HTTP to a running server (`HttpClient`). Connectors never insert
  into the SensorThings tables themselves;
* a `Catalogue` that finds Things, Sensors, ObservedProperties and Datastreams by a stable key kept
  in `properties["import_key"]` and creates only what is missing, so importing twice creates
  nothing the second time. Where an entity has no key (made by the demo loader or by hand) it is
  found by its natural identity instead: an ObservedProperty by its `definition` URI, the others by
  their exact `name` (the rule of the demo loader), so an import into the demo store joins the
  demo's stations instead of duplicating them;
* an `ObservationWriter` that stores only the observations a Datastream does not have yet (matched
  by Datastream and phenomenonTime start), in dataArray requests (`CreateObservations`, the
  service's bulk path: COPY on PostgreSQL);
* the report of an import (counts and bad rows with file and line).

The second half reads station CSVs: long files (one row per station, time and component, like the
LfULG copy in `urbantwin/demo/data`) or wide ones (one column per component), with the stations'
positions from a GeoJSON file. Time columns say their zone by their name: `…utc` is UTC, `…mez` /
`…cet` is UTC+1 all year (the German air quality convention), anything else is local time in
`timezone` (default Europe/Berlin, with daylight saving time: the repeated hour of the autumn change
is told apart by the order of the rows, an hour that does not exist in spring is a bad row).
Values with an offset (`…Z`, `…+01:00`) are taken as they are.
"""

from __future__ import annotations

import csv
import gzip
import http.client
import io
import json
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from sqlalchemy import Engine
from tqdm import tqdm

from urbantwin.access.principal import SYSTEM, Principal
from urbantwin.demo.sensorthings import (
    COMPONENTS as DEMO_COMPONENTS,
)
from urbantwin.demo.sensorthings import (
    DAILY_TIME_ASSUMPTION,
    HOURLY_TIME_NOTE,
    LFULG_LICENCE,
    LFULG_SENSOR,
    LFULG_SOURCE,
    MAX_ROWS_PER_REQUEST,
    OM_MEASUREMENT,
)
from urbantwin.errors import BadRequest, PlatformError
from urbantwin.http import check_json_input
from urbantwin.settings import Settings

JSON = dict[str, Any]

#: The key under `properties` that identifies an entity made by a connector, across imports.
KEY = "import_key"
API_VERSION = "v1.1"
GEOJSON = "application/geo+json"

__all__ = [
    "KEY",
    "OBSERVED_PROPERTIES",
    "UNITS",
    "Catalogue",
    "ClientError",
    "HttpClient",
    "ImportAborted",
    "ImportReport",
    "LocalClient",
    "ObservationWriter",
    "OnError",
    "Reading",
    "RowProblem",
    "SensorThingsClient",
    "StationOptions",
    "import_stations",
]


# === the SensorThings API as connectors see it ================================================


class ClientError(Exception):
    """A request to the SensorThings API failed; `status` is the HTTP status (0: not reachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class SensorThingsClient:
    """The few things a connector asks of a SensorThings API: GET (with paging) and POST."""

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        """Send one request to `path` (relative to the API root, e.g. `Things(1)/Datastreams`)."""
        raise NotImplementedError

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        return self.request("GET", path, query)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, None, body)

    def entities(self, path: str, query: dict[str, str] | None = None) -> Iterator[JSON]:
        """Every entity of a collection, following `@iot.nextLink` (the server pages large answers)."""
        page = self.get(path, query)
        while True:
            yield from page.get("value", [])
            link = page.get("@iot.nextLink")
            if not link:
                return
            page = self.follow(link)

    def follow(self, link: str) -> Any:
        """GET a link the server answered (a nextLink)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the client holds (a connection); it may not be used afterwards."""

    def describe(self) -> str:
        """Where the client writes, for messages."""
        raise NotImplementedError


def _query_string(query: dict[str, str] | str | None) -> str:
    if query is None:
        return ""
    if isinstance(query, str):
        return query
    return urlencode(query, quote_via=quote, safe="$,/()")


class LocalClient(SensorThingsClient):
    """The SensorThings service of the local store, called in process (no server needed).

    Writes go through `SensorThingsService.handle` as the requests of a server would, with the
    principal given (by default `SYSTEM`, the operator running the command on the machine).
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        principal: Principal = SYSTEM,
        dispose_engine: bool = False,
    ) -> None:
        from urbantwin.access.bootstrap import ensure_defaults
        from urbantwin.sensorthings.service import SensorThingsService

        # As at the start of a server: the default dataset new entities join must exist.
        ensure_defaults(engine, settings)
        self.engine = engine
        self.service = SensorThingsService(engine, settings)
        self.principal = principal
        self.base = f"/{API_VERSION}"
        #: Whether `close` disposes of the engine (when the client was made for one command).
        self.dispose_engine = dispose_engine

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        from urbantwin.sensorthings.serialize import dumps

        try:
            answer = self.service.handle(method, path, _query_string(query), body, self.base, self.principal)
        except PlatformError as exc:
            raise ClientError(exc.status, exc.message) from None
        if answer.body is None:
            return None
        # The service may answer pre-serialised fragments; one round trip makes plain JSON values.
        return orjson.loads(dumps(answer.body))

    def follow(self, link: str) -> Any:
        parts = urlsplit(link)
        path = parts.path
        if path.startswith(self.base):
            path = path[len(self.base) :]
        return self.request("GET", path.lstrip("/"), parts.query)

    def close(self) -> None:
        # The service counts reads in memory and a timer stores them later; a command ends sooner.
        audit = getattr(self.service, "audit", None)
        if audit is not None:
            audit.flush()
        if self.dispose_engine:
            self.engine.dispose()

    def describe(self) -> str:
        return f"the local store ({self.engine.url.render_as_string(hide_password=True)})"


class HttpClient(SensorThingsClient):
    """A running urbantwin (or any SensorThings 1.1) server, over HTTP with a bearer token.

    One persistent connection (http.client from the standard library: the command needs no extra
    dependency). A request on a kept-alive connection that the server closed meanwhile is sent
    once more on a new connection; any other failure is a `ClientError`.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {url!r}")
        prefix = parts.path.rstrip("/")
        if not prefix.endswith(f"/{API_VERSION}"):
            prefix += f"/{API_VERSION}"
        self.url = f"{parts.scheme}://{parts.netloc}{prefix}"
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, prefix
        self.token = token
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.netloc, timeout=self.timeout)

    def request(
        self, method: str, path: str, query: dict[str, str] | str | None = None, body: Any = None
    ) -> Any:
        target = f"{self.prefix}/{path.lstrip('/')}"
        query_string = _query_string(query)
        if query_string:
            target += "?" + query_string
        return self._send(method, target, body)

    def follow(self, link: str) -> Any:
        parts = urlsplit(link)
        return self._send("GET", parts.path + (f"?{parts.query}" if parts.query else ""), None)

    def _send(self, method: str, target: str, body: Any) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or self._connect()
            try:
                connection.request(method, target, data, headers)
                response = connection.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                connection.close()
                self._connection = None
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: send again
                raise ClientError(0, f"{self.url}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                self._connection = None
                raise ClientError(0, f"cannot reach {self.url}: {exc}") from None
            self._connection = connection
            if response.status >= 400:
                raise ClientError(response.status, _error_message(raw, response.reason))
            return orjson.loads(raw) if raw.strip() else None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def describe(self) -> str:
        return self.url


def _error_message(raw: bytes, reason: str) -> str:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")[:200] or reason
    if isinstance(document, dict):
        return str(document.get("message") or document.get("detail") or reason)
    return reason


def odata_string(text: str) -> str:
    """An OData string literal (a quote inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"


@lru_cache(maxsize=65536)
def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with `Z`, microseconds only when there are any (cached: an import writes
    each time twice, as phenomenonTime and resultTime, and long files repeat them per component)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def parse_iso(text: str) -> datetime:
    """An ISO 8601 instant as the API writes it (a `Z` or an offset), in UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def phenomenon_start(value: str) -> datetime:
    """The start of a phenomenonTime (an instant, or an interval `start/end`)."""
    return parse_iso(value.partition("/")[0])


# === reports and bad rows =====================================================================


class OnError(StrEnum):
    """What a bad row does: skipped (and reported), or it stops the import."""

    skip = "skip"
    abort = "abort"


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class ImportAborted(Exception):
    """A bad row with `OnError.abort`: nothing of the file it is in has been written."""

    def __init__(self, problem: RowProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class ImportReport:
    """What an import did; `summary()` is what the command prints."""

    files: int = 0
    #: Data rows read (header lines not counted).
    rows: int = 0
    #: Entities created, by entity set ("Things", "Sensors", …).
    created: Counter[str] = field(default_factory=Counter)
    #: Observations stored by this import.
    observations: int = 0
    #: Observations of the input the store already had (same Datastream and phenomenonTime).
    already_present: int = 0
    #: Observations given twice in the input (the first one counts).
    duplicates: int = 0
    #: Values left empty in the input (no observation: nothing was measured).
    empty_values: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    #: Columns of the input that no mapping covers, by file (not imported; reported once).
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, on_error: OnError, file: str, line: int, message: str) -> None:
        found = RowProblem(file, line, message)
        self.problems.append(found)
        if on_error is OnError.abort:
            raise ImportAborted(found)

    def summary(self, max_problems: int = 20) -> str:
        created = ", ".join(
            f"{self.created[name]} {name}"
            for name in ("Things", "Sensors", "ObservedProperties", "Datastreams")
            if self.created[name]
        )
        lines = [
            f"{self.files} file(s), {self.rows} rows: {self.observations} observations added, "
            f"{self.already_present} already present, {self.duplicates} repeated in the input, "
            f"{self.empty_values} empty values, {len(self.problems)} bad rows skipped.",
            f"Created: {created or 'nothing new'}.",
        ]
        for file, columns in self.ignored_columns.items():
            lines.append(f"{file}: columns not imported (no mapping): {', '.join(columns)}")
        for problem in self.problems[:max_problems]:
            lines.append(f"  {problem}")
        if len(self.problems) > max_problems:
            lines.append(f"  … and {len(self.problems) - max_problems} more bad rows")
        return "\n".join(lines)


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


# === vocabularies: units and observed properties ==============================================

_UCUM = "http://www.opengis.net/def/uom/UCUM/0/"


def _unit(name: str, symbol: str, ucum: str) -> JSON:
    return {"name": name, "symbol": symbol, "definition": _UCUM + quote(ucum, safe="")}


#: Units by their UCUM code; `symbol` is what people read, `definition` the UCUM code as a URI.
UNITS: dict[str, JSON] = {
    "ug/m3": _unit("microgram per cubic metre", "µg/m³", "ug/m3"),
    "mg/m3": _unit("milligram per cubic metre", "mg/m³", "mg/m3"),
    "ng/m3": _unit("nanogram per cubic metre", "ng/m³", "ng/m3"),
    "Cel": _unit("degree Celsius", "°C", "Cel"),
    "%": _unit("percent", "%", "%"),
    "Pa": _unit("pascal", "Pa", "Pa"),
    "hPa": _unit("hectopascal", "hPa", "hPa"),
}
#: How units are spelt in files (normalised: lower case, µ as u, ³ as 3, `_` as `/`) -> UCUM code.
_UNIT_SPELLINGS = {
    "ug/m3": "ug/m3",
    "mg/m3": "mg/m3",
    "ng/m3": "ng/m3",
    "cel": "Cel",
    "°c": "Cel",
    "degc": "Cel",
    "%": "%",
    "pa": "Pa",
    "hpa": "hPa",
}


def unit_code(text: str) -> str | None:
    """The UCUM code of a unit as written in a file (`µg/m³`, `ug_m3`, `[µg/m3]`), or None."""
    spelt = text.strip().strip("[]()").strip().lower().replace("µ", "u").replace("μ", "u")
    spelt = spelt.replace("³", "3").replace("_", "/").replace(" ", "")
    return _UNIT_SPELLINGS.get(spelt)


@dataclass(frozen=True)
class Quantity:
    """An observed property with its short label (used in names) and usual unit."""

    code: str
    label: str
    observed_property: JSON
    unit: str


_EEA = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
_CF = "http://vocab.nerc.ac.uk/standard_name/"


def _demo(code: str, unit: str = "ug/m3") -> Quantity:
    # The demo's ObservedProperties (EEA pollutant vocabulary), so both name the same entity.
    label, observed_property = DEMO_COMPONENTS[code]
    return Quantity(code, label, observed_property, unit)


def _quantity(code: str, label: str, name: str, definition: str, description: str, unit: str) -> Quantity:
    return Quantity(code, label, {"name": name, "definition": definition, "description": description}, unit)


#: Every observed property the connectors map to, by code.
OBSERVED_PROPERTIES: dict[str, Quantity] = {
    quantity.code: quantity
    for quantity in [
        *(_demo(code) for code in ("no2", "no", "o3", "so2", "pm10", "pm25", "ben")),
        _quantity(
            "co",
            "CO",
            "Carbon monoxide (CO)",
            _EEA + "10",
            "Mass concentration of carbon monoxide in air",
            "mg/m3",
        ),
        _quantity(
            "nox",
            "NOx",
            "Nitrogen oxides (NOx)",
            _EEA + "9",
            "Mass concentration of nitrogen oxides in air, expressed as NO2",
            "ug/m3",
        ),
        _quantity(
            "pm1",
            "PM1",
            "Particulate matter < 1 µm (PM1)",
            _EEA + "6002",
            "Mass concentration of PM1 aerosol",
            "ug/m3",
        ),
        _quantity(
            "air_temperature",
            "Temperature",
            "Air temperature",
            _CF + "air_temperature/",
            "Temperature of the air (CF standard name air_temperature)",
            "Cel",
        ),
        _quantity(
            "relative_humidity",
            "Humidity",
            "Relative humidity",
            _CF + "relative_humidity/",
            "Relative humidity of the air (CF standard name relative_humidity)",
            "%",
        ),
        _quantity(
            "air_pressure",
            "Pressure",
            "Air pressure",
            _CF + "air_pressure/",
            "Pressure of the air at the sensor (CF standard name air_pressure)",
            "Pa",
        ),
        _quantity(
            "air_pressure_at_sea_level",
            "Pressure (sea level)",
            "Air pressure at mean sea level",
            _CF + "air_pressure_at_mean_sea_level/",
            "Air pressure reduced to mean sea level (CF standard name air_pressure_at_mean_sea_level)",
            "Pa",
        ),
    ]
}

#: Component names in station files (normalised: lower case, no spaces, dots, commas or dashes)
#: -> observed property code.
STATION_COMPONENTS: dict[str, str] = {
    "no2": "no2",
    "stickstoffdioxid": "no2",
    "no": "no",
    "stickstoffmonoxid": "no",
    "nox": "nox",
    "o3": "o3",
    "ozon": "o3",
    "ozone": "o3",
    "so2": "so2",
    "schwefeldioxid": "so2",
    "pm10": "pm10",
    "pm25": "pm25",
    "pm1": "pm1",
    "ben": "ben",
    "benzol": "ben",
    "benzene": "ben",
    "c6h6": "ben",
    "co": "co",
    "kohlenmonoxid": "co",
}


@lru_cache(maxsize=1024)
def component_code(text: str) -> str | None:
    spelt = text.strip().lower()
    for char in " .,-_":
        spelt = spelt.replace(char, "")
    return STATION_COMPONENTS.get(spelt)


# === finding and creating entities ============================================================


class Catalogue:
    """Finds entities by their `import_key` (or natural identity) and creates the missing ones.

    Ids found are remembered for the import run, so a file of a thousand rows asks once per entity.
    """

    def __init__(self, client: SensorThingsClient, report: ImportReport) -> None:
        self.client = client
        self.report = report
        self._ids: dict[tuple[str, str], int] = {}
        self._entities: dict[int, JSON] = {}

    def find(self, collection: str, key: str, fallback: tuple[str, str] | None = None) -> JSON | None:
        """The entity of `collection` (a path such as `Things(3)/Datastreams`) with this key, else
        the first one with the natural identity `fallback` that has no key (an entity another
        connector made, with a key of its own, is never taken over)."""
        query = {"$filter": f"properties/{KEY} eq {odata_string(key)}", "$orderby": "id", "$top": "1"}
        for entity in self.client.get(collection, query).get("value", []):
            return entity
        if fallback is None:
            return None
        query = {"$filter": f"{fallback[0]} eq {odata_string(fallback[1])}", "$orderby": "id", "$top": "20"}
        for entity in self.client.get(collection, query).get("value", []):
            if KEY not in (entity.get("properties") or {}):
                return entity
        return None

    def ensure(
        self,
        entity_set: str,
        key: str,
        payload: JSON,
        *,
        parent: str | None = None,
        fallback: tuple[str, str] | None = None,
    ) -> int:
        """The id of the entity with `key`, created from `payload` (its key added) if missing.

        `parent` scopes the search (`Things(3)` for a Thing's Datastreams); `fallback` is the
        natural identity looked for when no entity carries the key, e.g. `("name", …)`.
        """
        cache_key = (parent or "", key)
        known = self._ids.get(cache_key)
        if known is not None:
            return known
        collection = f"{parent}/{entity_set}" if parent else entity_set
        found = self.find(collection, key, fallback)
        if found is None:
            body = deepcopy(payload)
            body["properties"] = {**(body.get("properties") or {}), KEY: key}
            found = self.client.post(entity_set, body)
            self.report.created[entity_set] += 1
        ident = int(found["@iot.id"])
        self._ids[cache_key] = ident
        self._entities[ident] = found
        return ident

    def entity(self, ident: int) -> JSON:
        """The entity as found or created (for its properties, e.g. a Datastream's aggregation)."""
        return self._entities[ident]

    def observed_property(self, quantity: Quantity) -> int:
        definition = quantity.observed_property["definition"]
        return self.ensure(
            "ObservedProperties",
            f"observed-property:{definition}",
            quantity.observed_property,
            fallback=("definition", definition),
        )


@dataclass(frozen=True)
class Reading:
    """One observation to store: phenomenonTime `start` (and `end` for a mean over a period)."""

    start: datetime
    end: datetime | None
    result: float
    line: int


class ObservationWriter:
    """Stores the observations a Datastream does not have yet, in dataArray requests.

    Rows wait in a buffer until `batch` of them (over any number of Datastreams) make one request,
    so many small Datastreams (a day of a citizen sensor) do not cost a request each.
    """

    components = ["phenomenonTime", "resultTime", "result"]

    def __init__(
        self,
        client: SensorThingsClient,
        report: ImportReport,
        batch: int = MAX_ROWS_PER_REQUEST,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.report = report
        self.batch = batch
        self.progress = progress
        self._pending: list[JSON] = []
        self._size = 0
        #: phenomenonTime starts waiting in the buffer, by Datastream (not in the store yet).
        self._queued: dict[int, set[datetime]] = defaultdict(set)

    def existing_starts(self, datastream: int, first: datetime, last: datetime) -> set[datetime]:
        """phenomenonTime starts stored in the Datastream between `first` and `last` (inclusive)."""
        query = {
            "$filter": f"phenomenonTime ge {iso(first)}",
            "$orderby": "phenomenonTime asc",
            "$select": "phenomenonTime",
            "$top": "10000",
        }
        starts: set[datetime] = set()
        for observation in self.client.entities(f"Datastreams({datastream})/Observations", query):
            start = phenomenon_start(observation["phenomenonTime"])
            if start > last:
                break
            starts.add(start)
        return starts

    def add(self, datastream: int, readings: Iterable[Reading]) -> int:
        """Queue the new readings of one Datastream; answers how many are new."""
        unique: dict[datetime, Reading] = {}
        queued = self._queued[datastream]
        for reading in readings:
            if reading.start in unique or reading.start in queued:
                self.report.duplicates += 1
                continue
            unique[reading.start] = reading
        if not unique:
            return 0
        present = self.existing_starts(datastream, min(unique), max(unique))
        self.report.already_present += len(present & unique.keys())
        new = [unique[start] for start in sorted(unique) if start not in present]
        if self.progress is not None and len(unique) > len(new):
            self.progress(len(unique) - len(new))
        rows = [
            [
                f"{iso(r.start)}/{iso(r.end)}" if r.end is not None else iso(r.start),
                iso(r.end if r.end is not None else r.start),
                r.result,
            ]
            for r in new
        ]
        start = stored = 0
        while start < len(rows):
            take = min(self.batch - self._size, len(rows) - start)
            self._pending.append(
                {
                    "Datastream": {"@iot.id": datastream},
                    "components": list(self.components),
                    "dataArray": rows[start : start + take],
                }
            )
            self._size += take
            start += take
            if self._size >= self.batch:
                self.flush()
                stored = start
        # What waits in the buffer is not in the store yet: a later add() must not queue it twice.
        self._queued[datastream].update(reading.start for reading in new[stored:])
        return len(new)

    def flush(self) -> None:
        """Send what waits in the buffer (one dataArray request, one transaction)."""
        if not self._pending:
            return
        pending, size = self._pending, self._size
        self._pending, self._size = [], 0
        self._queued.clear()
        answer = self.client.post("CreateObservations", pending)
        failed = sum(1 for link in answer if link == "error")
        if failed:
            # Every row was checked before sending; a refusal here is a bug or a changed server.
            raise ClientError(400, f"CreateObservations refused {failed} of {size} rows")
        self.report.observations += size
        if self.progress is not None:
            self.progress(size)


# === station CSVs ==============================================================================


@dataclass
class StationOptions:
    """How to read a station file and describe what it creates."""

    #: The measuring network; part of every key, so two networks' "Mitte" stay apart.
    network: str = "LfULG"
    #: Zone of timestamps without an offset whose column does not say UTC or MEZ.
    timezone: str = "Europe/Berlin"
    #: Station of every row, for files without a station column.
    station: str | None = None
    #: Property of the GeoJSON features that holds the station name the CSV uses.
    station_property: str = "name"
    #: Where the data come from and under which licence (default for LfULG: as in the demo).
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
class _Sample:
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
) -> tuple[list[_Sample], tzinfo]:
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

    samples: list[_Sample] = []
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
            samples.append(_Sample(station, component, unit, moment, value, line))
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


class StationEntities:
    """The Things, Sensor and Datastreams of one station file."""

    def __init__(self, catalogue: Catalogue, stations: dict[str, JSON], options: StationOptions) -> None:
        self.catalogue = catalogue
        self.stations = stations
        self.options = options
        self.network = options.network
        self.source = options.source or (LFULG_SOURCE if options.is_lfulg else None)
        self.licence = options.licence or (LFULG_LICENCE if options.is_lfulg else None)

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
        key = f"station:{self.network}:sensor"
        return self.catalogue.ensure("Sensors", key, payload, fallback=("name", payload["name"]))

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
        key = f"station:{self.network}:{station}"
        return self.catalogue.ensure("Things", key, payload, fallback=("name", name))

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
        key = f"station:{self.network}:{station}:{code}"
        return self.catalogue.ensure(
            "Datastreams", key, payload, parent=f"Things({thing})", fallback=("name", name)
        )


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
    by_series: dict[tuple[str, str], list[_Sample]] = defaultdict(list)
    for sample in samples:
        if sample.station not in stations:
            if not report.problems or report.problems[-1].line != sample.line:  # once per row
                message = f"station {sample.station!r} is not in {stations_file.name}"
                report.problem(options.on_error, path.name, sample.line, message)
            continue
        by_series[(sample.station, sample.component)].append(sample)
    plan: list[tuple[str, str, str, list[_Sample]]] = []
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
        stored = catalogue.entity(datastream)
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


def _reading(sample: _Sample, daily: bool, zone: tzinfo) -> Reading:
    if not daily:
        return Reading(sample.moment, None, sample.value, sample.line)
    # The local calendar day: 23 or 25 hours on the days of the daylight saving change.
    end = (sample.moment.astimezone(zone) + timedelta(days=1)).astimezone(UTC)
    return Reading(sample.moment, end, sample.value, sample.line)
