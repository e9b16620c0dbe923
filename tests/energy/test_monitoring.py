"""Monitoring: KPIs from the quarter's meter Datastreams against the plan of a run, on hand-checked cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.energy.conftest import DEMO_QUARTER
from tests.energy.test_api import load_small_quarter
from urbantwin.access.principal import SYSTEM
from urbantwin.city_profile import load_profile
from urbantwin.demo import PROFILE
from urbantwin.energy.meters import Deviation, MeterPlace, meter_values, write_meters
from urbantwin.energy.monitoring import plan_steps
from urbantwin.ingest.sta_client import LocalClient

END = datetime(2026, 6, 15, 12, tzinfo=UTC)
#: The demo quarter's meters, as `urbantwin demo` writes them (the name monitoring looks for).
PLACE = MeterPlace.of(DEMO_QUARTER, load_profile(PROFILE))


def test_the_plan_is_read_at_the_same_day_of_year_and_time_of_day() -> None:
    times = np.array(
        ["2026-06-15T10:00", "2026-06-15T10:14", "2028-03-01T00:00", "2028-12-31T22:00"], "datetime64[us]"
    )
    # 11:00 UTC+1 on the 166th day; a leap year's 1 March reads the plan's 1 March (day 60).
    assert plan_steps(times, 365 * 96).tolist() == [165 * 96 + 44, 165 * 96 + 44, 59 * 96 + 4, 364 * 96 + 92]


def done_run(app) -> tuple[str, dict]:  # noqa: ANN001
    runs = app.state.energy.runs
    run_id = runs.submit(SYSTEM, {"scenario": "pv_batteries_rule"}, start=False)
    runs.execute(runs.claim())
    _, _, series = runs.series(run_id)
    return run_id, series


def monitor(client: TestClient, run_id: str | None = None) -> dict:
    query = f"days=2&end={END.isoformat().replace('+00:00', 'Z')}" + (f"&run={run_id}" if run_id else "")
    answer = client.get(f"/api/energy/monitoring?{query}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_meters_equal_to_the_plan_give_the_plans_kpis(client: TestClient, app, engine, settings) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    run_id, series = done_run(app)
    without = monitor(client, run_id)
    assert without["actual"] is None and without["meters"]["missing"] == [
        "pv",
        "consumption",
        "grid_import",
        "grid_export",
        "gas",
    ]
    writer = LocalClient(engine, settings)
    report = write_meters(
        writer, run_id, "pv_batteries_rule", series, END - timedelta(days=2), END, Deviation(noise=0), PLACE
    )
    assert report.observations == 5 * 2 * 96
    answer = monitor(client)  # the run defaults to the one the meters were seeded from
    assert answer["run"] == run_id and answer["simulated_meters"] is True and "SIMULATED" in answer["note"]
    assert answer["period"] == {
        **answer["period"],
        "start": "2026-06-13T12:00:00Z",
        "end": "2026-06-15T12:00:00Z",
    }
    assert answer["meters"]["coverage"] == 1.0 and answer["meters"]["missing"] == []
    plan, actual = answer["plan"], answer["actual"]
    assert plan["pv_kwh"] > 0 and plan["grid_export_kwh"] > 0  # June days with PV
    for key, value in plan.items():
        assert actual[key] == pytest.approx(value, rel=1e-6, abs=1e-5), key
    assert len(answer["series"]["time"]) == 48
    assert answer["series"]["actual"]["pv"] == pytest.approx(answer["series"]["plan"]["pv"], abs=1e-5)
    # Writing the same period again adds nothing (the meters are idempotent).
    again = write_meters(
        writer, run_id, "pv_batteries_rule", series, END - timedelta(days=2), END, Deviation(noise=0), PLACE
    )
    assert again.observations == 0 and again.already_present == 5 * 2 * 96


def test_meters_with_a_known_deviation_give_the_known_difference(
    client: TestClient, app, engine, settings
) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    run_id, series = done_run(app)
    deviation = Deviation(noise=0.0, consumption_bias=0.10)
    write_meters(
        LocalClient(engine, settings), run_id, "x", series, END - timedelta(days=2), END, deviation, PLACE
    )
    answer = monitor(client, run_id)
    plan, actual = answer["plan"], answer["actual"]
    # 10 % more consumption, the same PV and storage: the connection's net import rises by exactly that.
    assert actual["consumption_kwh"] == pytest.approx(1.1 * plan["consumption_kwh"], rel=1e-6)
    assert actual["pv_kwh"] == pytest.approx(plan["pv_kwh"], rel=1e-6)
    net_plan = plan["grid_import_kwh"] - plan["grid_export_kwh"]
    net_actual = actual["grid_import_kwh"] - actual["grid_export_kwh"]
    assert net_actual - net_plan == pytest.approx(0.1 * plan["consumption_kwh"], rel=1e-5)
    expected = (actual["consumption_kwh"] - actual["grid_import_kwh"]) / actual["consumption_kwh"]
    assert actual["self_sufficiency"] == pytest.approx(expected, rel=1e-5)
    assert actual["self_sufficiency"] < plan["self_sufficiency"]
    assert actual["co2_kg"] > plan["co2_kg"]


def test_simulated_meters_balance_at_the_connection() -> None:
    steps = 365 * 96
    rng = np.random.default_rng(3)
    pv, load = rng.uniform(0, 2, steps), rng.uniform(0, 2, steps)
    series = {
        "pv": pv,
        "load": load,
        "ev": np.zeros(steps),
        "hp_electricity": np.zeros(steps),
        "grid_import": np.clip(load - pv, 0, None),
        "grid_export": np.clip(pv - load, 0, None),
        "gas": np.ones(steps),
    }
    values = meter_values(series, END, 96, Deviation(noise=0.1, pv_bias=-0.2, seed=5))
    net = values["consumption"] - values["pv"]
    assert values["grid_import"] - values["grid_export"] == pytest.approx(net)
    assert (values["grid_import"] * values["grid_export"] == 0).all()
    again = meter_values(series, END, 96, Deviation(noise=0.1, pv_bias=-0.2, seed=5))
    assert (again["pv"] == values["pv"]).all()  # seeded


def test_bad_monitoring_parameters_are_400_and_unknown_runs_404(client: TestClient) -> None:
    answer = client.get("/api/energy/monitoring?days=0")
    assert answer.status_code == 400 and "days" in answer.json()["message"]
    answer = client.get("/api/energy/monitoring?end=yesterday")
    assert answer.status_code == 400 and "end" in answer.json()["message"]
    # probe: a period before the year 1 was a 500 (date out of range)
    for end in ("0001-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "1899-12-31"):
        answer = client.get("/api/energy/monitoring", params={"days": 366, "end": end})
        assert answer.status_code == 400, answer.text
        assert f"end: '{end}' is out of range; give a time from 1900 to 9998" in answer.json()["message"]
    answer = client.get("/api/energy/monitoring?run=nope")
    assert answer.status_code == 404 and "nope" in answer.json()["message"]
