"""Tiny hand-made GTFS feeds (clearly synthetic: stops `S1`…, route `R1`) and the real feeds' paths.

`write_feed` writes a zip from a base feed — one bus route of four stops in a straight line about a
kilometre apart, two trips on a weekday calendar — with any file replaced or added by the test.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from pyproj import Geod

DATA = Path(__file__).parent / "data"
PLZEN = DATA / "plzen_pmdp_2026-02.gtfs.zip"
MADRID = DATA / "madrid_crtm_metro_ligero_2025-11.gtfs.zip"
PFORZHEIM = DATA / "vpe_pforzheim_enzkreis_extract_2024-12.gtfs.zip"

LAT = 50.0
#: Longitudes of S1..S4: a straight line along the parallel, about 1 km between stops.
LONS = [10.0, 10.014, 10.028, 10.042]
GEOD = Geod(ellps="WGS84")


def straight_km(first: int = 0, last: int = 3) -> float:
    """Geodesic length (km) from stop S{first+1} to S{last+1} of the base feed."""
    _, _, metres = GEOD.inv(LONS[first], LAT, LONS[last], LAT)
    return float(metres) / 1000.0


BASE: dict[str, str] = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Synthetic Transit,https://example.org,Europe/Berlin\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\n"
    + "".join(f"S{n + 1},Stop {n + 1},{LAT},{lon}\n" for n, lon in enumerate(LONS)),
    "routes.txt": "route_id,route_short_name,route_long_name,route_type\nR1,1,Synthetic line,3\n",
    "trips.txt": "route_id,service_id,trip_id,direction_id,block_id\nR1,WK,T1,0,B1\nR1,WK,T2,1,B1\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,08:00:00,08:00:00,S1,1\nT1,08:02:00,08:02:00,S2,2\nT1,08:04:00,08:04:00,S3,3\nT1,08:06:00,08:06:00,S4,4\n"
    "T2,08:10:00,08:10:00,S4,1\nT2,08:12:00,08:12:00,S3,2\nT2,08:14:00,08:14:00,S2,3\nT2,08:16:00,08:16:00,S1,4\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\nWK,1,1,1,1,1,0,0,20260105,20260118\n",
}


def write_feed(path: Path, **files: str | None) -> Path:
    """A GTFS zip at `path`: the base feed with `files` (`stop_times_txt="…"`) replaced, added or,
    when None, left out."""
    content = dict(BASE)
    for key, text in files.items():
        name = key.removesuffix("_txt") + ".txt"
        if text is None:
            content.pop(name, None)
        else:
            content[name] = text
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in content.items():
            archive.writestr(name, text)
    return path
