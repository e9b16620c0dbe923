"""The check of air quality forecasts (model data) against measurements, per station, model and
lead time. Pure: pandas in, dataclasses out; the service pairs the days.

**Pairs** are days: a forecast's daily mean and the measured daily mean of the same day. A day is
named by the UTC date of the middle of its interval, so that a forecast of the UTC day and an
agency's daily mean of the local day (which may start two hours earlier) meet; measured hourly
series give the mean of the UTC day's valid hours, with at least 18 of them (the directives' rule
for a daily mean).

**Scores** (the usual ones of forecast verification, e.g. Jolliffe and Stephenson, *Forecast
Verification*, 2nd ed., 2012), with f the forecast and o the measurement of a day:

- bias = mean(f − o); RMSE = √mean((f − o)²); correlation: Pearson's r (none below 3 pairs or
  when either side does not vary);
- exceedance days against a `threshold` (by default the pollutant's daily limit value under
  Directive (EU) 2024/2881; a day exceeds when its mean is greater): hits (both exceed), misses
  (only the measurement), false alarms (only the forecast), correct negatives; the **hit rate**
  hits / (hits + misses) (probability of detection; none without a measured exceedance day) and
  the **false alarm ratio** false alarms / (hits + false alarms) (none without a forecast one).

**Lead time** is the start of the forecast day minus the forecast's resultTime (when it was made),
in whole days; where resultTime is unknown, the Datastream's `properties.lead_time` (e.g. `P1D`)
if given, otherwise the lead time is "unknown" and said to be so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

UNKNOWN_LEAD = "unknown"
#: A measured day needs this many valid hours (as a daily mean under the directives).
DAY_HOURS = 18


@dataclass(frozen=True)
class Scores:
    """The verification of one model's forecasts at one station and lead time."""

    n: int
    bias: float | None
    rmse: float | None
    correlation: float | None
    mean_forecast: float | None
    mean_measured: float | None
    threshold: float
    hits: int
    misses: int
    false_alarms: int
    correct_negatives: int

    @property
    def hit_rate(self) -> float | None:
        observed = self.hits + self.misses
        return self.hits / observed if observed else None

    @property
    def false_alarm_ratio(self) -> float | None:
        forecast = self.hits + self.false_alarms
        return self.false_alarms / forecast if forecast else None


def scores(pairs: pd.DataFrame, threshold: float) -> Scores:
    """Scores of `pairs` (columns `forecast`, `measured`; rows with both)."""
    both = pairs[np.isfinite(pairs["forecast"]) & np.isfinite(pairs["measured"])]
    f = both["forecast"].to_numpy(dtype="float64")
    o = both["measured"].to_numpy(dtype="float64")
    n = len(f)
    correlation = None
    if n >= 3 and float(np.ptp(f)) > 0 and float(np.ptp(o)) > 0:
        correlation = float(np.corrcoef(f, o)[0, 1])
    fx, ox = f > threshold, o > threshold
    return Scores(
        n=n,
        bias=float(np.mean(f - o)) if n else None,
        rmse=math.sqrt(float(np.mean((f - o) ** 2))) if n else None,
        correlation=correlation,
        mean_forecast=float(np.mean(f)) if n else None,
        mean_measured=float(np.mean(o)) if n else None,
        threshold=threshold,
        hits=int(np.sum(fx & ox)),
        misses=int(np.sum(~fx & ox)),
        false_alarms=int(np.sum(fx & ~ox)),
        correct_negatives=int(np.sum(~fx & ~ox)),
    )


def day_of(start: pd.Series, end: pd.Series) -> pd.Series:
    """The UTC date (midnight, naive) of the middle of each interval."""
    middle = start + (end - start) / 2
    return middle.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()


def measured_days_from_hours(hours: pd.Series) -> pd.Series:
    """Daily means (by UTC date) of valid hourly means (UTC start of the hour), days with 18 hours."""
    if hours.empty:
        return pd.Series(dtype="float64")
    days = hours.index.tz_convert("UTC").tz_localize(None).normalize()
    grouped = hours.groupby(days)
    means = grouped.mean()
    return means[grouped.count() >= DAY_HOURS]


def lead_days(start: pd.Series, result_time: pd.Series, declared: str | None) -> pd.Series:
    """The lead time label of each forecast: `"0"`, `"1"`, … days, or the declared or unknown one."""
    fallback = _declared(declared)
    lead = (start - result_time).dt.total_seconds() / 86400.0
    labels = np.where(
        lead.notna().to_numpy(),
        np.floor(lead.fillna(0).to_numpy()).astype("int64").astype(str),
        fallback,
    )
    return pd.Series(labels, index=start.index)


def _declared(declared: str | None) -> str:
    if isinstance(declared, str):
        text = declared.strip().upper()
        if text.startswith("P") and text.endswith("D") and text[1:-1].isdigit():
            return str(int(text[1:-1]))
    return UNKNOWN_LEAD
