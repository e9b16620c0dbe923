"""The computations that read other modules' data: the air quality assessment's annual means and the
energy runs against the baseline; and what a caller who may not read the indicators' dataset sees."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from tests.airquality.test_api import station  # noqa: F401  (the fixture: a year of NO2 and PM10)
from urbantwin.access.datasets import create_dataset
from urbantwin.access.gate import Access, Caller
from urbantwin.indicators.registry import parse_registry
from urbantwin.indicators.service import Indicators, build
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets
from urbantwin.store.energy_schema import energy_runs
from urbantwin.store.engine import for_writes


def _indicator(
    ident: str, compute: dict[str, Any], targets: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": {"en": ident, "de": ident},
        "definition": {"en": ident, "de": ident},
        "unit": "x",
        "method": "computed",
        "source": "test",
        "compute": compute,
        "target": targets or [],
    }


def _service(engine: Engine, settings: Settings, *indicators: dict[str, Any]) -> Indicators:
    service = build(engine, settings, Access.of(engine, settings))
    service.load(Caller.system("test"), parse_registry({"indicator": list(indicators)}))
    return service


def test_annual_means_of_the_air_quality_assessment(
    engine: Engine,
    settings: Settings,
    station: dict[str, int],  # noqa: F811
) -> None:
    limit = [{"value": 40, "year": 2010, "direction": "at_most", "document": "2008/50/EC"}]
    service = _service(
        engine,
        settings,
        _indicator("no2", {"kind": "air_annual_mean", "pollutant": "no2"}, limit),
        _indicator("pm10", {"kind": "air_annual_mean", "pollutant": "pm10", "statistic": "mean"}),
    )
    by_id = {i["id"]: i for i in service.listing(Caller.system())["indicators"]}
    # 30 µg/m³ every hour of 2023 but four hours of 250
    assert by_id["no2"]["values"][0]["year"] == 2023
    assert by_id["no2"]["values"][0]["value"] == pytest.approx((30 * 8756 + 250 * 4) / 8760, abs=1e-3)
    assert by_id["no2"]["targets"][0]["light"] == "green"
    # daily means: 46 on 19 days, 20 on the rest
    assert by_id["pm10"]["values"][0]["value"] == pytest.approx((46 * 19 + 20 * 346) / 365, abs=1e-3)


def test_the_energy_quarter_against_the_baseline(engine: Engine, settings: Settings) -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    with for_writes(engine).begin() as connection:
        for name in ("baseline", "pv"):
            create_dataset(connection, f"energy-{name}", access_level="open")
            connection.execute(
                energy_runs.insert().values(
                    id=name,
                    scenario=name,
                    title=name,
                    description=name,
                    strategy="rule",
                    overrides={},
                    collection=f"energy-{name}",
                    status="done",
                    progress=1.0,
                    submitted_by="test",
                    created=now,
                    finished=now,
                    heartbeat=now,
                    kpis={
                        "co2_kg": 100.0 if name == "baseline" else 30.0,
                        "renewable_kwh": 10.0,
                        "final_energy_kwh": 5.0,
                    },
                )
            )
    target = [{"value": -64, "year": 2024, "direction": "at_most", "document": "SPARCS"}]
    service = _service(
        engine, settings, _indicator("co2", {"kind": "energy_target", "kpi": "co2", "scenario": "pv"}, target)
    )
    co2 = service.one(Caller.system(), "co2")
    assert [(v["year"], v["value"]) for v in co2["values"]] == [(2026, pytest.approx(-70.0))]
    assert co2["targets"][0]["light"] == "green"


def test_an_indicator_of_a_dataset_the_caller_may_not_read(
    engine: Engine, settings: Settings, anonymous: TestClient, client: TestClient
) -> None:
    entered = _indicator("survey", {})
    entered.pop("compute")
    entered["method"] = "entered"
    entered["dataset"] = "internal-goals"
    _service(engine, settings, entered)
    with for_writes(engine).begin() as connection:
        connection.execute(
            update(datasets).where(datasets.c.id == "internal-goals").values(access_level="internal")
        )
    assert anonymous.get("/api/indicators").json()["indicators"] == []
    assert anonymous.get("/api/indicators/survey").status_code == 404
    assert client.put("/api/indicators/survey/values/2024", json={"value": 3}).status_code == 200
    assert [i["id"] for i in client.get("/api/indicators").json()["indicators"]] == ["survey"]
