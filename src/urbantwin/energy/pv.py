"""Rooftop PV: specific generation profiles [kWh per kWp and step] with pvlib on the TRY.

The TRY gives direct and diffuse horizontal irradiance as hourly means, for the hour ending at `HH`
MEZ; the sun's position is taken at the middle of that hour. The beam is turned into DNI by the
cosine of the zenith (below 3° elevation it is dropped), transposed onto the module plane with the
Perez model (pvlib), reduced by the incidence-angle modifier of the physical IAM model on the beam
(and 5 % on the diffuse part), and the cell temperature follows the SAPM model — close-mounted for
modules parallel to pitched roofs, open rack for modules racked on flat roofs. DC power is PVWatts'
(with the losses of `PVParams.losses_percent`), AC power PVWatts' inverter model.

Buildings do not get a pvlib run each: their roof planes are binned by azimuth (15° bins from east
through south to west) and every building reads the profile of its bin, so a district needs about
15 pvlib runs, not thousands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pvlib

from urbantwin.energy.scenario import PVParams
from urbantwin.energy.weather import Weather, to_steps

#: Azimuth bins of roof planes [°, 180 = south]: east (90) to west (270) in 15° steps.
AZIMUTH_BIN_DEG = 15.0
MOUNTS = {
    "roof": "close_mount_glass_glass",
    "rack": "open_rack_glass_polymer",
}
#: The reference rooftop system of the yield check: south-facing, 30° tilt, parallel to the roof.
REFERENCE = (30.0, 180.0, "roof")


def azimuth_bin(azimuth: float) -> float:
    """The bin centre of a plane's azimuth, limited to the east..west half facing south."""
    clipped = min(max(azimuth, 90.0), 270.0)
    return 90.0 + AZIMUTH_BIN_DEG * round((clipped - 90.0) / AZIMUTH_BIN_DEG)


@dataclass
class PVModel:
    """Specific generation profiles of module planes, computed once per plane and cached."""

    weather: Weather
    params: PVParams = field(default_factory=PVParams)
    #: (latitude, longitude, altitude m) the sun's position is computed for (`Site.point`).
    site: tuple[float, float, float] = field(kw_only=True)
    year: int = 2025
    _cache: dict[tuple[float, float, str], np.ndarray] = field(default_factory=dict, repr=False)
    _sun: tuple[np.ndarray, ...] | None = field(default=None, repr=False)

    def _solar(self) -> tuple[np.ndarray, ...]:
        if self._sun is None:
            lat, lon, altitude = self.site
            times = pd.date_range(f"{self.year}-01-01 00:30", periods=8760, freq="h", tz="Etc/GMT-1")
            position = pvlib.solarposition.get_solarposition(times, lat, lon, altitude=altitude)
            zenith = position["apparent_zenith"].to_numpy()
            azimuth = position["azimuth"].to_numpy()
            cos_zenith = np.cos(np.radians(zenith))
            direct = self.weather.direct_horizontal
            dni = np.where(zenith < 87.0, direct / np.maximum(cos_zenith, 0.05), 0.0)
            extra = pvlib.irradiance.get_extra_radiation(times).to_numpy()
            airmass = pvlib.atmosphere.get_relative_airmass(zenith)
            self._sun = (zenith, azimuth, dni, extra, airmass)
        return self._sun

    def hourly(self, tilt: float, azimuth: float, mount: str = "roof") -> np.ndarray:
        """AC energy [kWh per kWp] of each TRY hour for a plane (tilt, azimuth [°, 180 = south])."""
        key = (round(tilt, 3), round(azimuth, 3), mount)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        zenith, sun_azimuth, dni, extra, airmass = self._solar()
        w, p = self.weather, self.params
        poa = pvlib.irradiance.get_total_irradiance(
            tilt,
            azimuth,
            zenith,
            sun_azimuth,
            dni,
            w.global_horizontal,
            w.diffuse_horizontal,
            dni_extra=extra,
            airmass=airmass,
            model="perez",
            albedo=p.albedo,
        )
        beam = np.nan_to_num(np.asarray(poa["poa_direct"], dtype=float))
        sky = np.nan_to_num(np.asarray(poa["poa_sky_diffuse"], dtype=float))
        ground = np.nan_to_num(np.asarray(poa["poa_ground_diffuse"], dtype=float))
        total = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
        aoi = pvlib.irradiance.aoi(tilt, azimuth, zenith, sun_azimuth)
        iam = np.nan_to_num(pvlib.iam.physical(aoi))
        effective = beam * iam + 0.95 * (sky + ground)
        model = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][MOUNTS[mount]]
        cell = pvlib.temperature.sapm_cell(total, w.temperature, w.wind_speed, **model)
        dc = pvlib.pvsystem.pvwatts_dc(effective, cell, 1000.0, p.gamma_pdc)
        dc = np.clip(dc * (1.0 - p.losses_percent / 100.0), 0.0, None)
        ac = pvlib.inverter.pvwatts(dc, 1000.0, eta_inv_nom=p.inverter_efficiency)
        kwh = np.clip(np.nan_to_num(np.asarray(ac, dtype=float)), 0.0, None) / 1000.0
        kwh.setflags(write=False)
        self._cache[key] = kwh
        return kwh

    def steps(self, tilt: float, azimuth: float, mount: str = "roof") -> np.ndarray:
        """The plane's generation per 15-minute step [kWh per kWp] (each hour split in four)."""
        return to_steps(self.hourly(tilt, azimuth, mount)) / 4.0

    def specific_yield(self, tilt: float, azimuth: float, mount: str = "roof") -> float:
        """Annual AC energy per kWp [kWh/kWp/a]."""
        return float(self.hourly(tilt, azimuth, mount).sum())

    def reference_yield(self) -> float:
        """The specific yield of the reference rooftop system (south, 30°, roof-parallel)."""
        return self.specific_yield(*REFERENCE)
