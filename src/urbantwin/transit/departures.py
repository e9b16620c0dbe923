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
    """Departures per stop, route, service and hour of the service day (`COLUMNS`), ordered by them.

    Counted on integer codes (a stop's, a route's, a service's rank among the feed's ids) combined
    into one key per stop time: a city feed's million stop times are one `np.unique`, not a group-by
    over four text columns."""
    st = feed.stop_times
    if not len(st):
        return pd.DataFrame(columns=COLUMNS)
    trip = st["trip_id"].cat.codes.to_numpy().astype(np.int64)
    stop = st["stop_id"].cat.codes.to_numpy().astype(np.int64)
    first, last = _bounds(trip)
    departure = st["departure"].to_numpy(dtype=np.float64)
    departs = np.ones(len(st), dtype=bool)
    departs[last] = False
    departs &= np.isfinite(departure)
    trip_ids = st["trip_id"].cat.categories
    frequent_codes = trip_ids.get_indexer(list(starts)) if starts else np.zeros(0, dtype=np.int64)
    frequent = np.isin(trip, frequent_codes[frequent_codes >= 0])
    plain = departs & ~frequent
    times, trips, stops = [departure[plain]], [trip[plain]], [stop[plain]]
    rows = np.flatnonzero(departs & frequent)
    if len(rows):
        # a frequency-based trip's stop times are a template: counted once per start, shifted by it
        template_start = np.repeat(departure[first], last - first + 1)
        for code in np.unique(trip[rows]):
            mine = rows[trip[rows] == code]
            offsets = departure[mine] - template_start[mine]
            begins = np.asarray(starts[str(trip_ids[code])], dtype=np.float64)
            times.append((begins[:, None] + offsets[None, :]).ravel())
            trips.append(np.full(len(begins) * len(mine), code, dtype=np.int64))
            stops.append(np.tile(stop[mine], len(begins)))
    time, trip, stop = np.concatenate(times), np.concatenate(trips), np.concatenate(stops)
    keep = np.isfinite(time)
    time, trip, stop = time[keep], trip[keep], stop[keep]
    # Ranks, so that the keys sort as the ids do; the trips' categories are feed.trips' rows.
    stop_names = st["stop_id"].cat.categories.to_numpy(dtype=object)
    stop_rank = np.empty(len(stop_names), dtype=np.int64)
    stop_rank[np.argsort(stop_names, kind="stable")] = np.arange(len(stop_names))
    route_of, routes = pd.factorize(feed.trips["route_id"].to_numpy(dtype=object), sort=True)
    service_of, services = pd.factorize(feed.trips["service_id"].to_numpy(dtype=object), sort=True)
    hour = (time // 3600).astype(np.int64)
    low = int(hour.min()) if len(hour) else 0
    n_hours = int(hour.max()) - low + 1 if len(hour) else 1
    key = ((stop_rank[stop] * len(routes) + route_of[trip]) * len(services) + service_of[trip]) * n_hours
    key += hour - low
    unique, counted = np.unique(key, return_counts=True)
    unique, hours = np.divmod(unique, n_hours)
    unique, service = np.divmod(unique, len(services))
    ranked, route = np.divmod(unique, len(routes))
    stop_ids = np.sort(stop_names)[ranked]
    parent = feed.stops["parent_station"].reindex(stop_ids).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "stop_id": stop_ids,
            "route_id": np.asarray(routes, dtype=object)[route],
            "service_id": np.asarray(services, dtype=object)[service],
            "hour": hours + low,
            "station_id": np.where(pd.isna(parent) | (parent == ""), None, parent),
            "departures": counted.astype(np.int64),
        }
    )


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
