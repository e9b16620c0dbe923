"""The assessment's rules, each on a case small enough to compute by hand.

The year is 2023 (365 days, 8,760 hours) in local standard time UTC+1 unless a case says otherwise;
`year_of(value)` is a year of constant hourly means, and cases change some hours of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from urbantwin.airquality.engine import (
    Calendar,
    assess,
    check,
    hourly_from_values,
    index_table,
    standard_offset,
    valid_hours,
    valid_means,
    year_statistics,
    year_statistics_of,
)
from urbantwin.airquality.standards import index_bands, standard

CET = timedelta(hours=1)
EU2008 = standard("eu-2008-50")
EU2024 = standard("eu-2024-2881")
WHO = standard("who-2021")
CAPTURE = EU2008.capture


def year_of(value: float, year: int = 2023) -> pd.Series:
    grid = Calendar(year, CET).grid(7)
    return pd.Series(value, index=grid, dtype="float64")


def local_hour(year: int, month: int, day: int, hour: int) -> pd.Timestamp:
    """The UTC start of the hour starting at `hour` o'clock local standard time (UTC+1)."""
    return pd.Timestamp(datetime(year, month, day, hour, tzinfo=UTC) - CET)


def set_days(series: pd.Series, first: datetime, days: int, value: float) -> None:
    start = local_hour(first.year, first.month, first.day, 0)
    series[(series.index >= start) & (series.index < start + pd.Timedelta(days=days))] = value


def verdict(std, pollutant: str, statistic: str, hours: pd.Series, year: int = 2023, **kw):  # noqa: ANN001, ANN201
    stats = {year: year_statistics(hours, year, CET, std.capture, **kw)}
    (value,) = [v for v in std.of(pollutant) if v.statistic == statistic]
    return check(std, value, stats, year)


# --- hours ------------------------------------------------------------------------------------


def test_an_hour_needs_75_percent_of_its_values() -> None:
    # 10-minute values: 5 of 6 in the first hour (valid), 4 of 6 in the second (45 minutes needed).
    times = pd.DatetimeIndex(
        [datetime(2023, 3, 1, 0, m, tzinfo=UTC) for m in (0, 10, 20, 30, 40)]
        + [datetime(2023, 3, 1, 1, m, tzinfo=UTC) for m in (0, 10, 20, 30)]
    )
    hourly = hourly_from_values(times, np.array([10, 20, 30, 40, 50, 1, 2, 3, 4], dtype=float))
    assert hourly["count"].tolist() == [5, 4]
    kept = valid_hours(hourly, values_per_hour=6, capture=CAPTURE)
    assert kept.index.tolist() == [pd.Timestamp("2023-03-01T00:00Z")]
    assert kept.iloc[0] == 30.0
    # Hourly means: one value is the whole hour.
    assert len(valid_hours(hourly, values_per_hour=1, capture=CAPTURE)) == 2


def test_many_series_need_75_percent_of_their_own_values_an_hour() -> None:
    # Two series on one grid of three hours: hourly means (1 value needed) and 10-minute values (5 of 6).
    counts = np.array([[1, 0, 1], [5, 4, 6]])
    means = np.array([[12.0, np.nan, np.inf], [30.0, 20.0, 10.0]])
    valid = valid_means(counts, means, np.array([1, 6]), CAPTURE)
    np.testing.assert_array_equal(valid, [[12.0, np.nan, np.nan], [30.0, np.nan, 10.0]])  # inf: no mean
    # One number for all of them.
    np.testing.assert_array_equal(
        valid_means(counts, means, 6, CAPTURE), [[np.nan] * 3, [30.0, np.nan, 10.0]]
    )


def test_many_series_need_the_hours_of_the_year_and_the_7_before() -> None:
    values = np.full((2, 8760), 10.0)
    with pytest.raises(ValueError, match="8767"):
        year_statistics_of(values, 2023, CET, CAPTURE)
    assert year_statistics_of(np.zeros((0, 8767)), 2023, CET, CAPTURE) == []
    both = year_statistics_of(np.full((2, 8784 + 7), 10.0), 2024, CET, CAPTURE)  # a leap year
    assert [s.day_coverage.valid for s in both] == [366, 366]
    assert [s.annual_mean for s in both] == [10.0, 10.0]


