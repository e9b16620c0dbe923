"""The registry file: what it holds, and each mistake refused with the indicator and key named."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.indicators.conftest import REGISTRY
from urbantwin.demo import INDICATORS
from urbantwin.indicators.registry import Indicator, RegistryError, load_registry, parse_registry


def test_the_demo_s_registry_is_read_whole() -> None:
    registry = load_registry(INDICATORS)
    ids = [indicator.id for indicator in registry]
    assert {"no2-annual-mean", "pm10-annual-mean", "charging-per-1000", "transit-access-300m"} <= set(ids)
    assert {"trees-per-resident", "population-growth", "sparcs-co2"} <= set(ids)
    no2 = registry[ids.index("no2-annual-mean")]
    assert no2.iso == "ISO 37120:2014 8.4" and no2.unit == "µg/m³"
    assert [(t.value, t.year, t.direction) for t in no2.targets] == [
        (40, 2010, "at_most"),
        (20, 2030, "at_most"),
    ]
    co2 = registry[ids.index("sparcs-co2")]
    assert co2.targets[0].value == -64 and co2.compute["kind"] == "energy_target"


def test_a_document_round_trips() -> None:
    for indicator in parse_registry(REGISTRY):
        assert Indicator.from_document(indicator.document()) == indicator


def _broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(REGISTRY)
    change(document["indicator"][0])
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda i: i.update(colour="red"), "indicator charging: unknown key 'colour'"),
        (lambda i: i.update(method="guessed"), "method must be one of computed, entered"),
        (lambda i: i["compute"].update(kind="magic"), "compute.kind must be one of"),
        (lambda i: i["compute"].pop("figure"), "compute.figure is required for district_ratio"),
        (lambda i: i["name"].pop("de"), "name must give a text for each of de, en"),
        (lambda i: i["target"][0].update(direction="down"), "target 1: direction must be one of"),
        (lambda i: i["target"][0].update(year="soon"), "target 1: year must be a year"),
        (lambda i: i["target"][0].update(value=True), "target 1: value must be a number"),
        (lambda i: i.update(id="Not An Id"), "id must be 1-63 lower-case letters"),
    ],
)
def test_mistakes_are_named(change: Any, message: str) -> None:
    with pytest.raises(RegistryError, match=message.replace("(", r"\(")):
        parse_registry(_broken(change))


def test_an_indicator_twice_is_refused() -> None:
    document = copy.deepcopy(REGISTRY)
    document["indicator"].append(copy.deepcopy(document["indicator"][0]))
    with pytest.raises(RegistryError, match="'charging' appears twice"):
        parse_registry(document)


_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=5))


@given(st.dictionaries(st.text(max_size=8), _VALUES, max_size=6))
def test_any_table_is_read_or_refused_by_name(table: dict[str, Any]) -> None:
    """Whatever an indicator table holds, parsing gives an indicator or a RegistryError, never
    another exception."""
    with contextlib.suppress(RegistryError):
        parse_registry({"indicator": [table]})
