"""`import_gtfs` into the store (SQLite and PostgreSQL): real feeds' counts, idempotency, a new
version replacing the old, a bad feed leaving nothing behind, stops and lines as collections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, select

from tests.transit.conftest import MADRID, PFORZHEIM, PLZEN, straight_km, write_feed
from urbantwin.ingest.pipeline import ImportFailure
from urbantwin.store.access_schema import datasets
from urbantwin.store.features_schema import collections, features
from urbantwin.store.transit_schema import transit_feeds, transit_routes, transit_service_days, transit_trips
from urbantwin.transit.feed import FeedError
from urbantwin.transit.gtfs_import import import_gtfs


def count(engine: Engine, table: Table, feed_id: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(table).where(table.c.feed_id == feed_id)
        ).scalar_one()


def trips_by_type(engine: Engine, feed_id: str) -> dict[int, int]:
    query = (
        select(transit_routes.c.route_type, func.count())
        .select_from(
            transit_trips.join(
                transit_routes,
                (transit_routes.c.feed_id == transit_trips.c.feed_id)
                & (transit_routes.c.route_id == transit_trips.c.route_id),
            )
        )
        .where(transit_trips.c.feed_id == feed_id)
        .group_by(transit_routes.c.route_type)
    )
    with engine.connect() as connection:
        return {route_type: n for route_type, n in connection.execute(query)}


def features_of(engine: Engine, collection: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(features).where(features.c.collection_id == collection)
        ).scalar_one()


@pytest.mark.parametrize(
    ("path", "routes_by_type", "trips_by_route_type", "stop_times", "stops", "methods"),
    [
        (PLZEN, {"0": 3, "3": 37, "11": 14}, {0: 1870, 11: 2752, 3: 3320}, 132_436, 710, {"stops": 7942}),
        (MADRID, {"0": 4}, {0: 3001}, 38_983, 86, {"shape": 3001}),
        (PFORZHEIM, {"701": 8, "704": 6}, {701: None, 704: None}, 10_957, 490, {"stops": 454}),
    ],
    ids=["plzen", "madrid", "pforzheim"],
)
def test_real_feeds_import_with_their_counts(
    engine: Engine,
    path: Path,
    routes_by_type: dict[str, int],
    trips_by_route_type: dict[int, int | None],
    stop_times: int,
    stops: int,
    methods: dict[str, int],
) -> None:
    report = import_gtfs(engine, path, feed_id="real", source="test", licence="CC BY 4.0")
    summary = report.summary
    assert summary["routes_by_type"] == routes_by_type
    assert summary["stop_times"] == stop_times
    assert summary["distance_methods"] == methods
    by_type = trips_by_type(engine, "real")
    assert set(by_type) == set(trips_by_route_type)
    for route_type, trips in trips_by_route_type.items():
        if trips is not None:
            assert by_type[route_type] == trips
    assert count(engine, transit_trips, "real") == summary["trips"] == sum(by_type.values())
    assert count(engine, transit_routes, "real") == sum(routes_by_type.values())
    assert count(engine, transit_service_days, "real") == summary["service_days"] > 0
    assert features_of(engine, "real-stops") == stops
    assert features_of(engine, "real-lines") == sum(routes_by_type.values())
    assert summary["weekday_vehicle_km"] > 0


def test_plzen_in_detail(engine: Engine) -> None:
    report = import_gtfs(engine, PLZEN)
    assert report.feed_id == "plzen-pmdp-2026-02"
    assert report.summary["routes_by_mode"] == {"bus": 37, "trolleybus": 14, "tram": 3}
    assert report.summary["service_days"] == 2406  # calendar.txt has no weekday set: all from calendar_dates
    assert report.summary["first_day"] == "2026-02-09"
    with engine.connect() as connection:
        tram_line_1 = connection.execute(
            select(transit_routes).where(
                transit_routes.c.feed_id == report.feed_id, transit_routes.c.route_id == "3046"
            )
        ).one()
        trip = connection.execute(
            select(transit_trips).where(
                transit_trips.c.feed_id == report.feed_id, transit_trips.c.trip_id == "605698"
            )
        ).one()
    assert (tram_line_1.short_name, tram_line_1.mode) == ("1", "tram")
    assert trip.first_departure == 4 * 3600 + 8 * 60
    assert trip.distance_method == "stops"
    assert 5 < trip.distance_km < 15  # Slovany – Bolevec


def test_the_same_feed_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write_feed(tmp_path / "synthetic.zip")
    first = import_gtfs(engine, path)
    assert first.changed and first.feed_id == "synthetic"
    with engine.connect() as connection:
        imported = connection.execute(select(transit_feeds.c.imported)).scalar_one()
        versions: dict[str, int] = dict(
            connection.execute(select(collections.c.id, collections.c.version)).all()
        )
    again = import_gtfs(engine, path)
    assert not again.changed
    assert [(r.inserted, r.updated, r.deleted) for r in again.collections] == [(0, 0, 0)] * 3
    with engine.connect() as connection:
        assert connection.execute(select(transit_feeds.c.imported)).scalar_one() == imported
        assert dict(connection.execute(select(collections.c.id, collections.c.version)).all()) == versions
    assert count(engine, transit_trips, "synthetic") == 2


def test_a_new_version_replaces_the_feeds_rows(engine: Engine, tmp_path: Path) -> None:
    import_gtfs(engine, write_feed(tmp_path / "v1.zip"), feed_id="city")
    newer = write_feed(
        tmp_path / "v2.zip",
        trips_txt="route_id,service_id,trip_id\nR1,WK,N1\n",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "N1,09:00:00,09:00:00,S1,1\nN1,09:05:00,09:05:00,S3,2\n",
        stops_txt="stop_id,stop_name,stop_lat,stop_lon\nS1,One,50.0,10.0\nS3,Three,50.0,10.028\n",
    )
    report = import_gtfs(engine, newer, feed_id="city")
    assert report.changed
    with engine.connect() as connection:
        trips = connection.execute(select(transit_trips.c.trip_id)).scalars().all()
        assert connection.execute(select(func.count()).select_from(transit_feeds)).scalar_one() == 1
    assert trips == ["N1"]
    assert features_of(engine, "city-stops") == 2
    assert report.collections[0].deleted == 2


def test_a_bad_feed_leaves_the_store_as_it_was(engine: Engine, tmp_path: Path) -> None:
    import_gtfs(engine, write_feed(tmp_path / "good.zip"), feed_id="city")
    bad = write_feed(
        tmp_path / "bad.zip",
        stop_times_txt="trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,08:00:00,08:00:00,S1,x\n",
    )
    with pytest.raises(FeedError, match=r"stop_times.txt: row 2: field 'stop_sequence': expected a number"):
        import_gtfs(engine, bad, feed_id="city")
    assert count(engine, transit_trips, "city") == 2
    assert features_of(engine, "city-stops") == 4


def test_a_failure_while_writing_rolls_everything_back(engine: Engine, tmp_path: Path) -> None:
    """The publisher is checked when the collections are written, after the feed's tables: one
    transaction, so the feed's rows go too."""
    with pytest.raises(ImportFailure, match="publisher"):
        import_gtfs(engine, write_feed(tmp_path / "f.zip"), feed_id="city", publisher="nobody")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(transit_feeds)).scalar_one() == 0
        assert connection.execute(select(func.count()).select_from(transit_trips)).scalar_one() == 0
        assert connection.execute(select(func.count()).select_from(collections)).scalar_one() == 0


