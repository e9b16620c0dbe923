"""A GTFS feed read into columns: stops, routes, trips, stop times, shapes, service days, frequencies.

The feed is read file by file with pandas' C parser (stop_times.txt in chunks), so a city's feed of
millions of stop times becomes a few numpy columns, never a Python object per row. Identifiers stay
text (GTFS ids are strings: `0042` is not `42`); times become seconds since the service day's
"noon minus 12 h", so 25:10:00 is 90,600 (times past midnight stay on their service day).

What is checked, with a `FeedError` naming file, row (the line in the file, header = 1) and field:
required files and fields, times, numbers, dates, duplicated `stop_sequence` within a trip, and
references (a trip's route and service, a stop time's trip and stop). Rows of stop_times.txt in any
order are sorted by trip and `stop_sequence`; gaps in the sequence (1, 2, 5) are allowed by the
specification and kept.

Service days: calendar.txt's weekly pattern between start and end date, then calendar_dates.txt's
exceptions (1 adds a date, 2 removes it); a feed with calendar_dates.txt only is its list of added
dates. frequencies.txt's trips are expanded to concrete departures, `exact_times` 0 and 1 alike: a
headway-based trip (0) has no timetable, but its vehicles still run every `headway_secs` from
`start_time` until before `end_time`, which is what vehicle counts and kilometres need.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from urbantwin.ingest.pipeline import ImportFailure

#: Rows of stop_times.txt read at a time (bounded memory for the text before it becomes columns).
CHUNK_ROWS = 500_000


class FeedError(ImportFailure):
    """A feed that cannot be imported; the message names file, row and field."""


def feed_error(file: str, row: int | None, field: str, problem: str) -> FeedError:
    where = f"row {row}: " if row is not None else ""
    return FeedError(f"{file}: {where}field '{field}': {problem}")


#: GTFS route_type (basic and the extended Hierarchical Vehicle Types) to the platform's modes.
BASIC_MODES = {
    0: "tram",  # "Tram, Streetcar, Light rail": GTFS does not tell them apart
    1: "subway",
    2: "rail",
    3: "bus",
    4: "ferry",
    5: "cable_tram",
    6: "aerial_lift",
    7: "funicular",
    11: "trolleybus",
    12: "monorail",
}
#: Extended types by hundreds (100 railway … 1700 miscellaneous); exceptions in `route_mode`.
EXTENDED_MODES = {
    1: "rail",
    2: "bus",  # coach
    4: "subway",  # urban railway, metro, underground
    7: "bus",
    8: "trolleybus",
    9: "tram",
    10: "ferry",  # water transport
    11: "air",
    12: "ferry",
    13: "aerial_lift",
    14: "funicular",
    15: "taxi",
    17: "other",
}


def route_mode(route_type: int) -> str:
    """The mode of a GTFS route_type: 0/900–999 tram, 11/800–899 trolleybus, 3/700–799 bus, …"""
    if route_type in BASIC_MODES:
        return BASIC_MODES[route_type]
    if route_type == 405:
        return "monorail"
    if route_type == 400 or route_type == 403:
        return "light_rail"  # urban railway service: neither metro nor underground
    return EXTENDED_MODES.get(route_type // 100, "other")


@dataclass
class Feed:
    """A feed's tables as pandas DataFrames (text ids, numbers as numpy columns)."""

    #: stop_id (index), name, code, lat, lon, location_type, parent_station
    stops: pd.DataFrame
    #: route_id, short_name, long_name, route_type, mode, color
    routes: pd.DataFrame
    #: trip_id, route_id, service_id, direction_id (-1: none), block_id, shape_id ("" when none)
    trips: pd.DataFrame
    #: trip_id, stop_id, stop_sequence, arrival, departure (seconds, NaN: not given), shape_dist,
    #: row (its line in the file); sorted by trip and sequence
    stop_times: pd.DataFrame
    #: shape_id, lat, lon, sequence, dist; sorted by shape and sequence (empty without shapes.txt)
    shapes: pd.DataFrame
    #: service_id, date (datetime64[D]): the days each service runs
    service_days: pd.DataFrame
    #: trip_id, start, end, headway, exact_times (empty without frequencies.txt)
    frequencies: pd.DataFrame
    #: feed_info.txt's feed_version, if any
    version: str | None = None


