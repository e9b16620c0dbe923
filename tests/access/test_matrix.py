"""The authorisation matrix: every principal × every access level × every API × read and write,
and membership changes.

The expected answer comes from `world.may_read`/`may_write`, the rules written out independently of
the platform's policy; each test collects every disagreement and reports them all at once.
"""

from __future__ import annotations

import queue
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.access.world import (
    DATASETS,
    PRINCIPALS,
    USERS,
    World,
    build,
    may_read,
    may_steward,
    may_write,
)
from tests.conftest import ADMIN_TOKEN
from tests.energy.test_api import load_small_quarter
from tests.live.helpers import EventStream
from urbantwin.access.principal import SYSTEM


@pytest.fixture
def world(client: TestClient, engine: Engine) -> World:
    return build(client, engine)


def _report(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} cells of the matrix are wrong:\n" + "\n".join(problems)


def test_sensorthings_reads(client: TestClient, world: World) -> None:
    problems = []
    for principal in PRINCIPALS:
        headers = world.headers(principal)
        listed_things = {t["name"] for t in client.get("/v1.1/Things", headers=headers).json()["value"]}
        observation_count = client.get("/v1.1/Observations?$count=true&$top=0", headers=headers).json()[
            "@iot.count"
        ]
        expected_count = sum(1 for d in DATASETS if may_read(principal, d)) + (
            1 if may_read(principal, "meters-internal") else 0
        )
        if observation_count != expected_count:
            problems.append(
                f"{principal}: Observations $count {observation_count}, expected {expected_count}"
            )
        for dataset, ids in world.ids.items():
            visible = may_read(principal, dataset)
            cell = f"{principal} × {dataset}"
            if (f"thing-{dataset}" in listed_things) != visible:
                problems.append(f"{cell}: /Things lists it: {not visible}")
            for path in (
                f"Things({ids['thing']})",
                f"Locations({ids['location']})",
                f"Datastreams({ids['datastream']})",
                f"Sensors({ids['sensor']})",
                f"ObservedProperties({ids['observed_property']})",
                f"Observations({ids['observation']})",
                f"FeaturesOfInterest({ids['foi']})",
                f"Datastreams({ids['datastream']})/Observations",
                f"Things({ids['thing']})/Datastreams",
            ):
                status = client.get(f"/v1.1/{path}", headers=headers).status_code
                if status != (200 if visible else 404):
                    problems.append(f"{cell}: GET {path} answered {status}")
            found = client.get(
                f"/v1.1/Observations?$filter=Datastream/name eq 'ds-{dataset}'", headers=headers
            ).json()["value"]
            if bool(found) != visible:
                problems.append(f"{cell}: a $filter on the Datastream's name found {len(found)}")
    _report(problems)


def test_no_leak_through_relations(client: TestClient, world: World) -> None:
    """An open Thing with an internal Datastream: the Datastream stays hidden along every path."""
    thing = world.ids["air-open"]["thing"]
    secret = world.mixed_datastream
    problems = []
    for principal in PRINCIPALS:
        headers = world.headers(principal)
        visible = may_read(principal, "meters-internal")
        expanded = client.get(
            f"/v1.1/Things({thing})?$expand=Datastreams($count=true)", headers=headers
        ).json()
        names = {d["name"] for d in expanded["Datastreams"]}
        if ("ds-secret-on-open-thing" in names) != visible or expanded[
            "Datastreams@iot.count"
        ] != 1 + visible:
            problems.append(
                f"{principal}: $expand shows {sorted(names)}, count {expanded['Datastreams@iot.count']}"
            )
        count = client.get(f"/v1.1/Things({thing})/Datastreams?$count=true", headers=headers).json()[
            "@iot.count"
        ]
        if count != 1 + visible:
            problems.append(f"{principal}: Things/Datastreams $count {count}")
        filtered = client.get(
            "/v1.1/Things?$filter=Datastreams/name eq 'ds-secret-on-open-thing'", headers=headers
        ).json()["value"]
        if bool(filtered) != visible:
            problems.append(f"{principal}: a $filter across to the secret Datastream found {len(filtered)}")
        by_result = client.get(
            "/v1.1/Things?$filter=Datastreams/Observations/result eq 42", headers=headers
        ).json()["value"]
        if bool(by_result) != visible:
            problems.append(f"{principal}: a $filter on the secret result found {len(by_result)}")
        sensor = world.ids["air-open"]["sensor"]
        via_sensor = client.get(f"/v1.1/Sensors({sensor})/Datastreams", headers=headers).json()["value"]
        if any(d["@iot.id"] == secret for d in via_sensor) != visible:
            problems.append(f"{principal}: the open Sensor's Datastreams show the secret one: {not visible}")
        observations = client.get(f"/v1.1/Datastreams({secret})/Observations", headers=headers)
        if observations.status_code != (200 if visible else 404):
            problems.append(
                f"{principal}: the secret Datastream's Observations answered {observations.status_code}"
            )
        next_page = client.get(f"/v1.1/Things({thing})/Datastreams?$top=1", headers=headers).json()
        if ("@iot.nextLink" in next_page) != visible:
            problems.append(f"{principal}: a nextLink betrays a hidden Datastream")
    _report(problems)


