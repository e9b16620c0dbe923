"""Datasets as units of access: a sensor owner's own dataset, data stewards, moving entities."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.access.world import build

THING = {
    "name": "balcony sensor",
    "description": "a citizen's PM sensor",
    "Locations": [
        {
            "name": "balcony",
            "description": "Lindenau",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [12.33, 51.34]},
        }
    ],
    "Datastreams": [
        {
            "name": "pm10",
            "description": "PM10",
            "observationType": "OM_Measurement",
            "unitOfMeasurement": {"name": "µg/m³", "symbol": "µg/m³", "definition": "ucum:ug/m3"},
            "Sensor": {"name": "SDS011", "description": "s", "encodingType": "text/plain", "metadata": "m"},
            "ObservedProperty": {"name": "PM10", "definition": "d", "description": "p"},
        }
    ],
}


def test_a_sensor_owner_writes_to_their_own_datastreams_only(client: TestClient, engine: Engine) -> None:
    world = build(client, engine)
    client.post("/api/admin/users", json={"name": "olga", "role": "contributor"})
    client.post(
        "/api/admin/datasets",
        json={
            "id": "olga-sensors",
            "title": "Olga's sensors",
            "licence": "cc-by/4.0",
            "writers": ["user:olga"],
        },
    )
    client.patch("/api/admin/users/olga", json={"default_dataset_id": "olga-sensors"})
    olga = {"Authorization": "Bearer " + client.post("/api/admin/users/olga/tokens", json={}).json()["token"]}
    thing = client.post("/v1.1/Things", json=THING, headers=olga)
    assert thing.status_code == 201, thing.text
    datastream = client.get(f"/v1.1/Things({thing.json()['@iot.id']})/Datastreams", headers=olga).json()[
        "value"
    ][0]
    observation = {"result": 12.5, "Datastream": {"@iot.id": datastream["@iot.id"]}}
    assert client.post("/v1.1/Observations", json=observation, headers=olga).status_code == 201
    # Everything she made is in her dataset, which is open: anyone reads it, only she writes it.
    datasets = client.get("/api/admin/datasets").json()
    assert {d["id"] for d in datasets} >= {"olga-sensors"}
    assert (
        client.post("/v1.1/Observations", json=observation, headers=world.headers("ute")).status_code == 403
    )
    assert (
        client.get(
            f"/v1.1/Datastreams({datastream['@iot.id']})", headers=world.headers("anonymous")
        ).status_code
        == 200
    )
    # ... and she cannot write to another dataset.
    other = {"result": 1, "Datastream": {"@iot.id": world.ids["air-open"]["datastream"]}}
    assert client.post("/v1.1/Observations", json=other, headers=olga).status_code == 403


def test_data_stewards_manage_the_datasets_of_their_organisation(client: TestClient, engine: Engine) -> None:
    world = build(client, engine)
    sven, ute = world.headers("sven"), world.headers("ute")
    things = world.ids["meters-internal"]
    assert (
        client.patch(
            "/api/datasets/meters-internal", json={"access_level": "registered"}, headers=sven
        ).status_code
        == 204
    )
    assert client.get(f"/v1.1/Things({things['thing']})", headers=world.headers("anna")).status_code == 200
    assert client.patch("/api/datasets/meters-internal", json={"title": "x"}, headers=ute).status_code == 403
    assert client.patch("/api/datasets/air-open", json={"title": "x"}, headers=sven).status_code == 403
    assert (
        client.patch("/api/datasets/research-partner", json={"title": "x"}, headers=sven).status_code == 404
    )
    bad = client.patch("/api/datasets/meters-internal", json={"writers": ["everyone"]}, headers=sven)
    assert bad.status_code == 400 and "writers entry" in bad.json()["message"]


def test_access_rules_name_only_groups_organisations_and_users_that_exist(
    client: TestClient, engine: Engine
) -> None:
    """A rule naming nobody grants nothing now and would grant to whoever later takes the name."""
    world = build(client, engine)
    sven = world.headers("sven")
    new = {"id": "noise", "title": "Noise", "licence": "cc-by/4.0", "access_level": "partner"}
    for fields, message in (
        ({"read_groups": ["partners", "ghosts"]}, "read_groups: no group 'ghosts'"),
        ({"writers": ["group:ghosts"]}, "writers: no group 'ghosts'"),
        ({"writers": ["organisation:nowhere"]}, "writers: no organisation 'nowhere'"),
        ({"writers": ["user:nobody"]}, "writers: no user 'nobody'"),
    ):
        created = client.post("/api/admin/datasets", json={**new, **fields})
        assert created.status_code == 400 and created.json()["message"] == message, created.text
        changed = client.patch("/api/datasets/meters-internal", json=fields, headers=sven)
        assert changed.status_code == 400 and changed.json()["message"] == message, changed.text
    assert "noise" not in {d["id"] for d in client.get("/api/admin/datasets").json()}
    fine = {"read_groups": ["partners"], "writers": ["group:partners", "organisation:uni", "user:rita"]}
    assert client.post("/api/admin/datasets", json={**new, **fine}).status_code == 201
    assert client.patch("/api/datasets/meters-internal", json=fine, headers=sven).status_code == 204


def test_moving_a_thing_takes_its_datastreams_and_locations_along(client: TestClient, engine: Engine) -> None:
    world = build(client, engine)
    research = world.ids["research-partner"]
    moved = client.post(
        "/api/datasets/meters-internal/members", json={"entity_set": "Things", "ids": [research["thing"]]}
    )
    assert moved.json()["changed"] == 3  # the Thing, its Datastream, its Location
    paul, ute = world.headers("paul"), world.headers("ute")
    for path in (
        f"Things({research['thing']})",
        f"Datastreams({research['datastream']})",
        f"Locations({research['location']})",
    ):
        assert client.get(f"/v1.1/{path}", headers=paul).status_code == 404
        assert client.get(f"/v1.1/{path}", headers=ute).status_code == 200
    # Its Sensor was moved on its own before, and stays where it is.
    assert client.get(f"/v1.1/Sensors({research['sensor']})", headers=paul).status_code == 200


def test_a_steward_cannot_take_another_publishers_entities(client: TestClient, engine: Engine) -> None:
    """The escalation probed: moving an open Thing into one's own dataset to hide and change it."""
    world = build(client, engine)
    sven = world.headers("sven")
    anonymous = world.headers("anonymous")
    open_ids = world.ids["air-open"]
    before = client.get("/v1.1/Observations?$count=true&$top=0", headers=anonymous).json()["@iot.count"]
    for entity_set, key in (("Things", "thing"), ("Sensors", "sensor"), ("Datastreams", "datastream")):
        taken = client.post(
            "/api/datasets/meters-internal/members",
            json={"entity_set": entity_set, "ids": [open_ids[key]]},
            headers=sven,
        )
        assert taken.status_code == 403, taken.text
        assert "out of dataset 'air-open', which they may not write" in taken.json()["message"]
    assert client.get(f"/v1.1/Things({open_ids['thing']})", headers=anonymous).status_code == 200
    after = client.get("/v1.1/Observations?$count=true&$top=0", headers=anonymous).json()["@iot.count"]
    assert after == before
    patched = client.patch(f"/v1.1/Things({open_ids['thing']})", json={"description": "x"}, headers=sven)
    assert patched.status_code == 403
    # What he cannot read, and what does not exist, is alike: 404 naming the ids, not the dataset.
    for ids in ([world.ids["research-partner"]["thing"]], [999_999]):
        hidden = client.post(
            "/api/datasets/meters-internal/members", json={"entity_set": "Things", "ids": ids}, headers=sven
        )
        assert hidden.status_code == 404 and hidden.json()["message"] == f"no Things {ids[0]}"
    # His own organisation's entities he moves as before.
    client.post("/api/admin/datasets", json={"id": "lwb-2", "title": "LWB 2", "publisher_id": "lwb"})
    mine = world.ids["meters-internal"]["thing"]
    moved = client.post(
        "/api/datasets/lwb-2/members", json={"entity_set": "Things", "ids": [mine]}, headers=sven
    )
    assert moved.status_code == 200 and moved.json()["changed"] == 3


