"""`urbantwin import gtfs`: a GTFS feed into the store, whole or not at all.

The feed is read and checked completely (`feed.read_feed`), its trips measured
(`distance.trip_table`), then everything is written in one transaction: the feed's row, its routes,
trips, service days and departures per stop and hour (`store/transit_schema.py`), and three feature
collections through the ingest pipeline — `<feed>-stops` (every stop, station and entrance with
coordinates), `<feed>-lines` (one feature per route: the shape of its commonest trip pattern per
direction, else the line through that pattern's stops) and `<feed>-service` (one feature without
geometry per day with service: its trips and vehicle-km, in all and per mode). A bad feed raises
`FeedError` before the first write.

Idempotent: the feed is keyed by `feed_id` and a sha256 of its file(s). The same feed again changes
nothing; a new version of it (another digest) replaces its rows.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, delete, select

from urbantwin.ingest.pipeline import CRS84, CollectionInfo, ImportReport, Source, build_rows, store_rows_in
from urbantwin.store.bulk_rows import insert_columns
from urbantwin.store.engine import for_writes
from urbantwin.store.transit_schema import (
    transit_feeds,
    transit_routes,
    transit_service_days,
    transit_stop_departures,
    transit_trips,
)
from urbantwin.transit import departures
from urbantwin.transit.distance import (
    DETOUR_FACTOR,
    TripTable,
    patterns,
    service_by_date,
    trip_table,
    typical_weekday,
    vehicle_km_by_date,
)
from urbantwin.transit.feed import Feed, FeedError, read_feed


@dataclass
class GtfsReport:
    """What one import found and did."""

    feed_id: str
    #: False when the same feed (same digest, same options) was imported before: nothing written.
    changed: bool
    summary: dict[str, Any]
    collections: list[ImportReport] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report for the command line."""
        s = self.summary
        modes = ", ".join(f"{mode} {count}" for mode, count in s["routes_by_mode"].items())
        out = [
            f"Feed {self.feed_id!r}: " + ("imported." if self.changed else "unchanged (imported before)."),
            f"Routes: {s['routes']} ({modes})",
            f"Trips: {s['trips']}, stop times: {s['stop_times']}, service days: {s['service_days']}",
        ]
        if s["trips_without_stop_times"]:
            out.append(f"Trips without stop times (not stored): {s['trips_without_stop_times']}")
        if s["typical_weekday"]:
            out.append(
                f"Typical weekday {s['typical_weekday']}: {s['weekday_trips']} trips, "
                f"{s['weekday_vehicle_km']:.1f} vehicle-km"
            )
        methods = ", ".join(f"{method} {count}" for method, count in s["distance_methods"].items())
        unit = f"; shape_dist_traveled in {s['distance_unit']}" if s["distance_unit"] else ""
        out.append(f"Trip distances from {methods} (detour factor {s['detour_factor']}{unit})")
        out.extend(f"Collection {r.collection!r}: {r.summary()}" for r in self.collections)
        return out