class _Files:
    """The members of a GTFS zip or folder, by name (`stops.txt`), wherever in the archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}
        if path.is_dir():
            self._names = {p.name: str(p) for p in path.iterdir() if p.suffix == ".txt"}
        else:
            try:
                self._zip = zipfile.ZipFile(path)
            except (OSError, zipfile.BadZipFile) as exc:
                raise FeedError(f"{path}: not a GTFS zip or folder: {exc}") from None
            for name in self._zip.namelist():
                if name.endswith(".txt") and not name.startswith("__MACOSX"):
                    self._names.setdefault(name.rsplit("/", 1)[-1], name)

    def has(self, name: str) -> bool:
        return name in self._names

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self._zip is not None:
            with self._zip.open(self._names[name]) as member:
                yield member
        else:
            with open(self._names[name], "rb") as handle:
                yield handle

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _read(
    files: _Files,
    name: str,
    wanted: dict[str, bool],
    chunksize: int | None = None,
    *,
    categories: bool = False,
) -> Iterator[pd.DataFrame]:
    """The file's `wanted` columns as text (`True`: required), in chunks; missing optional ones "".

    With `categories`, each column comes as a pandas Categorical, as the C parser builds it, and
    unstripped (`_Column` strips its few distinct values): stop_times.txt repeats its trip and stop
    ids, times and sequence numbers over and over, so checking and converting each distinct value
    once is most of its import time saved (a text column would be stripped and compared per row)."""
    with files.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        header = pd.read_csv(text, nrows=0, dtype=str).columns
        columns = {column.strip(): column for column in header}
        for field, required in wanted.items():
            if required and field not in columns:
                raise feed_error(name, None, field, "the required column is missing")
    with files.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        present = [columns[field] for field in wanted if field in columns]
        try:
            reader = pd.read_csv(
                text,
                dtype="category" if categories else str,
                usecols=present,
                keep_default_na=False,
                skipinitialspace=True,
                chunksize=chunksize or 10**12,
            )
            offset = 0
            for chunk in reader:
                chunk.columns = [column.strip() for column in chunk.columns]
                for field in wanted:
                    if field not in chunk.columns:
                        chunk[field] = (
                            pd.Categorical.from_codes(np.zeros(len(chunk), dtype=np.int8), categories=[""])
                            if categories
                            else ""
                        )
                    elif not categories:
                        chunk[field] = chunk[field].str.strip()
                chunk["row"] = np.arange(offset + 2, offset + 2 + len(chunk), dtype=np.int64)
                offset += len(chunk)
                yield chunk
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise FeedError(f"{name}: not a readable CSV file: {exc}") from None


def _one(files: _Files, name: str, wanted: dict[str, bool]) -> pd.DataFrame:
    if not files.has(name):
        return pd.DataFrame(
            {**{field: pd.Series(dtype=str) for field in wanted}, "row": pd.Series(dtype=int)}
        )
    return pd.concat(list(_read(files, name, wanted)), ignore_index=True)


def _first_bad(frame: pd.DataFrame, bad: np.ndarray | pd.Series, file: str, field: str, problem: str) -> None:
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        value = frame[field].iloc[index]
        raise feed_error(file, int(frame["row"].iloc[index]), field, f"{problem}, got {value!r}")


def _required_text(frame: pd.DataFrame, file: str, field: str) -> None:
    _first_bad(frame, frame[field] == "", file, field, "a value is required")


def _numbers(
    frame: pd.DataFrame, file: str, field: str, *, required: bool, integer: bool = False
) -> np.ndarray:
    """The column as float64 (NaN where empty and optional); `FeedError` at the first bad value."""
    text = frame[field]
    values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=np.float64)
    empty = (text == "").to_numpy()
    _first_bad(frame, np.isnan(values) & ~empty, file, field, "expected a number")
    if required:
        _first_bad(frame, empty, file, field, "a value is required")
    if integer:
        _first_bad(
            frame, ~np.isnan(values) & (values != np.round(values)), file, field, "expected a whole number"
        )
    return values


def seconds(frame: pd.DataFrame, file: str, field: str) -> np.ndarray:
    """GTFS times (H:MM:SS, hours past 24 allowed) as seconds, float64 with NaN where empty."""
    values, bad = _times(frame[field].to_numpy(dtype="U12"))
    _first_bad(frame, bad, file, field, "expected a time HH:MM:SS")
    return values


def _times(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GTFS times as seconds (NaN where empty) and where a value is not a time.

    Parsed on the characters' code points as one numpy array (a regular expression per value
    would take most of a city feed's import)."""
    points = text.view(np.uint32).reshape(len(text), 12).astype(np.int64)
    length = (points != 0).sum(axis=1)
    rows = np.arange(len(text))
    digits = points - ord("0")

    def at(from_end: int) -> np.ndarray:
        return digits[rows, np.maximum(length - from_end, 0)]

    hour_digits = length - 6
    ok = (hour_digits >= 1) & (hour_digits <= 3)
    ok &= (at(3) == ord(":") - ord("0")) & (at(6) == ord(":") - ord("0"))
    for from_end, top in ((1, 9), (2, 5), (4, 9), (5, 5)):
        ok &= (at(from_end) >= 0) & (at(from_end) <= top)
    hours = np.zeros(len(text), dtype=np.int64)
    for position in range(3):
        inside = position < hour_digits
        digit = digits[rows, np.minimum(position, 11)]
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        hours = np.where(inside, hours * 10 + digit, hours)
    empty = length == 0
    total = hours * 3600 + (at(5) * 10 + at(4)) * 60 + at(2) * 10 + at(1)
    return np.where(empty, np.nan, total.astype(np.float64)), ~ok & ~empty


