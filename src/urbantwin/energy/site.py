"""Where a simulated quarter lies, from the city's profile: the sun's reference point, the region
whose public holidays the load profiles keep, and the legal time zone of its calendar.

The energy model names no city: `Site.of(profile)` reads the profile's `site` (else the centre of
its `extent`, an assumption the note says), `region` and `time_zone`. A platform without a profile
(or tests on buildings alone) gets the middle of the simulated buildings, with the profile's
defaults for region and time zone, and a note saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from urbantwin.city_profile import DEFAULT_REGION, DEFAULT_TIME_ZONE, CityProfile


@dataclass(frozen=True)
class Site:
    latitude: float
    longitude: float
    altitude_m: float = 0.0
    #: ISO 3166-2 region (`DE-SN`) or country (`DE`) of the public holidays (`loads.public_holidays`).
    region: str = DEFAULT_REGION
    #: IANA time zone of the city's legal time, in which the BDEW profiles' days and hours run.
    time_zone: str = DEFAULT_TIME_ZONE
    #: Where the point comes from (the outputs carry it).
    note: str = ""

    @property
    def point(self) -> tuple[float, float, float]:
        """(latitude, longitude, altitude m), as pvlib's solar position takes them."""
        return (self.latitude, self.longitude, self.altitude_m)

    @classmethod
    def of(cls, city: CityProfile, records: Sequence[Any] = ()) -> Site:
        """The site of `city`; without a site or extent in its profile, the middle of `records`'
        footprints (objects with a WGS 84 `geometry`), else a ValueError naming what is missing."""
        point = city.site_point()
        note = city.site_note()
        if point is None:
            geometries = [r.geometry for r in records if getattr(r, "geometry", None) is not None]
            if not geometries:
                raise ValueError(
                    "the energy model needs where the city lies (the sun's path): give the city profile "
                    "a site or an extent (`urbantwin city init`), or buildings with footprints"
                )
            centre = shapely.centroid(shapely.GeometryCollection(geometries))
            point = (float(centre.x), float(centre.y), 0.0)
            note = "the middle of the simulated buildings at 0 m (assumed: no site in a city profile)"
        lon, lat, altitude = point
        return cls(lat, lon, altitude, city.region, city.time_zone, note)
