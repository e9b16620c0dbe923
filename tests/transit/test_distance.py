"""Trip distances: shape_dist_traveled in a detected unit, short-turn trips, shapes, the detour factor."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.transit.conftest import BASE, GEOD, LAT, LONS, MADRID, straight_km, write_feed
from urbantwin.transit.distance import DETOUR_FACTOR, calibrate_detour, trip_table
from urbantwin.transit.feed import read_feed

HEADER = "trip_id,arrival_time,departure_time,stop_id,stop_sequence,shape_dist_traveled\n"


def measured(path: Path, **options: float) -> tuple[pd.DataFrame, str | None]:
    table = trip_table(read_feed(path), **options)
    return table.trips.set_index("trip_id"), table.distance_unit


def with_dist(scale: float, t3: tuple[int, int] = (1, 2)) -> str:
    """Stop times whose shape_dist_traveled is 1.2 km per stop, written in the unit `scale` (per km);
    T3 is a short-turn trip between stops t3 on the same measure."""
    rows = [HEADER]
    for trip, order in (("T1", [0, 1, 2, 3]), ("T2", [3, 2, 1, 0])):
        for number, stop in enumerate(order):
            along = 1.2 * (stop if trip == "T1" else 3 - stop) * scale
            rows.append(f"{trip},08:0{number}:00,08:0{number}:00,S{stop + 1},{number + 1},{along:g}\n")
    for number, stop in enumerate(range(t3[0], t3[1] + 1)):
        rows.append(f"T3,09:0{number}:00,09:0{number}:00,S{stop + 1},{number + 1},{1.2 * stop * scale:g}\n")
    return "".join(rows)


TRIPS_3 = BASE["trips.txt"] + "R1,WK,T3,0,\n"


@pytest.mark.parametrize(("scale", "unit"), [(1000.0, "m"), (1.0, "km"), (3280.84, "ft"), (0.621371, "mi")])
def test_the_unit_of_shape_dist_traveled_is_detected(tmp_path: Path, scale: float, unit: str) -> None:
    """gtfs-kit's `compute_trip_stats` reads the values in the unit its caller declares for the
    feed (`dist_units`): a feed in metres read as kilometres is 1,000 times too long."""
    path = write_feed(tmp_path / "f.zip", stop_times_txt=with_dist(scale), trips_txt=TRIPS_3)
    table, detected = measured(path)
    assert detected == unit
    assert table.loc["T1", "distance_km"] == pytest.approx(3.6, rel=1e-4)
    assert table.loc["T2", "distance_km"] == pytest.approx(3.6, rel=1e-4)
    assert set(table["distance_method"]) == {"shape_dist"}


def test_a_short_turn_trip_runs_last_minus_first_not_the_whole_measure(tmp_path: Path) -> None:
    """gtfs-kit's `compute_trip_stats` takes the trip's largest shape_dist_traveled (2.4 km here)."""
    path = write_feed(tmp_path / "f.zip", stop_times_txt=with_dist(1000.0, t3=(1, 2)), trips_txt=TRIPS_3)
    table, _ = measured(path)
    assert table.loc["T3", "distance_km"] == pytest.approx(1.2)  # 2.4 − 1.2 km, not 2.4 nor 3.6


#: A shape from S1 up a kilometre north, across, and down to S4: longer than the straight line.
DETOUR = [(LONS[0], LAT), (LONS[0], LAT + 0.009), (LONS[3], LAT + 0.009), (LONS[3], LAT)]


def shapes_txt(points: list[tuple[float, float]], shape_id: str = "SH1") -> str:
    rows = "".join(f"{shape_id},{lat},{lon},{n + 1}\n" for n, (lon, lat) in enumerate(points))
    return "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\n" + rows


def line_km(points: list[tuple[float, float]]) -> float:
    lons, lats = zip(*points, strict=True)
    return float(GEOD.line_length(lons, lats)) / 1000.0


def test_without_shape_dist_the_stops_are_projected_onto_the_shape(tmp_path: Path) -> None:
    path = write_feed(
        tmp_path / "f.zip",
        shapes_txt=shapes_txt(DETOUR),
        trips_txt="route_id,service_id,trip_id,shape_id\nR1,WK,T1,SH1\n",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,S1,1\nT1,08:10:00,08:10:00,S4,2\n",
    )
    table, unit = measured(path)
    assert unit is None
    assert table.loc["T1", "distance_method"] == "shape"
    assert table.loc["T1", "distance_km"] == pytest.approx(line_km(DETOUR), rel=2e-3)
    assert table.loc["T1", "distance_km"] > 1.5 * straight_km()


def test_a_short_turn_trip_on_a_longer_shape(tmp_path: Path) -> None:
    straight = [(lon, LAT) for lon in LONS]
    path = write_feed(
        tmp_path / "f.zip",
        shapes_txt=shapes_txt(straight),
        trips_txt="route_id,service_id,trip_id,shape_id\nR1,WK,T1,SH1\n",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,S2,1\nT1,08:10:00,08:10:00,S3,2\n",
    )
    table, _ = measured(path)
    assert table.loc["T1", "distance_km"] == pytest.approx(straight_km(1, 2), rel=2e-3)


THERE_AND_BACK = [(lon, LAT) for lon in LONS] + [(lon, LAT) for lon in reversed(LONS[:-1])]


def test_a_trip_out_and_back_on_one_street_is_measured_both_ways(tmp_path: Path) -> None:
    """The return stops lie on the outward run too: the search goes forward along the shape."""
    there_and_back = THERE_AND_BACK
    path = write_feed(
        tmp_path / "f.zip",
        shapes_txt=shapes_txt(there_and_back),
        trips_txt="route_id,service_id,trip_id,shape_id\nR1,WK,T1,SH1\n",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        + "".join(
            f"T1,08:{n:02d}:00,08:{n:02d}:00,S{stop},{n + 1}\n"
            for n, stop in enumerate([1, 2, 3, 4, 3, 2, 1])
        ),
    )
    table, _ = measured(path)
    assert table.loc["T1", "distance_km"] == pytest.approx(2 * straight_km(), rel=2e-3)


def test_a_short_turn_trip_on_a_shape_that_runs_back_on_itself(tmp_path: Path) -> None:
    """S3 → S4 → S3 on the out-and-back shape S1 … S4 … S1: two legs of about 1 km. gtfs-kit's
    `compute_trip_stats` gives every trip on a shape that is not simple (crosses or runs back on
    itself) the whole shape's length, six legs here."""
    path = write_feed(
        tmp_path / "f.zip",
        shapes_txt=shapes_txt(THERE_AND_BACK),
        trips_txt="route_id,service_id,trip_id,shape_id\nR1,WK,T1,SH1\n",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,S3,1\nT1,08:02:00,08:02:00,S4,2\nT1,08:04:00,08:04:00,S3,3\n",
    )
    table, _ = measured(path)
    assert table.loc["T1", "distance_method"] == "shape"
    assert table.loc["T1", "distance_km"] == pytest.approx(2 * straight_km(2, 3), rel=2e-3)
    assert table.loc["T1", "distance_km"] < line_km(THERE_AND_BACK) / 2.5