def test_sensorthings_writes(client: TestClient, world: World) -> None:
    problems = []
    for principal in PRINCIPALS:
        headers = world.headers(principal)
        # A reader's token has no write scope: refused before any entity is looked at.
        read_only = principal != "anonymous" and USERS[principal][0] == "reader"
        for dataset, ids in world.ids.items():
            cell = f"{principal} × {dataset}"
            allowed, visible = may_write(principal, dataset), may_read(principal, dataset)
            visible = visible or read_only
            response = client.post(
                "/v1.1/Observations",
                json={"result": 7, "Datastream": {"@iot.id": ids["datastream"]}},
                headers=headers,
            )
            expected = 201 if allowed else 401 if principal == "anonymous" else 403 if visible else 400
            if response.status_code != expected:
                problems.append(
                    f"{cell}: POST Observation answered {response.status_code}, expected {expected}"
                )
            patched = client.patch(
                f"/v1.1/Things({ids['thing']})", json={"description": "changed"}, headers=headers
            )
            expected = 200 if allowed else 401 if principal == "anonymous" else 403 if visible else 404
            if patched.status_code != expected:
                problems.append(f"{cell}: PATCH Thing answered {patched.status_code}, expected {expected}")
            created = client.post(
                f"/v1.1/Things({ids['thing']})/Datastreams",
                json={
                    "name": f"new-{principal}",
                    "description": "d",
                    "observationType": "OM_Measurement",
                    "unitOfMeasurement": {"name": "x", "symbol": "x", "definition": "x"},
                    "Sensor": {"@iot.id": ids["sensor"]},
                    "ObservedProperty": {"@iot.id": ids["observed_property"]},
                },
                headers=headers,
            )
            expected = 201 if allowed else 401 if principal == "anonymous" else 403 if visible else 404
            if created.status_code != expected:
                problems.append(
                    f"{cell}: POST Datastream answered {created.status_code}, expected {expected}"
                )
            if created.status_code == 201:
                # It joined the Thing's dataset: readable exactly where the Thing is.
                new_id = created.json()["@iot.id"]
                for other in PRINCIPALS:
                    status = client.get(
                        f"/v1.1/Datastreams({new_id})", headers=world.headers(other)
                    ).status_code
                    if status != (200 if may_read(other, dataset) else 404):
                        problems.append(f"{cell}: the new Datastream answers {other} with {status}")
    _report(problems)


def test_sensorthings_single_observations_grouped(client: TestClient, world: World) -> None:
    """A plain Observation (Datastream and FeatureOfInterest by id), which is committed in a group
    with others (sensorthings/posts.py), is allowed and refused exactly as any write."""
    problems = []
    grouped, created = [], set()
    posts = client.app.state.sensorthings.observation_posts
    submit_all = posts.submit_all
    posts.submit_all = lambda batch: (grouped.extend(batch), submit_all(batch))
    for principal in PRINCIPALS:
        headers = world.headers(principal)
        read_only = principal != "anonymous" and USERS[principal][0] == "reader"
        for dataset, ids in world.ids.items():
            cell = f"{principal} × {dataset}"
            allowed, visible = may_write(principal, dataset), may_read(principal, dataset) or read_only
            body = {
                "result": 8,
                "Datastream": {"@iot.id": ids["datastream"]},
                "FeatureOfInterest": {"@iot.id": ids["foi"]},
            }
            for path in ("Observations", f"Datastreams({ids['datastream']})/Observations"):
                if path != "Observations":
                    body = {k: v for k, v in body.items() if k != "Datastream"}
                response = client.post(f"/v1.1/{path}", json=body, headers=headers)
                if response.status_code == 201:
                    created.add(response.json()["@iot.id"])
                expected = (
                    201
                    if allowed
                    else 401
                    if principal == "anonymous"
                    else 403
                    if visible
                    else (400 if path == "Observations" else 404)
                )
                if response.status_code != expected:
                    problems.append(
                        f"{cell}: POST {path} answered {response.status_code}, expected {expected}"
                    )
    _report(problems)
    # Every one allowed was made in a group (those refused, by the writer alone).
    assert len(created) == 2 * sum(may_write(p, d) for p in PRINCIPALS for d in world.ids)
    assert {post.row["id"] for post in grouped if post.row is not None} == created


