"""Tables of imported GTFS feeds: what the public-transport energy model computes on.

Compact on purpose: one row per feed, route, trip and (service, day); stop times are not kept (a
trip's distance, first departure and last arrival are what vehicle-km and energy per line, day and
hour need), only their count per stop, line, service and hour (`transit_stop_departures`, what a
stop's departures per hour need). Stops and line geometries are feature collections
(`<feed>-stops`, `<feed>-lines`). A feed is replaced as a whole: a new version deletes the feed's
rows and writes the new ones in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Double, ForeignKey, Index, Integer, Table, Text

from urbantwin.store.schema import metadata
from urbantwin.store.types import Json, UtcTime

#: One row per imported feed; `digest` (sha256 of the file) tells a re-import of the same feed.
transit_feeds = Table(
    "transit_feeds",
    metadata,
    Column("id", Text, primary_key=True),
    Column("digest", Text, nullable=False),
    Column("version", Text),
    Column("source", Text),
    Column("licence", Text),
    #: What the feed is called where it is shown (the collections' titles, the viewer); None: its id.
    Column("title", Text),
    #: The factor stop-to-stop distances were multiplied by for trips without shapes.
    Column("detour_factor", Double, nullable=False),
    #: The unit shape_dist_traveled was read in (`m`, `km`, `ft`, `mi`), detected; None: not used.
    Column("distance_unit", Text),
    Column("imported", UtcTime, nullable=False),
    #: Counts of the import (routes by mode, trips, stop times, service days, typical weekday).
    Column("summary", Json, nullable=False),
)

transit_routes = Table(
    "transit_routes",
    metadata,
    Column("feed_id", Text, ForeignKey("transit_feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("route_id", Text, primary_key=True),
    Column("short_name", Text, nullable=False),
    Column("long_name", Text, nullable=False),
    Column("route_type", Integer, nullable=False),
    #: tram, light_rail, subway, rail, bus, trolleybus, ferry, … (`urbantwin.transit.feed.route_mode`)
    Column("mode", Text, nullable=False),
    Column("color", Text),
)

transit_trips = Table(
    "transit_trips",
    metadata,
    Column("feed_id", Text, ForeignKey("transit_feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("trip_id", Text, primary_key=True),
    Column("route_id", Text, nullable=False),
    Column("service_id", Text, nullable=False),
    Column("direction_id", Integer),
    #: Trips of one block are run by one vehicle in turn (for deadhead and vehicle counts).
    Column("block_id", Text),
    Column("shape_id", Text),
    Column("stops", Integer, nullable=False),
    Column("distance_km", Double, nullable=False),
    #: shape_dist (shape_dist_traveled), shape (stops projected on the shape) or stops (× detour)
    Column("distance_method", Text, nullable=False),
    #: Seconds since the service day's noon minus 12 h (past 86,400 after midnight).
    Column("first_departure", Integer, nullable=False),
    Column("last_arrival", Integer, nullable=False),
    #: Departures per service day (1, or the expansion of frequencies.txt) ...
    Column("runs", Integer, nullable=False),
    #: ... and, for a frequency-based trip, their start times (seconds); None otherwise.
    Column("starts", Json),
    Index("ix_transit_trips_service", "feed_id", "service_id"),
    Index("ix_transit_trips_route", "feed_id", "route_id"),
)

#: The days each service of a feed runs (calendar.txt with calendar_dates.txt's exceptions applied).
transit_service_days = Table(
    "transit_service_days",
    metadata,
    Column("feed_id", Text, ForeignKey("transit_feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", Text, primary_key=True),
    Column("day", Date, primary_key=True),
)

#: Departures per stop, line, service and hour of the service day (stop_times.txt counted at the
#: import: every stop time with a departure but a trip's last, a frequency-based trip once per start).
#: `station_id` is the stop's parent station, so a station's departures are its platforms'.
transit_stop_departures = Table(
    "transit_stop_departures",
    metadata,
    Column("feed_id", Text, ForeignKey("transit_feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("stop_id", Text, primary_key=True),
    Column("route_id", Text, primary_key=True),
    Column("service_id", Text, primary_key=True),
    #: Hour of the service day (24 and more: after midnight).
    Column("hour", Integer, primary_key=True),
    Column("station_id", Text),
    Column("departures", Integer, nullable=False),
    Index("ix_transit_stop_departures_station", "feed_id", "station_id"),
)

#: Scenario runs of the model (`urbantwin.transit.runs`): the scenario as given, its status, the
#: KPIs of the scenario and of its baseline (the same feed and day without the changes), and the
#: per-line results with their hourly profiles. `collection` is the feature collection (a catalogue
#: dataset) the per-line results are published as, `transit-run-<id>`.
transit_runs = Table(
    "transit_runs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("feed_id", Text, ForeignKey("transit_feeds.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    #: The scenario as checked (the TOML's tables, or the JSON body).
    Column("scenario", Json, nullable=False),
    Column("collection", Text, nullable=False),
    #: done or failed (a run is computed when submitted: the model takes seconds).
    Column("status", Text, nullable=False),
    Column("error", Text),
    Column("submitted_by", Text, nullable=False),
    Column("created", UtcTime, nullable=False),
    Column("finished", UtcTime),
    Column("kpis", Json),
    Column("baseline", Json),
    #: The coefficients the run used (name, value, unit, source, overridden).
    Column("parameters", Json),
    #: Per line: KPIs and `hourly` vehicle-km, final energy and CO2 per hour of the service day.
    Column("lines", Json),
    Index("ix_transit_runs_feed", "feed_id"),
)