def test_trips_without_shapes_take_the_stops_times_the_detour_factor(tmp_path: Path) -> None:
    """gtfs-kit's `compute_trip_stats` leaves the distance of every trip of a feed without shapes
    empty (NaN), Plzeň's whole feed among them."""
    path = write_feed(tmp_path / "f.zip")
    table, _ = measured(path)
    assert table.loc["T1", "distance_method"] == "stops"
    assert table.loc["T1", "distance_km"] == pytest.approx(straight_km() * DETOUR_FACTOR)
    overridden, _ = measured(path, detour_factor=1.5)
    assert overridden.loc["T1", "distance_km"] == pytest.approx(straight_km() * 1.5)


def test_the_detour_factor_is_the_one_calibrated_on_the_madrid_feed() -> None:
    assert round(calibrate_detour(read_feed(MADRID)), 2) == DETOUR_FACTOR


def test_madrid_trips_are_measured_on_the_shape_geometry_not_its_shape_dist_traveled() -> None:
    """The longest trip of each Madrid shape runs nearly the shape's geodesic length; the shapes'
    own shape_dist_traveled grows some 20–30 times faster than the geometry (it is not one unit
    along the shape), which is why shapes.txt's measure is not used."""
    feed = read_feed(MADRID)
    table = trip_table(feed).trips
    assert set(table["distance_method"]) == {"shape"}
    geodesic = feed.shapes.groupby("shape_id").apply(
        lambda points: GEOD.line_length(points["lon"].to_numpy(), points["lat"].to_numpy()) / 1000.0
    )
    longest = table.groupby("shape_id")["distance_km"].max()
    ratio = longest / geodesic.reindex(longest.index)
    assert ratio.between(0.93, 1.001).all(), ratio
    measure = feed.shapes.groupby("shape_id")["dist"].max()
    assert (measure / geodesic > 20).all()