def test_local_standard_time_has_no_summer_time() -> None:
    from zoneinfo import ZoneInfo

    assert standard_offset(ZoneInfo("Europe/Berlin"), 2023) == CET
    assert standard_offset(ZoneInfo("UTC"), 2023) == timedelta(0)
    # The year begins at 23:00 UTC of 31 December, and has 8,760 hours also across the summer time.
    calendar = Calendar(2023, CET)
    assert calendar.start == datetime(2022, 12, 31, 23, tzinfo=UTC)
    assert len(calendar.grid()) == 8760


# --- days ---------------------------------------------------------------------------------------


def test_a_day_with_17_valid_hours_is_not_a_valid_day() -> None:
    hours = year_of(10.0)
    day = local_hour(2023, 5, 10, 0)
    hours[(hours.index >= day) & (hours.index < day + pd.Timedelta(hours=7))] = np.nan  # 17 left
    stats = year_statistics(hours.dropna(), 2023, CET, CAPTURE)
    assert np.isnan(stats.days[pd.Timestamp(2023, 5, 10)])
    hours[day + pd.Timedelta(hours=6)] = 28.0  # the 18th: valid, mean (17 × 10 + 28) / 18 = 11
    stats = year_statistics(hours.dropna(), 2023, CET, CAPTURE)
    assert stats.days[pd.Timestamp(2023, 5, 10)] == pytest.approx(11.0)
    assert stats.day_coverage.valid == 365


def test_days_are_local_standard_days() -> None:
    # 23:00 UTC of 9 May is 00:00 on 10 May local standard time: it belongs to the 10th.
    hours = year_of(10.0)
    hours[pd.Timestamp("2023-05-09T23:00Z")] = 34.0
    stats = year_statistics(hours, 2023, CET, CAPTURE)
    assert stats.days[pd.Timestamp(2023, 5, 10)] == pytest.approx(11.0)  # (23 × 10 + 34) / 24
    assert stats.days[pd.Timestamp(2023, 5, 9)] == pytest.approx(10.0)


# --- daily limit values -------------------------------------------------------------------------


def test_the_19th_exceedance_day_of_pm10_breaks_the_2024_2881_limit() -> None:
    hours = year_of(20.0)
    set_days(hours, datetime(2023, 1, 1), 18, 46.0)
    assert verdict(EU2024, "pm10", "day", hours).verdict == "met"
    set_days(hours, datetime(2023, 1, 1), 19, 46.0)
    found = verdict(EU2024, "pm10", "day", hours)
    assert (found.verdict, found.exceedances) == ("exceeded", 19)
    # The same 19 days of 46 µg/m³ are below the old level of 50: met under 2008/50/EC.
    assert verdict(EU2008, "pm10", "day", hours).verdict == "met"


def test_the_36th_exceedance_day_of_pm10_breaks_the_2008_50_limit() -> None:
    hours = year_of(20.0)
    set_days(hours, datetime(2023, 2, 1), 35, 51.0)
    assert verdict(EU2008, "pm10", "day", hours).exceedances == 35
    assert verdict(EU2008, "pm10", "day", hours).verdict == "met"
    set_days(hours, datetime(2023, 2, 1), 36, 51.0)
    assert verdict(EU2008, "pm10", "day", hours).verdict == "exceeded"


def test_a_daily_mean_equal_to_the_limit_is_no_exceedance() -> None:
    hours = year_of(20.0)
    set_days(hours, datetime(2023, 1, 1), 30, 45.0)
    assert verdict(EU2024, "pm10", "day", hours).exceedances == 0


def test_daily_series_are_assessed_from_their_days() -> None:
    days = pd.Series(20.0, index=Calendar(2023, CET).dates())
    days.iloc[:19] = 46.0
    found = verdict(EU2024, "pm10", "day", None, daily=days)  # type: ignore[arg-type]
    assert (found.verdict, found.exceedances) == ("exceeded", 19)
    mean = verdict(EU2024, "pm10", "year", None, daily=days)  # type: ignore[arg-type]
    assert mean.annual_mean == pytest.approx((19 * 46 + 346 * 20) / 365)


