"""Reading a GTFS feed: modes, service days, frequencies, times past midnight, stop_sequence, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.transit.conftest import write_feed
from urbantwin.transit.distance import trip_table
from urbantwin.transit.feed import FeedError, read_feed, route_mode

STOP_TIMES = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"


def days(feed_path: Path, service: str = "WK") -> list[str]:
    feed = read_feed(feed_path)
    chosen = feed.service_days[feed.service_days["service_id"] == service]
    return [str(day) for day in chosen["date"].to_numpy().astype("datetime64[D]")]


@pytest.mark.parametrize(
    ("route_type", "mode"),
    [
        (0, "tram"),
        (900, "tram"),
        (906, "tram"),
        (1, "subway"),
        (401, "subway"),
        (400, "light_rail"),
        (2, "rail"),
        (109, "rail"),
        (3, "bus"),
        (700, "bus"),
        (704, "bus"),
        (200, "bus"),
        (11, "trolleybus"),
        (800, "trolleybus"),
        (4, "ferry"),
        (1200, "ferry"),
        (12, "monorail"),
        (405, "monorail"),
        (7, "funicular"),
        (1300, "aerial_lift"),
    ],
)
def test_route_types_basic_and_extended_map_to_modes(route_type: int, mode: str) -> None:
    assert route_mode(route_type) == mode


def test_calendar_with_exceptions_removes_and_adds_days(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        calendar_dates_txt="service_id,date,exception_type\nWK,20260106,2\nWK,20260110,1\n",
    )
    weekdays = [f"2026-01-{d:02d}" for d in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16)]
    expected = sorted([d for d in weekdays if d != "2026-01-06"] + ["2026-01-10"])
    assert days(path) == expected


def test_a_feed_with_calendar_dates_only(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        calendar_txt=None,
        calendar_dates_txt="service_id,date,exception_type\nWK,20260301,1\nWK,20260302,1\n",
    )
    assert days(path) == ["2026-03-01", "2026-03-02"]


def test_frequencies_are_expanded_for_exact_times_1_and_0(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        frequencies_txt="trip_id,start_time,end_time,headway_secs,exact_times\n"
        "T1,06:00:00,07:00:00,600,1\n"  # scheduled: 06:00, 06:10, … 06:50
        "T2,07:00:00,08:00:00,900,0\n"  # headway-based: still 4 vehicles in the hour
        "T2,23:30:00,24:30:00,1800,0\n",  # past midnight: 23:30, 24:00
    )
    table = trip_table(read_feed(path)).trips.set_index("trip_id")
    assert table.loc["T1", "runs"] == 6
    assert table.loc["T2", "runs"] == 4 + 2
    assert table.loc["T1", "first_departure"] == 6 * 3600
    # the template takes 6 minutes from first to last stop: the last run arrives at 06:56
    assert table.loc["T1", "last_arrival"] == 6 * 3600 + 50 * 60 + 6 * 60
    assert table.loc["T2", "last_arrival"] == 24 * 3600 + 6 * 60


def test_exact_times_frequencies_list_the_concrete_starts(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        frequencies_txt="trip_id,start_time,end_time,headway_secs,exact_times\nT1,06:00:00,06:30:00,600,1\n",
    )
    starts = trip_table(read_feed(path)).starts
    assert starts == {"T1": [21600, 22200, 22800]}


def test_times_past_midnight_stay_on_their_service_day(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,23:58:00,23:58:00,S1,1\nT1,24:02:00,24:02:00,S2,2\nT1,25:10:00,25:10:00,S3,3\n"
        "T2,24:30:00,24:30:00,S4,1\nT2,24:40:00,24:40:00,S3,2\n",
    )
    table = trip_table(read_feed(path)).trips.set_index("trip_id")
    assert table.loc["T1", "first_departure"] == 23 * 3600 + 58 * 60
    assert table.loc["T1", "last_arrival"] == 25 * 3600 + 10 * 60  # 90,600 s, above one day
    assert table.loc["T2", "first_departure"] == 24 * 3600 + 30 * 60


def test_stop_times_in_any_order_with_gaps_in_the_sequence(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:06:00,08:06:00,S4,40\nT2,08:10:00,08:10:00,S4,0\nT1,08:00:00,08:00:00,S1,5\n"
        "T1,08:04:00,08:04:00,S3,30\nT2,08:16:00,08:16:00,S1,7\nT1,08:02:00,08:02:00,S2,10\n",
    )
    feed = read_feed(path)
    t1 = feed.stop_times[feed.stop_times["trip_id"] == "T1"]
    assert list(t1["stop_id"].astype(str)) == ["S1", "S2", "S3", "S4"]
    table = trip_table(feed).trips.set_index("trip_id")
    assert table.loc["T1", "first_departure"] == 8 * 3600
    assert table.loc["T1", "stops"] == 4


def test_a_duplicated_stop_sequence_is_refused_naming_file_row_and_field(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,S1,1\nT1,08:02:00,08:02:00,S2,2\nT1,08:04:00,08:04:00,S3,2\n",
    )
    with pytest.raises(FeedError) as failure:
        read_feed(path)
    assert str(failure.value) == (
        "stop_times.txt: row 4: field 'stop_sequence': trip 'T1' has stop_sequence 2 twice (rows 3 and 4)"
    )


def test_a_missing_stop_sequence_is_refused(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,S1,1\nT1,08:02:00,08:02:00,S2,\n",
    )
    with pytest.raises(
        FeedError, match=r"^stop_times.txt: row 3: field 'stop_sequence': a value is required"
    ):
        read_feed(path)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"stop_times_txt": STOP_TIMES + "T1,8h00,8h00,S1,1\n"},
            "stop_times.txt: row 2: field 'arrival_time': expected a time HH:MM:SS, got '8h00'",
        ),
        (
            {"stop_times_txt": STOP_TIMES + "T1,08:00:00,08:00:00,S9,1\n"},
            "stop_times.txt: row 2: field 'stop_id': no such id in stops.txt, got 'S9'",
        ),
        (
            {"trips_txt": "route_id,service_id,trip_id\nR1,WK,T1\nR2,WK,T2\n"},
            "trips.txt: row 3: field 'route_id': no such id in routes.txt, got 'R2'",
        ),
        (
            {"trips_txt": "route_id,service_id,trip_id\nR1,XX,T1\nR1,WK,T2\n"},
            "trips.txt: row 2: field 'service_id': no such id in calendar.txt or calendar_dates.txt, "
            "got 'XX'",
        ),
        (
            {"routes_txt": "route_id,route_short_name,route_type\nR1,1,bus\n"},
            "routes.txt: row 2: field 'route_type': expected a number, got 'bus'",
        ),
        (
            {"stops_txt": "stop_id,stop_name,stop_lat,stop_lon\nS1,a,95,10\n"},
            "stops.txt: row 2: field 'stop_lat': expected a latitude from -90 to 90, got '95'",
        ),
        (
            {"calendar_txt": "service_id,monday,start_date,end_date\nWK,1,20260105,20260118\n"},
            "calendar.txt: field 'tuesday': the required column is missing",
        ),
        (
            {"calendar_dates_txt": "service_id,date,exception_type\nWK,2026-01-06,2\n"},
            "calendar_dates.txt: row 2: field 'date': expected a date YYYYMMDD, got '2026-01-06'",
        ),
        (
            {
                "frequencies_txt": "trip_id,start_time,end_time,headway_secs,exact_times\n"
                "T1,06:00:00,07:00:00,0,1\n"
            },
            "frequencies.txt: row 2: field 'headway_secs': expected a positive number of seconds, got '0'",
        ),
    ],
)
def test_a_bad_feed_gets_a_message_naming_file_row_and_field(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    path = write_feed(tmp_path / "bad.zip", **files)
    with pytest.raises(FeedError) as failure:
        read_feed(path)
    assert str(failure.value) == message


def test_a_feed_without_a_required_file(tmp_path: Path) -> None:
    path = write_feed(tmp_path / "f.zip", stop_times_txt=None)
    with pytest.raises(FeedError, match=r"stop_times.txt is missing"):
        read_feed(path)
    with pytest.raises(FeedError, match="not a GTFS zip"):
        read_feed(tmp_path / "nothing.zip")


def test_a_folder_reads_like_its_zip(tmp_path: Path) -> None:
    import zipfile

    zipped = write_feed(tmp_path / "f.zip")
    folder = tmp_path / "folder"
    zipfile.ZipFile(zipped).extractall(folder)
    a, b = read_feed(zipped), read_feed(folder)
    assert len(a.stop_times) == len(b.stop_times) == 8
    assert np.array_equal(a.stop_times["departure"], b.stop_times["departure"])


def test_blocks_are_kept(tmp_path: Path) -> None:
    table = trip_table(read_feed(write_feed(tmp_path / "f.zip"))).trips.set_index("trip_id")
    assert list(table["block_id"]) == ["B1", "B1"]


def test_a_trip_whose_first_stop_has_no_time_is_refused(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        stop_times_txt=STOP_TIMES + "T1,,,S1,1\nT1,08:02:00,08:02:00,S2,2\n",
    )
    with pytest.raises(
        FeedError, match=r"^stop_times.txt: row 2: field 'departure_time': a trip's first stop"
    ):
        trip_table(read_feed(path))
