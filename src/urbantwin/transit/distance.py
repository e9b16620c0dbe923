"""How far each trip runs (km), and the other per-trip figures the energy model counts on.

A trip's distance comes from the best source the feed has, in this order:

1. `shape_dist_traveled` of its first and last stop time: last − first (a short-turn trip on a
   longer shape runs only that part, never the shape's maximum). GTFS leaves the unit to the
   producer (metres, kilometres, feet, miles all occur), so the unit is detected once per feed: the
   median ratio of the values to the straight stop-to-stop geodesic length of the same trips is
   compared with the ratio a real route has (about 1.0–2.0); the unit that brings it nearest 1.3
   is taken.
2. The trip's shape: each stop is projected onto the shape in a local metric projection, searching
   forward from the previous stop (so a loop or a street run both ways is not cut short), and the
   distance is the last stop's position along the shape minus the first's.
3. No shape: the geodesic stop-to-stop length times a detour factor. `DETOUR_FACTOR` is calibrated
   on the Madrid Metro Ligero feed (shapes for every trip): the sum of its trips' shape distances
   divided by the sum of their straight stop-to-stop lengths (`calibrate_detour`). A city's own
   value (from a feed of it with shapes) is given with `--detour-factor`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Geod, Transformer

from urbantwin.transit.feed import Feed, departures, feed_error

#: Shape distance over straight stop-to-stop distance, on the Madrid Metro Ligero feed (all 3,001
#: trips, 4 lines of light rail in streets and on its own track): see `calibrate_detour`.
DETOUR_FACTOR = 1.11
#: Units of shape_dist_traveled, in km.
UNITS = {"km": 1.0, "m": 0.001, "ft": 0.0003048, "mi": 1.609344}
#: The ratio of a route's length to its straight stop-to-stop length that unit detection aims at.
TYPICAL_RATIO = 1.3
#: When stops project onto the shape within this much (m) of the nearest point, the first such
#: place along the shape is taken (the outward run, not the return on the same street).
NEAR_M = 30.0

GEOD = Geod(ellps="WGS84")


@dataclass
class TripTable:
    """Per trip: distance and times, ready for the store (and the energy model)."""

    #: trip_id, route_id, service_id, direction_id, block_id, shape_id, stops, distance_km,
    #: distance_method (shape_dist | shape | stops), first_departure, last_arrival (s), runs
    trips: pd.DataFrame
    #: Concrete departures of frequency-based trips (seconds), by trip_id.
    starts: dict[str, list[int]]
    #: The unit shape_dist_traveled was read in (None when no trip had it).
    distance_unit: str | None
    detour_factor: float


def _bounds(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last row of each run of equal codes (rows sorted by code)."""
    change = np.flatnonzero(np.diff(codes)) + 1
    first = np.concatenate([[0], change])
    last = np.concatenate([change - 1, [len(codes) - 1]])
    return first, last


def patterns(feed: Feed) -> pd.Series:
    """Each trip's stop pattern: the tuple of its stops' ids in order, by trip_id."""
    st = feed.stop_times
    if not len(st):
        return pd.Series(dtype=object)
    codes = st["trip_id"].cat.codes.to_numpy()
    stops = st["stop_id"].cat.categories.to_numpy()[st["stop_id"].cat.codes.to_numpy()].tolist()
    first, last = _bounds(codes)
    trips = st["trip_id"].cat.categories[codes[first]]
    return pd.Series(
        [tuple(stops[a : b + 1]) for a, b in zip(first.tolist(), last.tolist(), strict=True)], index=trips
    )


def straight_km(feed: Feed) -> pd.Series:
    """Each trip's geodesic stop-to-stop length (km), by trip_id."""
    st = feed.stop_times
    if len(st) < 2:
        return pd.Series(dtype=float)
    # Positions by the stop column's category codes: no text per stop time.
    placed = feed.stops.reindex(st["stop_id"].cat.categories)
    stop_codes = st["stop_id"].cat.codes.to_numpy()
    codes = st["trip_id"].cat.codes.to_numpy()
    # Trips repeat the same legs all day: each distinct (from, to) pair is measured once.
    pairs, leg_of = np.unique(
        stop_codes[:-1].astype(np.int64) * len(placed) + stop_codes[1:], return_inverse=True
    )
    start, end = np.divmod(pairs, len(placed))
    position_lon, position_lat = placed["lon"].to_numpy(), placed["lat"].to_numpy()
    _, _, distinct = GEOD.inv(position_lon[start], position_lat[start], position_lon[end], position_lat[end])
    legs = np.where(codes[1:] == codes[:-1], np.asarray(distinct)[leg_of], 0.0)
    total = np.concatenate([[0.0], np.cumsum(legs)])
    first, last = _bounds(codes)
    trips = st["trip_id"].cat.categories[codes[first]]
    return pd.Series((total[last] - total[first]) / 1000.0, index=trips)


