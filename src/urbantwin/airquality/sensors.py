"""Checks of low-cost particulate matter sensors: humidity correction, fault flags, co-location
calibration. Pure: pandas and numpy in, dataclasses out (the service reads and writes the store).

**Humidity correction.** Optical (light-scattering) sensors such as the SDS011 or PMS5003 count
particles that have taken up water, so they read high in humid air. The correction is the one
derived from κ-Köhler theory by Crilley et al. (2018), "Evaluation of a low-cost optical particle
counter (Alphasense OPC-N2) for ambient air monitoring", Atmos. Meas. Tech. 11, 709–720,
doi:10.5194/amt-11-709-2018:

    C = 1 + (κ / 1.65) / (1 / a_w − 1),    PM_corrected = PM_raw / C

with the water activity a_w taken as RH / 100 and 1.65 the density of the dry particles relative
to water that Crilley et al. assume. κ (the hygroscopicity parameter of Petters and Kreidenweis,
2007) depends on the aerosol; the default 0.4 is the platform's choice for a mixed continental
aerosol, to be fitted per site (the calibration below absorbs what remains). Above `rh_max`
(95 %) the correction diverges (a_w → 1) and no corrected value is given; a reading without a
humidity reading within `humidity_tolerance` gets none either.

**Fault flags** (each value can carry several; thresholds are parameters, defaults in `Thresholds`):

- `out_of_range`: below `minimum` or above `maximum` (0 and 999.9 µg/m³, the SDS011's range);
- `spike`: a single reading that leaves its neighbours and comes back, by the spike test of the
  Argo quality control manual (test 9): |V₂ − (V₃ + V₁)/2| − |(V₃ − V₁)/2| > `spike_delta`;
- `outlier`: far from its neighbourhood by a Hampel identifier: |x − median| > `outlier_sigmas` ×
  1.4826 × MAD over the centred window `outlier_window`, and by more than `outlier_min_delta`
  (so that a very quiet series does not flag every small step);
- `stuck`: the value does not change (within `stuck_tolerance`) for `stuck_duration` or longer (the
  flat-line test of the US IOOS QARTOD manuals): a sensor frozen on a value;
- `humid`: relative humidity above `rh_max`; `no_humidity`: no humidity reading near it.

Flags are stored as the Observation's `resultQuality`; the raw result is never changed.

**Co-location calibration.** Against the nearest official station measuring the same pollutant
(within `max_distance_m`), hours (or days, for a station with daily means) in which both have a
value are paired, and the reference regressed on the sensor's corrected value by ordinary least
squares, `reference = intercept + slope × corrected` (scipy's `linregress`): the usual linear
calibration of low-cost PM sensors against a co-located reference. The calibration reports its
period, n, R² and the RMSE of the calibrated values against the reference; with fewer than
`min_pairs` pairs there is none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from urbantwin.errors import BadRequest

FLAGS = ("out_of_range", "spike", "outlier", "stuck", "humid", "no_humidity")
#: The flags that make a value unusable (the others only say that it could not be corrected).
FAULTS = frozenset({"out_of_range", "spike", "outlier", "stuck"})
METHOD = "kappa-koehler (Crilley et al. 2018, doi:10.5194/amt-11-709-2018)"
#: The density of dry particles relative to water in the correction (Crilley et al. 2018).
DENSITY_RATIO = 1.65


@dataclass(frozen=True)
class Thresholds:
    """The parameters of the checks, each overridable (by the CLI, the API and the tests)."""

    #: Hygroscopicity parameter κ of the humidity correction.
    kappa: float = 0.4
    #: Relative humidity (%) above which no corrected value is given.
    rh_max: float = 95.0
    #: How far (seconds) a humidity reading may lie from the PM reading it corrects.
    humidity_tolerance: float = 600.0
    #: Plausible range of a reading (µg/m³).
    minimum: float = 0.0
    maximum: float = 999.9
    #: Spike test threshold (µg/m³).
    spike_delta: float = 40.0
    #: Hampel identifier: window (seconds, centred), number of scaled MADs, least distance (µg/m³).
    outlier_window: float = 3600.0
    outlier_sigmas: float = 5.0
    outlier_min_delta: float = 20.0
    #: Flat-line test: how long (seconds) a value may stay within the tolerance (µg/m³).
    stuck_duration: float = 7200.0
    stuck_tolerance: float = 0.0
    #: Calibration: the farthest reference station (metres), the fewest pairs.
    max_distance_m: float = 1500.0
    min_pairs: int = 24

    def document(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def overridden(self, values: dict[str, Any]) -> Thresholds:
        """These thresholds with `values` in place of some (400 naming an unknown or bad one)."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise BadRequest(f"{name}: not a threshold of the sensor checks ({', '.join(known)})")
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise BadRequest(f"{name}: expected a number, got {raw!r}") from None
            if not math.isfinite(value) or value < 0:
                raise BadRequest(f"{name}: expected a finite number of 0 or more, got {raw!r}")
            changes[name] = int(value) if name == "min_pairs" else value
        chosen = replace(self, **changes)
        if chosen.rh_max >= 100:
            raise BadRequest("rh_max: expected a relative humidity below 100 %")
        if chosen.maximum <= chosen.minimum:
            raise BadRequest("maximum: expected a value above minimum")
        return chosen


