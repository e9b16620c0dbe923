"""Departures per stop and hour (`transit.departures`): counted at the import from the stop times (a
trip's last stop not, a frequency-based trip once per start, untimed stop times not), summed per day
over the services that run, a station answering for its platforms."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.transit.conftest import BASE, write_feed
from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest, NotFound
from urbantwin.settings import Settings
from urbantwin.transit.departures import StopDepartures, count
from urbantwin.transit.distance import trip_table
from urbantwin.transit.energy import TransitEnergy
from urbantwin.transit.feed import read_feed
from urbantwin.transit.gtfs_import import import_gtfs

#: T3 runs every 20 minutes from 09:00 to before 10:00 (three runs) on a template starting at 06:00,
#: whose S2 has no time.
FREQUENT = {
    "trips_txt": BASE["trips.txt"] + "R1,WK,T3,0,\n",
    "stop_times_txt": BASE["stop_times.txt"]
    + "T3,06:00:00,06:00:00,S1,1\nT3,,,S2,2\nT3,06:44:00,06:44:00,S3,3\nT3,06:50:00,06:50:00,S4,4\n",
    "frequencies_txt": "trip_id,start_time,end_time,headway_secs\nT3,09:00:00,10:00:00,1200\n",
}


def test_every_departure_but_a_trips_last_counted_in_its_hour(tmp_path: Path) -> None:
    feed = read_feed(write_feed(tmp_path / "feed.zip", **FREQUENT))
    counted = count(feed, trip_table(feed).starts).set_index(["stop_id", "hour"])["departures"]
    # T1 (S1→S4) and T2 (S4→S1) at 08:xx: each stop departs once per trip, but where a trip ends
    assert counted[("S1", 8)] == 1 and counted[("S4", 8)] == 1
    assert counted[("S2", 8)] == 2 and counted[("S3", 8)] == 2
    # T3's three starts: from S1 at 09:00, 09:20, 09:40; from S3 44 minutes later (09:44, 10:04,
    # 10:24); S2 has no time, S4 is where T3 ends, and the template's own times are not runs
    assert counted[("S1", 9)] == 3
    assert counted[("S3", 9)] == 1 and counted[("S3", 10)] == 2
    assert ("S2", 9) not in counted and ("S4", 10) not in counted and ("S1", 6) not in counted


@pytest.fixture
def stops(engine: Engine, tmp_path: Path) -> StopDepartures:
    station = BASE["stops.txt"].replace("stop_lon\n", "stop_lon,location_type,parent_station\n")
    station = station.replace(",10.0\n", ",10.0,0,P\n") + "P,Station,50.0,10.0,1,\n"
    import_gtfs(engine, write_feed(tmp_path / "feed.zip", stops_txt=station), feed_id="f")
    return StopDepartures(TransitEnergy(engine, Access.of(engine, Settings())))


def test_a_stops_departures_per_hour_and_line_on_a_day(stops: StopDepartures) -> None:
    monday = stops.of_stop(Caller.system(), "f", "S2", day="2026-01-05")
    assert monday["departures"] == 2 and monday["hours"] == 24
    assert monday["hourly"][8] == 2 and sum(monday["hourly"]) == 2
    assert monday["lines"] == [
        {"route_id": "R1", "line": "1", "mode": "bus", "departures": 2, "hourly": monday["hourly"]}
    ]
    # a week: five weekdays of service; a Saturday: none
    week = stops.of_stop(Caller.system(), "f", "S2", day="2026-01-05", until="2026-01-11")
    assert week["departures"] == 10 and week["period"]["label"] == "2026-01-05 to 2026-01-11"
    assert stops.of_stop(Caller.system(), "f", "S2", day="2026-01-10")["departures"] == 0
    # the station P answers for its platform S1; the typical weekday when no day is given
    station = stops.of_stop(Caller.system(), "f", "P")
    assert station["departures"] == 1 and station["period"]["first"] == "2026-01-05"


def test_unknown_stops_feeds_and_bad_days_are_refused(stops: StopDepartures) -> None:
    with pytest.raises(NotFound, match="no stop 'S9' with departures in the transit feed 'f'"):
        stops.of_stop(Caller.system(), "f", "S9")
    with pytest.raises(NotFound, match="no transit feed 'g'"):
        stops.of_stop(Caller.system(), "g", "S1")
    with pytest.raises(BadRequest, match="day: expected a date YYYY-MM-DD"):
        stops.of_stop(Caller.system(), "f", "S1", day="monday")


def test_a_stop_outside_any_station_is_stored_without_one(stops: StopDepartures) -> None:
    """On both backends: a platform's station is kept, a plain stop's is NULL (not the text 'NaN')."""
    from sqlalchemy import select

    from urbantwin.store.transit_schema import transit_stop_departures as d

    with stops.engine.connect() as connection:
        stations = dict(connection.execute(select(d.c.stop_id, d.c.station_id).distinct()).all())
    assert stations == {"S1": "P", "S2": None, "S3": None, "S4": None}