def test_moving_a_thing_needs_write_rights_on_what_moves_along(client: TestClient, engine: Engine) -> None:
    """The open Thing carries an internal Datastream: its city steward may not move that along."""
    world = build(client, engine)
    client.post("/api/admin/users", json={"name": "cleo", "role": "data_steward", "organisation_id": "city"})
    cleo = {"Authorization": "Bearer " + client.post("/api/admin/users/cleo/tokens", json={}).json()["token"]}
    thing = world.ids["air-open"]["thing"]
    refused = client.post(
        "/api/datasets/traffic-registered/members",
        json={"entity_set": "Things", "ids": [thing]},
        headers=cleo,
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "cleo may not move these Things: 1 of the entities that would move along belong to "
        "datasets they may not write"
    )
    # Nothing moved: the Thing is open, its internal Datastream internal.
    assert client.get(f"/v1.1/Things({thing})", headers=world.headers("anonymous")).status_code == 200
    assert client.get(f"/v1.1/Datastreams({world.mixed_datastream})", headers=cleo).status_code == 404
    assert (
        client.get(f"/v1.1/Datastreams({world.mixed_datastream})", headers=world.headers("ute")).status_code
        == 200
    )


def test_a_shared_sensor_moves_only_where_the_readers_of_its_users_still_see_it(
    client: TestClient, engine: Engine
) -> None:
    """The open Sensor serves the open Datastream and the internal one on the open Thing."""
    world = build(client, engine)
    anonymous = world.headers("anonymous")
    sensor = world.ids["air-open"]["sensor"]
    open_datastream = world.ids["air-open"]["datastream"]
    before = client.get("/v1.1/Observations?$count=true&$top=0", headers=anonymous).json()["@iot.count"]
    for target in ("meters-internal", "traffic-registered"):
        hidden = client.post(
            f"/api/datasets/{target}/members", json={"entity_set": "Sensors", "ids": [sensor]}
        )  # even an administrator
        assert hidden.status_code == 409, hidden.text
        assert f"Datastreams({open_datastream}) of dataset 'air-open'" in hidden.json()["message"]
    assert client.get(f"/v1.1/Sensors({sensor})", headers=anonymous).status_code == 200
    after = client.get("/v1.1/Observations?$count=true&$top=0", headers=anonymous).json()["@iot.count"]
    assert after == before
    # A Sensor used only by internal Datastreams may become open data: its readers keep it.
    internal_sensor = world.ids["meters-internal"]["sensor"]
    opened = client.post(
        "/api/datasets/air-open/members", json={"entity_set": "Sensors", "ids": [internal_sensor]}
    )
    assert opened.status_code == 200, opened.text
    # A FeatureOfInterest of open Observations, a Location of an open Thing: the same rule.
    for entity_set, key in (("FeaturesOfInterest", "foi"), ("Locations", "location")):
        users = "Datastreams" if entity_set == "FeaturesOfInterest" else "Things"
        used = world.ids["air-open"][key]
        refused = client.post(
            "/api/datasets/meters-internal/members", json={"entity_set": entity_set, "ids": [used]}
        )
        assert refused.status_code == 409 and f"{users}(" in refused.json()["message"], refused.text