def is_low_cost(properties: Any) -> bool:
    """Whether a Datastream's properties say it is a low-cost sensor's (`network` sensor.community,
    as its importer writes them, or `low_cost: true`)."""
    if not isinstance(properties, dict):
        return False
    return properties.get("network") == "sensor.community" or properties.get("low_cost") is True


def growth_factor(rh: np.ndarray | float, kappa: float) -> np.ndarray:
    """Crilley et al.'s mass growth factor C at relative humidity `rh` (%); NaN at 100 % or more."""
    water = np.asarray(rh, dtype="float64") / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 + (kappa / DENSITY_RATIO) / (1.0 / water - 1.0)
    return np.where((water >= 0) & (water < 1), factor, np.nan)


def corrected(pm: np.ndarray | float, rh: np.ndarray | float, kappa: float) -> np.ndarray:
    """The humidity-corrected concentration PM / C."""
    return np.asarray(pm, dtype="float64") / growth_factor(rh, kappa)


@dataclass(frozen=True)
class Checked:
    """A sensor's readings with their flags and corrected values, in time order."""

    times: pd.DatetimeIndex
    raw: np.ndarray
    humidity: np.ndarray
    corrected: np.ndarray
    flags: list[list[str]]

    @property
    def usable(self) -> np.ndarray:
        """Readings without a fault and with a corrected value."""
        faulty = np.array([bool(FAULTS.intersection(f)) for f in self.flags], dtype=bool)
        return ~faulty & np.isfinite(self.corrected)

    def counts(self) -> dict[str, int]:
        found = {flag: 0 for flag in FLAGS}
        for item in self.flags:
            for flag in item:
                found[flag] += 1
        return found