def test_stops_and_lines_are_datasets_of_the_catalogue(engine: Engine, tmp_path: Path) -> None:
    import_gtfs(engine, write_feed(tmp_path / "f.zip"), feed_id="city", source="Synthetic", licence="CC0 1.0")
    with engine.connect() as connection:
        found: dict[str, Any] = dict(connection.execute(select(datasets.c.id, datasets.c.extra)).all())
        lines = connection.execute(
            select(features.c.properties, features.c.geom).where(features.c.collection_id == "city-lines")
        ).one()
    assert {"city-stops", "city-lines"} <= set(found)
    assert found["city-lines"]["source"] == "Synthetic"
    assert lines.properties["mode"] == "bus"
    assert lines.properties["trips"] == 2


def test_the_service_per_day_is_a_dataset_of_the_catalogue(engine: Engine, tmp_path: Path) -> None:
    """Weekdays of two weeks, one removed and a Saturday added by calendar_dates: a day each, by date."""
    path = write_feed(
        tmp_path / "f.zip",
        routes_txt="route_id,route_short_name,route_type\nR1,1,3\nR2,2,0\n",
        trips_txt="route_id,service_id,trip_id,direction_id\nR1,WK,T1,0\nR2,WK,T2,1\n",
        calendar_dates_txt="service_id,date,exception_type\nWK,20260106,2\nWK,20260110,1\n",
    )
    import_gtfs(engine, path, feed_id="city")
    with engine.connect() as connection:
        found = set(connection.execute(select(datasets.c.id)).scalars())
        days = {
            key: (properties, geom)
            for key, properties, geom in connection.execute(
                select(features.c.feature_key, features.c.properties, features.c.geom).where(
                    features.c.collection_id == "city-service"
                )
            )
        }
    assert "city-service" in found
    assert len(days) == 10  # 5 + 5 weekdays, less the 6th, plus Saturday the 10th
    assert "2026-01-06" not in days
    saturday, geometry = days["2026-01-10"]
    assert geometry is None
    assert saturday["iso_weekday"] == 6
    assert (saturday["trips"], saturday["trips_bus"], saturday["trips_tram"]) == (2, 1, 1)
    assert saturday["vehicle_km_bus"] == pytest.approx(straight_km() * 1.11, rel=1e-3)
    assert saturday["vehicle_km"] == pytest.approx(
        saturday["vehicle_km_bus"] + saturday["vehicle_km_tram"], abs=0.002
    )


