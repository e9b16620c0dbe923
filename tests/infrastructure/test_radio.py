"""The path-loss model by hand: free-space loss, the wall loss of 3GPP TR 38.901, a link's loss
through a building, the reach of a band, and calibration against measurements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from urbantwin.infrastructure.radio import BANDS, calibrate, free_space_loss_1m, wall_loss


def test_free_space_loss_at_one_metre() -> None:
    # 20 log10(2400) − 27.55 = 67.604 − 27.55
    assert free_space_loss_1m(2400) == pytest.approx(40.054, abs=1e-3)
    # 3GPP's UMi LOS intercept 32.4 + 20 log10(2.4) is the same to 0.1 dB
    assert free_space_loss_1m(2400) == pytest.approx(32.4 + 20 * math.log10(2.4), abs=0.1)


def test_wall_loss_of_the_low_loss_model() -> None:
    # f = 2.4 GHz: glass 2 + 0.48 = 2.48 dB, concrete 5 + 9.6 = 14.6 dB
    # 5 − 10 log10(0.3 · 10^−0.248 + 0.7 · 10^−1.46) = 5 − 10 log10(0.16946 + 0.02427) = 12.128
    assert wall_loss(2400) == pytest.approx(12.128, abs=1e-3)
    # higher frequencies lose more in concrete
    assert wall_loss(868) < wall_loss(2400) < wall_loss(3600) < wall_loss(5250)


def test_a_link_through_one_building() -> None:
    band = BANDS["wlan-2.4"]
    reference = free_space_loss_1m(2437)
    # 100 m, one wall, 10 m inside: reference + 21 · 2 + one wall + 10 · 0.5
    expected = reference + 42.0 + wall_loss(2437) + 5.0
    assert float(band.loss(100, 1, 10)) == pytest.approx(expected)
    assert float(band.received(100, 1, 10)) == pytest.approx(20.0 - expected)
    # closer than the reference distance counts as the reference distance
    assert float(band.loss(0.2)) == pytest.approx(reference)


def test_reach_is_where_the_free_link_meets_the_threshold() -> None:
    band = BANDS["wlan-2.4"]
    # 20 dBm − (−82 dBm) = 102 dB; less the loss at 1 m, over 21 dB per decade
    expected = 10 ** ((102 - free_space_loss_1m(2437)) / 21)
    assert band.reach_m() == pytest.approx(expected)
    assert float(band.received(band.reach_m())) == pytest.approx(band.threshold_dbm)
    lora = BANDS["lora-868"]
    # the measured model: 128.95 dB at 1 km
    assert float(lora.loss(1000)) == pytest.approx(128.95)


def test_calibration_recovers_a_known_exponent_and_offset() -> None:
    band = BANDS["lora-868"]
    truth = band.with_changes(exponent=3.0, offset_db=4.0)
    d = np.array([120.0, 400.0, 900.0, 2500.0])
    walls = np.array([0, 2, 1, 0])
    inside = np.array([0.0, 12.0, 6.0, 0.0])
    measured = truth.received(d, walls, inside)
    fit = calibrate(band, d, walls, inside, measured)
    assert fit.fitted == "exponent and offset"
    assert fit.exponent == pytest.approx(3.0)
    assert fit.offset_db == pytest.approx(4.0)
    assert fit.rmse_after_db == pytest.approx(0.0, abs=1e-9)
    assert fit.rmse_before_db > 5.0


def test_calibration_with_two_pairs_fits_the_offset_only() -> None:
    band = BANDS["wlan-2.4"]
    # measured 3 dB and 5 dB below the model: the offset is their mean, 4 dB, and 1 dB remains
    predicted = band.received(np.array([50.0, 80.0]))
    fit = calibrate(band, [50.0, 80.0], [0, 0], [0.0, 0.0], predicted - np.array([3.0, 5.0]))
    assert fit.fitted == "offset"
    assert fit.offset_db == pytest.approx(4.0)
    assert fit.mean_error_before_db == pytest.approx(-4.0)
    assert fit.rmse_after_db == pytest.approx(1.0)
