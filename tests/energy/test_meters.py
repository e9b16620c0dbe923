"""Meters per block and per building, and plans as Datastreams: written through SensorThings, read
back by the monitoring and by a SensorThings client others wrote (frost-sta-client)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import frost_sta_client as fsc
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import ADMIN_TOKEN
from tests.energy.test_api import load_small_quarter
from tests.energy.test_monitoring import PLACE, done_run
from urbantwin.energy.meters import (
    Deviation,
    GroupPlan,
    PlanRun,
    Selection,
    group_plan,
    quarter_plan,
    write_group_meters,
    write_meters,
)
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.store.schema import datastreams, things

END = datetime(2026, 6, 15, 12, tzinfo=UTC)
START = END - timedelta(days=2)
PERIOD = f"days=2&end={END.isoformat().replace('+00:00', 'Z')}"


def blocks_of(
    app, run_id: str, selection: Selection, ahead: timedelta = timedelta(0)
) -> tuple[object, GroupPlan]:  # noqa: ANN001
    runs = app.state.energy.runs
    row, _, series = runs.series(run_id)
    return row, group_plan(runs.engine, runs.library, row, series, selection, START, END + ahead)


def write(app, engine, settings, row, group: GroupPlan, deviation: Deviation = Deviation(noise=0)):  # noqa: ANN001, ANN201
    plan = PlanRun.of(row, app.state.energy.runs.dataset_of(row.id))
    return write_group_meters(LocalClient(engine, settings), plan, group, deviation, PLACE.name, END)


def test_the_blocks_plans_add_up_to_the_quarters(app, engine) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    run_id, series = done_run(app)
    _, group = blocks_of(app, run_id, Selection("block"))
    assert group.level == "block" and len(group.keys) >= 2 and sum(group.sizes) == 6
    assert group.hours == 48 and group.start == START
    quarter = quarter_plan(series, START, 48 * 4)
    for flow in ("pv", "consumption", "gas"):  # the quarter battery is no block's
        expected = quarter[flow].reshape(48, 4).sum(axis=1)
        np.testing.assert_allclose(
            group.flows[flow].sum(axis=1), expected, rtol=1e-9, atol=1e-9, err_msg=flow
        )
    assert group.flows["pv"].sum() > 0  # June days
    # The buildings of one block add up to the block.
    block = max(range(len(group.keys)), key=lambda g: group.sizes[g])
    _, buildings = blocks_of(app, run_id, Selection("building", blocks=(group.keys[block],)))
    assert len(buildings.keys) == group.sizes[block] and set(buildings.blocks) == {group.keys[block]}
    for flow, values in buildings.flows.items():
        np.testing.assert_allclose(values.sum(axis=1), group.flows[flow][:, block], atol=1e-9, err_msg=flow)


def test_what_cannot_be_chosen_is_said(app, engine) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="needs the buildings"):
        Selection("building")
    with pytest.raises(ValueError, match="level: 'street'"):
        Selection("street")
    load_small_quarter(engine)
    run_id, _ = done_run(app)
    with pytest.raises(ValueError, match="no block block-nowhere"):
        blocks_of(app, run_id, Selection("block", blocks=("block-nowhere",)))
    with pytest.raises(ValueError, match="no building b-nowhere"):
        blocks_of(app, run_id, Selection("building", buildings=("b-nowhere",)))


def test_block_meters_with_their_plans_are_monitored(client: TestClient, app, engine, settings) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    run_id, _ = done_run(app)
    row, group = blocks_of(app, run_id, Selection("block"), ahead=timedelta(hours=6))
    report = write(app, engine, settings, row, group)
    count = len(group.keys)
    # Meters for the 48 hours up to END, plans for 54 (six hours of forecast beyond).
    assert report.observations == count * 5 * (48 + 54)
    assert write(app, engine, settings, row, group).observations == 0  # idempotent
    dataset = app.state.energy.runs.dataset_of(run_id)
    with engine.connect() as connection:
        meters = connection.execute(
            select(things.c.id, things.c.name, things.c.properties, things.c.dataset_id).where(
                things.c.properties["meter_level"].as_string() == "block"
            )
        ).all()
        streams = connection.execute(
            select(datastreams.c.name, datastreams.c.properties, datastreams.c.dataset_id).where(
                datastreams.c.thing_id.in_([m.id for m in meters])
            )
        ).all()
    assert len(meters) == count and {m.dataset_id for m in meters} == {dataset}
    assert all(m.properties["simulated"] and m.name.endswith("meters (simulated)") for m in meters)
    plans = [s for s in streams if s.properties["role"] == "plan"]
    assert len(plans) == len(streams) - len(plans) == count * 5 and {s.dataset_id for s in streams} == {
        dataset
    }
    assert all(s.properties["plan_run"] == run_id and "plan of run" in s.name for s in plans)
    actual_keys = {s.properties["import_key"] for s in streams if s.properties["role"] == "actual"}
    assert {s.properties["actual"] for s in plans} == actual_keys

    block = group.keys[0]
    # The viewer's question for a clicked building: which of it and its block have meters.
    wanted = (
        "(properties/meter_level eq 'building' and properties/meter_key eq 'a1') or "
        f"(properties/meter_level eq 'block' and properties/meter_key eq '{block}')"
    )
    found = client.get(
        "/v1.1/Things",
        params={"$filter": f"properties/meter_level ne null and ({wanted})", "$select": "id,properties"},
    )
    assert found.status_code == 200, found.text
    assert [
        (t["properties"]["meter_level"], t["properties"]["meter_key"]) for t in found.json()["value"]
    ] == [("block", block)]
    answer = client.get(f"/api/energy/monitoring?{PERIOD}&block={block}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["level"] == "block" and body["block"] == block and body["run"] == run_id
    assert body["plan_source"] == "Datastreams" and body["simulated_meters"] is True
    assert body["meters"]["coverage"] == 1.0 and body["meters"]["plan_coverage"] == 1.0
    assert body["plan"]["consumption_kwh"] == pytest.approx(
        float(group.flows["consumption"][:48, 0].sum()), rel=1e-6
    )
    for key, value in body["plan"].items():
        assert body["actual"][key] == pytest.approx(value, rel=1e-6, abs=1e-5), key
    # A known deviation gives the known difference: the meters follow the run with +10 % consumption.
    _, other = blocks_of(app, run_id, Selection("block", blocks=(block,)))
    with engine.begin() as connection:  # start the block's meters afresh
        from urbantwin.store.schema import observations

        ids = [
            i
            for (i,) in connection.execute(
                select(datastreams.c.id).where(datastreams.c.properties["role"].as_string() == "actual")
            )
        ]
        connection.execute(observations.delete().where(observations.c.datastream_id.in_(ids)))
    write(app, engine, settings, row, other, Deviation(noise=0, consumption_bias=0.1))
    biased = client.get(f"/api/energy/monitoring?{PERIOD}&block={block}&run={run_id}").json()
    assert biased["actual"]["consumption_kwh"] == pytest.approx(
        1.1 * biased["plan"]["consumption_kwh"], rel=1e-6
    )


def test_a_blocks_buildings_are_monitored_one_by_one(client: TestClient, app, engine, settings) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    run_id, _ = done_run(app)
    row, blocks = blocks_of(app, run_id, Selection("block"))
    block = max(range(len(blocks.keys)), key=lambda g: blocks.sizes[g])
    _, group = blocks_of(app, run_id, Selection("building", blocks=(blocks.keys[block],)))
    write(app, engine, settings, row, group)
    for g, key in enumerate(group.keys):
        body = client.get(f"/api/energy/monitoring?{PERIOD}&building={key}").json()
        assert body["level"] == "building" and body["building"] == key
        assert body["plan"]["pv_kwh"] == pytest.approx(
            float(group.flows["pv"][:, g].sum()), rel=1e-6, abs=1e-6
        )
        assert body["actual"]["pv_kwh"] == pytest.approx(body["plan"]["pv_kwh"], rel=1e-6, abs=1e-6)


def test_bad_meter_parameters_are_400_and_unknown_meters_404(
    client: TestClient, app, engine, settings
) -> None:  # noqa: ANN001
    for query, status, words in (
        ("block=a&building=b", 400, "not both"),
        ("block=", 400, "block: empty"),
        ("building=" + "x" * 201, 400, "at most 200"),
        ("block=a%01b", 400, "printable"),
    ):
        answer = client.get(f"/api/energy/monitoring?{PERIOD}&{query}")
        assert answer.status_code == status and words in answer.text, (query, answer.text)
    load_small_quarter(engine)
    run_id, _ = done_run(app)
    answer = client.get(f"/api/energy/monitoring?{PERIOD}&block=block-nowhere")
    assert answer.status_code == 404 and "urbantwin energy meters --level block" in answer.text
    row, group = blocks_of(app, run_id, Selection("block"))
    write(app, engine, settings, row, group)
    other, _ = done_run(app)  # a run whose plan was not written for the blocks
    answer = client.get(f"/api/energy/monitoring?{PERIOD}&block={group.keys[0]}&run={other}")
    assert answer.status_code == 404 and f"no plan of run '{other}'" in answer.text


def test_the_quarters_plan_is_written_as_forecast_datastreams(
    client: TestClient, app, engine, settings
) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    run_id, series = done_run(app)
    row, _, _ = app.state.energy.runs.series(run_id)
    plan = PlanRun.of(row, app.state.energy.runs.dataset_of(run_id))
    report = write_meters(
        LocalClient(engine, settings),
        run_id,
        row.scenario,
        series,
        START,
        END,
        Deviation(noise=0),
        PLACE,
        plan=plan,
        ahead=timedelta(hours=1),
    )
    assert report.observations == 5 * 2 * 96 + 5 * (2 * 96 + 4)
    _, blocks = blocks_of(app, run_id, Selection("block"))
    write(app, engine, settings, row, blocks)  # newer Things that name the quarter too, at their level
    # The quarter's monitoring still reads its meters (the plan Datastreams beside them are not meters).
    body = client.get(f"/api/energy/monitoring?{PERIOD}").json()
    assert body["level"] == "quarter" and body["meters"]["coverage"] == 1.0
    with engine.connect() as connection:
        quarter = connection.execute(
            select(things.c.id).where(things.c.name == f"{PLACE.name} quarter meters (simulated)")
        ).scalar_one()
    assert body["meters"]["thing"] == quarter
    assert body["actual"]["pv_kwh"] == pytest.approx(body["plan"]["pv_kwh"], rel=1e-6)


def test_a_sensorthings_client_reads_plan_and_actual_side_by_side(
    live_server: str, app, engine, settings
) -> None:  # noqa: ANN001
    """frost-sta-client, as its README reads a server: the block's Thing, its Datastreams told apart by
    `properties/role` and paired by `energy_flow`, and their Observations over the same hours."""
    load_small_quarter(engine)
    run_id, _ = done_run(app)
    row, group = blocks_of(app, run_id, Selection("block"))
    write(app, engine, settings, row, group, Deviation(noise=0, pv_bias=-0.2))
    service = fsc.SensorThingsService(
        f"{live_server}/v1.1", auth_handler=fsc.AuthHandler(username="admin", password=ADMIN_TOKEN)
    )
    block = group.keys[0]
    (thing,) = (
        service.things()
        .query()
        .filter(f"properties/meter_level eq 'block' and properties/meter_key eq '{block}'")
        .list()
    )
    assert thing.properties["plan_run"] == run_id and thing.properties["simulated"] is True
    pairs: dict[str, dict[str, fsc.Datastream]] = {}
    for datastream in thing.get_datastreams().query().list():
        pairs.setdefault(datastream.properties["energy_flow"], {})[datastream.properties["role"]] = datastream
    assert set(pairs) == {"pv", "consumption", "grid_import", "grid_export", "gas"}
    computed = row.finished.astimezone(UTC)

    def read(datastream: fsc.Datastream) -> dict[str, object]:
        entities = datastream.get_observations().query().orderby("phenomenonTime", "asc").top(1000).list()
        return {str(o.phenomenon_time): o for o in entities}

    plan, actual = read(pairs["pv"]["plan"]), read(pairs["pv"]["actual"])
    assert len(plan) == len(actual) == 48 and plan.keys() == actual.keys()
    assert sum(o.result for o in plan.values()) > 0
    for when, observation in plan.items():
        assert actual[when].result == pytest.approx(0.8 * observation.result, rel=1e-5, abs=1e-6)
        assert datetime.fromisoformat(str(observation.result_time).replace("Z", "+00:00")) == computed
    assert pairs["pv"]["plan"].properties["actual"] == pairs["pv"]["actual"].properties["import_key"]
