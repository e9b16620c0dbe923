"""The assessment engine: hourly values in, the statistics of a calendar year and the verdicts out.

Pure: pandas and numpy in, dataclasses out; no store, no HTTP (the service feeds it, tests feed it
hand-made series). Every step is one vectorised operation over the whole year, so that a year of
hourly values of many stations costs array operations, not Python loops:

1. **Hours.** A value is the mean of an averaging interval shorter than or equal to an hour; an hour
   is valid when it holds at least `hour_fraction` (75 %) of the values it can hold
   (`values_per_hour`: 1 for hourly means, 6 for 10-minute values), and its value is their mean.
2. **The calendar** is that of the agency: local standard time all year (the offset of the city's
   zone without daylight saving time, UTC+1 for Central Europe), each value labelled by the end of
   its interval. A year's hours are a fixed grid of 8,760 (8,784) hours, a day 24 of them.
3. **Days.** A daily mean is valid with at least `day_hours` (18) valid hours.
4. **Maximum daily 8-hour mean** (ozone): running 8-hour means, each valid with at least
   `eight_hour_hours` (6) valid hours and assigned to the day on which it ends (the first of a day
   is 17:00 of the day before to 01:00), the day's maximum valid with `max8h_windows` (18) valid
   means.
5. **Year.** The annual mean is the mean of the valid hours (of the valid days for daily series),
   valid with `year_fraction` (90 %) of them. An exceedance count is final when the year's data
   capture is met, or when it already exceeds the permitted number (exceedances found are found);
   otherwise the verdict is "insufficient data" and the count is only a lower bound. For ozone, a
   year counts with valid daily maxima on `ozone_month_days` (27) days in at least
   `ozone_summer_months` (5) of the months April to September.

The rules come from `standards.py` (the TOML files name the annex of each). A value "exceeds" a
level when it is greater than the level ("not to be exceeded"); values are not rounded first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from urbantwin.air.standards import Capture, IndexBands, LimitValue, Standard

Verdict = Literal["met", "exceeded", "insufficient_data", "no_data"]
HOUR = timedelta(hours=1)
#: Hours before a year that its first 8-hour means reach back to (17:00 of 31 December, previous year).
LEAD_HOURS = 7
SUMMER_MONTHS = (4, 5, 6, 7, 8, 9)


# --- hours ------------------------------------------------------------------------------------


def hourly_from_values(times: pd.DatetimeIndex, values: np.ndarray) -> pd.DataFrame:
    """Values of intervals of an hour or less (indexed by the UTC start of each) as the `mean` and
    `count` of each UTC hour they fall into: what the time-series rollups answer for a Datastream."""
    frame = pd.DataFrame({"value": np.asarray(values, dtype="float64")}, index=times.tz_convert(UTC))
    frame = frame[np.isfinite(frame["value"])]
    grouped = frame.groupby(frame.index.floor("h"))["value"]
    return pd.DataFrame({"mean": grouped.mean(), "count": grouped.count()})


def valid_hours(hourly: pd.DataFrame, values_per_hour: int, capture: Capture) -> pd.Series:
    """The hourly means of the valid hours (those with `hour_fraction` of their values), indexed by
    the UTC start of the hour; the others are left out."""
    needed = max(1, math.ceil(capture.hour_fraction * values_per_hour - 1e-9))
    if hourly.empty:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz=UTC))
    kept = hourly[(hourly["count"] >= needed) & np.isfinite(hourly["mean"])]
    return kept["mean"].astype("float64")


# --- the calendar -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """The hours of one calendar year in local standard time (`offset` east of UTC)."""

    year: int
    offset: timedelta

    @property
    def start(self) -> datetime:
        """The year's first instant, in UTC."""
        return datetime(self.year, 1, 1, tzinfo=UTC) - self.offset

    @property
    def days(self) -> int:
        return (date(self.year + 1, 1, 1) - date(self.year, 1, 1)).days

    @property
    def hours(self) -> int:
        return self.days * 24

    def grid(self, lead: int = 0) -> pd.DatetimeIndex:
        """The UTC starts of the year's hours, `lead` hours of the year before first."""
        return pd.date_range(self.start - lead * HOUR, periods=self.hours + lead, freq="h", tz=UTC)

    def dates(self) -> pd.DatetimeIndex:
        return pd.date_range(datetime(self.year, 1, 1), periods=self.days, freq="D")


