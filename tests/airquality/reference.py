"""A plain pandas reference implementation of the assessment's statistics, written the obvious way
(group by local date, a time-based rolling window, group by month), against which the vectorised
engine (`urbantwin.airquality.engine`) is checked on random series (test_reference.py).

It shares nothing with the engine but the rules' numbers, so a mistake in the engine's reshaping,
cumulative sums or calendar shows up as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from urbantwin.airquality.standards import Capture


@dataclass
class ReferenceYear:
    hours: pd.Series  # valid hourly means by local standard time of the hour's *start*
    days: pd.Series  # valid daily means by local date
    max8h: pd.Series  # valid maximum daily 8-hour means by local date
    annual_mean: float | None
    ozone_year_valid: bool


def reference_year(valid: pd.Series, year: int, offset: timedelta, capture: Capture) -> ReferenceYear:
    """`valid`: valid hourly means indexed by the UTC start of their hour."""
    local = valid.copy()
    local.index = valid.index.tz_convert(None) + offset  # local standard time, naive
    first = pd.Timestamp(year, 1, 1)
    last = pd.Timestamp(year + 1, 1, 1)
    in_year = local[(local.index >= first) & (local.index < last)]
    possible_hours = int((last - first) / pd.Timedelta(hours=1))

    grouped = in_year.groupby(in_year.index.normalize())
    counts = grouped.count()
    means = grouped.mean()
    all_days = pd.date_range(first, last - pd.Timedelta(days=1), freq="D")
    days = means.where(counts >= capture.day_hours).reindex(all_days)

    # 8-hour means labelled by the end of their last hour; each belongs to the day it ends on, with
    # the window ending at 24:00 belonging to the day before.
    full = pd.Series(
        np.nan, index=pd.date_range(first - pd.Timedelta(hours=7), last - pd.Timedelta(hours=1), freq="h")
    )
    full.loc[local.index.intersection(full.index)] = local.loc[local.index.intersection(full.index)]
    rolled = full.rolling("8h", min_periods=capture.eight_hour_hours).mean()
    rolled = rolled[rolled.index >= first]  # windows whose last hour starts in the year
    day_of_window = rolled.index.normalize()  # the last hour starts on that local day
    windows = rolled.groupby(day_of_window)
    valid_windows = windows.count()
    max8h = windows.max().where(valid_windows >= capture.max8h_windows).reindex(all_days)

    months = max8h.notna().groupby(max8h.index.month).sum()
    summer = sum(1 for m in range(4, 10) if months.get(m, 0) >= capture.ozone_month_days)

    annual = float(in_year.mean()) if len(in_year) >= capture.year_fraction * possible_hours else None
    return ReferenceYear(in_year, days, max8h, annual, summer >= capture.ozone_summer_months)