def test_a_dataset_record_passes_the_one_rule_of_json_input(client: TestClient) -> None:
    # Probe: a dataset's extra nested 300 levels was a 500 on write (FastAPI parsed the body itself,
    # past the platform's limits); a NUL in a title was stored on SQLite and a 500 on PostgreSQL.
    deep: Any = 1
    for _ in range(300):
        deep = {"a": deep}
    refused = [
        client.post("/api/admin/datasets", json={"id": "deep", "title": "Deep", "extra": deep}),
        client.patch("/api/datasets/sensorthings", json={"extra": deep}),
        client.post("/api/admin/datasets", json={"id": "nul", "title": "a\x00b"}),
        client.post("/api/admin/organisations", json={"id": "o", "title": "\x00", "kind": "science"}),
    ]
    for response in refused:
        assert response.status_code == 400, response.text
    assert "nests deeper than 64 levels" in refused[0].json()["message"]
    assert "nests deeper than 64 levels" in refused[1].json()["message"]
    assert "contains a NUL character" in refused[2].json()["message"]
    # what was refused is not there; a good record and the model's own checks work as before
    assert "deep" not in {d["id"] for d in client.get("/api/admin/datasets").json()}
    assert (
        client.post(
            "/api/admin/datasets", json={"id": "fine", "title": "Fine", "extra": {"a": [1]}}
        ).status_code
        == 201
    )
    wrong = client.post("/api/admin/datasets", json={"id": "Not An Id", "title": "x"})
    assert wrong.status_code == 400 and "invalid request: id:" in wrong.json()["message"]