def standard_offset(zone: object, year: int) -> timedelta:
    """The offset of local standard time of a `zoneinfo` zone in `year` (without daylight saving)."""
    from zoneinfo import ZoneInfo

    if not isinstance(zone, ZoneInfo):
        raise TypeError("zone: a zoneinfo.ZoneInfo")
    moment = datetime(year, 1, 15, 12)
    offset = zone.utcoffset(moment) or timedelta(0)
    dst = zone.dst(moment) or timedelta(0)
    return offset - dst


# --- a year's statistics ------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """How many of the possible values of a statistic are valid, against the share required."""

    valid: int
    possible: int
    required: float

    @property
    def fraction(self) -> float:
        return self.valid / self.possible if self.possible else 0.0

    @property
    def sufficient(self) -> bool:
        return self.possible > 0 and self.valid >= self.required * self.possible - 1e-9


@dataclass(frozen=True)
class YearStatistics:
    """What the standards are checked against, for one pollutant at one station in one year.

    `hours`: the valid hourly means on the year's grid (NaN where not valid), None for daily series;
    `days`: the valid daily means by local standard date (NaN where not valid); `max8h`: the valid
    maximum daily 8-hour means (None for daily series). Coverage says how many are valid."""

    year: int
    offset: timedelta
    hours: pd.Series | None
    days: pd.Series
    max8h: pd.Series | None
    hour_coverage: Coverage | None
    day_coverage: Coverage
    max8h_coverage: Coverage | None
    #: Whether the ozone season rule holds (valid daily maxima in 5 of the 6 summer months).
    ozone_year_valid: bool
    annual_mean: float | None
    annual_mean_sufficient: bool