def _dates(frame: pd.DataFrame, file: str, field: str) -> np.ndarray:
    parsed = pd.to_datetime(frame[field], format="%Y%m%d", errors="coerce")
    _first_bad(frame, parsed.isna().to_numpy(), file, field, "expected a date YYYYMMDD")
    return parsed.to_numpy().astype("datetime64[D]")


def _references(frame: pd.DataFrame, file: str, field: str, known: pd.Index, target: str) -> None:
    missing = ~frame[field].isin(known)
    _first_bad(frame, missing.to_numpy(), file, field, f"no such id in {target}")


def read_feed(path: Path | str) -> Feed:
    """Read and check the feed at `path` (a zip or a folder of .txt files)."""
    files = _Files(Path(path))
    try:
        return _read_feed(files)
    finally:
        files.close()


def _read_feed(files: _Files) -> Feed:
    for name in ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt"):
        if not files.has(name):
            raise FeedError(f"{files.path}: {name} is missing (a GTFS feed needs it)")
    if not files.has("calendar.txt") and not files.has("calendar_dates.txt"):
        raise FeedError(
            f"{files.path}: calendar.txt and calendar_dates.txt are both missing (one is required)"
        )

    stops = _one(
        files,
        "stops.txt",
        {
            "stop_id": True,
            "stop_name": False,
            "stop_code": False,
            "stop_lat": False,
            "stop_lon": False,
            "location_type": False,
            "parent_station": False,
        },
    )
    _required_text(stops, "stops.txt", "stop_id")
    _first_bad(
        stops, stops["stop_id"].duplicated(), "stops.txt", "stop_id", "the same stop_id as an earlier row"
    )
    location_type = _numbers(stops, "stops.txt", "location_type", required=False, integer=True)
    location_type = np.nan_to_num(location_type, nan=0.0)
    # Stops, stations and entrances need coordinates; generic nodes and boarding areas may lack them.
    placed = location_type <= 2
    lat = _numbers(stops, "stops.txt", "stop_lat", required=False)
    lon = _numbers(stops, "stops.txt", "stop_lon", required=False)
    _first_bad(stops, placed & np.isnan(lat), "stops.txt", "stop_lat", "a value is required")
    _first_bad(stops, placed & np.isnan(lon), "stops.txt", "stop_lon", "a value is required")
    _first_bad(stops, np.abs(lat) > 90, "stops.txt", "stop_lat", "expected a latitude from -90 to 90")
    _first_bad(stops, np.abs(lon) > 180, "stops.txt", "stop_lon", "expected a longitude from -180 to 180")
    stops_out = pd.DataFrame(
        {
            "name": stops["stop_name"].to_numpy(),
            "code": stops["stop_code"].to_numpy(),
            "lat": lat,
            "lon": lon,
            "location_type": location_type.astype(np.int64),
            "parent_station": stops["parent_station"].to_numpy(),
        },
        index=pd.Index(stops["stop_id"].to_numpy(), name="stop_id"),
    )

    routes = _one(
        files,
        "routes.txt",
        {
            "route_id": True,
            "route_short_name": False,
            "route_long_name": False,
            "route_type": True,
            "route_color": False,
        },
    )
    _required_text(routes, "routes.txt", "route_id")
    _first_bad(
        routes,
        routes["route_id"].duplicated(),
        "routes.txt",
        "route_id",
        "the same route_id as an earlier row",
    )
    route_type = _numbers(routes, "routes.txt", "route_type", required=True, integer=True).astype(np.int64)
    routes_out = pd.DataFrame(
        {
            "route_id": routes["route_id"],
            "short_name": routes["route_short_name"],
            "long_name": routes["route_long_name"],
            "route_type": route_type,
            "mode": [route_mode(int(t)) for t in route_type],
            "color": routes["route_color"],
        }
    )

    services = _services(files)

    trips = _one(
        files,
        "trips.txt",
        {
            "route_id": True,
            "service_id": True,
            "trip_id": True,
            "direction_id": False,
            "block_id": False,
            "shape_id": False,
        },
    )
    for field in ("trip_id", "route_id", "service_id"):
        _required_text(trips, "trips.txt", field)
    _first_bad(
        trips, trips["trip_id"].duplicated(), "trips.txt", "trip_id", "the same trip_id as an earlier row"
    )
    _references(trips, "trips.txt", "route_id", pd.Index(routes_out["route_id"]), "routes.txt")
    known_services = pd.Index(services["service_id"].unique())
    declared = pd.Index(_declared_services(files))
    _references(
        trips, "trips.txt", "service_id", declared.union(known_services), "calendar.txt or calendar_dates.txt"
    )
    direction = _numbers(trips, "trips.txt", "direction_id", required=False, integer=True)
    _first_bad(
        trips,
        ~np.isnan(direction) & ~np.isin(direction, [0, 1]),
        "trips.txt",
        "direction_id",
        "expected 0 or 1",
    )
    trips_out = pd.DataFrame(
        {
            "trip_id": trips["trip_id"],
            "route_id": trips["route_id"],
            "service_id": trips["service_id"],
            "direction_id": np.nan_to_num(direction, nan=-1).astype(np.int64),
            "block_id": trips["block_id"],
            "shape_id": trips["shape_id"],
        }
    )

    shapes = _shapes(files)
    if len(shapes):
        with_shape = trips_out["shape_id"] != ""
        unknown = with_shape & ~trips_out["shape_id"].isin(pd.Index(shapes["shape_id"].unique()))
        _first_bad(trips, unknown.to_numpy(), "trips.txt", "shape_id", "no such shape in shapes.txt")
    else:
        # A shape_id with no shapes.txt names nothing: the trip is measured from its stops.
        trips_out["shape_id"] = ""

    stop_times = _stop_times(files, pd.Index(trips_out["trip_id"]), stops_out.index)
    frequencies = _frequencies(files, pd.Index(trips_out["trip_id"]))
    version = None
    if files.has("feed_info.txt"):
        info = _one(files, "feed_info.txt", {"feed_version": False})
        version = info["feed_version"].iloc[0] or None if len(info) else None
    return Feed(stops_out, routes_out, trips_out, stop_times, shapes, services, frequencies, version)


