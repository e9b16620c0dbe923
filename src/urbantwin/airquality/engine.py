"""The assessment engine: hourly values in, the statistics of a calendar year and the verdicts out.

Pure: pandas and numpy in, dataclasses out; no store, no HTTP (the service feeds it, tests feed it
hand-made series). Every step is one vectorised operation over the whole year and over many series
at once (`valid_means`, `year_statistics_of`: a (series × hours) array, NaN where an hour is not
valid), so that a year of hourly values of a thousand stations costs a few hundred array
operations, not a DataFrame or a Python loop per series (`year_statistics` is the same on one row):

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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache, cached_property
from typing import Literal

import numpy as np
import pandas as pd

from urbantwin.airquality.standards import Capture, IndexBands, LimitValue, Standard

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

    Arrays on the year's grid, NaN where not valid: `hour_values` (8,760 or 8,784 valid hourly
    means; None for daily series), `day_values` (valid daily means), `max8h_values` (valid maximum
    daily 8-hour means; None for daily series). `hours`, `days` and `max8h` are the same as pandas
    Series (UTC hour starts; local standard dates), made when asked for. Coverage says how many are
    valid."""

    year: int
    offset: timedelta
    hour_values: np.ndarray | None
    day_values: np.ndarray
    max8h_values: np.ndarray | None
    hour_coverage: Coverage | None
    day_coverage: Coverage
    max8h_coverage: Coverage | None
    #: Whether the ozone season rule holds (valid daily maxima in 5 of the 6 summer months).
    ozone_year_valid: bool
    annual_mean: float | None
    annual_mean_sufficient: bool

    @property
    def calendar(self) -> Calendar:
        return Calendar(self.year, self.offset)

    @cached_property
    def hours(self) -> pd.Series | None:
        if self.hour_values is None:
            return None
        return pd.Series(self.hour_values, index=self.calendar.grid(), name="hour")

    @cached_property
    def days(self) -> pd.Series:
        return pd.Series(self.day_values, index=self.calendar.dates(), name="day")

    @cached_property
    def max8h(self) -> pd.Series | None:
        if self.max8h_values is None:
            return None
        return pd.Series(self.max8h_values, index=self.calendar.dates(), name="max8h")


_HOUR_NS = 3_600_000_000_000
_DAY_NS = 24 * _HOUR_NS


@cache
def _summer_day_months(year: int) -> np.ndarray:
    """The month of each day of `year` (1–12)."""
    return Calendar(year, timedelta(0)).dates().month.to_numpy()


def _on_grid(series: pd.Series, first: datetime, length: int, step_ns: int) -> np.ndarray:
    """`series` placed on a grid of `length` steps from `first` (NaN where it has no value); values
    off the grid's steps or outside it are left out. Positions by integer arithmetic on the index
    (no reindexing: the grid is regular)."""
    out = np.full(length, np.nan)
    if series.empty:
        return out
    index = pd.DatetimeIndex(series.index)
    origin = pd.Timestamp(first)
    if index.tz is None:
        origin = origin.tz_localize(None) if origin.tz is not None else origin
    elif origin.tz is None:
        origin = origin.tz_localize(UTC)
    offsets = index.as_unit("ns").asi8 - origin.as_unit("ns").value
    positions = offsets // step_ns
    keep = (offsets % step_ns == 0) & (positions >= 0) & (positions < length)
    out[positions[keep]] = series.to_numpy(dtype="float64")[keep]
    return out


def valid_means(
    counts: np.ndarray, means: np.ndarray, values_per_hour: int | np.ndarray, capture: Capture
) -> np.ndarray:
    """The means of the valid hours (those with `hour_fraction` of their values), NaN elsewhere: the
    matrix form of `valid_hours`. `counts` and `means` are (series × hours) arrays on one grid of
    hours, `values_per_hour` one number or one per series."""
    per_hour = np.asarray(values_per_hour, dtype="float64")
    needed = np.maximum(1.0, np.ceil(capture.hour_fraction * per_hour - 1e-9))
    if needed.ndim == 1:
        needed = needed[:, None]
    with np.errstate(invalid="ignore"):
        kept = (counts >= needed) & np.isfinite(means)
    return np.where(kept, means, np.nan)


#: Series whose statistics are computed in one pass of array operations: bounds the temporaries
#: (a dozen arrays of rows × 8,791 hours) to a few MB each, whatever the batch the caller hands in.
CHUNK_SERIES = 16