def test_features_and_tiles(client: TestClient, world: World) -> None:
    problems = []
    for principal in PRINCIPALS:
        headers = world.headers(principal)
        listed = {c["id"] for c in client.get("/ogcapi/collections", headers=headers).json()["collections"]}
        for dataset in DATASETS:
            cell = f"{principal} × {dataset}"
            visible, allowed = may_read(principal, dataset), may_write(principal, dataset)
            collection = f"layer-{dataset}"
            if (collection in listed) != visible:
                problems.append(f"{cell}: /collections lists it: {not visible}")
            for path in (
                collection,
                f"{collection}/items",
                f"{collection}/items/f1",
                f"{collection}/queryables",
                f"{collection}/tiles",
                f"{collection}/tiles/WebMercatorQuad/15/10975/17595",
            ):
                status = client.get(f"/ogcapi/collections/{path}", headers=headers).status_code
                if status != (200 if visible else 404):
                    problems.append(f"{cell}: GET {path} answered {status}")
            response = client.post(
                f"/ogcapi/collections/{collection}/items",
                json={"type": "Feature", "geometry": None, "properties": {"by": principal}},
                headers=headers,
            )
            # A reader's token has no write scope: refused before the collection is looked at, as
            # SensorThings does (the one refusal of the access point).
            read_only = principal != "anonymous" and USERS[principal][0] == "reader"
            expected = (
                201 if allowed else 401 if principal == "anonymous" else 403 if visible or read_only else 404
            )
            if response.status_code != expected:
                problems.append(f"{cell}: POST item answered {response.status_code}, expected {expected}")
    _report(problems)


def test_http_basic_with_a_token_as_password(client: TestClient, world: World) -> None:
    """frost-sta-client and QGIS send the token as the password of HTTP Basic auth."""
    ids = world.ids["meters-internal"]
    assert client.get(f"/v1.1/Things({ids['thing']})", headers=world.basic("ute")).status_code == 200
    assert client.get(f"/v1.1/Things({ids['thing']})", headers=world.basic("anna")).status_code == 404


def test_catalogue(client: TestClient, world: World) -> None:
    problems = []
    for principal in PRINCIPALS:
        headers = world.headers(principal)
        listing = client.get("/catalog", params={"f": "json", "limit": 100}, headers=headers).json()
        listed = {d["id"] for d in listing["datasets"]}
        turtle = client.get("/catalog", params={"f": "ttl", "limit": 100}, headers=headers).text
        for dataset in DATASETS:
            visible = may_read(principal, dataset)
            cell = f"{principal} × {dataset}"
            if (dataset in listed) != visible:
                problems.append(f"{cell}: the JSON listing shows it: {not visible}")
            if (f"Dataset {dataset}" in turtle) != visible:
                problems.append(f"{cell}: the Turtle catalogue shows it: {not visible}")
            for f in ("json", "ttl", "html"):
                status = client.get(
                    f"/catalog/datasets/{dataset}", params={"f": f}, headers=headers
                ).status_code
                if status != (200 if visible else 404):
                    problems.append(f"{cell}: /catalog/datasets/{dataset}?f={f} answered {status}")
    _report(problems)


def test_time_series(client: TestClient, world: World) -> None:
    """Aggregates and latest values: what the time-series service asks the access point."""
    problems = []
    everything = ",".join(str(ids["datastream"]) for ids in world.ids.values())
    for principal in PRINCIPALS:
        headers = world.headers(principal)
        latest = client.get("/api/timeseries/latest", params={"datastreams": everything}, headers=headers)
        shown = {f["properties"]["datastreamId"] for f in latest.json()["features"]}
        for dataset, ids in world.ids.items():
            visible = may_read(principal, dataset)
            cell = f"{principal} × {dataset}"
            if (ids["datastream"] in shown) != visible:
                problems.append(f"{cell}: the latest values show its Datastream: {not visible}")
            status = client.get(
                f"/api/timeseries/datastreams/{ids['datastream']}/aggregate",
                params={"interval": "day", "start": "2024-01-01", "end": "2024-01-02"},
                headers=headers,
            ).status_code
            if status != (200 if visible else 404):
                problems.append(f"{cell}: the daily aggregate answered {status}")
    _report(problems)


