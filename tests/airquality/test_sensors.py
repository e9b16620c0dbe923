"""The low-cost sensor checks on hand-made series: the humidity correction's value worked out by
hand, a stuck sensor, a spike, an out-of-range reading flagged, a calibration fitted exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from urbantwin.airquality.sensors import Thresholds, calibrate, check, corrected, fit, growth_factor
from urbantwin.errors import BadRequest

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def series(values: list[float], step: timedelta = timedelta(minutes=5), start: datetime = T0) -> pd.Series:
    index = pd.DatetimeIndex([start + k * step for k in range(len(values))])
    return pd.Series(values, index=index, dtype="float64")


def test_the_humidity_correction_at_80_percent() -> None:
    # a_w = 0.8: C = 1 + (0.4 / 1.65) / (1 / 0.8 - 1) = 1 + 0.242424… / 0.25 = 1.969697…
    assert growth_factor(80.0, 0.4) == pytest.approx(1.9696970, rel=1e-6)
    # 30 µg/m³ read at 80 % is 30 / 1.969697 = 15.2308 µg/m³ dry
    assert corrected(30.0, 80.0, 0.4) == pytest.approx(15.230769, rel=1e-6)
    # dry air: nothing to correct
    assert corrected(30.0, 0.0, 0.4) == pytest.approx(30.0)


def test_no_corrected_value_above_the_humidity_limit_or_without_humidity() -> None:
    pm = series([10.0, 10.5, 11.0, 10.8])
    rh = series([50.0, 96.0], step=timedelta(minutes=5))
    checked = check(pm, rh, Thresholds(humidity_tolerance=60))
    assert checked.flags[1] == ["humid"]
    assert checked.flags[2] == ["no_humidity"] and checked.flags[3] == ["no_humidity"]
    assert checked.corrected[0] == pytest.approx(corrected(10.0, 50.0, 0.4))
    assert np.isnan(checked.corrected[1:]).all()
    assert checked.usable.tolist() == [True, False, False, False]


def test_a_stuck_sensor_is_flagged_after_two_hours_of_one_value() -> None:
    # 5-minute readings: 12 varying, then 25 identical (2 hours from first to last), then varying.
    varying = [10.0 + (k % 3) for k in range(12)]
    values = varying + [14.2] * 25 + [15.0, 13.0]
    checked = check(series(values), series([50.0] * len(values)))
    stuck = [i for i, f in enumerate(checked.flags) if "stuck" in f]
    assert stuck == list(range(12, 37))
    # 24 identical readings last 1 h 55 min: not yet stuck
    short = check(series(varying + [14.2] * 24 + [15.0]), None)
    assert not any("stuck" in f for f in short.flags)


def test_a_spike_is_flagged_and_its_neighbours_are_not() -> None:
    values = [12.0, 13.0, 12.5, 80.0, 13.5, 12.0, 13.0]
    checked = check(series(values), None, Thresholds(stuck_duration=10**6))
    # Argo test at 80: |80 - (13.5 + 12.5)/2| - |(13.5 - 12.5)/2| = 67 - 0.5 = 66.5 > 40
    assert [i for i, f in enumerate(checked.flags) if "spike" in f] == [3]
    # a step that stays up is not a spike: |60 - (61 + 12.5)/2| - |(61 - 12.5)/2| = 23.25 - 24.25 < 0
    step = check(series([12.0, 13.0, 12.5, 60.0, 61.0, 60.5]), None)
    assert not any("spike" in f for f in step.flags)


def test_out_of_range_readings_are_flagged_and_not_used_for_the_other_tests() -> None:
    checked = check(series([12.0, 13.0, -1.0, 999.95, 12.5, 13.0]), None)
    assert checked.flags[2] == ["out_of_range", "no_humidity"]
    assert checked.flags[3] == ["out_of_range", "no_humidity"]
    assert checked.flags[1] == ["no_humidity"]


def test_an_outlier_far_from_the_hour_around_it() -> None:
    # quiet 20 ± 1, then two readings at 70 side by side (not a single spike), then quiet again
    values = [20.0 + (k % 3 - 1) for k in range(12)] + [70.0, 70.0] + [20.0 + (k % 3 - 1) for k in range(12)]
    checked = check(series(values), None)
    assert [i for i, f in enumerate(checked.flags) if "outlier" in f] == [12, 13]
    assert not any("spike" in f for f in checked.flags)


def test_thresholds_are_overridden_by_name_and_refused_when_unknown() -> None:
    assert Thresholds().overridden({"spike_delta": "25"}).spike_delta == 25.0
    with pytest.raises(BadRequest, match="spikes: not a threshold"):
        Thresholds().overridden({"spikes": 1})
    with pytest.raises(BadRequest, match="kappa: expected a finite number"):
        Thresholds().overridden({"kappa": "nan"})
    with pytest.raises(BadRequest, match="rh_max"):
        Thresholds().overridden({"rh_max": 100})


def test_the_regression_by_hand() -> None:
    pairs = pd.DataFrame({"sensor": [1.0, 2.0, 3.0], "reference": [2.0, 4.0, 5.0]})
    # x̄ = 2, ȳ = 11/3; Sxy = (-1)(-5/3) + 0 + (1)(4/3) = 3, Sxx = 2: slope 1.5, intercept 11/3 - 3 = 2/3
    slope, intercept, r2, rmse, before = fit(pairs)  # type: ignore[misc]
    assert slope == pytest.approx(1.5) and intercept == pytest.approx(2 / 3)
    # fitted 2.1667, 3.6667, 5.1667: residuals -1/6, 1/3, -1/6, SSres = 1/6; SStot = 14/3
    assert r2 == pytest.approx(1 - (1 / 6) / (14 / 3))
    assert rmse == pytest.approx((1 / 18) ** 0.5)
    # uncalibrated: differences 1, 2, 2 -> sqrt(9/3)
    assert before == pytest.approx(3**0.5)


def test_a_calibration_against_hourly_reference_values() -> None:
    # a sensor reading 2 × reference + 3 in dry air (RH 0 %: the correction changes nothing)
    hours = [T0 + timedelta(hours=h) for h in range(30)]
    reference = pd.Series([10.0 + (h % 7) for h in range(30)], index=pd.DatetimeIndex(hours))
    readings = series([2 * v + 3 for v in reference for _ in range(2)], step=timedelta(minutes=30))
    checked = check(
        readings, series([0.0] * 60, step=timedelta(minutes=30)), Thresholds(stuck_duration=10**6)
    )
    found = calibrate(checked, reference, daily=False, reference_id=7, reference_name="A", distance_m=120.0)
    assert found is not None
    assert found.n == 30 and found.resolution == "PT1H"
    assert found.slope == pytest.approx(0.5) and found.intercept == pytest.approx(-1.5)
    assert found.r2 == pytest.approx(1.0) and found.rmse == pytest.approx(0.0, abs=1e-9)
    assert found.start == T0 and found.end == T0 + timedelta(hours=30)
    # too few pairs: no calibration
    fewer = Thresholds(min_pairs=31)
    assert (
        calibrate(
            checked,
            reference,
            daily=False,
            reference_id=7,
            reference_name="A",
            distance_m=1.0,
            thresholds=fewer,
        )
        is None
    )


def test_a_calibration_against_daily_reference_values() -> None:
    # a station's daily means of the local day (from 23:00 UTC); the sensor reads 2 × + 3 every hour
    starts = [T0 - timedelta(hours=1) + timedelta(days=d) for d in range(4)]
    reference = pd.Series([10.0, 20.0, 15.0, 30.0], index=pd.DatetimeIndex(starts))
    hours = [starts[0] + timedelta(hours=h) for h in range(24 * 4)]
    values = [2 * reference.iloc[h // 24] + 3 for h in range(len(hours))]
    readings = pd.Series(values, index=pd.DatetimeIndex(hours)).drop(hours[24 * 3 + 17 :])  # day 4: 17 hours
    dry = pd.Series(0.0, index=readings.index)
    checked = check(readings, dry, Thresholds(stuck_duration=10**6))
    found = calibrate(
        checked,
        reference,
        daily=True,
        reference_id=1,
        reference_name="A",
        distance_m=1.0,
        thresholds=Thresholds(min_pairs=3),
    )
    assert found is not None
    # three days with 18 hours or more; the fourth (17 hours) is left out
    assert found.n == 3 and found.resolution == "P1D"
    assert found.slope == pytest.approx(0.5) and found.intercept == pytest.approx(-1.5)
    assert found.start == starts[0] and found.end == starts[2] + timedelta(days=1)
