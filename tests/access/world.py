"""A small city of datasets at every access level, with users of every role, built through the APIs.

Used by the authorisation-matrix tests: each dataset holds one Thing with a Location, a Datastream
(with its Sensor and ObservedProperty), Observations and their FeatureOfInterest, and one feature
collection with a feature; one open Thing also carries a Datastream of the internal dataset, so
that leaks through relations can be tested.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from urbantwin.store.features_schema import collections

#: dataset id → (access level, publisher, read groups, writers)
DATASETS = {
    "air-open": ("open", "city", [], []),
    "traffic-registered": ("registered", "city", [], []),
    "research-partner": ("partner", "uni", ["partners"], ["group:partners"]),
    "meters-internal": ("internal", "lwb", [], ["organisation:lwb"]),
}

#: user → (role, organisation, groups)
USERS = {
    "anna": ("reader", None, []),
    "paul": ("reader", "uni", ["partners"]),
    "rita": ("contributor", "uni", ["partners"]),
    "ute": ("contributor", "lwb", []),
    "sven": ("data_steward", "lwb", []),
    "ada": ("administrator", None, []),
}

PRINCIPALS = ("anonymous", *USERS)


def may_read(principal: str, dataset: str) -> bool:
    """The rule the platform must implement, written out independently for the tests."""
    level, publisher, read_groups, _ = DATASETS[dataset]
    if principal == "ada" or level == "open":
        return True
    if principal == "anonymous":
        return False
    _role, org, groups = USERS[principal]
    if level == "registered":
        return True
    if level == "partner":
        return org == publisher or bool(set(groups) & set(read_groups))
    return org == publisher


def may_write(principal: str, dataset: str) -> bool:
    if principal == "ada":
        return True
    if principal == "anonymous" or not may_read(principal, dataset):
        return False
    role, org, groups = USERS[principal]
    _level, publisher, _read_groups, writers = DATASETS[dataset]
    if role == "data_steward" and org == publisher:
        return True
    if role not in ("contributor", "data_steward"):
        return False
    mine = {f"user:{principal}", f"organisation:{org}", *(f"group:{g}" for g in groups)}
    return bool(mine & set(writers))


def may_steward(principal: str, dataset: str) -> bool:
    """Whether the principal may change the dataset's record, rules and members."""
    if principal == "ada":
        return True
    if principal == "anonymous":
        return False
    role, org, _groups = USERS[principal]
    return role == "data_steward" and org == DATASETS[dataset][1]


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)
    #: dataset → {"thing", "location", "datastream", "sensor", "observed_property", "observation", "foi"}
    ids: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the internal Datastream hanging off the open Thing
    mixed_datastream: int = 0

    def headers(self, principal: str) -> dict[str, str]:
        if principal == "anonymous":
            return {"Authorization": ""}
        return {"Authorization": f"Bearer {self.tokens[principal]}"}

    def basic(self, principal: str) -> dict[str, str]:
        raw = base64.b64encode(f"{principal}:{self.tokens[principal]}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}


def _ok(response, status: int = 201):  # noqa: ANN001, ANN202
    assert response.status_code == status, response.text
    return response


def build(client: TestClient, engine: Engine) -> World:
    world = World()
    for ident, title, kind in (
        ("uni", "Universität Leipzig", "science"),
        ("lwb", "Leipziger Wasserwerke", "municipal_company"),
    ):
        _ok(client.post("/api/admin/organisations", json={"id": ident, "title": title, "kind": kind}))
    _ok(client.post("/api/admin/groups", json={"id": "partners", "title": "Research partners"}))
    for name, (role, org, groups) in USERS.items():
        _ok(client.post("/api/admin/users", json={"name": name, "role": role, "organisation_id": org}))
        for group in groups:
            _ok(client.put(f"/api/admin/groups/{group}/members/{name}"), 204)
        # Without scopes a token gets what the role allows short of admin; ada's asks for admin too.
        scopes = {"scopes": ["read", "write", "admin"]} if role == "administrator" else {}
        world.tokens[name] = _ok(client.post(f"/api/admin/users/{name}/tokens", json=scopes)).json()["token"]
    now = datetime.now(UTC)
    for dataset, (level, publisher, read_groups, writers) in DATASETS.items():
        _ok(
            client.post(
                "/api/admin/datasets",
                json={
                    "id": dataset,
                    "title": f"Dataset {dataset}",
                    "publisher_id": publisher,
                    "licence": "dl-by-de/2.0",
                    "access_level": level,
                    "read_groups": read_groups,
                    "writers": writers,
                },
            )
        )
        thing = _ok(
            client.post(
                "/v1.1/Things",
                json={
                    "name": f"thing-{dataset}",
                    "description": f"a thing of {dataset}",
                    "Locations": [
                        {
                            "name": f"place-{dataset}",
                            "description": "a place",
                            "encodingType": "application/geo+json",
                            "location": {"type": "Point", "coordinates": [12.37, 51.34]},
                        }
                    ],
                    "Datastreams": [
                        {
                            "name": f"ds-{dataset}",
                            "description": "a datastream",
                            "observationType": "OM_Measurement",
                            "unitOfMeasurement": {"name": "x", "symbol": "x", "definition": "x"},
                            "Sensor": {
                                "name": f"sensor-{dataset}",
                                "description": "s",
                                "encodingType": "text/plain",
                                "metadata": "m",
                            },
                            "ObservedProperty": {
                                "name": f"prop-{dataset}",
                                "definition": "d",
                                "description": "p",
                            },
                            "Observations": [{"result": 1.5, "phenomenonTime": "2026-01-01T00:00:00Z"}],
                        }
                    ],
                },
            )
        ).json()
        ids = {"thing": thing["@iot.id"]}
        expanded = client.get(
            f"/v1.1/Things({ids['thing']})?$expand=Locations,Datastreams($expand=Sensor,ObservedProperty,"
            "Observations($expand=FeatureOfInterest))"
        ).json()
        datastream = expanded["Datastreams"][0]
        observation = datastream["Observations"][0]
        ids.update(
            location=expanded["Locations"][0]["@iot.id"],
            datastream=datastream["@iot.id"],
            sensor=datastream["Sensor"]["@iot.id"],
            observed_property=datastream["ObservedProperty"]["@iot.id"],
            observation=observation["@iot.id"],
            foi=observation["FeatureOfInterest"]["@iot.id"],
        )
        world.ids[dataset] = ids
        for entity_set, key in (
            ("Things", "thing"),
            ("Sensors", "sensor"),
            ("ObservedProperties", "observed_property"),
            ("FeaturesOfInterest", "foi"),
        ):
            _ok(
                client.post(
                    f"/api/datasets/{dataset}/members", json={"entity_set": entity_set, "ids": [ids[key]]}
                ),
                200,
            )
        with engine.begin() as connection:
            connection.execute(
                insert(collections).values(
                    id=f"layer-{dataset}",
                    title=f"Layer of {dataset}",
                    created=now,
                    updated=now,
                    dataset_id=dataset,
                )
            )
        _ok(
            client.post(
                f"/ogcapi/collections/layer-{dataset}/items",
                json={
                    "type": "Feature",
                    "id": "f1",
                    "geometry": {"type": "Point", "coordinates": [12.37, 51.34]},
                    "properties": {"name": f"feature of {dataset}"},
                },
            )
        )
    # An internal Datastream on the open Thing (its Sensor and ObservedProperty are the open ones).
    open_ids = world.ids["air-open"]
    mixed = _ok(
        client.post(
            f"/v1.1/Things({open_ids['thing']})/Datastreams",
            json={
                "name": "ds-secret-on-open-thing",
                "description": "meter readings",
                "observationType": "OM_Measurement",
                "unitOfMeasurement": {"name": "kWh", "symbol": "kWh", "definition": "kWh"},
                "Sensor": {"@iot.id": open_ids["sensor"]},
                "ObservedProperty": {"@iot.id": open_ids["observed_property"]},
                "Observations": [{"result": 42.0, "phenomenonTime": "2026-01-02T00:00:00Z"}],
            },
        )
    ).json()
    world.mixed_datastream = mixed["@iot.id"]
    _ok(
        client.post(
            "/api/datasets/meters-internal/members",
            json={"entity_set": "Datastreams", "ids": [world.mixed_datastream]},
        ),
        200,
    )
    return world
