"""The goals of the synthetic city of the district tests (tests/districts/conftest.py: two districts
`west` and `east`, 1,000 + 2,000 residents in 2020 and 1,200 + 1,800 in 2024, one charging point in
each, five street trees) with a registry written for it, loaded into the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.districts.conftest import City, city  # noqa: F401  (the fixture, for these tests too)
from urbantwin.access.gate import Access, Caller
from urbantwin.indicators.registry import parse_registry
from urbantwin.indicators.service import Indicators, build
from urbantwin.settings import Settings
from urbantwin.store.city import read_profile

REGISTRY: dict[str, Any] = {
    "indicator": [
        {
            "id": "charging",
            "name": {"en": "Charging points per 1,000", "de": "Ladepunkte je 1.000"},
            "definition": {"en": "charging points per 1,000 residents", "de": "Ladepunkte je 1.000 EW"},
            "unit": "per 1,000",
            "method": "computed",
            "source": "synthetic",
            "compute": {"kind": "district_ratio", "figure": "charging_per_1000"},
            "target": [{"value": 1.0, "year": 2030, "direction": "at_least", "document": "Plan A"}],
        },
        {
            "id": "growth",
            "name": {"en": "Growth", "de": "Wachstum"},
            "definition": {"en": "change since 2020", "de": "Veränderung seit 2020"},
            "unit": "%",
            "method": "computed",
            "source": "synthetic",
            "compute": {"kind": "population", "measure": "growth_percent", "since": 2020},
        },
        {
            "id": "access",
            "name": {"en": "Near a stop", "de": "Nahe einer Haltestelle"},
            "definition": {"en": "within 500 m", "de": "im 500-m-Umkreis"},
            "unit": "%",
            "method": "computed",
            "source": "synthetic",
            "compute": {"kind": "transit_access", "radius": 500, "min_departures": 1},
        },
        {
            "id": "satisfaction",
            "name": {"en": "Satisfied residents", "de": "Zufriedene Einwohner"},
            "definition": {"en": "from the survey", "de": "aus der Umfrage"},
            "unit": "%",
            "method": "entered",
            "source": "the city's survey",
            "target": [
                {"value": 80, "year": 2030, "direction": "at_least", "document": "Council decision 7"}
            ],
        },
    ]
}


@pytest.fixture
def goals(city: City, settings: Settings) -> Iterator[Indicators]:  # noqa: F811
    engine: Engine = city.engine
    service = build(engine, settings, Access.of(engine, settings), read_profile(engine))
    service.load(Caller.system("test"), parse_registry(REGISTRY))
    yield service