def test_the_service_per_day_is_offered_as_a_table_not_as_tiles(engine: Engine, tmp_path: Path) -> None:
    from urbantwin.access.gate import Caller
    from urbantwin.access.policy import EVERYTHING
    from urbantwin.catalog.dcat import distributions
    from urbantwin.catalog.service import CatalogService
    from urbantwin.ogcapi.service import FeaturesService
    from urbantwin.settings import Settings

    import_gtfs(engine, write_feed(tmp_path / "f.zip"), feed_id="city")
    catalogue = CatalogService(engine, Settings())
    offered = {
        dataset: {
            d.format for d in distributions("", catalogue.dataset(Caller.seeing(EVERYTHING), dataset)[1])
        }
        for dataset in ("city-service", "city-lines")
    }
    assert offered == {"city-service": {"GEOJSON", "HTML"}, "city-lines": {"GEOJSON", "HTML", "MVT"}}
    # OGC API Features links the tiles of the lines, not of the table.
    features_api = FeaturesService(engine, Settings())
    tiled = {
        collection: any(
            link["rel"].endswith("tilesets-vector")
            for link in features_api.collection("", collection, Caller.seeing(EVERYTHING)).body["links"]
        )
        for collection in ("city-service", "city-lines")
    }
    assert tiled == {"city-service": False, "city-lines": True}


def test_lines_follow_the_shape_where_there_is_one_else_the_stops(engine: Engine, tmp_path: Path) -> None:
    import shapely

    from tests.transit.test_distance import DETOUR, shapes_txt

    path = write_feed(
        tmp_path / "f.zip",
        routes_txt="route_id,route_short_name,route_type\nR1,1,0\nR2,2,800\n",
        shapes_txt=shapes_txt(DETOUR),
        trips_txt="route_id,service_id,trip_id,direction_id,shape_id\nR1,WK,T1,0,SH1\nR2,WK,T2,1,\n",
    )
    import_gtfs(engine, path, feed_id="city")
    with engine.connect() as connection:
        rows: dict[str, bytes] = dict(
            connection.execute(
                select(features.c.feature_key, features.c.geom).where(
                    features.c.collection_id == "city-lines"
                )
            ).all()
        )
    tram, trolleybus = shapely.from_wkb(rows["R1"]), shapely.from_wkb(rows["R2"])
    assert [tuple(c) for c in shapely.get_coordinates(tram)] == DETOUR
    assert len(shapely.get_coordinates(trolleybus)) == 4  # through T2's four stops
    assert shapely.get_coordinates(trolleybus)[0, 0] == pytest.approx(10.042)  # from S4: its direction


def test_trips_without_stop_times_are_counted_not_stored(engine: Engine, tmp_path: Path) -> None:
    from tests.transit.conftest import BASE

    path = write_feed(tmp_path / "f.zip", trips_txt=BASE["trips.txt"] + "R1,WK,T9,0,\n")
    report = import_gtfs(engine, path, feed_id="city")
    assert (report.summary["trips"], report.summary["trips_without_stop_times"]) == (3, 1)
    assert count(engine, transit_trips, "city") == 2
    assert "Trips without stop times (not stored): 1" in report.lines()