# --- hourly limit values ------------------------------------------------------------------------


def test_the_4th_hour_above_200_of_no2_breaks_the_2024_2881_limit_not_the_2008_50_one() -> None:
    hours = year_of(30.0)
    for k in range(3):
        hours[local_hour(2023, 7, 1, 8 + k)] = 201.0
    assert verdict(EU2024, "no2", "hour", hours).verdict == "met"
    hours[local_hour(2023, 7, 1, 11)] = 201.0
    assert verdict(EU2024, "no2", "hour", hours).verdict == "exceeded"
    assert verdict(EU2008, "no2", "hour", hours).verdict == "met"  # 18 permitted
    for k in range(15):
        hours[local_hour(2023, 8, 1, k)] = 250.0
    assert verdict(EU2008, "no2", "hour", hours).exceedances == 19
    assert verdict(EU2008, "no2", "hour", hours).verdict == "exceeded"


def test_an_exceedance_hour_is_named_in_utc_and_by_its_end_in_local_standard_time() -> None:
    hours = year_of(30.0)
    hours[pd.Timestamp("2023-07-01T10:00Z")] = 300.0  # 11:00–12:00 local standard time
    (period,) = verdict(EU2024, "no2", "hour", hours).periods()
    assert period.start_utc == datetime(2023, 7, 1, 10, tzinfo=UTC)
    assert period.end_utc == datetime(2023, 7, 1, 11, tzinfo=UTC)
    assert period.end_local.isoformat() == "2023-07-01T12:00:00+01:00"


def test_an_exceedance_day_is_the_local_standard_day() -> None:
    hours = year_of(20.0)
    set_days(hours, datetime(2023, 1, 1), 1, 60.0)
    (period,) = verdict(EU2024, "pm10", "day", hours).periods()
    assert period.start_utc == datetime(2022, 12, 31, 23, tzinfo=UTC)
    assert period.end_local.isoformat() == "2023-01-02T00:00:00+01:00"


# --- annual means and data capture --------------------------------------------------------------


def test_an_annual_mean_needs_90_percent_of_the_hours() -> None:
    hours = year_of(25.0)
    kept = hours[7:]  # the year alone
    needed = int(np.ceil(0.9 * 8760))  # 7,884 hours
    short = kept.iloc[: needed - 1]
    found = verdict(EU2024, "no2", "year", short)
    assert found.verdict == "insufficient_data"
    assert found.annual_mean is None  # never a number that looks valid and is not
    enough = kept.iloc[:needed]
    found = verdict(EU2024, "no2", "year", enough)
    assert (found.verdict, found.annual_mean) == ("exceeded", pytest.approx(25.0))
    assert verdict(EU2008, "no2", "year", enough).verdict == "met"  # 25 ≤ 40


def test_exceedances_found_break_a_limit_even_with_too_little_data() -> None:
    hours = year_of(20.0)
    set_days(hours, datetime(2023, 1, 1), 19, 46.0)
    half = hours[hours.index < local_hour(2023, 7, 1, 0)]  # half a year
    assert verdict(EU2024, "pm10", "day", half).verdict == "exceeded"
    set_days(hours, datetime(2023, 1, 1), 19, 20.0)
    set_days(hours, datetime(2023, 1, 1), 5, 46.0)
    half = hours[hours.index < local_hour(2023, 7, 1, 0)]
    found = verdict(EU2024, "pm10", "day", half)
    assert (found.verdict, found.exceedances) == ("insufficient_data", 5)


def test_no_values_is_no_data() -> None:
    empty = pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz=UTC))
    assert verdict(EU2024, "pm25", "year", empty).verdict == "no_data"
    assert verdict(EU2024, "pm25", "day", empty).verdict == "no_data"


# --- ozone: maximum daily 8-hour means ----------------------------------------------------------