def year_statistics_of(
    values: np.ndarray, year: int, offset: timedelta, capture: Capture
) -> list[YearStatistics]:
    """The statistics of `year` of many series at once, one per row of `values`: valid hourly means
    (NaN where not valid; `valid_means`) on the year's grid of hours and the `LEAD_HOURS` before it
    (`Calendar(year, offset).grid(LEAD_HOURS)`), a (series × (hours + 7)) array. Every step is an
    array operation along the station axis (module docstring); rows are taken `CHUNK_SERIES` at a
    time."""
    calendar = Calendar(year, offset)
    values = np.asarray(values, dtype="float64")
    if values.ndim != 2 or values.shape[1] != calendar.hours + LEAD_HOURS:
        raise ValueError(f"values: (series × {calendar.hours + LEAD_HOURS}) hours expected for {year}")
    out: list[YearStatistics] = []
    for low in range(0, values.shape[0], CHUNK_SERIES):
        out.extend(_chunk_statistics(values[low : low + CHUNK_SERIES], calendar, capture))
    return out


def _chunk_statistics(values: np.ndarray, calendar: Calendar, capture: Capture) -> list[YearStatistics]:
    rows, days = values.shape[0], calendar.days
    held = ~np.isnan(values)
    filled = np.where(held, values, 0.0)  # as np.nansum and np.nanmean take them
    year_values, present = values[:, LEAD_HOURS:], held[:, LEAD_HOURS:]
    hour_valid = present.sum(axis=1)
    # The annual mean as `np.nanmean` computes it: NaN as 0, summed along the row, by the count.
    totals = filled[:, LEAD_HOURS:].sum(axis=1)

    day_counts = present.reshape(rows, days, 24).sum(axis=2)
    day_sums = filled[:, LEAD_HOURS:].reshape(rows, days, 24).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        day_means = np.where(day_counts >= capture.day_hours, day_sums / day_counts, np.nan)
    day_valid = np.count_nonzero(day_counts >= capture.day_hours, axis=1)

    # Running 8-hour means ending with each hour of the year, from cumulative sums along each row.
    sums = np.zeros((rows, values.shape[1] + 1))
    np.cumsum(filled, axis=1, out=sums[:, 1:])
    counts = np.zeros((rows, values.shape[1] + 1), dtype="int32")
    np.cumsum(held, axis=1, dtype="int32", out=counts[:, 1:])
    window_sums = sums[:, 8:] - sums[:, :-8]
    window_counts = counts[:, 8:] - counts[:, :-8]
    with np.errstate(invalid="ignore", divide="ignore"):
        eight = np.where(window_counts >= capture.eight_hour_hours, window_sums / window_counts, np.nan)
    eight_by_day = eight.reshape(rows, days, 24)
    windows = (window_counts >= capture.eight_hour_hours).reshape(rows, days, 24).sum(axis=2)
    # The largest valid mean of each day (fmax passes over NaN; all NaN only where no window is).
    maxima = np.fmax.reduce(eight_by_day, axis=2)
    valid_max = windows >= capture.max8h_windows
    max8h_values = np.where(valid_max, maxima, np.nan)
    max8h_valid = valid_max.sum(axis=1)
    months = _summer_day_months(calendar.year)
    summer_months = sum(
        (valid_max[:, months == month].sum(axis=1) >= capture.ozone_month_days).astype("int64")
        for month in SUMMER_MONTHS
    )

    out = []
    for k in range(rows):
        hour_coverage = Coverage(int(hour_valid[k]), calendar.hours, capture.year_fraction)
        out.append(
            YearStatistics(
                calendar.year,
                calendar.offset,
                year_values[k],
                day_means[k],
                max8h_values[k],
                hour_coverage,
                Coverage(int(day_valid[k]), days, capture.year_fraction),
                Coverage(int(max8h_valid[k]), days, capture.year_fraction),
                bool(summer_months[k] >= capture.ozone_summer_months),
                float(totals[k] / hour_valid[k]) if hour_coverage.sufficient else None,
                hour_coverage.sufficient,
            )
        )
    return out


def year_statistics(
    hours: pd.Series | None,
    year: int,
    offset: timedelta,
    capture: Capture,
    daily: pd.Series | None = None,
) -> YearStatistics:
    """The year's statistics from valid hourly means (`valid_hours`, UTC index), or from daily means
    (`daily`, indexed by local standard date) when the series has no hourly values. One series:
    `year_statistics_of` on a single row."""
    calendar = Calendar(year, offset)
    if hours is None:
        if daily is None:
            raise ValueError("hours or daily values are needed")
        return daily_statistics(
            _on_grid(daily, datetime(year, 1, 1), calendar.days, _DAY_NS), year, offset, capture
        )
    values = _on_grid(hours, calendar.start - LEAD_HOURS * HOUR, calendar.hours + LEAD_HOURS, _HOUR_NS)
    return year_statistics_of(values[None, :], year, offset, capture)[0]


