"""The inputs: the TRY, the BDEW profiles, the TABULA heat need and the PV yield on the TRY."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from tests.energy.conftest import SITE
from urbantwin.city_profile import parse_profile
from urbantwin.energy import loads
from urbantwin.energy.pv import PVModel, azimuth_bin
from urbantwin.energy.scenario import PVParams
from urbantwin.energy.site import Site
from urbantwin.energy.weather import read_try, region4


def test_the_try_of_region_4() -> None:
    weather = region4()
    assert weather.temperature.shape == (8760,)
    # Potsdam's long-term figures: about 1,050-1,100 kWh/m² global irradiation, mean about 9.5 °C.
    assert 1000 < weather.global_horizontal.sum() / 1000 < 1150
    assert 8.5 < weather.temperature.mean() < 10.5
    season = loads.heating_season(weather)
    assert 200 <= season.heating_days <= 240  # TABULA's national climate (Potsdam): 216 days
    assert 3.5 < season.mean_temperature < 5.5  # TABULA: 4.6 °C


def test_a_file_that_is_no_try_is_refused(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "x.dat"
    bad.write_text("hello\n", encoding="latin-1")
    with pytest.raises(ValueError, match="not a DWD TRY 2010 file"):
        read_try(bad)


def test_saxon_holidays_and_day_types() -> None:
    holidays = loads.public_holidays(2025, "DE-SN")
    assert date(2025, 11, 19) in holidays  # Buß- und Bettag
    assert date(2025, 10, 31) in holidays and date(2025, 4, 18) in holidays
    cal = loads.calendar(2025, "DE-SN", "Europe/Berlin")
    assert cal.steps == 35040
    noon = 12 * 4
    assert cal.day_type[(date(2025, 11, 19).timetuple().tm_yday - 1) * 96 + noon] == 2  # holiday → FT
    assert cal.day_type[(date(2025, 12, 24).timetuple().tm_yday - 1) * 96 + noon] == 1  # Saturday rule
    # Summer time: the step at 12:00 UTC+1 in July reads the profile's 13:00.
    july = (date(2025, 7, 1).timetuple().tm_yday - 1) * 96 + noon
    assert cal.quarter[july] == 13 * 4


def test_the_holidays_are_the_profile_region_s() -> None:
    """Bavaria keeps Epiphany and Corpus Christi, Saxony Buß- und Bettag; a day off is a Sunday (FT)."""
    bavaria, saxony = loads.public_holidays(2025, "DE-BY"), loads.public_holidays(2025, "DE-SN")
    epiphany, penance = date(2025, 1, 6), date(2025, 11, 19)
    assert epiphany in bavaria and epiphany not in saxony
    assert penance in saxony and penance not in bavaria
    assert date(2025, 6, 19) in bavaria and date(2025, 10, 3) in bavaria & saxony
    noon = 12 * 4

    def day_type(calendar: loads.Calendar, day: date) -> int:
        return int(calendar.day_type[(day.timetuple().tm_yday - 1) * 96 + noon])

    munich, leipzig = loads.calendar(2025, "DE-BY"), loads.calendar(2025, "DE-SN")
    assert (day_type(munich, epiphany), day_type(leipzig, epiphany)) == (2, 0)
    assert (day_type(munich, penance), day_type(leipzig, penance)) == (0, 2)
    # The household profile follows: Epiphany is a Sunday in Munich, a Monday in Leipzig.
    assert not np.array_equal(
        loads.slp_profile("H25", 2025, "DE-BY"), loads.slp_profile("H25", 2025, "DE-SN")
    )
    with pytest.raises(ValueError, match="no public holidays are known for 'XX-YY'"):
        loads.public_holidays(2025, "XX-YY")


def test_the_site_comes_from_the_city_profile() -> None:
    """The sun's path is computed where the profile says the city lies: the same weather at another
    site gives another yield (the beam is transposed for the sun's position there)."""
    north = parse_profile(
        {"name": "Nordstadt", "region": "DE-SH", "time_zone": "Europe/Berlin", "site": [9.44, 54.78, 12]}
    )
    site = Site.of(north)
    assert site.point == (54.78, 9.44, 12.0) and site.region == "DE-SH" and "site" in site.note
    centre = Site.of(parse_profile({"name": "X", "extent": [12.0, 51.0, 13.0, 52.0]}))
    assert centre.point == (51.5, 12.5, 0.0) and "assumed" in centre.note
    with pytest.raises(ValueError, match="give the city profile a site or an extent"):
        Site.of(parse_profile({"name": "X"}))
    flensburg = PVModel(region4(), site=site.point).reference_yield()
    assert abs(flensburg / PVModel(region4(), site=SITE.point).reference_yield() - 1) > 0.01


@pytest.mark.parametrize("name", ["H25", "G25", "L25"])
def test_the_bdew_profiles_sum_to_one(name: str) -> None:
    profile = loads.slp_profile(name)
    assert profile.shape == (35040,)
    assert profile.sum() == pytest.approx(1.0)
    assert (profile > 0).all()


def test_h25_is_dynamised() -> None:
    factor = loads.dynamisation(np.array([1, 180, 365]))
    assert factor[0] == pytest.approx(1.2421, abs=1e-3)
    assert factor[1] < 0.9 < factor[2]
    profile = loads.slp_profile("H25")
    january, july = profile[: 31 * 96].mean(), profile[181 * 96 : 212 * 96].mean()
    assert january > 1.2 * july


def test_tabula_heat_need_falls_with_refurbishment() -> None:
    table = loads.typologies(loads.heating_season(region4()))
    for size in ("SFH", "TH", "MFH", "AB"):
        for age in loads.AGE_CLASSES:
            try:
                existing, usual, advanced = (loads.lookup(table, size, age, v) for v in (1, 2, 3))
            except KeyError:
                continue
            assert 20 < advanced.q_heating < usual.q_heating <= existing.q_heating < 320
    # The Gründerzeit multi-family house (1860-1918) in its existing state: TABULA DE gives ~150 kWh/m²a.
    assert 120 < loads.lookup(table, "MFH", "DE.02", 1).q_heating < 190
    # Leipzig's GDR blocks use TABULA's East German types.
    assert loads.lookup(table, "AB", "DE.06", 1).code.startswith("DE.East")
    # A size class without the age class falls back to its neighbour.
    assert loads.lookup(table, "AB", "DE.11", 1).size_class == "MFH"


def test_heating_follows_the_cold() -> None:
    weather = region4()
    shape = loads.heating_shape(weather)
    assert shape.sum() == pytest.approx(1.0)
    assert shape[weather.temperature.argmin()] == shape.max()
    assert shape[weather.temperature > 25].sum() == 0


def test_pv_specific_yield_of_a_german_site_is_in_the_band() -> None:
    """A typical rooftop system on the TRY: 950-1,050 kWh/kWp/a (the German rooftop average is ~990)."""
    model = PVModel(region4(), site=SITE.point)
    assert 950 <= model.reference_yield() <= 1050
    south = model.specific_yield(35, 180)
    assert model.specific_yield(35, 90) < south and model.specific_yield(35, 270) < south
    assert 900 <= model.specific_yield(15, 180, "rack") <= 1050
    steps = model.steps(30, 180)
    assert steps.shape == (35040,) and steps.sum() == pytest.approx(model.reference_yield())
    # No generation at night: midnight hours are zero all year.
    assert model.hourly(30, 180).reshape(365, 24)[:, 0].max() == 0


def test_pv_losses_are_a_parameter() -> None:
    lossy = PVModel(region4(), PVParams(losses_percent=20.0), site=SITE.point)
    assert lossy.reference_yield() < 900
    assert azimuth_bin(10.0) == 90.0 and azimuth_bin(200.0) == 195.0 and azimuth_bin(300.0) == 270.0