def test_8_hour_means_belong_to_the_day_they_end_on() -> None:
    # 200 µg/m³ from 16:00 to 24:00 on 1 June, 50 otherwise: the window ending at 24:00 is all 200
    # (1 June's maximum); the first window of 2 June, 17:00 to 01:00, is (7 × 200 + 50) / 8.
    hours = year_of(50.0)
    for hour in range(16, 24):
        hours[local_hour(2023, 6, 1, hour)] = 200.0
    stats = year_statistics(hours, 2023, CET, CAPTURE)
    assert stats.max8h is not None
    assert stats.max8h[pd.Timestamp(2023, 6, 1)] == pytest.approx(200.0)
    assert stats.max8h[pd.Timestamp(2023, 6, 2)] == pytest.approx(181.25)
    assert stats.max8h[pd.Timestamp(2023, 6, 3)] == pytest.approx(50.0)


def test_an_8_hour_mean_needs_6_hours() -> None:
    # 1 June, 08:00 to 16:00: 6 hours of 130 with two gaps -> the mean of the 6 is 130 (valid);
    # with three gaps (5 hours) that window is not valid and the day's maximum is lower.
    hours = year_of(50.0)
    for hour in range(8, 16):
        hours[local_hour(2023, 6, 1, hour)] = 130.0
    hours[local_hour(2023, 6, 1, 9)] = np.nan
    hours[local_hour(2023, 6, 1, 12)] = np.nan
    stats = year_statistics(hours.dropna(), 2023, CET, CAPTURE)
    assert stats.max8h is not None and stats.max8h[pd.Timestamp(2023, 6, 1)] == pytest.approx(130.0)
    hours[local_hour(2023, 6, 1, 14)] = np.nan
    stats = year_statistics(hours.dropna(), 2023, CET, CAPTURE)
    assert stats.max8h is not None and stats.max8h[pd.Timestamp(2023, 6, 1)] < 130.0


def test_a_day_needs_18_valid_8_hour_means() -> None:
    # g consecutive missing hours from 08:00 make the g + 3 windows invalid that hold 3 or more of
    # them (fewer than 6 valid hours): the windows whose last hour starts at 10:00 … 10 + g.
    # 3 missing: 6 invalid, 18 valid -> a valid maximum; 4 missing: 7 invalid, 17 valid -> none.
    hours = year_of(50.0)
    gap = [local_hour(2023, 6, 1, h) for h in range(8, 11)]
    stats = year_statistics(hours.drop(gap), 2023, CET, CAPTURE)
    assert stats.max8h is not None and stats.max8h[pd.Timestamp(2023, 6, 1)] == pytest.approx(50.0)
    gap = [local_hour(2023, 6, 1, h) for h in range(8, 12)]
    stats = year_statistics(hours.drop(gap), 2023, CET, CAPTURE)
    assert stats.max8h is not None and np.isnan(stats.max8h[pd.Timestamp(2023, 6, 1)])


def ozone_years(days_over: dict[int, int]) -> dict:  # noqa: ANN001
    """Years of 60 µg/m³ with the given number of days at 125 µg/m³ (all day) in June (the first
    8-hour means of the day after, (7 × 125 + 60) / 8 = 116.9, stay below 120)."""
    stats = {}
    for year, count in days_over.items():
        hours = year_of(60.0, year)
        set_days(hours, datetime(year, 6, 1), count, 125.0)
        stats[year] = year_statistics(hours, year, CET, CAPTURE)
    return stats


def test_the_ozone_target_value_is_averaged_over_three_years() -> None:
    stats = ozone_years({2021: 30, 2022: 20, 2023: 24})  # mean 24.67 days
    (value,) = EU2008.of("o3")
    found = check(EU2008, value, stats, 2023)
    assert (found.verdict, found.years, found.exceedances) == ("met", (2021, 2022, 2023), 24)
    assert found.averaged == pytest.approx(74 / 3)
    (value,) = EU2024.of("o3")
    assert check(EU2024, value, stats, 2023).verdict == "exceeded"  # 24.67 > 18
    # With one year of data, that year alone (Annex VII, note: one valid year at least).
    only = check(EU2008, EU2008.of("o3")[0], {2023: stats[2023]}, 2023)
    assert (only.years, only.averaged) == ((2023,), 24.0)


