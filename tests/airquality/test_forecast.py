"""The forecast check's scores worked out by hand on five days."""

from __future__ import annotations

import pandas as pd
import pytest

from urbantwin.airquality.forecast import (
    UNKNOWN_LEAD,
    day_of,
    lead_days,
    measured_days_from_hours,
    scores,
)


def test_scores_of_five_days_by_hand() -> None:
    pairs = pd.DataFrame(
        {"forecast": [10.0, 30.0, 20.0, 28.0, 15.0], "measured": [12.0, 26.0, 27.0, 20.0, 15.0]}
    )
    found = scores(pairs, threshold=25.0)
    # f - o: -2, 4, -7, 8, 0 -> bias 3/5 = 0.6; squares 4 + 16 + 49 + 64 + 0 = 133 -> RMSE √26.6
    assert found.n == 5
    assert found.bias == pytest.approx(0.6)
    assert found.rmse == pytest.approx(26.6**0.5)
    # means f̄ = 20.6, ō = 20; deviations f: -10.6, 9.4, -0.6, 7.4, -5.6; o: -8, 6, 7, 0, -5
    # Sfo = 84.8 + 56.4 - 4.2 + 0 + 28 = 165; Sff = 112.36 + 88.36 + 0.36 + 54.76 + 31.36 = 287.2
    # Soo = 64 + 36 + 49 + 0 + 25 = 174; r = 165 / √(287.2 · 174)
    assert found.correlation == pytest.approx(165 / (287.2 * 174) ** 0.5)
    # above 25: forecast on days 2, 4; measured on days 2, 3 -> 1 hit, 1 miss, 1 false alarm, 2 negatives
    assert (found.hits, found.misses, found.false_alarms, found.correct_negatives) == (1, 1, 1, 2)
    assert found.hit_rate == pytest.approx(0.5)
    assert found.false_alarm_ratio == pytest.approx(0.5)


def test_no_rates_without_exceedances_and_no_correlation_of_two_days() -> None:
    found = scores(pd.DataFrame({"forecast": [1.0, 2.0], "measured": [2.0, float("nan")]}), 25.0)
    assert found.n == 1 and found.bias == pytest.approx(-1.0)
    assert found.correlation is None and found.hit_rate is None and found.false_alarm_ratio is None


def test_a_local_day_and_a_utc_day_meet_on_the_same_date() -> None:
    start = pd.Series(pd.to_datetime(["2020-03-01T22:00:00Z", "2020-03-02T00:00:00Z"]))
    end = start + pd.Timedelta(hours=24)
    assert [str(d.date()) for d in day_of(start, end)] == ["2020-03-02", "2020-03-02"]


def test_a_measured_day_needs_18_hours() -> None:
    hours = pd.date_range("2020-03-01", periods=24 + 17, freq="h", tz="UTC")
    days = measured_days_from_hours(pd.Series([10.0] * 24 + [30.0] * 17, index=hours))
    assert list(days.index.astype(str)) == ["2020-03-01"] and days.iloc[0] == 10.0


def test_lead_time_from_the_result_time_or_the_declaration() -> None:
    start = pd.Series(pd.to_datetime(["2020-03-02T00:00:00Z", "2020-03-03T00:00:00Z"]))
    made = pd.Series(pd.to_datetime(["2020-03-01T00:00:00Z", "2020-03-02T12:00:00Z"]))
    assert list(lead_days(start, made, None)) == ["1", "0"]
    unknown = pd.Series(pd.to_datetime([None, None], utc=True))
    assert list(lead_days(start, unknown, "P2D")) == ["2", "2"]
    assert list(lead_days(start, unknown, None)) == [UNKNOWN_LEAD, UNKNOWN_LEAD]