def daily_statistics(
    day_values: np.ndarray, year: int, offset: timedelta, capture: Capture
) -> YearStatistics:
    """The year's statistics of a series of daily means: `day_values` on the year's local standard
    days, NaN where there is none."""
    calendar = Calendar(year, offset)
    valid = int(np.count_nonzero(~np.isnan(day_values)))
    coverage = Coverage(valid, calendar.days, capture.year_fraction)
    mean = float(np.nanmean(day_values)) if coverage.sufficient else None
    return YearStatistics(
        year, offset, None, day_values, None, None, coverage, None, False, mean, coverage.sufficient
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
        return self.end_utc.astimezone(timezone(self.offset))


_EMPTY = np.zeros(0, dtype="int64")


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
    #: Where the exceedances are: positions on the year's hour grid (statistic "hour") or day grid.
    positions: np.ndarray = field(default_factory=lambda: _EMPTY, compare=False, repr=False)
    offset: timedelta = timedelta(0)

    def periods(self, limit: int | None = None) -> tuple[Period, ...]:
        """The exceeding hours or days (the first `limit` of them), in time order."""
        step = HOUR if self.value.statistic == "hour" else timedelta(days=1)
        first = Calendar(self.year, self.offset).start
        chosen = self.positions if limit is None else self.positions[:limit]
        return tuple(Period(first + int(k) * step, first + (int(k) + 1) * step, self.offset) for k in chosen)


def _over(values: np.ndarray | None, level: float) -> np.ndarray:
    """Positions of the valid values above `level` (NaN compares false)."""
    if values is None:
        return _EMPTY
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(values > level)


def check(standard: Standard, value: LimitValue, statistics: dict[int, YearStatistics], year: int) -> Check:
    """Check `value` of `standard` for `year`; `statistics` holds that year (and, for values
    averaged over several years, the years before it where there are data)."""
    current = statistics.get(year)
    if current is None:
        return Check(standard.id, value, year, "no_data", None)
    offset = current.offset
    if value.statistic == "year":
        coverage = current.hour_coverage or current.day_coverage
        if coverage.valid == 0:
            return Check(standard.id, value, year, "no_data", coverage)
        if current.annual_mean is None:
            return Check(standard.id, value, year, "insufficient_data", coverage)
        verdict: Verdict = "exceeded" if current.annual_mean > value.level else "met"
        return Check(standard.id, value, year, verdict, coverage, annual_mean=current.annual_mean)
    if value.statistic == "hour":
        if current.hour_values is None or current.hour_coverage is None:
            return Check(standard.id, value, year, "no_data", None)
        over = _over(current.hour_values, value.level)
        return _counted_check(standard, value, year, current.hour_coverage, over, offset)
    if value.statistic == "day":
        over = _over(current.day_values, value.level)
        return _counted_check(standard, value, year, current.day_coverage, over, offset)
    # max8h: days whose maximum 8-hour mean exceeds the level, averaged over years for target values.
    if current.max8h_values is None or current.max8h_coverage is None:
        return Check(standard.id, value, year, "no_data", None)
    over = _over(current.max8h_values, value.level)
    coverage = current.max8h_coverage
    found = len(over)
    if value.averaged_years <= 1:
        if coverage.valid == 0:
            return Check(standard.id, value, year, "no_data", coverage, exceedances=0)
        permitted = value.permitted or 0
        verdict = (
            "exceeded" if found > permitted else ("met" if current.ozone_year_valid else "insufficient_data")
        )
        return Check(
            standard.id, value, year, verdict, coverage, exceedances=found, positions=over, offset=offset
        )
    years = tuple(
        y
        for y in range(year - value.averaged_years + 1, year + 1)
        if y in statistics and statistics[y].ozone_year_valid
    )
    if not years:
        verdict = "no_data" if coverage.valid == 0 else "insufficient_data"
        return Check(
            standard.id, value, year, verdict, coverage, exceedances=found, positions=over, offset=offset
        )
    counts = [len(_over(statistics[y].max8h_values, value.level)) for y in years]
    averaged = sum(counts) / len(counts)
    verdict = "exceeded" if averaged > (value.permitted or 0) else "met"
    return Check(
        standard.id,
        value,
        year,
        verdict,
        coverage,
        exceedances=found,
        averaged=averaged,
        years=years,
        positions=over,
        offset=offset,
    )


def _counted_check(
    standard: Standard, value: LimitValue, year: int, coverage: Coverage, over: np.ndarray, offset: timedelta
) -> Check:
    permitted = value.permitted or 0
    found = len(over)
    if coverage.valid == 0:
        verdict: Verdict = "no_data"
    elif found > permitted:
        verdict = "exceeded"  # the exceedances found already break the value, whatever is missing
    elif coverage.sufficient:
        verdict = "met"
    else:
        verdict = "insufficient_data"
    return Check(
        standard.id, value, year, verdict, coverage, exceedances=found, positions=over, offset=offset
    )


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
