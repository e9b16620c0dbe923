"""Accountability: writes and restricted reads in the audit log, and usage counts per dataset."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.access.world import World, build


def _records(client: TestClient, **query: str) -> list[dict]:
    return client.get("/api/admin/audit", params=query).json()


def test_every_write_is_recorded_with_who_what_and_which_dataset(client: TestClient, engine: Engine) -> None:
    world: World = build(client, engine)
    ute = world.headers("ute")
    meters = world.ids["meters-internal"]
    created = client.post(
        "/v1.1/Observations", json={"result": 3, "Datastream": {"@iot.id": meters["datastream"]}}, headers=ute
    )
    assert created.status_code == 201
    patched = client.patch(f"/v1.1/Things({meters['thing']})", json={"description": "new"}, headers=ute)
    assert patched.status_code == 200
    feature = client.post(
        "/ogcapi/collections/layer-meters-internal/items",
        json={"type": "Feature", "id": "m2", "geometry": None, "properties": {}},
        headers=ute,
    )
    assert feature.status_code == 201
    mine = _records(client, principal="ute")
    assert [(r["action"], r["api"], r["dataset_id"], r["target"]) for r in reversed(mine)] == [
        ("create", "sensorthings", "meters-internal", "POST Observations"),
        ("update", "sensorthings", "meters-internal", f"PATCH Things({meters['thing']})"),
        ("create", "features", "meters-internal", "collections/layer-meters-internal/items/m2"),
    ]
    # A refused write leaves no record: it did not happen.
    client.post("/v1.1/Things", json={"name": "x", "description": "y"}, headers=world.headers("anna"))
    assert _records(client, principal="anna", action="create") == []
    # Administration is recorded too.
    assert any(r["target"] == "add user ute" for r in _records(client, principal="admin", action="admin"))


def test_reads_of_restricted_data_are_recorded_and_every_read_is_counted(
    client: TestClient, engine: Engine
) -> None:
    world = build(client, engine)
    meters, air = world.ids["meters-internal"], world.ids["air-open"]
    assert (
        client.get(
            f"/v1.1/Datastreams({meters['datastream']})/Observations", headers=world.headers("ute")
        ).status_code
        == 200
    )
    assert client.get(f"/v1.1/Things({air['thing']})", headers=world.headers("anna")).status_code == 200
    assert (
        client.get(
            "/ogcapi/collections/layer-meters-internal/items", headers=world.headers("sven")
        ).status_code
        == 200
    )
    reads = _records(client, action="read")
    who = {(r["principal"], r["api"], r["dataset_id"]) for r in reads}
    assert ("ute", "sensorthings", "meters-internal") in who
    assert ("sven", "features", "meters-internal") in who
    assert not any(r["principal"] == "anna" for r in reads), "open data is not audited"
    usage = {(u["dataset"], u["api"]): u["requests"] for u in client.get("/api/admin/usage").json()}
    assert usage[("meters-internal", "sensorthings")] >= 1
    assert usage[("meters-internal", "features")] >= 1
    assert usage[("air-open", "sensorthings")] >= 1


def test_only_administrators_read_the_audit(client: TestClient, engine: Engine) -> None:
    world = build(client, engine)
    assert client.get("/api/admin/audit", headers=world.headers("sven")).status_code == 403
    assert client.get("/api/admin/usage", headers=world.headers("anonymous")).status_code == 401
