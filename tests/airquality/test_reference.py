"""The vectorised engine equals the plain pandas reference implementation (reference.py) on random
series with gaps: hourly, daily and maximum daily 8-hour values, annual means, the ozone season rule;
one series at a time and many at once (`year_statistics_of`, one array along the series axis)."""

from __future__ import annotations

from datetime import UTC, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.airquality.reference import reference_year
from urbantwin.airquality.engine import LEAD_HOURS, Calendar, year_statistics, year_statistics_of
from urbantwin.airquality.standards import standard

CAPTURE = standard("eu-2024-2881").capture


def random_series(seed: int, year: int, offset: timedelta, missing: float) -> pd.Series:
    rng = np.random.default_rng(seed)
    grid = Calendar(year, offset).grid(48)  # two days of the year before
    grid = grid.append(pd.date_range(grid[-1] + pd.Timedelta(hours=1), periods=48, freq="h", tz=UTC))
    values = rng.gamma(2.0, 20.0, len(grid))
    # Gaps: single hours and runs of up to a day, so that some days and windows fall short.
    keep = rng.random(len(grid)) >= missing
    for start in rng.integers(0, len(grid), 60):
        keep[start : start + rng.integers(1, 30)] = False
    return pd.Series(values[keep], index=grid[keep])


@pytest.mark.parametrize(
    ("seed", "year", "offset_hours", "missing"),
    [(1, 2023, 1, 0.02), (2, 2024, 1, 0.15), (3, 2023, 0, 0.3), (4, 2024, 2, 0.05), (5, 2021, -5, 0.1)],
)
def test_engine_equals_the_reference(seed: int, year: int, offset_hours: int, missing: float) -> None:
    offset = timedelta(hours=offset_hours)
    series = random_series(seed, year, offset, missing)
    engine = year_statistics(series, year, offset, CAPTURE)
    reference = reference_year(series, year, offset, CAPTURE)
    assert engine.hours is not None and engine.max8h is not None
    np.testing.assert_allclose(engine.days.to_numpy(), reference.days.to_numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        engine.max8h.to_numpy(), reference.max8h.to_numpy(), rtol=1e-12, equal_nan=True
    )
    assert engine.hours.count() == len(reference.hours)
    assert engine.ozone_year_valid == reference.ozone_year_valid
    if reference.annual_mean is None:
        assert engine.annual_mean is None
    else:
        assert engine.annual_mean == pytest.approx(reference.annual_mean, rel=1e-12)
    # The exceedance counts follow from these series; they agree level by level.
    for level in (25.0, 45.0, 50.0, 120.0):
        assert int((engine.days > level).sum()) == int((reference.days > level).sum())
        assert int((engine.max8h > level).sum()) == int((reference.max8h > level).sum())
        assert int((engine.hours > level).sum()) == int((reference.hours > level).sum())


@pytest.mark.parametrize(("year", "offset_hours"), [(2023, 1), (2024, 1), (2021, -5)])
def test_many_series_at_once_equal_the_reference_and_each_alone(year: int, offset_hours: int) -> None:
    """40 series in one array (more than one pass of `CHUNK_SERIES`): an empty station, one with
    values only before the year, one with every hour of a week missing, one with no valid day, and
    random ones with gaps; in 2024 the leap day is a day like the others."""
    offset = timedelta(hours=offset_hours)
    grid = Calendar(year, offset).grid(LEAD_HOURS)
    rng = np.random.default_rng(year)
    values = rng.gamma(2.0, 20.0, (40, len(grid)))
    values[rng.random(values.shape) < rng.random((40, 1)) * 0.4] = np.nan
    values[0] = np.nan  # no value at all
    values[1, LEAD_HOURS:] = np.nan  # only the 7 hours before the year
    values[2, LEAD_HOURS + 24 * 58 : LEAD_HOURS + 24 * 65] = np.nan  # 28 Feb to 6 Mar missing
    values[3:6] = rng.gamma(2.0, 20.0, (3, len(grid)))  # every hour, then
    values[3, LEAD_HOURS::4] = np.nan  # 18 valid hours a day: valid days …
    values[4, LEAD_HOURS::3] = np.nan  # … 16 a day: none
    together = year_statistics_of(values, year, offset, CAPTURE)
    assert len(together) == 40
    for row, statistics in zip(values, together, strict=True):
        series = pd.Series(row, index=grid).dropna()
        alone = year_statistics(series, year, offset, CAPTURE)
        # Exactly what the series alone gives (the per-station path), bit for bit.
        assert statistics.hour_values is not None and alone.hour_values is not None
        np.testing.assert_array_equal(statistics.hour_values, alone.hour_values)
        np.testing.assert_array_equal(statistics.day_values, alone.day_values)
        np.testing.assert_array_equal(statistics.max8h_values, alone.max8h_values)  # type: ignore[arg-type]
        assert (statistics.hour_coverage, statistics.day_coverage, statistics.max8h_coverage) == (
            alone.hour_coverage,
            alone.day_coverage,
            alone.max8h_coverage,
        )
        assert (statistics.annual_mean, statistics.ozone_year_valid) == (
            alone.annual_mean,
            alone.ozone_year_valid,
        )
        # And what the pandas reference gives.
        reference = reference_year(series, year, offset, CAPTURE)
        np.testing.assert_allclose(
            statistics.days.to_numpy(), reference.days.to_numpy(), rtol=1e-12, equal_nan=True
        )
        assert statistics.max8h is not None
        np.testing.assert_allclose(
            statistics.max8h.to_numpy(), reference.max8h.to_numpy(), rtol=1e-12, equal_nan=True
        )
        assert statistics.ozone_year_valid == reference.ozone_year_valid
        if reference.annual_mean is None:
            assert statistics.annual_mean is None
        else:
            assert statistics.annual_mean == pytest.approx(reference.annual_mean, rel=1e-12)
    days = Calendar(year, offset).days
    assert together[0].hour_coverage is not None and together[0].hour_coverage.valid == 0
    assert together[1].day_coverage.valid == 0 and together[1].annual_mean is None
    assert together[3].day_coverage.valid == days and together[4].day_coverage.valid == 0
    if days == 366:  # 29 February 2024 has its own daily mean (of its 24 hours), then the missing week
        leap_day = values[5, LEAD_HOURS + 24 * 59 : LEAD_HOURS + 24 * 60]
        assert together[5].days[pd.Timestamp(2024, 2, 29)] == pytest.approx(leap_day.mean(), rel=1e-12)
        assert together[5].days.index[-1] == pd.Timestamp(2024, 12, 31)
        assert np.isnan(together[2].days.iloc[58:65]).all() and not np.isnan(together[2].days.iloc[57])
