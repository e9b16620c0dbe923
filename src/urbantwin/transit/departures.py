"""Departures per stop and hour: counted from stop_times.txt at the import, answered per day.

The import keeps no stop times (store/transit_schema.py), only their count per stop, line, service
and hour of the service day (`count`): every stop time with a departure time except a trip's last
(where it ends, nothing departs); a frequency-based trip counts once per start, each shifted by its
start. Stop times without a time (GTFS lets a feed leave the times between timepoints out) are not
counted: which hour they fall into is not known.

`StopDepartures.of_stop` sums those counts over the services that run on the days asked for (the
same period as the energy model: a day, a range, or the feed's typical weekday). A station's
departures are those of its platforms (`station_id`, the stop's parent station).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, or_, select

from urbantwin.access.gate import Caller
from urbantwin.errors import NotFound
from urbantwin.store.transit_schema import (
    transit_routes,
    transit_service_days,
    transit_stop_departures,
    transit_trips,
)
from urbantwin.transit.distance import _bounds
from urbantwin.transit.energy import TransitEnergy
from urbantwin.transit.feed import Feed

COLUMNS = ["stop_id", "route_id", "service_id", "hour", "station_id", "departures"]


def count(feed: Feed, starts: Mapping[str, list[int]]) -> pd.DataFrame:
    """Departures per stop, route, service and hour of the service day (`COLUMNS`)."""
    st = feed.stop_times
    if not len(st):
        return pd.DataFrame(columns=COLUMNS)
    codes = st["trip_id"].cat.codes.to_numpy()
    first, last = _bounds(codes)
    departure = st["departure"].to_numpy(dtype=np.float64)
    departs = np.ones(len(st), dtype=bool)
    departs[last] = False
    departs &= np.isfinite(departure)
    trip = st["trip_id"].to_numpy(dtype=object)
    stop = st["stop_id"].to_numpy(dtype=object)
    frequent = np.isin(trip, list(starts)) if starts else np.zeros(len(st), dtype=bool)
    plain = departs & ~frequent
    times, trips, stops = [departure[plain]], [trip[plain]], [stop[plain]]
    if starts:
        # a frequency-based trip's stop times are a template: counted once per start, shifted by it
        template_start = np.repeat(departure[first], last - first + 1)
        rows = np.flatnonzero(departs & frequent)
        for trip_id, positions in pd.Series(rows).groupby(trip[rows]).groups.items():
            mine = rows[np.asarray(positions)]
            offsets = departure[mine] - template_start[mine]
            begins = np.asarray(starts[str(trip_id)], dtype=np.float64)
            times.append((begins[:, None] + offsets[None, :]).ravel())
            trips.append(np.full(len(begins) * len(mine), trip_id, dtype=object))
            stops.append(np.tile(stop[mine], len(begins)))
    frame = pd.DataFrame(
        {"trip_id": np.concatenate(trips), "stop_id": np.concatenate(stops), "time": np.concatenate(times)}
    )
    frame = frame[np.isfinite(frame["time"].to_numpy())]
    of_trip = feed.trips.set_index("trip_id")
    frame = frame.assign(
        route_id=frame["trip_id"].map(of_trip["route_id"]),
        service_id=frame["trip_id"].map(of_trip["service_id"]),
        hour=(frame["time"].to_numpy() // 3600).astype(np.int64),
    )
    counted = frame.groupby(["stop_id", "route_id", "service_id", "hour"], sort=True).size()
    out = counted.rename("departures").reset_index()
    parent = feed.stops["parent_station"]
    out["station_id"] = out["stop_id"].map(parent).replace("", None)
    return out[COLUMNS]


class StopDepartures:
    """A stop's departures per hour on the days asked for, read with the caller's rights on the
    feed (those of its lines dataset, as every answer about a feed)."""

    def __init__(self, energy: TransitEnergy) -> None:
        self.energy = energy
        self.engine = energy.engine

    def of_stop(
        self,
        caller: Caller,
        feed_id: str,
        stop_id: str,
        *,
        day: str | None = None,
        until: str | None = None,
        weekday: bool = False,
    ) -> dict[str, Any]:
        """Departures per hour of the service day at the stop (or station), in all and per line,
        summed over the days; 404 for a feed or stop unknown, 400 naming a bad date."""
        when = self.energy.feed_period(caller, feed_id, day=day, until=until, weekday=weekday)
        d = transit_stop_departures
        days = (
            select(transit_service_days.c.service_id, func.count().label("days"))
            .where(
                transit_service_days.c.feed_id == feed_id,
                transit_service_days.c.day >= when.first,
                transit_service_days.c.day <= when.last,
            )
            .group_by(transit_service_days.c.service_id)
            .subquery()
        )
        here = or_(d.c.stop_id == stop_id, d.c.station_id == stop_id)
        with self.engine.connect() as connection:
            known = connection.execute(
                select(d.c.stop_id).where(d.c.feed_id == feed_id, here).limit(1)
            ).first()
            if known is None:
                raise NotFound(f"no stop {stop_id!r} with departures in the transit feed {feed_id!r}")
            rows = connection.execute(
                select(d.c.route_id, d.c.hour, func.sum(d.c.departures * days.c.days).label("n"))
                .select_from(d.join(days, days.c.service_id == d.c.service_id))
                .where(d.c.feed_id == feed_id, here)
                .group_by(d.c.route_id, d.c.hour)
            ).all()
            routes = {
                row.route_id: row
                for row in connection.execute(
                    select(
                        transit_routes.c.route_id, transit_routes.c.short_name, transit_routes.c.mode
                    ).where(transit_routes.c.feed_id == feed_id)
                )
            }
            latest = connection.execute(
                select(func.max(transit_trips.c.last_arrival)).where(transit_trips.c.feed_id == feed_id)
            ).scalar()
        hours = max(24, -(-int(latest or 0) // 3600), *(row.hour + 1 for row in rows))
        total = [0] * hours
        per_line: dict[str, list[int]] = {}
        for row in rows:
            n = int(row.n or 0)
            total[row.hour] += n
            per_line.setdefault(row.route_id, [0] * hours)[row.hour] += n
        lines: list[dict[str, Any]] = [
            {
                "route_id": route_id,
                "line": (routes[route_id].short_name if route_id in routes else "") or route_id,
                "mode": routes[route_id].mode if route_id in routes else None,
                "departures": sum(counts),
                "hourly": counts,
            }
            for route_id, counts in per_line.items()
        ]
        lines.sort(key=lambda line: (-int(line["departures"]), str(line["line"])))
        return {
            "feed": feed_id,
            "stop": stop_id,
            "period": {
                "first": str(when.first),
                "last": str(when.last),
                "label": when.label,
            },
            "hours": hours,
            "note": "Timetabled departures (the feed's stop times), summed over the days of the period; "
            "hour h is hour h of the service day (24 and later: after midnight).",
            "departures": sum(total),
            "hourly": total,
            "lines": lines,
        }
