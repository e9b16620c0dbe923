"""Creating, updating and deleting: deep insert, links by id, defaults and cascades of the standard."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.sensorthings.conftest import UNIT, station

SITE = {
    "name": "new site",
    "description": "mast",
    "encodingType": "application/geo+json",
    "location": {"type": "Point", "coordinates": [12.3, 51.3]},
}
SENSOR = {"name": "new", "description": "PT1000", "encodingType": "application/pdf", "metadata": "y.pdf"}


def _post(client: TestClient, path: str, body: Any) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == response.json()["@iot.selfLink"]
    return response.json()


def _sensor(client: TestClient, name: str = "thermometer") -> int:
    body = {"name": name, "description": "PT100", "encodingType": "application/pdf", "metadata": "x.pdf"}
    return _post(client, "/v1.1/Sensors", body)["@iot.id"]


def _observed_property(client: TestClient) -> int:
    body = {"name": "temperature", "definition": "http://example.org/t", "description": "air temperature"}
    return _post(client, "/v1.1/ObservedProperties", body)["@iot.id"]


def test_deep_insert_creates_the_whole_graph(client: TestClient) -> None:
    thing = _post(client, "/v1.1/Things", station("Mitte", 12.37, 51.34, "city", 30))
    datastreams = client.get(f"/v1.1/Things({thing['@iot.id']})/Datastreams?$expand=Sensor,ObservedProperty")
    datastream = datastreams.json()["value"][0]
    assert datastream["Sensor"]["name"] == "Mitte thermometer"
    assert datastream["ObservedProperty"]["name"] == "Mitte temperature"
    assert datastream["unitOfMeasurement"] == UNIT
    observations = client.get(f"/v1.1/Datastreams({datastream['@iot.id']})/Observations").json()["value"]
    assert [o["result"] for o in observations] == [1.5, 3.0, -2.0]


def test_linking_by_id_and_by_a_whole_entity_read_before(client: TestClient) -> None:
    thing = _post(client, "/v1.1/Things", {"name": "T", "description": "d"})
    sensor = client.get(f"/v1.1/Sensors({_sensor(client)})").json()
    op_id = _observed_property(client)
    datastream = _post(
        client,
        "/v1.1/Datastreams",
        {
            "name": "D",
            "description": "d",
            "observationType": "OM_Measurement",
            "unitOfMeasurement": UNIT,
            "Thing": {"@iot.id": thing["@iot.id"]},
            "Sensor": sensor,  # the whole entity as read: a link, as FROST-Server treats it
            "ObservedProperty": {"@iot.id": op_id},
        },
    )
    linked = client.get(f"/v1.1/Datastreams({datastream['@iot.id']})/Sensor").json()
    assert linked["@iot.id"] == sensor["@iot.id"]
    assert client.get("/v1.1/Sensors?$count=true").json()["@iot.count"] == 1


def test_a_link_to_a_missing_entity_is_a_400_naming_it(client: TestClient) -> None:
    body = {
        "name": "D",
        "description": "d",
        "observationType": "x",
        "unitOfMeasurement": UNIT,
        "Thing": {"@iot.id": 4242},
        "Sensor": {"@iot.id": _sensor(client)},
        "ObservedProperty": {"@iot.id": _observed_property(client)},
    }
    response = client.post("/v1.1/Datastreams", json=body)
    assert response.status_code == 400
    assert "Thing" in response.json()["message"] and "4242" in response.json()["message"]
    assert client.get("/v1.1/Datastreams?$count=true").json()["@iot.count"] == 0


def test_creating_under_a_parent_path_links_to_the_parent(client: TestClient, graph) -> None:
    datastream = graph["mitte"]["datastream"]
    created = _post(
        client,
        f"/v1.1/Datastreams({datastream})/Observations",
        {"result": 7, "phenomenonTime": "2024-02-01T00:00:00+01:00"},
    )
    assert created["phenomenonTime"] == "2024-01-31T23:00:00Z"
    assert created["result"] == 7 and isinstance(created["result"], int)
    parent = client.get(f"/v1.1/Observations({created['@iot.id']})/Datastream").json()
    assert parent["@iot.id"] == datastream


def test_the_feature_of_interest_is_derived_from_the_things_location_once(client: TestClient, graph) -> None:
    datastream = graph["west"]["datastream"]
    first = _post(client, "/v1.1/Observations", {"result": 1, "Datastream": {"@iot.id": datastream}})
    second = _post(client, "/v1.1/Observations", {"result": 2, "Datastream": {"@iot.id": datastream}})
    feature_1 = client.get(f"/v1.1/Observations({first['@iot.id']})/FeatureOfInterest").json()
    feature_2 = client.get(f"/v1.1/Observations({second['@iot.id']})/FeatureOfInterest").json()
    assert feature_1["@iot.id"] == feature_2["@iot.id"]
    assert feature_1["feature"] == {"type": "Point", "coordinates": [12.3147, 51.3351]}
    assert first["phenomenonTime"] is not None  # the server's time when none is given


def test_observation_results_keep_their_json_type(client: TestClient, graph) -> None:
    datastream = graph["west"]["datastream"]
    for result in (42, 2.5, "cloudy", True, {"pm10": 12, "pm25": 7}, [1, 2], None, 2**60):
        created = _post(
            client, "/v1.1/Observations", {"result": result, "Datastream": {"@iot.id": datastream}}
        )
        assert client.get(f"/v1.1/Observations({created['@iot.id']})/result/$value").status_code == 200
        assert client.get(f"/v1.1/Observations({created['@iot.id']})").json()["result"] == result


def test_all_time_properties_of_an_observation(client: TestClient, graph) -> None:
    body = {
        "result": 3,
        "phenomenonTime": "2024-03-01T00:00:00Z/2024-03-02T00:00:00Z",
        "resultTime": "2024-03-02T00:05:00Z",
        "validTime": "2024-03-01T00:00:00Z/2024-04-01T00:00:00Z",
        "resultQuality": {"flag": "validated"},
        "parameters": {"method": "gravimetric"},
        "Datastream": {"@iot.id": graph["mitte"]["datastream"]},
    }
    created = _post(client, "/v1.1/Observations", body)
    for key in ("phenomenonTime", "resultTime", "validTime", "resultQuality", "parameters"):
        assert created[key] == body[key]
    datastream = client.get(f"/v1.1/Datastreams({graph['mitte']['datastream']})").json()
    assert datastream["phenomenonTime"] == "2024-01-01T12:00:00Z/2024-03-02T00:00:00Z"
    assert datastream["resultTime"] == "2024-03-02T00:05:00Z/2024-03-02T00:05:00Z"


def test_a_thing_given_a_location_gets_a_historical_location(client: TestClient, graph) -> None:
    thing = graph["mitte"]["thing"]
    history = client.get(f"/v1.1/Things({thing})/HistoricalLocations?$expand=Locations").json()["value"]
    assert len(history) == 1 and history[0]["Locations"][0]["name"] == "Mitte site"
    _post(
        client,
        f"/v1.1/Things({thing})/Locations",
        {
            "name": "new mast",
            "description": "moved",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [12.4, 51.3]},
        },
    )
    locations = client.get(f"/v1.1/Things({thing})/Locations").json()["value"]
    assert [loc["name"] for loc in locations] == ["new mast"]
    history = client.get(f"/v1.1/Things({thing})/HistoricalLocations").json()["value"]
    assert len(history) == 2


def test_a_historical_location_created_later_than_the_others_moves_the_thing(
    client: TestClient, graph
) -> None:
    thing = graph["mitte"]["thing"]
    (first,) = client.get(f"/v1.1/Things({thing})/HistoricalLocations").json()["value"]
    client.patch(f"/v1.1/HistoricalLocations({first['@iot.id']})", json={"time": "2016-01-01T06:00:00Z"})
    here, there = (
        _post(client, "/v1.1/Locations", {**SITE, "name": n})["@iot.id"] for n in ("here", "there")
    )

    def located() -> list[int]:
        return [loc["@iot.id"] for loc in client.get(f"/v1.1/Things({thing})/Locations").json()["value"]]

    later = {"time": "2016-01-01T07:00:00Z", "Thing": {"@iot.id": thing}, "Locations": [{"@iot.id": here}]}
    _post(client, "/v1.1/HistoricalLocations", later)
    assert located() == [here]
    # An earlier one (here under the Thing's path) fills in the past and leaves the Thing where it is.
    earlier = {"time": "2016-01-01T05:00:00Z", "Locations": [{"@iot.id": there}]}
    _post(client, f"/v1.1/Things({thing})/HistoricalLocations", earlier)
    assert located() == [here]
    assert len(client.get(f"/v1.1/Things({thing})/HistoricalLocations").json()["value"]) == 3  # none added


def test_patch_changes_only_what_is_given(client: TestClient, graph) -> None:
    thing = graph["west"]["thing"]
    response = client.patch(f"/v1.1/Things({thing})", json={"description": "renamed", "properties": {"a": 1}})
    assert response.status_code == 200
    assert response.json()["name"] == "West" and response.json()["description"] == "renamed"
    assert client.get(f"/v1.1/Things({thing})/properties").json() == {"properties": {"a": 1}}


def test_patch_relinks_a_datastream(client: TestClient, graph) -> None:
    datastream, other = graph["west"]["datastream"], graph["mitte"]["thing"]
    client.patch(f"/v1.1/Datastreams({datastream})", json={"Thing": {"@iot.id": other}})
    assert client.get(f"/v1.1/Datastreams({datastream})/Thing").json()["@iot.id"] == other


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_an_update_refuses_related_entities_given_inline(client: TestClient, graph, method: str) -> None:
    thing, datastream = graph["west"]["thing"], graph["west"]["datastream"]
    # PUT replaces the whole entity: the body is the entity as read, with the inline entity added.
    current_thing = client.get(f"/v1.1/Things({thing})").json() if method == "PUT" else {}
    current_datastream = client.get(f"/v1.1/Datastreams({datastream})").json() if method == "PUT" else {}
    cases = [
        (f"Things({thing})", {**current_thing, "Locations": [SITE]}, "Thing Locations"),
        (f"Things({thing})", {**current_thing, "Datastreams": [{"name": "x"}]}, "Thing Datastreams"),
        (f"Datastreams({datastream})", {**current_datastream, "Sensor": SENSOR}, "Datastream Sensor"),
    ]
    for path, body, named in cases:
        refused = client.request(method, f"/v1.1/{path}", json=body)
        assert refused.status_code == 400, (path, refused.text)
        assert refused.json()["message"].startswith(f"{named}: an update links existing")
    assert client.get("/v1.1/Locations?$count=true").json()["@iot.count"] == 2  # nothing was created
    assert client.get("/v1.1/Sensors?$count=true").json()["@iot.count"] == 2
    assert len(client.get(f"/v1.1/Things({thing})/HistoricalLocations").json()["value"]) == 1


def test_an_update_links_related_entities_by_id(client: TestClient, graph) -> None:
    thing, datastream = graph["west"]["thing"], graph["west"]["datastream"]
    site, sensor = _post(client, "/v1.1/Locations", SITE)["@iot.id"], _sensor(client, "new")
    assert client.patch(f"/v1.1/Things({thing})", json={"Locations": [{"@iot.id": site}]}).status_code == 200
    locations = client.get(f"/v1.1/Things({thing})/Locations").json()["value"]
    assert [location["@iot.id"] for location in locations] == [site]
    assert len(client.get(f"/v1.1/Things({thing})/HistoricalLocations").json()["value"]) == 2
    linked = client.patch(f"/v1.1/Datastreams({datastream})", json={"Sensor": {"@iot.id": sensor, **SENSOR}})
    assert linked.status_code == 200  # a whole entity read before links by its id
    assert client.get(f"/v1.1/Datastreams({datastream})/Sensor").json()["@iot.id"] == sensor


def test_a_json_patch_may_not_add_an_entity_inline(client: TestClient, graph) -> None:
    thing = graph["west"]["thing"]
    patch = [{"op": "add", "path": "/Locations", "value": [SITE]}]
    headers = {"Content-Type": "application/json-patch+json"}
    refused = client.patch(f"/v1.1/Things({thing})", json=patch, headers=headers)
    assert refused.status_code == 400 and "Thing Locations" in refused.json()["message"]


def test_put_replaces_the_entity_and_needs_every_required_property(client: TestClient, graph) -> None:
    thing = graph["west"]["thing"]
    incomplete = client.put(f"/v1.1/Things({thing})", json={"name": "only a name"})
    assert incomplete.status_code == 400 and "description" in incomplete.json()["message"]
    replaced = client.put(f"/v1.1/Things({thing})", json={"name": "W", "description": "new"}).json()
    assert replaced.get("properties") is None and replaced["name"] == "W"


def test_computed_properties_sent_back_are_ignored(client: TestClient, graph) -> None:
    datastream = graph["west"]["datastream"]
    before = client.get(f"/v1.1/Datastreams({datastream})").json()
    response = client.patch(
        f"/v1.1/Datastreams({datastream})",
        json={"phenomenonTime": "2000-01-01T00:00:00Z/2000-01-02T00:00:00Z", "description": "new"},
    )
    assert response.status_code == 200
    assert response.json()["phenomenonTime"] == before["phenomenonTime"]
    assert response.json()["description"] == "new"


def test_delete_cascades_as_the_standard_says(client: TestClient, graph) -> None:
    thing, datastream = graph["mitte"]["thing"], graph["mitte"]["datastream"]
    location = client.get(f"/v1.1/Things({thing})/Locations").json()["value"][0]["@iot.id"]
    assert client.delete(f"/v1.1/Things({thing})").status_code == 200
    assert client.get(f"/v1.1/Things({thing})").status_code == 404
    assert client.get(f"/v1.1/Datastreams({datastream})").status_code == 404
    assert (
        client.get(f"/v1.1/Observations?$filter=Datastream/id eq {datastream}&$count=true").json()[
            "@iot.count"
        ]
        == 0
    )
    assert client.get(f"/v1.1/Locations({location})").status_code == 200  # a Location outlives its Thing
    assert client.get("/v1.1/Observations?$count=true").json()["@iot.count"] == 3  # West's stay


def test_deleting_a_location_drops_its_historical_locations(client: TestClient, graph) -> None:
    thing = graph["west"]["thing"]
    location = client.get(f"/v1.1/Things({thing})/Locations").json()["value"][0]["@iot.id"]
    client.delete(f"/v1.1/Locations({location})")
    assert client.get(f"/v1.1/Things({thing})/HistoricalLocations?$count=true").json()["@iot.count"] == 0


def test_delete_ref_unlinks_without_deleting(client: TestClient, graph) -> None:
    thing = graph["west"]["thing"]
    location = client.get(f"/v1.1/Things({thing})/Locations").json()["value"][0]["@iot.id"]
    assert client.delete(f"/v1.1/Things({thing})/Locations({location})/$ref").status_code == 200
    assert client.get(f"/v1.1/Things({thing})/Locations").json()["value"] == []
    assert client.get(f"/v1.1/Locations({location})").status_code == 200


def test_anonymous_writes_are_refused_on_a_fresh_install(anonymous: TestClient) -> None:
    response = anonymous.post("/v1.1/Things", json={"name": "x", "description": "y"})
    assert response.status_code == 401 and "token" in response.json()["message"]
    assert anonymous.get("/v1.1/Things").status_code == 200


def test_a_wrong_token_is_refused(anonymous: TestClient) -> None:
    response = anonymous.post(
        "/v1.1/Things", json={"name": "x", "description": "y"}, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401


def test_the_token_works_as_the_password_of_basic_auth(anonymous: TestClient) -> None:
    from tests.conftest import ADMIN_TOKEN

    response = anonymous.post(
        "/v1.1/Things", json={"name": "x", "description": "y"}, auth=("any", ADMIN_TOKEN)
    )
    assert response.status_code == 201


def test_bodies_with_mistakes_are_400_naming_the_mistake(client: TestClient) -> None:
    cases = [
        ({"name": "x"}, "description"),
        ({"name": "x", "description": "y", "colour": "red"}, "colour"),
        ({"name": 5, "description": "y"}, "name"),
        ({"name": "x", "description": "y", "properties": [1]}, "properties"),
        (
            {
                "name": "x",
                "description": "y",
                "Locations": [
                    {
                        "name": "l",
                        "description": "d",
                        "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": ["a"]},
                    }
                ],
            },
            "location",
        ),
    ]
    for body, word in cases:
        response = client.post("/v1.1/Things", json=body)
        assert response.status_code == 400, body
        assert word in response.json()["message"], (body, response.json())
    bad_json = client.post("/v1.1/Things", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["message"]
    assert client.get("/v1.1/Things?$count=true").json()["@iot.count"] == 0


def test_a_json_patch_may_not_nest_an_entity_deeper_than_any_body(client: TestClient) -> None:
    thing = client.post("/v1.1/Things", json={"name": "deep", "description": "d", "properties": {"a": 1}})
    link = thing.headers["Location"]
    nested: object = 1
    for _ in range(60):
        nested = {"a": nested}
    patch = [{"op": "replace", "path": "/properties/a", "value": nested}]
    headers = {"Content-Type": "application/json-patch+json"}
    assert client.patch(link, json=patch, headers=headers).status_code == 200
    deeper = [{"op": "replace", "path": "/properties" + "/a" * 61, "value": nested}]
    refused = client.patch(link, json=deeper, headers=headers)
    assert refused.status_code == 400
    assert "the entity the JSON Patch leaves nests deeper than 64 levels" in refused.json()["message"]
    assert client.get(link).status_code == 200
