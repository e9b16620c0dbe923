"""The vectorised engine equals the plain pandas reference implementation (reference.py) on random
series with gaps: hourly, daily and maximum daily 8-hour values, annual means, the ozone season rule."""

from __future__ import annotations

from datetime import UTC, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.airquality.reference import reference_year
from urbantwin.airquality.engine import Calendar, year_statistics
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
