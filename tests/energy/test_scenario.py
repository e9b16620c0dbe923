"""Scenario files: bundled scenarios, overrides, checks, and the labels of what is assumed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from urbantwin.energy import scenario as scenarios
from urbantwin.energy.scenario import Scenario


def test_the_three_bundled_scenarios_load() -> None:
    names = {path.stem for path in scenarios.bundled()}
    assert {"baseline", "pv_batteries_rule", "pv_hp_ev_optimised"} <= names
    strategies = {scenarios.load(name).scenario.strategy for name in names}
    assert strategies == {"baseline", "rule_based", "optimised"}
    optimised = scenarios.load("pv_hp_ev_optimised")
    assert optimised.heat_pump.adoption > 0 and optimised.battery.quarter_kwh > 0
    # The bundled scenarios know no city: every building, the profile's districts.
    assert optimised.scenario.area == [] and optimised.scenario.districts_collection == ""


def test_overrides_replace_single_values_and_keep_the_rest(tmp_path: Path) -> None:
    base = scenarios.load("pv_batteries_rule")
    key, value = scenarios.parse_override("pv.adoption=0.8")
    changed = base.with_overrides({key: value, "grid.co2_g_per_kwh": 300})
    assert changed.pv.adoption == 0.8 and changed.grid.co2_g_per_kwh == 300.0
    assert changed.battery == base.battery and changed.pv.kwp_per_m2 == base.pv.kwp_per_m2
    assert base.pv.adoption == 0.6  # the original is unchanged
    table = changed.with_overrides(
        dict([scenarios.parse_override("buildings.nonresidential_heat_kwh_m2={public = 70}")])
    )
    assert table.buildings.nonresidential_heat_kwh_m2["public"] == 70.0
    assert table.buildings.nonresidential_heat_kwh_m2["commercial"] == 90.0  # a table merges
    assert scenarios.parse_override("scenario.strategy=optimised") == ("scenario.strategy", "optimised")
    assert scenarios.parse_override("scenario.area=['Plagwitz']") == ("scenario.area", ["Plagwitz"])
    # A file sets what it names; the rest keeps its defaults.
    path = tmp_path / "mine.toml"
    path.write_text('[scenario]\nname = "mine"\n[pv]\nadoption = 0.3\n', encoding="utf-8")
    mine = scenarios.load(path, {"battery.adoption": 0.5})
    assert (mine.scenario.name, mine.pv.adoption, mine.battery.adoption) == ("mine", 0.3, 0.5)
    assert mine.heat_pump == Scenario().heat_pump


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pv.adoptoin": 0.5}, "unknown key 'adoptoin'"),
        ({"solar.adoption": 0.5}, "unknown section 'solar'"),
        ({"pv.adoption": "many"}, "expected a number"),
        ({"pv.adoption": 1.5}, "pv.adoption: 1.5 is not between 0 and 1"),
        ({"scenario.strategy": "magic"}, "is not one of baseline, rule_based, optimised"),
        ({"battery.soc_min": 0.9, "battery.soc_max": 0.5}, "soc_min must be below soc_max"),
        ({"optimiser.horizon_hours": 12}, "at least 24"),
        ({"adoption": 1}, "expected section.key"),
    ],
)
def test_bad_values_are_named(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Scenario().with_overrides(overrides)


def test_a_bad_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[pv]\nadoption = \n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.toml: not valid TOML"):
        scenarios.load(path)
    with pytest.raises(ValueError, match="bundled scenarios: baseline"):
        scenarios.load("no-such-scenario")


def test_every_parameter_is_documented_with_a_source_and_labelled() -> None:
    listed = Scenario().parameters()
    assert len(listed) > 60
    for item in listed:
        assert item["doc"] and item["source"], item["parameter"]
    assumed = set(Scenario().assumed())
    assert "pv.kwp_per_m2" in assumed and "buildings.dwelling_m2" in assumed
    assert "grid.co2_g_per_kwh" not in assumed  # UBA's figure is a source, not an assumption


# --- the parameter machinery the scenarios and the planner's `PlanParams` share ---------------------


@dataclass(frozen=True)
class Tariff:
    """A parameter dataclass as a module declares one: each field a documented `param`."""

    price_eur_per_kwh: float = scenarios.param(0.3, "price of a kWh", "assumed; the caller's")
    years: int = scenarios.param(10, "years the tariff runs", "-", False)
    shares: dict[str, float] = scenarios.param({"day": 0.6, "night": 0.4}, "share by time of day", "-")
    bands: dict[str, float] = scenarios.param({"low": 1.0}, "bands (given whole)", "-", whole_table=True)


def test_parameters_from_checks_each_value_against_its_default() -> None:
    tariff = scenarios.parameters_from(Tariff, {"price_eur_per_kwh": 1, "years": 12.0}, "tariff")
    assert (tariff.price_eur_per_kwh, tariff.years) == (1.0, 12)
    assert isinstance(tariff.price_eur_per_kwh, float) and isinstance(tariff.years, int)
    with pytest.raises(ValueError, match=r"tariff: unknown key 'colour' \(known: price_eur_per_kwh, years"):
        scenarios.parameters_from(Tariff, {"colour": "red"}, "tariff")
    with pytest.raises(ValueError, match="tariff.years: expected an integer, got 2.5"):
        scenarios.parameters_from(Tariff, {"years": 2.5}, "tariff")
    with pytest.raises(ValueError, match="tariff price_eur_per_kwh: expected a number, got 'cheap'"):
        scenarios.parameters_from(Tariff, {"price_eur_per_kwh": "cheap"}, "tariff", joined=" ")


def test_a_table_sets_some_keys_of_its_default_or_with_whole_table_replaces_it() -> None:
    tariff = scenarios.parameters_from(Tariff, {"shares": {"day": 0.5}, "bands": {"high": 2}}, "tariff")
    assert tariff.shares == {"day": 0.5, "night": 0.4}
    assert tariff.bands == {"high": 2.0}


def test_parameters_of_lists_each_with_its_documentation() -> None:
    listed = scenarios.parameters_of(Tariff(), "tariff.")
    assert listed[0] == {
        "parameter": "tariff.price_eur_per_kwh",
        "value": 0.3,
        "doc": "price of a kWh",
        "source": "assumed; the caller's",
        "assumed": True,
    }
    assert [item["parameter"] for item in listed] == [
        "tariff.price_eur_per_kwh",
        "tariff.years",
        "tariff.shares",
        "tariff.bands",
    ]
    assert "whole_table" not in listed[-1]
