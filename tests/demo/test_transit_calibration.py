"""The Leipzig calibration of the transit energy model: its coefficients turn LVB's tram-km into
LVB's yearly traction electricity within the stated tolerance (docs/transit.md's validation)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import urbantwin.demo
from urbantwin.transit.energy import Coefficients

CALIBRATION = Path(urbantwin.demo.__file__).parent / "transit" / "lvb_calibration.toml"


def test_the_calibrated_coefficients_reproduce_lvb_s_traction_electricity() -> None:
    calibration = tomllib.loads(CALIBRATION.read_text(encoding="utf-8"))
    reference = calibration["reference"]
    coefficients = Coefficients.load().with_overrides(calibration["coefficients"])
    modelled = coefficients.net_kwh_per_km("tram") * reference["tram_vehicle_km"]
    assert modelled == pytest.approx(reference["tram_traction_kwh"], rel=reference["tolerance"])
    assert modelled == pytest.approx(4.7 * 12.8e6)  # the figure docs/transit.md states
    assert coefficients.value("grid.green_share") == 1.0