def detect_unit(raw: np.ndarray, straight: np.ndarray) -> str | None:
    """The unit of shape_dist_traveled values `raw` whose km are nearest `TYPICAL_RATIO` × `straight`."""
    usable = (straight > 0.05) & np.isfinite(raw) & (raw > 0)
    if not usable.any():
        return None
    ratio = float(np.median(raw[usable] / straight[usable]))
    return min(UNITS, key=lambda unit: abs(np.log(ratio * UNITS[unit] / TYPICAL_RATIO)))


def _local(feed: Feed) -> Transformer:
    """A transverse Mercator projection centred on the feed: metres true to 0.1 % within 100 km."""
    lon = float(np.nanmedian(feed.stops["lon"])) if len(feed.stops) else 0.0
    lat = float(np.nanmedian(feed.stops["lat"])) if len(feed.stops) else 0.0
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +ellps=WGS84 +units=m", always_xy=True
    )


def _positions(line: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Each point's distance along the polyline `line` (metres), searching forward from the last."""
    start, end = line[:-1], line[1:]
    vector = end - start
    length = np.hypot(vector[:, 0], vector[:, 1])
    cumulative = np.concatenate([[0.0], np.cumsum(length)])
    safe = np.where(length > 0, length, 1.0)
    positions = np.empty(len(points))
    at = 0.0
    for number, point in enumerate(points):
        t = np.clip(((point - start) * vector).sum(axis=1) / safe**2, 0.0, 1.0)
        along = cumulative[:-1] + t * length
        nearest = start + t[:, None] * vector
        gap = np.hypot(point[0] - nearest[:, 0], point[1] - nearest[:, 1])
        ahead = along >= at - 1e-6
        if not ahead.any():
            positions[number] = at
            continue
        best = gap[ahead].min()
        candidates = np.flatnonzero(ahead & (gap <= best + NEAR_M))
        at = float(along[candidates[0]])
        positions[number] = at
    return positions


def shape_km(feed: Feed, trip_ids: pd.Index) -> pd.Series:
    """The trips' distance (km) along their shapes, between their first and last stop's projection."""
    if not len(trip_ids):
        return pd.Series(dtype=float)
    project = _local(feed)
    shapes: dict[str, np.ndarray] = {}
    for shape_id, points in feed.shapes.groupby("shape_id", sort=False):
        x, y = project.transform(points["lon"].to_numpy(), points["lat"].to_numpy())
        shapes[str(shape_id)] = np.column_stack([x, y])
    sx, sy = project.transform(feed.stops["lon"].to_numpy(), feed.stops["lat"].to_numpy())
    stop_xy = pd.DataFrame({"x": sx, "y": sy}, index=feed.stops.index)
    chosen = patterns(feed).reindex(trip_ids)
    shape_of = feed.trips.set_index("trip_id")["shape_id"]
    result: dict[str, float] = {}
    done: dict[tuple[str, tuple[str, ...]], float] = {}
    for trip, pattern in chosen.items():
        key = (str(shape_of[trip]), pattern)
        if key not in done:
            line = shapes[key[0]]
            if len(line) < 2 or len(pattern) < 2:
                done[key] = 0.0
            else:
                positions = _positions(line, stop_xy.loc[list(pattern)].to_numpy())
                done[key] = (positions[-1] - positions[0]) / 1000.0
        result[str(trip)] = done[key]
    return pd.Series(result, dtype=float)


def calibrate_detour(feed: Feed) -> float:
    """Shape distance over straight stop-to-stop distance, summed over the feed's trips with shapes."""
    with_shape = pd.Index(feed.trips.loc[feed.trips["shape_id"] != "", "trip_id"])
    along = shape_km(feed, with_shape)
    straight = straight_km(feed).reindex(along.index)
    return float(along.sum() / straight.sum())


def trip_table(feed: Feed, detour_factor: float = DETOUR_FACTOR) -> TripTable:
    """Distance, first departure and last arrival of every trip with stop times."""
    st = feed.stop_times
    codes = st["trip_id"].cat.codes.to_numpy()
    first, last = _bounds(codes) if len(st) else (np.array([], int), np.array([], int))
    trip_ids = st["trip_id"].cat.categories[codes[first]]
    departure = st["departure"].to_numpy()
    arrival = st["arrival"].to_numpy()
    dist = st["shape_dist"].to_numpy()
    straight = straight_km(feed).reindex(trip_ids).to_numpy()

    raw = dist[last] - dist[first]
    unit = detect_unit(raw, straight)
    km = np.full(len(trip_ids), np.nan)
    method = np.full(len(trip_ids), "stops", dtype=object)
    if unit is not None:
        usable = np.isfinite(raw) & (raw >= 0)
        km[usable] = raw[usable] * UNITS[unit]
        method[usable] = "shape_dist"
    trips = feed.trips.set_index("trip_id").reindex(trip_ids)
    need_shape = np.isnan(km) & (trips["shape_id"].to_numpy() != "")
    if need_shape.any():
        along = shape_km(feed, trip_ids[need_shape]).reindex(trip_ids[need_shape]).to_numpy()
        km[need_shape] = along
        method[need_shape] = "shape"
    rest = np.isnan(km)
    km[rest] = straight[rest] * detour_factor

    for rows, values, field, which in (
        (first, departure, "departure_time", "first"),
        (last, arrival, "arrival_time", "last"),
    ):
        untimed = np.isnan(values[rows])
        if untimed.any():
            row = int(st["row"].iloc[rows[np.flatnonzero(untimed)[0]]])
            raise feed_error("stop_times.txt", row, field, f"a trip's {which} stop needs a time")
    first_departure = departure[first]
    last_arrival = arrival[last]
    starts = departures(feed.frequencies)
    runs = np.ones(len(trip_ids), dtype=np.int64)
    if starts:
        duration = last_arrival - first_departure
        for number, trip in enumerate(trip_ids):
            times = starts.get(trip)
            if times is not None:
                runs[number] = len(times)
                first_departure[number] = times[0]
                last_arrival[number] = times[-1] + duration[number]
    table = pd.DataFrame(
        {
            "trip_id": trip_ids,
            "route_id": trips["route_id"].to_numpy(),
            "service_id": trips["service_id"].to_numpy(),
            "direction_id": trips["direction_id"].to_numpy(),
            "block_id": trips["block_id"].to_numpy(),
            "shape_id": trips["shape_id"].to_numpy(),
            "stops": last - first + 1,
            "distance_km": km,
            "distance_method": method,
            "first_departure": first_departure,
            "last_arrival": last_arrival,
            "runs": runs,
        }
    )
    known = set(trip_ids)
    return TripTable(
        table, {trip: times for trip, times in starts.items() if trip in known}, unit, detour_factor
    )


def vehicle_km_by_date(feed: Feed, table: TripTable) -> pd.Series:
    """Vehicle-km per service day (frequency-based trips counted once per departure)."""
    per_service = (table.trips["distance_km"] * table.trips["runs"]).groupby(table.trips["service_id"]).sum()
    days = feed.service_days.assign(km=feed.service_days["service_id"].map(per_service).fillna(0.0))
    return days.groupby("date")["km"].sum().sort_index()


def service_by_date(feed: Feed, table: TripTable) -> pd.DataFrame:
    """Per service day: the trips run and the vehicle-km, in all and per mode (tram, bus, …), a
    frequency-based trip counted once per departure. Columns `date`, `trips`, `vehicle_km` and
    `trips_<mode>`, `vehicle_km_<mode>` for each mode of the feed's routes; one row per date with
    service, oldest first."""
    modes = feed.routes.set_index("route_id")["mode"]
    trips = table.trips.assign(
        mode=table.trips["route_id"].map(modes), km=table.trips["distance_km"] * table.trips["runs"]
    )
    per_service = trips.groupby(["service_id", "mode"])[["runs", "km"]].sum().reset_index()
    days = feed.service_days[["service_id", "date"]].merge(per_service, on="service_id", how="inner")
    by_mode = days.pivot_table(
        index="date", columns="mode", values=["runs", "km"], aggfunc="sum", fill_value=0
    )
    out = pd.DataFrame(index=by_mode.index)
    out["trips"] = by_mode["runs"].sum(axis=1).astype(np.int64)
    out["vehicle_km"] = by_mode["km"].sum(axis=1)
    for mode in sorted(by_mode["runs"].columns):
        out[f"trips_{mode}"] = by_mode["runs"][mode].astype(np.int64)
        out[f"vehicle_km_{mode}"] = by_mode["km"][mode]
    return out.reset_index().sort_values("date", ignore_index=True)


def typical_weekday(feed: Feed) -> np.datetime64 | None:
    """The first Monday–Friday whose set of services is the commonest among the feed's weekdays."""
    days = feed.service_days
    weekday = (days["date"].to_numpy().astype("datetime64[D]").astype(np.int64) + 3) % 7 < 5
    working = days[weekday]
    if not len(working):
        return None
    sets = working.groupby("date")["service_id"].agg(lambda s: tuple(sorted(s)))
    commonest = sets.value_counts(sort=True)
    top = commonest[commonest == commonest.max()].index
    best = max(top, key=len)  # a tie: the set with more services
    return np.datetime64(sets[sets.map(lambda value: value == best)].index.min(), "D")