def default_feed_id(path: Path) -> str:
    """A feed id from the file name: `plzen_pmdp_2026-02.gtfs.zip` → `plzen-pmdp-2026-02`."""
    name = path.name
    for suffix in (".zip", ".gtfs"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gtfs"


def digest(path: Path) -> str:
    """sha256 of the feed's file, or of a folder's .txt files by name."""
    hasher = hashlib.sha256()
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    for file in files:
        hasher.update(file.name.encode() if path.is_dir() else b"")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
    return hasher.hexdigest()


def summarise(feed: Feed, table: TripTable) -> dict[str, Any]:
    """The counts `import gtfs` prints and the feed's row keeps."""
    day = typical_weekday(feed)
    by_date = vehicle_km_by_date(feed, table)
    weekday_trips = 0
    if day is not None:
        services = set(feed.service_days.loc[feed.service_days["date"] == day, "service_id"])
        weekday_trips = int(table.trips.loc[table.trips["service_id"].isin(services), "runs"].sum())
    return {
        "routes": len(feed.routes),
        "routes_by_mode": dict(Counter(feed.routes["mode"]).most_common()),
        "routes_by_type": {str(k): int(v) for k, v in sorted(Counter(feed.routes["route_type"]).items())},
        "trips": len(feed.trips),
        # Trips with no stop times run nowhere: they are not stored.
        "trips_without_stop_times": len(feed.trips) - len(table.trips),
        "stop_times": len(feed.stop_times),
        "service_days": len(feed.service_days),
        "first_day": str(feed.service_days["date"].min().date()) if len(feed.service_days) else None,
        "last_day": str(feed.service_days["date"].max().date()) if len(feed.service_days) else None,
        "typical_weekday": str(day) if day is not None else None,
        "weekday_trips": weekday_trips,
        "weekday_vehicle_km": round(float(by_date.get(day, 0.0)), 3) if day is not None else 0.0,
        "distance_methods": dict(Counter(table.trips["distance_method"]).most_common()),
        "distance_unit": table.distance_unit,
        "detour_factor": table.detour_factor,
        "frequency_trips": len(table.starts),
    }


def stop_sources(feed: Feed) -> list[Source]:
    """The stops with coordinates, as features of `<feed>-stops`."""
    placed = feed.stops[feed.stops["lat"].notna() & feed.stops["lon"].notna()]
    points = shapely.points(placed["lon"].to_numpy(), placed["lat"].to_numpy())
    return [
        Source(
            number,
            stop_id,
            point,
            {
                "name": name,
                "code": code or None,
                "location_type": int(location_type),
                "parent_station": parent or None,
            },
            key_field="stop_id",
        )
        for number, (stop_id, name, code, location_type, parent, point) in enumerate(
            zip(
                placed.index,
                placed["name"],
                placed["code"],
                placed["location_type"],
                placed["parent_station"],
                points,
                strict=True,
            )
        )
    ]


def _commonest(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per group of `keys`, the commonest `value` (a tie: the one of the earliest row)."""
    counted = (
        frame.assign(_row=np.arange(len(frame)))
        .groupby([*keys, value], sort=False, dropna=False)["_row"]
        .agg(["size", "min"])
        .reset_index()
        .sort_values([*keys, "size", "min"], ascending=[True] * len(keys) + [False, True], kind="stable")
    )
    return counted.drop_duplicates(keys)[[*keys, value]]


def line_sources(feed: Feed, table: TripTable) -> list[Source]:
    """One feature per route: per direction, the shape of its commonest stop pattern (the shape most
    of that pattern's trips use), else the line through the pattern's stops.

    Counted with group-bys over all trips at once (a city feed has tens of thousands of trips and
    hundreds of lines: a filter per line over all trips took seconds)."""
    trips = table.trips[["trip_id", "route_id", "direction_id", "shape_id"]]
    pattern_of = patterns(feed).reindex(trips["trip_id"])
    numbers: dict[tuple[str, ...], int] = {}
    codes = [numbers.setdefault(p, len(numbers)) for p in pattern_of]
    by_number = list(numbers)
    trips = trips.assign(pattern=np.asarray(codes, dtype=np.int64))
    chosen = _commonest(trips, ["route_id", "direction_id"], "pattern")
    using = trips.merge(chosen, on=["route_id", "direction_id", "pattern"])
    shape_of = _commonest(using, ["route_id", "direction_id"], "shape_id")
    chosen = chosen.merge(shape_of, on=["route_id", "direction_id"])
    wanted = set(chosen["shape_id"]) - {""}
    shapes = {
        str(k): v
        for k, v in feed.shapes[feed.shapes["shape_id"].isin(wanted)].groupby("shape_id", sort=False)
    }
    parts_of: dict[str, list[shapely.LineString]] = {}
    for route_id, pattern, shape_id in zip(
        chosen["route_id"], chosen["pattern"], chosen["shape_id"], strict=True
    ):
        if shape_id and shape_id in shapes:
            points = shapes[shape_id]
            coords = np.column_stack([points["lon"].to_numpy(), points["lat"].to_numpy()])
        else:
            placed = feed.stops.loc[list(by_number[pattern])]
            coords = np.column_stack([placed["lon"].to_numpy(), placed["lat"].to_numpy()])
        if len(coords) >= 2:
            parts_of.setdefault(route_id, []).append(shapely.LineString(coords))
    km = table.trips.groupby("route_id")["distance_km"].median()
    counts = table.trips.groupby("route_id")["runs"].sum()
    sources: list[Source] = []
    for number, route in enumerate(feed.routes.itertuples(index=False)):
        parts = parts_of.get(route.route_id)
        sources.append(
            Source(
                number,
                route.route_id,
                shapely.MultiLineString(parts) if parts else None,
                {
                    "short_name": route.short_name or None,
                    "long_name": route.long_name or None,
                    "route_type": int(route.route_type),
                    "mode": route.mode,
                    "color": f"#{route.color}" if route.color else None,
                    "trips": int(counts.get(route.route_id, 0)),
                    "median_trip_km": round(float(km[route.route_id]), 3) if route.route_id in km else None,
                },
                key_field="route_id",
            )
        )
    return sources


def service_sources(feed: Feed, table: TripTable) -> list[Source]:
    """One feature without geometry per day with service, as `<feed>-service`: its trips and
    vehicle-km, in all and per mode (a table a timetable planner or a chart reads by date)."""
    days = service_by_date(feed, table)
    sources = []
    for number, row in enumerate(days.to_dict("records")):
        day = pd.Timestamp(row.pop("date")).date()
        properties: dict[str, Any] = {"date": day.isoformat(), "iso_weekday": day.isoweekday()}
        for name, value in row.items():
            properties[name] = int(value) if name.startswith("trips") else round(float(value), 3)
        sources.append(Source(number, day.isoformat(), None, properties, key_field="date"))
    return sources


def import_gtfs(
    engine: Engine,
    path: Path,
    *,
    feed_id: str | None = None,
    source: str | None = None,
    licence: str | None = None,
    attribution: str | None = None,
    publisher: str | None = None,
    title: str | None = None,
    detour_factor: float = DETOUR_FACTOR,
    progress: bool = False,
) -> GtfsReport:
    """Import the feed at `path` (zip or folder); `FeedError` for a bad feed, nothing written then.
    `title` is what the feed is called where it is shown (its collections' titles, the viewer)."""
    path = Path(path)
    if not path.exists():
        raise FeedError(f"{path}: no such file or folder")
    if not (detour_factor >= 1.0 and np.isfinite(detour_factor)):
        raise FeedError(f"--detour-factor: expected a number of at least 1, got {detour_factor}")
    feed_id = feed_id or default_feed_id(path)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}", feed_id):
        raise FeedError(f"--feed-id: expected letters, digits, '-', '_' or '.', got {feed_id!r}")
    feed = read_feed(path)
    table = trip_table(feed, detour_factor)
    summary = summarise(feed, table)
    key = digest(path)
    where = str(path)
    stops = build_rows(Path(where), stop_sources(feed), CRS84)
    lines = build_rows(Path(where), line_sources(feed, table), CRS84)
    service = build_rows(Path(where), service_sources(feed, table), CRS84)
    version = feed.version and f" (version {feed.version})" or ""
    called = f"{title}, GTFS feed {feed_id}" if title else f"the GTFS feed {feed_id}"
    keywords = ["GTFS", "public transport"]
    with for_writes(engine).begin() as connection:
        stored = connection.execute(
            select(transit_feeds.c.digest, transit_feeds.c.detour_factor, transit_feeds.c.title).where(
                transit_feeds.c.id == feed_id
            )
        ).first()
        changed = stored is None or stored.digest != key or stored.detour_factor != detour_factor
        if changed:
            _replace(connection, feed_id, key, feed, table, summary, source, licence, title)
        elif stored is not None and stored.title != title:
            connection.execute(
                transit_feeds.update().where(transit_feeds.c.id == feed_id).values(title=title)
            )
        reports = [
            store_rows_in(
                connection,
                rows,
                CollectionInfo(
                    f"{feed_id}-{kind}",
                    f"{label} of {called}{version}",
                    description,
                    licence,
                    attribution,
                    keywords,
                    source=source,
                    publisher=publisher,
                ),
                "EPSG:4326",
                progress=progress,
                delete_missing=True,
            )
            for kind, label, description, rows in (
                ("stops", "Stops", "Stops, stations and entrances of the feed (stops.txt).", stops),
                (
                    "lines",
                    "Lines",
                    "One feature per route: its commonest trip pattern per direction, along the shape "
                    "where the feed has shapes, else through the stops.",
                    lines,
                ),
                (
                    "service",
                    "Service per day",
                    "Per day with service: the trips run and the vehicle-km, in all and per mode "
                    "(calendar and calendar_dates applied, frequency-based trips once per departure; "
                    "distances as the import measured them). No geometry: a table by date.",
                    service,
                ),
            )
        ]
    return GtfsReport(feed_id, changed, summary, reports)


def _replace(
    connection: Connection,
    feed_id: str,
    key: str,
    feed: Feed,
    table: TripTable,
    summary: dict[str, Any],
    source: str | None,
    licence: str | None,
    title: str | None,
) -> None:
    for child in (transit_stop_departures, transit_service_days, transit_trips, transit_routes):
        connection.execute(delete(child).where(child.c.feed_id == feed_id))
    connection.execute(delete(transit_feeds).where(transit_feeds.c.id == feed_id))
    connection.execute(
        transit_feeds.insert().values(
            id=feed_id,
            digest=key,
            version=feed.version,
            source=source,
            licence=licence,
            title=title,
            detour_factor=table.detour_factor,
            distance_unit=table.distance_unit,
            imported=datetime.now(UTC),
            summary=summary,
        )
    )
    routes = feed.routes
    insert_columns(
        connection,
        transit_routes,
        {
            "feed_id": [feed_id] * len(routes),
            "route_id": routes["route_id"],
            "short_name": routes["short_name"],
            "long_name": routes["long_name"],
            "route_type": routes["route_type"],
            "mode": routes["mode"],
            "color": routes["color"].where(routes["color"] != "", None),
        },
    )
    trips = table.trips
    direction = trips["direction_id"].to_numpy()
    insert_columns(
        connection,
        transit_trips,
        {
            "feed_id": [feed_id] * len(trips),
            "trip_id": trips["trip_id"],
            "route_id": trips["route_id"],
            "service_id": trips["service_id"],
            "direction_id": [None if d < 0 else d for d in direction.tolist()],
            "block_id": trips["block_id"].where(trips["block_id"] != "", None),
            "shape_id": trips["shape_id"].where(trips["shape_id"] != "", None),
            "stops": trips["stops"],
            "distance_km": trips["distance_km"].astype(np.float64),
            "distance_method": trips["distance_method"],
            "first_departure": trips["first_departure"].astype(np.int64),
            "last_arrival": trips["last_arrival"].astype(np.int64),
            "runs": trips["runs"],
            "starts": [table.starts.get(t) for t in trips["trip_id"].tolist()],
        },
    )
    days = feed.service_days
    insert_columns(
        connection,
        transit_service_days,
        {
            "feed_id": [feed_id] * len(days),
            "service_id": days["service_id"],
            "day": days["date"].dt.date.tolist(),
        },
    )
    counted = departures.count(feed, table.starts)
    insert_columns(
        connection,
        transit_stop_departures,
        {
            "feed_id": [feed_id] * len(counted),
            **{name: counted[name] for name in departures.COLUMNS if name != "station_id"},
            # a stop outside any station has none (pandas' NaN would be stored as 'NaN' text)
            "station_id": [s if isinstance(s, str) and s else None for s in counted["station_id"].tolist()],
        },
    )
