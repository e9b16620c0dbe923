"""The weather the quarter is simulated in: the DWD test reference year (TRY 2010) of its region.

A TRY is a synthetic "typical year" assembled by the Deutscher Wetterdienst from real observations of
a reference period (here 1988–2007) so that its statistics match the long-term climate. The bundled
TRY is region 4 ("Nordostdeutsches Tiefland", station Potsdam), the same station TABULA's German
national climate uses, so heat need (TABULA) and hourly heat and PV profiles (this file) rest on one
climate; `read_try` reads any other region's file. Where the sun stands is computed for the city's
site (`site.py`), not the station's.

The file is fixed-width text; its header (kept in `data/`) documents the columns. Each row is the hour
*ending* at `HH` (1..24) in MEZ (UTC+1, no daylight saving): irradiances are means over that hour,
temperature and wind the values of that hour. The simulation runs on the same clock (UTC+1), so row
`h` of the year covers steps `4h .. 4h+3` of the 15-minute grid; within an hour values are held.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
#: DWD TRY 2010, region 4, "mittleres Jahr" (1988–2007), station Potsdam; see data/SOURCES.md.
TRY_REGION_4 = DATA / "dwd_try2010_region04_potsdam.dat"
#: Hours of a TRY year (TRYs have no 29 February).
HOURS = 8760
#: Potsdam, the TRY 2010 region 4 reference station (file header: 52°23'N, 13°04'E, 81 m).
POTSDAM = (52.383, 13.067, 81.0)


@dataclass(frozen=True)
class Weather:
    """Hourly weather of one year (8,760 values each), on the MEZ (UTC+1) clock."""

    #: Air temperature 2 m above ground [°C].
    temperature: np.ndarray
    #: Direct (beam) irradiance on the horizontal plane [W/m²], mean over the hour.
    direct_horizontal: np.ndarray
    #: Diffuse irradiance on the horizontal plane [W/m²], mean over the hour.
    diffuse_horizontal: np.ndarray
    #: Wind speed 10 m above ground [m/s].
    wind_speed: np.ndarray
    #: Where the data come from, for the outputs' provenance.
    source: str

    @property
    def global_horizontal(self) -> np.ndarray:
        """Global horizontal irradiance [W/m²] = direct + diffuse on the horizontal."""
        return self.direct_horizontal + self.diffuse_horizontal

    def daily_mean_temperature(self) -> np.ndarray:
        """The mean temperature of each day (365 values)."""
        return self.temperature.reshape(-1, 24).mean(axis=1)


def read_try(path: Path | str = TRY_REGION_4) -> Weather:
    """Read a DWD TRY 2010 `.dat` file (the hourly rows after the `***` line)."""
    text = Path(path).read_text(encoding="latin-1").splitlines()
    try:
        start = next(i for i, line in enumerate(text) if line.startswith("***")) + 1
    except StopIteration:
        raise ValueError(f"{path}: not a DWD TRY 2010 file (no '***' line before the data)") from None
    rows = [line.split() for line in text[start:] if line.strip()]
    if len(rows) != HOURS:
        raise ValueError(f"{path}: expected {HOURS} hourly rows, found {len(rows)}")
    table = np.array(rows, dtype=float)
    # Columns: RG IS MM DD HH N WR WG t p x RF W B D IK A E IL
    return Weather(
        temperature=table[:, 8],
        direct_horizontal=np.clip(table[:, 13], 0.0, None),
        diffuse_horizontal=np.clip(table[:, 14], 0.0, None),
        wind_speed=table[:, 7],
        source=f"DWD TRY 2010 ({Path(path).name})",
    )


@lru_cache(maxsize=2)
def region4() -> Weather:
    """The TRY 2010 of region 4 shipped with the package (cached: it does not change)."""
    return read_try(TRY_REGION_4)


def to_steps(hourly: np.ndarray, steps_per_hour: int = 4) -> np.ndarray:
    """Hourly values onto the 15-minute grid, each held for the four quarter-hours of its hour."""
    return np.repeat(np.asarray(hourly, dtype=float), steps_per_hour)
