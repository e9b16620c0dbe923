"""`insert_columns`: rows given column by column land as SQLAlchemy's own insert would store them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from urbantwin.store.bulk_rows import insert_columns
from urbantwin.store.transit_schema import transit_feeds, transit_service_days, transit_trips


def _feed(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            transit_feeds.insert().values(
                id="f", digest="d", detour_factor=1.1, imported=datetime.now(UTC), summary={"trips": 2}
            )
        )


def test_numpy_and_pandas_columns_with_text_numbers_json_and_nulls(engine: Engine) -> None:
    _feed(engine)
    with engine.begin() as connection:
        count = insert_columns(
            connection,
            transit_trips,
            {
                "feed_id": ["f", "f"],
                "trip_id": pd.Series(["T1", "T2"], dtype="str"),
                "route_id": np.array(["R1", "R1"], dtype=object),
                "service_id": ["WK", "WK"],
                "direction_id": [0, None],
                "block_id": pd.Series(["B1", None], dtype="str"),  # a missing text is NULL
                "shape_id": [None, None],
                "stops": np.array([4, 2], dtype=np.int64),
                "distance_km": np.array([3.25, 1.5]),
                "distance_method": ["stops", "shape"],
                "first_departure": np.array([28800, 90000], dtype=np.int64),
                "last_arrival": np.array([29160, 90300], dtype=np.int64),
                "runs": [1, 3],
                "starts": [None, [90000, 90600, 91200]],
            },
        )
    assert count == 2
    with engine.connect() as connection:
        rows = connection.execute(select(transit_trips).order_by(transit_trips.c.trip_id)).mappings().all()
    assert [dict(r) for r in rows] == [
        {
            "feed_id": "f",
            "trip_id": "T1",
            "route_id": "R1",
            "service_id": "WK",
            "direction_id": 0,
            "block_id": "B1",
            "shape_id": None,
            "stops": 4,
            "distance_km": 3.25,
            "distance_method": "stops",
            "first_departure": 28800,
            "last_arrival": 29160,
            "runs": 1,
            "starts": None,
        },
        {
            "feed_id": "f",
            "trip_id": "T2",
            "route_id": "R1",
            "service_id": "WK",
            "direction_id": None,
            "block_id": None,
            "shape_id": None,
            "stops": 2,
            "distance_km": 1.5,
            "distance_method": "shape",
            "first_departure": 90000,
            "last_arrival": 90300,
            "runs": 3,
            "starts": [90000, 90600, 91200],
        },
    ]


def test_dates_are_stored_as_the_store_reads_and_compares_them(engine: Engine) -> None:
    _feed(engine)
    days = [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 12)]
    with engine.begin() as connection:
        insert_columns(
            connection, transit_service_days, {"feed_id": ["f"] * 3, "service_id": ["WK"] * 3, "day": days}
        )
    with engine.connect() as connection:
        found = connection.execute(
            select(transit_service_days.c.day).where(transit_service_days.c.day <= date(2026, 1, 6))
        ).scalars()
        assert sorted(found) == days[:2]


def test_nothing_to_insert_and_columns_of_different_lengths(engine: Engine) -> None:
    _feed(engine)
    with engine.begin() as connection:
        assert (
            insert_columns(connection, transit_service_days, {"feed_id": [], "service_id": [], "day": []})
            == 0
        )
        with pytest.raises(ValueError, match="different lengths"):
            insert_columns(connection, transit_service_days, {"feed_id": ["f"], "service_id": [], "day": []})