def test_live_event_streams(live_server: str, engine: Engine) -> None:
    """Server-Sent Events: a replay from the first Observation shows each principal exactly the
    Observations it may read (what the stream asks the access point, on a real server)."""
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        world = build(http, engine)  # type: ignore[arg-type]  # the same calls as a TestClient's
    problems = []
    for principal in PRINCIPALS:
        headers = {**world.headers(principal), "Last-Event-ID": "0"}
        stream = EventStream(f"{live_server}/api/live/observations", headers=headers)
        seen: set[int] = set()
        try:
            while True:
                try:
                    seen.add(int(stream.get(timeout=1.0)["id"]))
                except queue.Empty:
                    break  # the replay is over
        finally:
            stream.close()
        for dataset, ids in world.ids.items():
            visible = may_read(principal, dataset)
            if (ids["observation"] in seen) != visible:
                problems.append(
                    f"{principal} × {dataset}: the event stream shows its Observation: {not visible}"
                )
    _report(problems)


def test_membership_changes(client: TestClient, world: World) -> None:
    """Moving a dataset's Thing into another: steward of the target, writer of every dataset left.

    The open Thing carries the internal Datastream, which would move along: so moving it needs
    write rights on the internal dataset too. Each move that succeeds is undone by the administrator.
    """
    problems = []

    def move(target: str, entity_set: str, ids: list[int], principal: str = "ada") -> int:
        return client.post(
            f"/api/datasets/{target}/members",
            json={"entity_set": entity_set, "ids": ids},
            headers=world.headers(principal),
        ).status_code

    for principal in PRINCIPALS:
        for source, ids in world.ids.items():
            left = {source} | ({"meters-internal"} if source == "air-open" else set())
            for target in DATASETS:
                if principal == "anonymous":
                    expected = 401
                elif not may_read(principal, target):
                    expected = 404
                elif not may_steward(principal, target):
                    expected = 403
                elif not may_read(principal, source):
                    expected = 404
                elif not all(may_write(principal, d) for d in left - {target}):
                    expected = 403
                else:
                    expected = 200
                status = move(target, "Things", [ids["thing"]], principal)
                if status != expected:
                    cell = f"{principal} moves the Thing of {source} into {target}"
                    problems.append(f"{cell}: {status}, expected {expected}")
                if status == 200:
                    assert move(source, "Things", [ids["thing"]]) == 200
                    if source == "air-open":
                        assert move("meters-internal", "Datastreams", [world.mixed_datastream]) == 200
    # Nothing moved for good: everyone still reads what they read before.
    for principal in PRINCIPALS:
        for dataset, ids in world.ids.items():
            status = client.get(f"/v1.1/Things({ids['thing']})", headers=world.headers(principal)).status_code
            if status != (200 if may_read(principal, dataset) else 404):
                problems.append(f"after the moves, {principal} reads the Thing of {dataset} with {status}")
    _report(problems)


#: Every energy route that reads a run, as the matrix asks it (`/runs`, `/sweeps` and `/plans` list
#: them, `/scenarios` are the bundled files, no run's data); a sweep is seen through its runs, a
#: plan is a run of its baseline.
ENERGY_READS = (
    "runs/{run_id}",
    "plans/{plan_id}",
    "sweeps/{sweep_id}",
    "runs/{run_id}/profiles",
    "runs/{run_id}/timeseries.csv",
    "runs/{run_id}/timeseries.parquet",
    "monitoring?run={run_id}&{period}",
    "monitoring?{period}",
    # A block's meters and the run's plan Datastreams beside them are in the run's dataset.
    "monitoring?run={run_id}&{period}&block={block}",
    "monitoring?{period}&block={block}",
)