def test_a_dataset_made_without_a_publisher_is_published_by_the_city(
    client: TestClient, engine: Engine
) -> None:
    """An importer that names no publisher makes a dataset all the same: the catalogue needs one
    (DCAT-AP.de), and an unnamed one is the platform's city (its administration)."""
    from sqlalchemy import select

    from urbantwin.access.datasets import create_dataset
    from urbantwin.store.access_schema import datasets
    from urbantwin.store.engine import for_writes

    with for_writes(engine).begin() as connection:
        create_dataset(connection, "forecasts", title="Forecasts")
        publisher = connection.execute(
            select(datasets.c.publisher_id).where(datasets.c.id == "forecasts")
        ).scalar()
    assert (
        publisher
        == client.get("/catalog/datasets/sensorthings", params={"f": "json"}).json()["publisher"]["id"]
    )


def test_organisations_kinds_and_a_datasets_publisher_over_the_admin_api(client: TestClient) -> None:
    added = client.post(
        "/api/admin/organisations", json={"id": "lfulg", "title": "Landesamt", "kind": "administration"}
    )
    assert added.status_code == 201 and added.json()["kind"] == "local-authority"  # the former name
    assert (
        client.patch("/api/admin/organisations/lfulg", json={"kind": "regional-authority"}).status_code == 204
    )
    kinds = {org["id"]: org["kind"] for org in client.get("/api/admin/organisations").json()}
    assert kinds["lfulg"] == "regional-authority"
    for method, path, body in (
        ("post", "/api/admin/organisations", {"id": "x", "title": "X", "kind": "state-agency"}),
        ("patch", "/api/admin/organisations/lfulg", {"kind": "state-agency"}),
    ):
        refused = getattr(client, method)(path, json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"].startswith("kind must be one of local-authority, regional-authority")
    assert client.patch("/api/admin/organisations/nobody", json={"kind": "ngo"}).status_code == 404
    assert client.patch("/api/admin/organisations/lfulg", json={}).status_code == 400

    client.post("/api/admin/datasets", json={"id": "air", "title": "Air", "licence": "dl-by-de/2.0"})
    assert client.patch("/api/datasets/air", json={"publisher_id": "lfulg"}).status_code == 204
    (air,) = [d for d in client.get("/api/admin/datasets").json() if d["id"] == "air"]
    assert air["publisher_id"] == "lfulg"
    unknown = client.patch("/api/datasets/air", json={"publisher_id": "nobody"})
    assert (
        unknown.status_code == 400 and unknown.json()["message"] == "publisher_id: no organisation 'nobody'"
    )


def test_processes_starting_together_each_find_a_module_dataset_created_once(
    engine: Engine, backend: str
) -> None:
    # Every worker of every node ensures the module datasets when it starts. On PostgreSQL the second
    # process's check does not see the first one's uncommitted insert, and its own insert waits for
    # that commit: it must then find the dataset there, not fail (a failed start stops the server).
    import threading

    from sqlalchemy import select

    from urbantwin.access.datasets import create_dataset_unless_exists
    from urbantwin.store.access_schema import datasets
    from urbantwin.store.engine import for_writes

    writes = for_writes(engine)
    outcomes: dict[str, Any] = {}
    with writes.connect() as first:
        first.begin()
        outcomes["first"] = create_dataset_unless_exists(first, "module-data", title="Module data")

        def second_process() -> None:
            try:
                with writes.begin() as second:
                    outcomes["second"] = create_dataset_unless_exists(second, "module-data", title="x")
            except Exception as exc:  # noqa: BLE001 - the failure is the finding
                outcomes["second"] = exc

        racing = threading.Thread(target=second_process)
        racing.start()
        racing.join(0.5 if backend == "postgresql" else 0.0)  # PostgreSQL: it waits on the insert
        first.commit()
    racing.join(30)
    assert outcomes == {"first": True, "second": False}
    with engine.connect() as connection:
        titles = connection.execute(select(datasets.c.title).where(datasets.c.id == "module-data")).all()
    assert titles == [("Module data",)]