def _declared_services(files: _Files) -> np.ndarray:
    if not files.has("calendar.txt"):
        return np.array([], dtype=object)
    return _one(files, "calendar.txt", {"service_id": True})["service_id"].to_numpy()


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _services(files: _Files) -> pd.DataFrame:
    """Every (service_id, date) on which a service runs: calendar.txt, then calendar_dates.txt."""
    days: list[pd.DataFrame] = []
    if files.has("calendar.txt"):
        calendar = _one(
            files,
            "calendar.txt",
            {"service_id": True, **{day: True for day in WEEKDAYS}, "start_date": True, "end_date": True},
        )
        _required_text(calendar, "calendar.txt", "service_id")
        _first_bad(
            calendar,
            calendar["service_id"].duplicated(),
            "calendar.txt",
            "service_id",
            "the same service_id as an earlier row",
        )
        flags = np.column_stack([_numbers(calendar, "calendar.txt", day, required=True) for day in WEEKDAYS])
        for number, day in enumerate(WEEKDAYS):
            _first_bad(calendar, ~np.isin(flags[:, number], [0, 1]), "calendar.txt", day, "expected 0 or 1")
        start = _dates(calendar, "calendar.txt", "start_date")
        end = _dates(calendar, "calendar.txt", "end_date")
        _first_bad(calendar, end < start, "calendar.txt", "end_date", "before start_date")
        for service, first, last, week in zip(calendar["service_id"], start, end, flags, strict=True):
            dates = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
            # 1970-01-01 was a Thursday: day number + 3 modulo 7 is 0 on Mondays.
            weekday = (dates.astype(np.int64) + 3) % 7
            chosen = dates[week[weekday] == 1]
            days.append(pd.DataFrame({"service_id": service, "date": chosen}))
    regular = (
        pd.concat(days, ignore_index=True)
        if days
        else pd.DataFrame({"service_id": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[s]")})
    )
    if files.has("calendar_dates.txt"):
        exceptions = _one(
            files, "calendar_dates.txt", {"service_id": True, "date": True, "exception_type": True}
        )
        _required_text(exceptions, "calendar_dates.txt", "service_id")
        dates = _dates(exceptions, "calendar_dates.txt", "date")
        kind = _numbers(exceptions, "calendar_dates.txt", "exception_type", required=True)
        _first_bad(
            exceptions, ~np.isin(kind, [1, 2]), "calendar_dates.txt", "exception_type", "expected 1 or 2"
        )
        changes = pd.DataFrame({"service_id": exceptions["service_id"].to_numpy(), "date": dates})
        removed = changes[kind == 2]
        added = changes[kind == 1]
        keys = pd.MultiIndex.from_frame(regular[["service_id", "date"]])
        drop = pd.MultiIndex.from_frame(removed)
        regular = regular[~keys.isin(drop)]
        regular = pd.concat([regular, added], ignore_index=True)
    regular["date"] = regular["date"].to_numpy().astype("datetime64[D]")
    regular = regular.drop_duplicates().sort_values(["service_id", "date"], kind="stable")
    return regular.reset_index(drop=True)


def _shapes(files: _Files) -> pd.DataFrame:
    if not files.has("shapes.txt"):
        return pd.DataFrame(
            {
                "shape_id": pd.Series(dtype=object),
                "lat": pd.Series(dtype=float),
                "lon": pd.Series(dtype=float),
                "sequence": pd.Series(dtype=float),
                "dist": pd.Series(dtype=float),
            }
        )
    parts = []
    for chunk in _read(
        files,
        "shapes.txt",
        {
            "shape_id": True,
            "shape_pt_lat": True,
            "shape_pt_lon": True,
            "shape_pt_sequence": True,
            "shape_dist_traveled": False,
        },
        CHUNK_ROWS,
    ):
        _required_text(chunk, "shapes.txt", "shape_id")
        parts.append(
            pd.DataFrame(
                {
                    "shape_id": chunk["shape_id"].to_numpy(),
                    "lat": _numbers(chunk, "shapes.txt", "shape_pt_lat", required=True),
                    "lon": _numbers(chunk, "shapes.txt", "shape_pt_lon", required=True),
                    "sequence": _numbers(chunk, "shapes.txt", "shape_pt_sequence", required=True),
                    "dist": _numbers(chunk, "shapes.txt", "shape_dist_traveled", required=False),
                    "row": chunk["row"].to_numpy(),
                }
            )
        )
    shapes = pd.concat(parts, ignore_index=True).sort_values(["shape_id", "sequence"], kind="stable")
    twice = shapes.duplicated(["shape_id", "sequence"]).to_numpy()
    _first_bad(
        shapes.assign(shape_pt_sequence=shapes["sequence"]),
        twice,
        "shapes.txt",
        "shape_pt_sequence",
        "the same shape_pt_sequence twice in one shape",
    )
    return shapes.drop(columns="row").reset_index(drop=True)


class _Column:
    """A categorical column of a chunk: its distinct values (stripped) and each row's code into them,
    so a value is checked and converted once however many rows repeat it."""

    def __init__(self, name: str, field: str, chunk: pd.DataFrame) -> None:
        column = chunk[field].array
        assert isinstance(column, pd.Categorical)
        self.name, self.field, self.rows = name, field, chunk["row"].to_numpy()
        self.values = np.array([str(v).strip() for v in column.categories] + [""], dtype=object)
        codes = column.codes.astype(np.int64)
        self.codes = np.where(codes < 0, len(self.values) - 1, codes)

    def check(self, bad: np.ndarray, problem: str) -> None:
        """`FeedError` naming the first row whose value is `bad` (one flag per distinct value)."""
        if bad.any() and (bad_rows := bad[self.codes]).any():
            index = int(np.flatnonzero(bad_rows)[0])
            value = self.values[self.codes[index]]
            raise feed_error(self.name, int(self.rows[index]), self.field, f"{problem}, got {value!r}")

    def numbers(self, *, required: bool, integer: bool = False) -> np.ndarray:
        """Per distinct value as float64 (NaN where empty), checked as `_numbers` checks text."""
        empty = self.values == ""
        values = pd.to_numeric(pd.Series(self.values).where(~empty), errors="coerce").to_numpy(np.float64)
        self.check(np.isnan(values) & ~empty, "expected a number")
        if required:
            self.check(empty, "a value is required")
        if integer:
            self.check(~np.isnan(values) & (values != np.round(values)), "expected a whole number")
        return values

    def index_in(self, known: pd.Index, target: str) -> np.ndarray:
        """Per row, the position of its id in `known`; a value is required and must be known."""
        self.check(self.values == "", "a value is required")
        position = known.get_indexer(self.values)
        self.check(position < 0, f"no such id in {target}")
        return position[self.codes]

    def times(self) -> np.ndarray:
        values, bad = _times(self.values.astype("U12"))
        self.check(bad, "expected a time HH:MM:SS")
        return values[self.codes]


def _stop_times(files: _Files, trips: pd.Index, stops: pd.Index) -> pd.DataFrame:
    name = "stop_times.txt"
    parts = []
    for chunk in _read(
        files,
        name,
        {
            "trip_id": True,
            "arrival_time": False,
            "departure_time": False,
            "stop_id": True,
            "stop_sequence": True,
            "shape_dist_traveled": False,
        },
        CHUNK_ROWS,
        categories=True,
    ):
        trip = _Column(name, "trip_id", chunk).index_in(trips, "trips.txt")
        stop = _Column(name, "stop_id", chunk).index_in(stops, "stops.txt")
        sequence_column = _Column(name, "stop_sequence", chunk)
        sequence = sequence_column.numbers(required=True, integer=True)
        sequence_column.check(sequence < 0, "expected a non-negative whole number")
        distance = _Column(name, "shape_dist_traveled", chunk)
        arrival = _Column(name, "arrival_time", chunk).times()
        departure = _Column(name, "departure_time", chunk).times()
        parts.append(
            pd.DataFrame(
                {
                    "trip": trip,
                    "stop": stop,
                    "stop_sequence": sequence[sequence_column.codes].astype(np.int64),
                    # One given time stands for both (GTFS requires both or neither; feeds vary).
                    "arrival": np.where(np.isnan(arrival), departure, arrival),
                    "departure": np.where(np.isnan(departure), arrival, departure),
                    "shape_dist": distance.numbers(required=False)[distance.codes],
                    "row": chunk["row"].to_numpy(),
                }
            )
        )
    stop_times = pd.concat(parts, ignore_index=True)
    order = np.lexsort((stop_times["stop_sequence"].to_numpy(), stop_times["trip"].to_numpy()))
    stop_times = stop_times.iloc[order].reset_index(drop=True)
    codes = stop_times.pop("trip").to_numpy()
    stop_times.insert(0, "trip_id", pd.Categorical.from_codes(codes, categories=trips))
    stop_times.insert(
        1, "stop_id", pd.Categorical.from_codes(stop_times.pop("stop").to_numpy(), categories=stops)
    )
    sequence = stop_times["stop_sequence"].to_numpy()
    twice = np.zeros(len(stop_times), dtype=bool)
    twice[1:] = (codes[1:] == codes[:-1]) & (sequence[1:] == sequence[:-1])
    if twice.any():
        index = int(np.flatnonzero(twice)[0])
        rows = sorted(int(r) for r in stop_times["row"].iloc[index - 1 : index + 1])
        raise feed_error(
            name,
            rows[1],
            "stop_sequence",
            f"trip {stop_times['trip_id'].iloc[index]!r} has stop_sequence {sequence[index]} twice "
            f"(rows {rows[0]} and {rows[1]})",
        )
    return stop_times


def _frequencies(files: _Files, trips: pd.Index) -> pd.DataFrame:
    name = "frequencies.txt"
    table = _one(
        files,
        name,
        {"trip_id": True, "start_time": True, "end_time": True, "headway_secs": True, "exact_times": False},
    )
    if not len(table):
        return pd.DataFrame(
            {
                "trip_id": pd.Series(dtype=object),
                "start": pd.Series(dtype=float),
                "end": pd.Series(dtype=float),
                "headway": pd.Series(dtype=float),
                "exact_times": pd.Series(dtype=int),
            }
        )
    _required_text(table, name, "trip_id")
    _references(table, name, "trip_id", trips, "trips.txt")
    start = seconds(table, name, "start_time")
    end = seconds(table, name, "end_time")
    _first_bad(table, np.isnan(start), name, "start_time", "a value is required")
    _first_bad(table, np.isnan(end), name, "end_time", "a value is required")
    _first_bad(table, end <= start, name, "end_time", "not after start_time")
    headway = _numbers(table, name, "headway_secs", required=True, integer=True)
    _first_bad(table, headway <= 0, name, "headway_secs", "expected a positive number of seconds")
    exact = np.nan_to_num(_numbers(table, name, "exact_times", required=False, integer=True), nan=0.0)
    _first_bad(table, ~np.isin(exact, [0, 1]), name, "exact_times", "expected 0 or 1")
    return pd.DataFrame(
        {
            "trip_id": table["trip_id"],
            "start": start,
            "end": end,
            "headway": headway,
            "exact_times": exact.astype(int),
        }
    )


def departures(frequencies: pd.DataFrame) -> dict[str, list[int]]:
    """The concrete start times of each frequency-based trip: every headway from start_time until
    before end_time, for exact_times 1 (scheduled) and 0 (headway-based) alike."""
    starts: dict[str, list[int]] = {}
    for trip, start, end, headway in zip(
        frequencies["trip_id"], frequencies["start"], frequencies["end"], frequencies["headway"], strict=True
    ):
        starts.setdefault(trip, []).extend(int(t) for t in np.arange(start, end, headway))
    return {trip: sorted(times) for trip, times in starts.items()}