def write_block_meters(app, run_id: str, end: datetime) -> str:  # noqa: ANN001
    """The meters and plans of the run's blocks for the day before `end`; the first block's key."""
    from urbantwin.energy.meters import (
        Deviation,
        MeterPlace,
        PlanRun,
        Selection,
        group_plan,
        write_group_meters,
    )
    from urbantwin.ingest.sta_client import LocalClient
    from urbantwin.store.city import read_profile

    runs = app.state.energy.runs
    row, _, series = runs.series(run_id)
    group = group_plan(
        runs.engine, runs.library, row, series, Selection("block"), end - timedelta(days=1), end
    )
    place = MeterPlace.of(runs.library, read_profile(runs.engine))
    client = LocalClient(runs.engine, app.state.energy.settings)
    write_group_meters(client, PlanRun.of(row, runs.dataset_of(run_id)), group, Deviation(), place.name, end)
    return group.keys[0]


def test_the_matrix_asks_every_energy_route(app) -> None:  # noqa: ANN001
    """A route added to the energy API without a row in the matrix fails here."""
    paths = app.openapi()["paths"]  # included routers are not a flat list of routes everywhere
    served = {
        path for path, operations in paths.items() if path.startswith("/api/energy/") and "get" in operations
    }
    asked = {"/api/energy/" + template.partition("?")[0] for template in ENERGY_READS}
    listings = {"/api/energy/runs", "/api/energy/sweeps", "/api/energy/plans", "/api/energy/scenarios"}
    assert served == asked | listings


def test_energy_api(client: TestClient, world: World, app, engine: Engine) -> None:  # noqa: ANN001
    """A stored run is read with the rights of its dataset, `energy-baseline`, given in turn the
    rules of each dataset of the world; submitting one needs write rights on it."""
    load_small_quarter(engine)
    runs = app.state.energy.runs
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    runs.execute(runs.claim())
    sweep_id = app.state.energy.sweeps.submit(SYSTEM, {"scenarios": ["baseline"]}, start=False)
    plan_id = runs.submit_plan(SYSTEM, {"budget_eur": 1e6}, start=False)
    period = "days=1&end=2026-06-15T12:00:00Z"
    block = write_block_meters(app, run_id, datetime(2026, 6, 15, 12, tzinfo=UTC))
    problems = []
    for like, (level, publisher, read_groups, writers) in DATASETS.items():
        rules = {"access_level": level, "publisher_id": publisher, "read_groups": read_groups}
        assert (
            client.patch("/api/datasets/energy-baseline", json={**rules, "writers": writers}).status_code
            == 204
        )
        for principal in PRINCIPALS:
            headers = world.headers(principal)
            cell = f"{principal} × energy-baseline as {like}"
            visible = may_read(principal, like)
            listed = [r["id"] for r in client.get("/api/energy/runs", headers=headers).json()["runs"]]
            if (run_id in listed) != visible:
                problems.append(f"{cell}: /api/energy/runs lists it: {not visible}")
            swept = [s["id"] for s in client.get("/api/energy/sweeps", headers=headers).json()["sweeps"]]
            if (sweep_id in swept) != visible:
                problems.append(f"{cell}: /api/energy/sweeps lists it: {not visible}")
            planned = [p["id"] for p in client.get("/api/energy/plans", headers=headers).json()["plans"]]
            if (plan_id in planned) != visible:
                problems.append(f"{cell}: /api/energy/plans lists it: {not visible}")
            for template in ENERGY_READS:
                path = template.format(
                    run_id=run_id, sweep_id=sweep_id, plan_id=plan_id, period=period, block=block
                )
                status = client.get(f"/api/energy/{path}", headers=headers).status_code
                allowed = {200, 406} if path.endswith("parquet") else {200}  # 406: no pyarrow
                if (status in allowed) != visible or (not visible and status != 404):
                    problems.append(f"{cell}: GET {path} answered {status}")
            # A bad override: who may submit hears about it (400), nobody else gets that far.
            if principal == "anonymous":
                expected = 401
            elif USERS[principal][0] == "reader":
                expected = 403  # a reader's token has no write scope
            else:
                expected = 400 if may_write(principal, like) else 403 if visible else 404
            bad = {"overrides": {"pv.colour": "blue"}}
            for route, body in (
                ("runs", {"scenario": "baseline", **bad}),
                ("sweeps", {"scenarios": ["baseline"], **bad}),
                ("plans", {"baseline": "baseline", **bad}),
            ):
                submitted = client.post(f"/api/energy/{route}", json=body, headers=headers).status_code
                if submitted != expected:
                    problems.append(
                        f"{cell}: POST /api/energy/{route} answered {submitted}, expected {expected}"
                    )
    _report(problems)