def year_statistics(
    hours: pd.Series | None,
    year: int,
    offset: timedelta,
    capture: Capture,
    daily: pd.Series | None = None,
) -> YearStatistics:
    """The year's statistics from valid hourly means (`valid_hours`, UTC index), or from daily means
    (`daily`, indexed by local standard date) when the series has no hourly values."""
    calendar = Calendar(year, offset)
    dates = calendar.dates()
    if hours is None:
        if daily is None:
            raise ValueError("hours or daily values are needed")
        day_values = daily.astype("float64").reindex(dates)
        day_values.index.name = "date"
        valid = int(day_values.notna().sum())
        coverage = Coverage(valid, calendar.days, capture.year_fraction)
        mean = float(day_values.mean()) if coverage.sufficient else None
        return YearStatistics(
            year, offset, None, day_values, None, None, coverage, None, False, mean, coverage.sufficient
        )
    grid = calendar.grid(LEAD_HOURS)
    values = hours.reindex(grid).to_numpy(dtype="float64")
    year_values = values[LEAD_HOURS:]
    present = ~np.isnan(year_values)
    hour_coverage = Coverage(int(present.sum()), calendar.hours, capture.year_fraction)

    by_day = year_values.reshape(calendar.days, 24)
    day_counts = present.reshape(calendar.days, 24).sum(axis=1)
    day_sums = np.nansum(by_day, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        day_means = np.where(day_counts >= capture.day_hours, day_sums / day_counts, np.nan)
    days = pd.Series(day_means, index=dates, name="day")
    day_coverage = Coverage(int(np.count_nonzero(~np.isnan(day_means))), calendar.days, capture.year_fraction)

    # Running 8-hour means ending with each hour of the year, from cumulative sums (one pass).
    filled = np.nan_to_num(values, nan=0.0)
    sums = np.concatenate(([0.0], np.cumsum(filled)))
    counts = np.concatenate(([0], np.cumsum(~np.isnan(values))))
    window_sums = sums[8:] - sums[:-8]
    window_counts = counts[8:] - counts[:-8]
    with np.errstate(invalid="ignore", divide="ignore"):
        eight = np.where(window_counts >= capture.eight_hour_hours, window_sums / window_counts, np.nan)
    eight_by_day = eight.reshape(calendar.days, 24)
    windows = (~np.isnan(eight_by_day)).sum(axis=1)
    maxima = np.where(np.isnan(eight_by_day), -np.inf, eight_by_day).max(axis=1)
    max8h_values = np.where(windows >= capture.max8h_windows, maxima, np.nan)
    max8h = pd.Series(max8h_values, index=dates, name="max8h")
    max8h_coverage = Coverage(
        int(np.count_nonzero(~np.isnan(max8h_values))), calendar.days, capture.year_fraction
    )
    monthly = max8h.notna().groupby(max8h.index.month).sum()
    summer_months = sum(int(monthly.get(month, 0)) >= capture.ozone_month_days for month in SUMMER_MONTHS)

    mean = float(np.nanmean(year_values)) if hour_coverage.sufficient else None
    return YearStatistics(
        year,
        offset,
        pd.Series(year_values, index=grid[LEAD_HOURS:], name="hour"),
        days,
        max8h,
        hour_coverage,
        day_coverage,
        max8h_coverage,
        summer_months >= capture.ozone_summer_months,
        mean,
        hour_coverage.sufficient,
    )


# --- checks against a standard ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """An averaging period: its UTC bounds, and its end in local standard time (the agency's label)."""

    start_utc: datetime
    end_utc: datetime
    offset: timedelta

    @property
    def end_local(self) -> datetime:
        from datetime import timezone

        return self.end_utc.astimezone(timezone(self.offset))


@dataclass(frozen=True)
class Check:
    """One value of one standard checked against one year: the statistic, the count, the verdict."""

    standard: str
    value: LimitValue
    year: int
    verdict: Verdict
    coverage: Coverage | None
    #: The annual mean (statistic "year"), only where its data capture is met.
    annual_mean: float | None = None
    #: Exceedances found (a lower bound where the verdict is "insufficient_data").
    exceedances: int | None = None
    #: The exceedances averaged over the valid years (the ozone target value), and those years.
    averaged: float | None = None
    years: tuple[int, ...] = ()
    periods: tuple[Period, ...] = ()


def _periods(moments: pd.Index, length: timedelta, offset: timedelta, daily: bool) -> tuple[Period, ...]:
    out = []
    for moment in moments:
        start = (moment.to_pydatetime().replace(tzinfo=UTC) - offset) if daily else moment.to_pydatetime()
        out.append(Period(start, start + length, offset))
    return tuple(out)


def _counted(value: LimitValue, series: pd.Series) -> pd.Series:
    return series[series > value.level]


def check(standard: Standard, value: LimitValue, statistics: dict[int, YearStatistics], year: int) -> Check:
    """Check `value` of `standard` for `year`; `statistics` holds that year (and, for values
    averaged over several years, the years before it where there are data)."""
    current = statistics.get(year)
    if current is None:
        return Check(standard.id, value, year, "no_data", None)
    if value.statistic == "year":
        coverage = current.hour_coverage or current.day_coverage
        if coverage.valid == 0:
            return Check(standard.id, value, year, "no_data", coverage)
        if current.annual_mean is None:
            return Check(standard.id, value, year, "insufficient_data", coverage)
        verdict: Verdict = "exceeded" if current.annual_mean > value.level else "met"
        return Check(standard.id, value, year, verdict, coverage, annual_mean=current.annual_mean)
    if value.statistic == "hour":
        if current.hours is None or current.hour_coverage is None:
            return Check(standard.id, value, year, "no_data", None)
        over = _counted(value, current.hours.dropna())
        periods = _periods(over.index, HOUR, current.offset, daily=False)
        return _counted_check(standard, value, year, current.hour_coverage, len(over), periods)
    if value.statistic == "day":
        over = _counted(value, current.days.dropna())
        periods = _periods(over.index, timedelta(days=1), current.offset, daily=True)
        return _counted_check(standard, value, year, current.day_coverage, len(over), periods)
    # max8h: days whose maximum 8-hour mean exceeds the level, averaged over years for target values.
    if current.max8h is None or current.max8h_coverage is None:
        return Check(standard.id, value, year, "no_data", None)
    over = _counted(value, current.max8h.dropna())
    periods = _periods(over.index, timedelta(days=1), current.offset, daily=True)
    if value.averaged_years <= 1:
        coverage = current.max8h_coverage
        if coverage.valid == 0:
            return Check(standard.id, value, year, "no_data", coverage, exceedances=0)
        permitted = value.permitted or 0
        verdict = (
            "exceeded"
            if len(over) > permitted
            else ("met" if current.ozone_year_valid else "insufficient_data")
        )
        return Check(standard.id, value, year, verdict, coverage, exceedances=len(over), periods=periods)
    years = tuple(
        y
        for y in range(year - value.averaged_years + 1, year + 1)
        if y in statistics and statistics[y].ozone_year_valid
    )
    coverage = current.max8h_coverage
    if not years:
        verdict = "no_data" if coverage.valid == 0 else "insufficient_data"
        return Check(standard.id, value, year, verdict, coverage, exceedances=len(over), periods=periods)
    counts = [_days_over(statistics[y].max8h, value.level) for y in years]
    averaged = sum(counts) / len(counts)
    verdict = "exceeded" if averaged > (value.permitted or 0) else "met"
    return Check(
        standard.id,
        value,
        year,
        verdict,
        coverage,
        exceedances=len(over),
        averaged=averaged,
        years=years,
        periods=periods,
    )


def _days_over(series: pd.Series | None, level: float) -> int:
    return 0 if series is None else int(np.count_nonzero(series.to_numpy() > level))


def _counted_check(
    standard: Standard,
    value: LimitValue,
    year: int,
    coverage: Coverage,
    found: int,
    periods: tuple[Period, ...],
) -> Check:
    permitted = value.permitted or 0
    if coverage.valid == 0:
        verdict: Verdict = "no_data"
    elif found > permitted:
        verdict = "exceeded"  # the exceedances found already break the value, whatever is missing
    elif coverage.sufficient:
        verdict = "met"
    else:
        verdict = "insufficient_data"
    return Check(standard.id, value, year, verdict, coverage, exceedances=found, periods=periods)


def assess(
    standard: Standard, pollutant: str, statistics: dict[int, YearStatistics], year: int
) -> list[Check]:
    """Every value of `standard` for `pollutant`, checked for `year`."""
    return [check(standard, value, statistics, year) for value in standard.of(pollutant)]


# --- the European Air Quality Index -------------------------------------------------------------


def index_table(series: dict[str, pd.Series], hours: pd.DatetimeIndex, bands: IndexBands) -> pd.DataFrame:
    """The European Air Quality Index of each hour of `hours` (UTC starts): per pollutant the
    concentration the index classifies (the hourly mean; for PM the running 24-hour mean with at
    least `pm_running_min_hours` valid hours) and its band (0 = good … 5 = extremely poor, -1 where
    there is no valid value), and the station's band, the worst of its pollutants (-1: none).

    `series`: valid hourly means by pollutant code (UTC index); for PM they must reach back
    `pm_running_hours - 1` hours before the first of `hours` to classify it."""
    table = pd.DataFrame(index=hours)
    worst = np.full(len(hours), -1, dtype="int64")
    for pollutant, values in series.items():
        if pollutant not in bands.upper:
            continue
        if pollutant in ("pm10", "pm25"):
            span = bands.pm_running_hours
            grid = (
                pd.date_range(hours[0] - (span - 1) * HOUR, hours[-1], freq="h", tz=UTC)
                if len(hours)
                else hours
            )
            running = values.reindex(grid).rolling(span, min_periods=bands.pm_running_min_hours).mean()
            concentration = running.reindex(hours).to_numpy(dtype="float64")
        else:
            concentration = values.reindex(hours).to_numpy(dtype="float64")
        upper = np.asarray(bands.upper[pollutant])
        band = np.searchsorted(upper, concentration, side="left").astype("int64")
        band = np.where(np.isnan(concentration), -1, band)
        table[f"{pollutant}_value"] = concentration
        table[f"{pollutant}_band"] = band
        worst = np.maximum(worst, band)
    table["band"] = worst
    return table