def _nanoseconds(times: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(times.tz_convert("UTC").as_unit("ns").asi8, dtype="int64")


def _humidity_at(times: pd.DatetimeIndex, humidity: pd.Series | None, tolerance: float) -> np.ndarray:
    """The humidity reading nearest to each time, NaN where none lies within `tolerance` seconds."""
    out = np.full(len(times), np.nan)
    if humidity is None or len(times) == 0:
        return out
    kept = humidity[np.isfinite(humidity.to_numpy(dtype="float64")) & pd.notna(humidity.index)].sort_index()
    if kept.empty:
        return out
    at = _nanoseconds(pd.DatetimeIndex(kept.index))
    values = kept.to_numpy(dtype="float64")
    wanted = _nanoseconds(times)
    right = np.clip(np.searchsorted(at, wanted), 0, len(at) - 1)
    left = np.clip(right - 1, 0, len(at) - 1)
    nearest = np.where(np.abs(at[left] - wanted) <= np.abs(at[right] - wanted), left, right)
    close = np.abs(at[nearest] - wanted) <= tolerance * 1e9
    out[close] = values[nearest[close]]
    return out


def _spikes(values: np.ndarray, delta: float) -> np.ndarray:
    """Argo test 9 on each reading with a neighbour on both sides."""
    out = np.zeros(len(values), dtype=bool)
    if len(values) < 3:
        return out
    before, here, after = values[:-2], values[1:-1], values[2:]
    test = np.abs(here - (after + before) / 2) - np.abs((after - before) / 2)
    out[1:-1] = test > delta
    return out


def _outliers(series: pd.Series, window: float, sigmas: float, least: float) -> np.ndarray:
    if series.empty:
        return np.zeros(0, dtype=bool)
    span = f"{max(1, int(window))}s"
    # A centred window: the median of the readings within window/2 either side.
    median = series.rolling(span, center=True, min_periods=1).median()
    mad = (series - median).abs().rolling(span, center=True, min_periods=1).median()
    distance = (series - median).abs()
    return ((distance > sigmas * 1.4826 * mad) & (distance > least)).to_numpy()


def _stuck(times: pd.DatetimeIndex, values: np.ndarray, duration: float, tolerance: float) -> np.ndarray:
    """Runs of readings within `tolerance` of the run's first value lasting `duration` or more."""
    out = np.zeros(len(values), dtype=bool)
    start = 0
    seconds = (times - times[0]).total_seconds().to_numpy() if len(times) else np.zeros(0)
    for i in range(1, len(values) + 1):
        if i == len(values) or abs(values[i] - values[start]) > tolerance:
            if seconds[i - 1] - seconds[start] >= duration and i - start >= 2:
                out[start:i] = True
            start = i
    return out


def check(raw: pd.Series, humidity: pd.Series | None, thresholds: Thresholds = Thresholds()) -> Checked:
    """Flag and correct a sensor's readings (`raw`: µg/m³ by UTC time; `humidity`: % by UTC time,
    of the climate sensor beside it, or None)."""
    raw = raw.astype("float64")
    raw = raw[np.isfinite(raw.to_numpy()) & pd.notna(raw.index)]
    raw = raw[~raw.index.duplicated()].sort_index()
    times = pd.DatetimeIndex(raw.index)
    values = raw.to_numpy()
    rh = _humidity_at(times, humidity, thresholds.humidity_tolerance)
    in_range = (values >= thresholds.minimum) & (values <= thresholds.maximum)
    # Spikes and outliers are looked for among the plausible readings only.
    plausible = raw[in_range]
    spike = np.zeros(len(values), dtype=bool)
    outlier = np.zeros(len(values), dtype=bool)
    spike[in_range] = _spikes(plausible.to_numpy(), thresholds.spike_delta)
    outlier[in_range] = _outliers(
        plausible, thresholds.outlier_window, thresholds.outlier_sigmas, thresholds.outlier_min_delta
    )
    stuck = _stuck(times, values, thresholds.stuck_duration, thresholds.stuck_tolerance)
    humid = rh > thresholds.rh_max
    missing = ~np.isfinite(rh)
    fixed = np.where(missing | humid, np.nan, corrected(values, np.where(missing, 0, rh), thresholds.kappa))
    flags: list[list[str]] = []
    for i in range(len(values)):
        item = [
            name
            for name, hit in (
                ("out_of_range", not in_range[i]),
                ("spike", spike[i]),
                ("outlier", outlier[i] and not spike[i]),
                ("stuck", stuck[i]),
                ("humid", humid[i]),
                ("no_humidity", missing[i]),
            )
            if hit
        ]
        flags.append(item)
    return Checked(times, values, rh, fixed, flags)


# --- calibration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """`reference = intercept + slope × corrected`, fitted on `n` pairs of `period`."""

    reference_id: int
    reference_name: str
    distance_m: float
    resolution: str
    start: datetime
    end: datetime
    n: int
    slope: float
    intercept: float
    r2: float
    rmse: float
    rmse_uncalibrated: float

    def apply(self, values: np.ndarray) -> np.ndarray:
        return self.intercept + self.slope * np.asarray(values, dtype="float64")


def fit(pairs: pd.DataFrame) -> tuple[float, float, float, float, float] | None:
    """Slope, intercept, R², RMSE after and before calibration of `pairs` (`sensor`, `reference`);
    None when the sensor does not vary (no line can be fitted)."""
    x = pairs["sensor"].to_numpy(dtype="float64")
    y = pairs["reference"].to_numpy(dtype="float64")
    if len(x) < 2 or float(np.ptp(x)) == 0.0:
        return None
    line = stats.linregress(x, y)
    slope, intercept = float(line.slope), float(line.intercept)
    fitted = intercept + slope * x
    residual = float(np.sum((y - fitted) ** 2))
    r2 = float(line.rvalue) ** 2 if np.isfinite(line.rvalue) else 0.0
    rmse = math.sqrt(residual / len(x))
    before = math.sqrt(float(np.mean((y - x) ** 2)))
    return slope, intercept, r2, rmse, before


def paired(checked: Checked, reference: pd.Series, daily: bool) -> pd.DataFrame:
    """The sensor's usable corrected readings averaged over the reference's periods (UTC hours, or
    24 hours from each daily value's start), beside the reference value; periods with a reference
    value and at least one usable reading (for days: readings in 18 of the 24 hours)."""
    usable = checked.usable
    sensor = pd.Series(checked.corrected[usable], index=checked.times[usable])
    if sensor.empty or reference.empty:
        return pd.DataFrame({"sensor": [], "reference": []}, dtype="float64")
    hourly = sensor.groupby(sensor.index.floor("h")).mean()
    if not daily:
        frame = pd.DataFrame({"sensor": hourly}).join(pd.DataFrame({"reference": reference}), how="inner")
        return frame.dropna()
    rows = []
    for start, value in reference.items():
        window = hourly[(hourly.index >= start) & (hourly.index < start + timedelta(hours=24))]
        if len(window) >= 18 and np.isfinite(value):
            rows.append((start, float(window.mean()), float(value)))
    return pd.DataFrame(rows, columns=["start", "sensor", "reference"]).set_index("start")


def calibrate(
    checked: Checked,
    reference: pd.Series,
    *,
    daily: bool,
    reference_id: int,
    reference_name: str,
    distance_m: float,
    thresholds: Thresholds = Thresholds(),
) -> Calibration | None:
    """The co-location calibration against a reference series (None: too few pairs)."""
    pairs = paired(checked, reference, daily)
    if len(pairs) < thresholds.min_pairs:
        return None
    fitted = fit(pairs)
    if fitted is None:
        return None
    slope, intercept, r2, rmse, before = fitted
    step = timedelta(hours=24 if daily else 1)
    return Calibration(
        reference_id=reference_id,
        reference_name=reference_name,
        distance_m=round(distance_m, 1),
        resolution="P1D" if daily else "PT1H",
        start=pairs.index.min().to_pydatetime(),
        end=(pairs.index.max() + step).to_pydatetime(),
        n=len(pairs),
        slope=slope,
        intercept=intercept,
        r2=r2,
        rmse=rmse,
        rmse_uncalibrated=before,
    )
