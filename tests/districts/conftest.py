"""A small synthetic city for the district tests, laid out in ETRS89 / UTM 33N metres so that every
figure can be computed by hand (clearly synthetic: districts `west` and `east`, stops `S0`…).

Two districts side by side, each 1 km × 1 km (1 km²) with its south-west corner at (X0, Y0) and
(X0 + 1000, Y0):

- residents: west 1,000 (2020) and 1,200 (2024); east 2,000 (2020) and 1,800 (2024);
- buildings, in the west only: A (100 m × 100 m, 2 levels, centre 200 m from stop S1), B (100 m ×
  100 m, 6 m high: 2 storeys, 721 m from S1), C (10 m × 10 m, neither levels nor height);
- street trees: the four outer corners of the two districts, and one more in the west;
- EV charging points: one in each district; WLAN sites: two in the east;
- a GTFS feed with one tram line S0 – S1 – S2, every 10 minutes each way from 06:00 to 19:50: S1,
  in the west, has 168 departures between 06:00 and 20:00 (12 an hour; an interval of
  840 / (168 / 2) = 10 minutes: category III for a tram), S0 and S2 lie 5 km away;
- and a third district, `far/away` (an id with a slash), 50 km east, without residents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely
from pyproj import CRS, Transformer
from sqlalchemy import Engine

from tests.transit.conftest import write_feed
from urbantwin.city_profile import parse_profile
from urbantwin.ingest.pipeline import CollectionInfo, Source, build_rows, store_rows
from urbantwin.store.city import write_profile
from urbantwin.store.engine import for_writes
from urbantwin.transit.gtfs_import import import_gtfs

UTM = CRS.from_epsg(25833)
X0, Y0 = 400_000.0, 5_760_000.0
TO_WGS84 = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)

PROFILE = {
    "id": "synthetic",
    "name": "Synthetic City",
    "crs": ["EPSG:25833"],
    "districts": [
        {"collection": "quarters", "name_property": "title", "population_property": "people_{year}"},
    ],
}


def box(x: float, y: float, width: float, height: float | None = None) -> shapely.Polygon:
    return shapely.box(X0 + x, Y0 + y, X0 + x + width, Y0 + y + (height if height is not None else width))


def point(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = TO_WGS84.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def store(
    engine: Engine, collection: str, keywords: list[str], items: list[tuple[str, object, dict]]
) -> None:
    """A collection of the features (key, geometry in UTM 33N, properties; `height` → the height)."""
    sources = [
        Source(n, key, geometry, dict(properties), height=properties.get("height"))
        for n, (key, geometry, properties) in enumerate(items)
    ]
    rows = build_rows(Path(f"{collection}.synthetic"), sources, UTM)
    info = CollectionInfo(collection, f"Synthetic {collection}", keywords=keywords)
    store_rows(engine, rows, info, "EPSG:25833", progress=False)


def store_dated(
    engine: Engine, collection: str, keywords: list[str], items: list[tuple[str, object, dict]]
) -> None:
    """As `store`, each feature valid from its `built` property (an ISO date) to its `gone` one
    (the store's `valid_from`/`valid_to`; absent: open)."""

    def prepare(properties: dict) -> tuple[dict, float | None, datetime | None, datetime | None]:
        def when(name: str) -> datetime | None:
            value = properties.get(name)
            return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None

        return properties, properties.get("height"), when("built"), when("gone")

    sources = [
        Source(n, key, geometry, dict(properties)) for n, (key, geometry, properties) in enumerate(items)
    ]
    rows = build_rows(Path(f"{collection}.synthetic"), sources, UTM, prepare)
    info = CollectionInfo(collection, f"Synthetic {collection}", keywords=keywords)
    store_rows(engine, rows, info, "EPSG:25833", progress=False)


#: Stop S1 of the feed, in the west; S0 and S2 lie 5 km south-west and south-east.
STOPS = {"S0": (-4000.0, -3000.0), "S1": (200.0, 900.0), "S2": (6000.0, -3000.0)}


def tram_feed(path: Path) -> Path:
    stops = "stop_id,stop_name,stop_lat,stop_lon\n" + "".join(
        f"{stop},Stop {stop},{lonlat(*xy)[1]},{lonlat(*xy)[0]}\n" for stop, xy in STOPS.items()
    )
    trips = ["route_id,service_id,trip_id,direction_id"]
    times = ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    for n in range(84):  # 06:00, 06:10, … 19:50
        start = 6 * 3600 + n * 600
        for direction, order in ((0, ["S0", "S1", "S2"]), (1, ["S2", "S1", "S0"])):
            trip = f"T{direction}-{n}"
            trips.append(f"R1,WK,{trip},{direction}")
            for sequence, stop in enumerate(order):
                at = start + sequence * 300
                clock = f"{at // 3600:02d}:{at % 3600 // 60:02d}:00"
                times.append(f"{trip},{clock},{clock},{stop},{sequence + 1}")
    return write_feed(
        path,
        stops_txt=stops,
        routes_txt="route_id,route_short_name,route_long_name,route_type\nR1,1,Synthetic tram,0\n",
        trips_txt="\n".join(trips) + "\n",
        stop_times_txt="\n".join(times) + "\n",
    )


@dataclass(frozen=True)
class City:
    engine: Engine


@pytest.fixture
def city(engine: Engine, tmp_path: Path) -> Iterator[City]:
    with for_writes(engine).begin() as connection:
        write_profile(connection, parse_profile(PROFILE))
    store(
        engine,
        "quarters",
        ["districts"],
        [
            ("west", box(0, 0, 1000), {"title": "West", "people_2020": 1000, "people_2024": 1200}),
            ("east", box(1000, 0, 1000), {"title": "East", "people_2020": 2000, "people_2024": 1800}),
            # a district id with a slash, far from the others (no residents: a profile of its area only)
            ("far/away", box(50_000, 0, 100), {"title": "Far away"}),
        ],
    )
    store(
        engine,
        "houses",
        ["buildings"],
        [
            ("A", box(150, 650, 100), {"building": "apartments", "levels": 2}),
            ("B", box(750, 450, 100), {"building": "yes", "height": 6.0}),
            ("C", box(500, 100, 10), {"building": "garage"}),
        ],
    )
    # the same houses as 3D solids: a second building collection the profiles must not count again
    store(engine, "houses-3d", ["buildings", "3D"], [("A", box(150, 650, 100), {"levels": 2})])
    store(
        engine,
        "trees",
        ["trees"],
        [
            ("t1", point(0.5, 0.5), {}),
            ("t2", point(0.5, 999.5), {}),
            ("t3", point(500, 500), {}),
            ("t4", point(1999.5, 0.5), {}),
            ("t5", point(1999.5, 999.5), {}),
        ],
    )
    store(engine, "chargers", ["charging"], [("c1", point(100, 100), {}), ("c2", point(1900, 900), {})])
    store(engine, "hotspots", ["WLAN"], [("w1", point(1200, 200), {}), ("w2", point(1800, 800), {})])
    import_gtfs(engine, tram_feed(tmp_path / "tram.zip"), feed_id="tram")
    yield City(engine)