def test_an_ozone_year_needs_five_valid_summer_months() -> None:
    hours = year_of(60.0)
    # April and May with only 26 valid daily maxima each: two summer months short, 4 of 6 left.
    for month in (4, 5):
        set_days(hours, datetime(2023, month, 1), 5, np.nan)
    stats = year_statistics(hours.dropna(), 2023, CET, CAPTURE)
    assert not stats.ozone_year_valid
    found = check(EU2008, EU2008.of("o3")[0], {2023: stats}, 2023)
    assert found.verdict == "insufficient_data"
    hours = year_of(60.0)
    set_days(hours, datetime(2023, 4, 1), 4, np.nan)  # 26 of 30 in April only: 5 of 6 months
    stats = year_statistics(hours.dropna(), 2023, CET, CAPTURE)
    assert stats.ozone_year_valid


def test_who_short_term_levels_allow_three_days() -> None:
    hours = year_of(10.0)
    set_days(hours, datetime(2023, 1, 1), 3, 16.0)
    assert verdict(WHO, "pm25", "day", hours).verdict == "met"
    set_days(hours, datetime(2023, 1, 1), 4, 16.0)
    assert verdict(WHO, "pm25", "day", hours).verdict == "exceeded"
    assert verdict(WHO, "pm25", "year", hours).verdict == "exceeded"  # annual mean > 5


def test_every_value_of_a_pollutant_is_checked() -> None:
    stats = {2023: year_statistics(year_of(30.0), 2023, CET, CAPTURE)}
    assert [c.value.statistic for c in assess(EU2024, "no2", stats, 2023)] == ["hour", "day", "year"]
    assert [c.verdict for c in assess(EU2024, "no2", stats, 2023)] == ["met", "met", "exceeded"]


# --- the European Air Quality Index -------------------------------------------------------------


def test_index_bands_include_their_upper_bound() -> None:
    hours = pd.date_range("2023-01-01T00:00Z", periods=3, freq="h")
    no2 = pd.Series([25.0, 25.1, 151.0], index=hours)
    table = index_table({"no2": no2}, hours, index_bands())
    assert table["no2_band"].tolist() == [1, 2, 5]  # fair, moderate, extremely poor
    assert table["band"].tolist() == [1, 2, 5]


def test_pm_is_classified_by_its_running_24_hour_mean() -> None:
    hours = pd.date_range("2023-01-01T00:00Z", periods=48, freq="h")
    pm10 = pd.Series(10.0, index=hours)
    pm10.iloc[24:36] = 70.0  # 12 hours of 70 -> the 24-hour mean at hour 35 is (12×10 + 12×70)/24 = 40
    table = index_table({"pm10": pm10}, hours[24:], index_bands())
    assert table["pm10_value"].iloc[11] == pytest.approx(40.0)
    assert table["pm10_band"].iloc[11] == 1  # fair (15 < 40 ≤ 45)
    # Fewer than 18 valid hours in the last 24: no value, no band.
    sparse = pm10.iloc[30:]  # from hour 30: at hour 46, 17 hours
    table = index_table({"pm10": sparse}, hours[46:47], index_bands())
    assert table["pm10_band"].tolist() == [-1]
    assert table["band"].tolist() == [-1]


def test_the_station_index_is_its_worst_pollutant() -> None:
    hours = pd.date_range("2023-01-01T00:00Z", periods=1, freq="h")
    table = index_table(
        {"no2": pd.Series([5.0], index=hours), "o3": pd.Series([130.0], index=hours)}, hours, index_bands()
    )
    assert (table["no2_band"].iloc[0], table["o3_band"].iloc[0], table["band"].iloc[0]) == (0, 3, 3)


def test_every_kind_of_value_has_its_name_in_both_languages() -> None:
    from urbantwin.airquality.standards import standards
    from urbantwin.airquality.texts import KINDS

    assert {v.kind for s in standards() for v in s.values} <= set(KINDS)
