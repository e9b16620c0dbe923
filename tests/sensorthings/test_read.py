"""Reading entities: the service root, paths, $expand, $select, $orderby, paging and counts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.access.world import World, build
from tests.conftest import statements
from urbantwin.app import create_app
from urbantwin.sensorthings.service import CONFORMANCE


def test_service_root_lists_entity_sets_and_conformance(client: TestClient) -> None:
    root = client.get("/v1.1/").json()
    names = {entry["name"] for entry in root["value"]}
    assert names == {
        "Things",
        "Locations",
        "HistoricalLocations",
        "Sensors",
        "ObservedProperties",
        "Datastreams",
        "FeaturesOfInterest",
        "Observations",
    }
    assert root["value"][0]["url"] == "http://testserver/v1.1/Things"
    assert set(CONFORMANCE) <= set(root["serverSettings"]["conformance"])


REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req"


def test_the_service_root_claims_exactly_what_is_implemented(client: TestClient) -> None:
    # The requirement classes of STA 1.1 part 1, the optional ones of create-update-delete by name;
    # no multi-datastream (none here), no MQTT (the test settings have no broker).
    assert client.get("/v1.1/").json()["serverSettings"]["conformance"] == [
        f"{REQ}/datamodel",
        f"{REQ}/resource-path/resource-path-to-entities",
        f"{REQ}/request-data",
        f"{REQ}/create-update-delete",
        f"{REQ}/create-update-delete/update-entity-put",
        f"{REQ}/create-update-delete/update-entity-jsonpatch",
        f"{REQ}/create-update-delete/historical-location-manual-creation",
        f"{REQ}/batch-request/batch-request",
        f"{REQ}/data-array/data-array",
    ]


def test_an_entity_has_its_id_self_link_and_navigation_links(client: TestClient, graph) -> None:
    thing = client.get(f"/v1.1/Things({graph['mitte']['thing']})").json()
    assert thing["@iot.id"] == graph["mitte"]["thing"]
    assert thing["@iot.selfLink"] == f"http://testserver/v1.1/Things({thing['@iot.id']})"
    assert thing["Datastreams@iot.navigationLink"].endswith(f"Things({thing['@iot.id']})/Datastreams")
    assert thing["properties"] == {"owner": "city", "height": 30, "tags": ["weather", "city"]}


def test_paths_navigate_relations(client: TestClient, graph) -> None:
    thing, datastream = graph["west"]["thing"], graph["west"]["datastream"]
    observations = client.get(f"/v1.1/Things({thing})/Datastreams({datastream})/Observations").json()
    assert [o["result"] for o in observations["value"]] == [1.5, 3.0, -2.0]
    owner = client.get(f"/v1.1/Datastreams({datastream})/Thing").json()
    assert owner["name"] == "West"
    sensor_name = client.get(f"/v1.1/Datastreams({datastream})/Sensor/name").json()
    assert sensor_name == {"name": "West thermometer"}
    raw = client.get(f"/v1.1/Datastreams({datastream})/Sensor/name/$value")
    assert raw.text == "West thermometer" and raw.headers["content-type"].startswith("text/plain")


def test_the_value_of_a_null_property_is_the_literal_null(client: TestClient, graph) -> None:
    # Not an empty body, which would read as the empty string, another value.
    observations = client.get(f"/v1.1/Datastreams({graph['west']['datastream']})/Observations").json()
    raw = client.get(f"/v1.1/Observations({observations['value'][0]['@iot.id']})/resultTime/$value")
    assert (raw.status_code, raw.text) == (200, "null")
    assert raw.headers["content-type"].startswith("text/plain")
    thing = graph["west"]["thing"]
    assert client.patch(f"/v1.1/Things({thing})", json={"properties": {"note": None}}).status_code == 200
    raw = client.get(f"/v1.1/Things({thing})/properties/note/$value")
    assert (raw.status_code, raw.text) == (200, "null")


def test_a_value_in_a_batch_is_text(client: TestClient, graph) -> None:
    thing = graph["west"]["thing"]
    requests = [
        {"id": "name", "method": "get", "url": f"Things({thing})/name/$value"},
        {"id": "null", "method": "get", "url": f"Things({thing})/properties/missing/$value"},
        {"id": "tags", "method": "get", "url": f"Things({thing})/properties/tags/$value"},
    ]
    client.patch(f"/v1.1/Things({thing})", json={"properties": {"tags": ["a"], "missing": None}})
    answers = client.post("/v1.1/$batch", json={"requests": requests}).json()["responses"]
    assert [(a["status"], a["body"]) for a in answers] == [(200, "West"), (200, "null"), (200, ["a"])]
    assert answers[0]["headers"]["content-type"] == "text/plain"


def test_a_path_through_an_unrelated_or_missing_entity_is_404(client: TestClient, graph) -> None:
    other = graph["mitte"]["datastream"]
    response = client.get(f"/v1.1/Things({graph['west']['thing']})/Datastreams({other})")
    assert response.status_code == 404
    assert client.get("/v1.1/Things(999999)/Datastreams").status_code == 404
    assert "no Thing" in client.get("/v1.1/Things(999999)").json()["message"]


def test_ref_gives_links_only(client: TestClient, graph) -> None:
    refs = client.get(f"/v1.1/Things({graph['mitte']['thing']})/Datastreams/$ref").json()
    assert refs["value"] == [
        {"@iot.selfLink": f"http://testserver/v1.1/Datastreams({graph['mitte']['datastream']})"}
    ]
    one = client.get(f"/v1.1/Datastreams({graph['mitte']['datastream']})/Thing/$ref").json()
    assert one == {"@iot.selfLink": f"http://testserver/v1.1/Things({graph['mitte']['thing']})"}


def test_computed_properties_of_a_datastream(client: TestClient, graph) -> None:
    datastream = client.get(f"/v1.1/Datastreams({graph['mitte']['datastream']})").json()
    assert datastream["phenomenonTime"] == "2024-01-01T12:00:00Z/2024-01-03T12:00:00Z"
    assert datastream["observedArea"] == {"type": "Point", "coordinates": (12.3731, 51.3397)} or datastream[
        "observedArea"
    ] == {"type": "Point", "coordinates": [12.3731, 51.3397]}


def test_nested_expand_with_its_own_options(client: TestClient, graph) -> None:
    things = client.get(
        "/v1.1/Things",
        params={
            "$orderby": "name",
            "$expand": "Locations($select=name),Datastreams($expand=Observations($orderby=result desc;$top=2;"
            "$select=result;$count=true),Sensor)",
        },
    ).json()["value"]
    mitte = things[0]
    assert mitte["Locations"] == [{"name": "Mitte site"}]
    datastream = mitte["Datastreams"][0]
    assert datastream["Sensor"]["name"] == "Mitte thermometer"
    assert datastream["Observations"] == [{"result": 3.0}, {"result": 1.5}]
    assert datastream["Observations@iot.count"] == 3
    assert "$skip=2" in datastream["Observations@iot.nextLink"]


def test_expand_by_path_and_twice_the_same_relation(client: TestClient, graph) -> None:
    observation = client.get(
        f"/v1.1/Datastreams({graph['west']['datastream']})/Observations",
        params={"$top": "1", "$expand": "Datastream/Thing,Datastream($select=name)"},
    ).json()["value"][0]
    assert observation["Datastream"]["name"] == "West air temperature"
    assert observation["Datastream"]["Thing"]["name"] == "West"


def test_select_and_orderby_on_several_keys(client: TestClient, graph) -> None:
    values = client.get(
        "/v1.1/Observations", params={"$select": "result,@iot.id", "$orderby": "result desc,id asc"}
    ).json()["value"]
    assert [v["result"] for v in values] == [3.0, 3.0, 1.5, 1.5, -2.0, -2.0]
    assert set(values[0]) == {"result", "@iot.id"}
    assert values[0]["@iot.id"] < values[1]["@iot.id"]


def test_server_driven_paging_follows_next_links_to_the_end(client: TestClient, graph) -> None:
    url, seen = "/v1.1/Observations?$top=4&$count=true", []
    pages = 0
    while url:
        page = client.get(url).json()
        assert page.get("@iot.count", 6) == 6
        seen += [o["@iot.id"] for o in page["value"]]
        url = page.get("@iot.nextLink", "").replace("http://testserver", "")
        pages += 1
    assert pages == 2 and len(seen) == len(set(seen)) == 6


def test_top_is_capped_by_the_configured_maximum(client: TestClient, graph) -> None:
    client.app.state.sensorthings.paging = type(client.app.state.sensorthings.paging)(2, 2)
    page = client.get("/v1.1/Observations?$top=5").json()
    assert len(page["value"]) == 2 and "@iot.nextLink" in page


def test_top_zero_with_count_gives_only_the_count(client: TestClient, graph) -> None:
    page = client.get("/v1.1/Observations?$top=0&$count=true").json()
    assert page == {"@iot.count": 6, "value": []}


def test_links_use_the_address_a_trusted_proxy_forwards(settings, engine, graph) -> None:  # noqa: ANN001
    app = create_app(settings.with_overrides(trusted_proxies=("testclient",)), engine)
    with TestClient(app, base_url="http://testserver") as proxied:
        page = proxied.get(
            "/v1.1/Things?$top=1",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "daten.leipzig.de"},
        ).json()
    assert page["value"][0]["@iot.selfLink"].startswith("https://daten.leipzig.de/v1.1/Things(")
    assert page["@iot.nextLink"].startswith("https://daten.leipzig.de/v1.1/Things?")


def test_forwarded_headers_of_an_untrusted_client_are_ignored(client: TestClient, graph) -> None:
    page = client.get(
        "/v1.1/Things?$top=1",
        headers={"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "attacker.example"},
    ).json()
    assert page["value"][0]["@iot.selfLink"].startswith("http://testserver/v1.1/Things(")
    assert "attacker" not in page["@iot.nextLink"]


def test_a_trusted_proxy_cannot_forward_a_scheme_other_than_http(settings, engine, graph) -> None:  # noqa: ANN001
    app = create_app(settings.with_overrides(trusted_proxies=("testclient",)), engine)
    with TestClient(app, base_url="http://testserver") as proxied:
        page = proxied.get(
            "/v1.1/Things?$top=1",
            headers={"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "a b/<script>"},
        ).json()
    assert page["value"][0]["@iot.selfLink"].startswith("http://testserver/v1.1/Things(")


def test_a_path_of_ten_entities_is_followed(client: TestClient, graph) -> None:
    thing, datastream = graph["mitte"]["thing"], graph["mitte"]["datastream"]
    path = f"/v1.1/Things({thing})" + f"/Datastreams({datastream})/Thing" * 4 + "/Datastreams"
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert [d["@iot.id"] for d in response.json()["value"]] == [datastream]


def test_an_entity_stored_deeper_than_responses_nest_breaks_no_read(
    client: TestClient, engine, graph
) -> None:
    # Probe: properties stored 253 levels deep (before input was limited) made every answer that
    # embedded them one or two levels deeper a 500, for every reader: $batch GET of the Thing,
    # Datastreams(…)?$expand=Thing, $expand=Datastreams($expand=Observations).
    from sqlalchemy import update

    from urbantwin.store import schema

    deep: Any = "bottom"
    for _ in range(253):
        deep = {"a": deep}
    thing, datastream = graph["mitte"]["thing"], graph["mitte"]["datastream"]
    with engine.begin() as connection:
        connection.execute(update(schema.things).where(schema.things.c.id == thing).values(properties=deep))
    reads = [
        f"/v1.1/Things({thing})",
        "/v1.1/Things",
        f"/v1.1/Datastreams({datastream})?$expand=Thing",
        "/v1.1/Datastreams?$expand=Thing",
        "/v1.1/Things?$expand=Datastreams($expand=Observations)",
        "/v1.1/Observations?$resultFormat=dataArray&$expand=Datastream($expand=Thing)",
        f"/v1.1/Things({thing})/properties",
    ]
    for path in reads:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:200])
    expanded = client.get(f"/v1.1/Datastreams({datastream})?$expand=Thing").json()["Thing"]["properties"]
    assert expanded == deep
    request = {"id": "1", "method": "get", "url": f"Things({thing})"}
    batch = client.post("/v1.1/$batch", json={"requests": [request]})
    assert batch.status_code == 200, batch.text[:200]
    assert batch.json()["responses"][0]["body"]["properties"] == deep


def test_a_path_starting_at_an_entity_reads_it_and_its_dataset_at_once(
    client: TestClient, engine: Engine, graph: dict[str, Any]
) -> None:
    datastream = graph["west"]["datastream"]
    client.get(f"/v1.1/Datastreams({datastream})/Observations")  # the caller's scope is kept from now
    with statements(engine, "AnyIO worker thread") as seen:
        page = client.get(f"/v1.1/Datastreams({datastream})/Observations?$top=2")
    assert page.status_code == 200
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "SELECT 1" not in s]
    assert len(reads) == 2, reads  # the Datastream with its dataset, then the page
    with statements(engine, "AnyIO worker thread") as seen:
        assert client.get(f"/v1.1/Datastreams({datastream})").status_code == 200
        assert client.get(f"/v1.1/Datastreams({datastream})/name").status_code == 200
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "SELECT 1" not in s]
    assert len(reads) == 2, reads  # each the Datastream's row, which holds its dataset


@pytest.mark.parametrize("first", ["Datastream", "Datastream alone", "Observation"])
def test_a_read_is_counted_against_the_dataset_its_path_starts_in(
    client: TestClient, engine: Engine, first: str
) -> None:
    world: World = build(client, engine)
    meters = world.ids["meters-internal"]
    ute = world.headers("ute")
    if first == "Datastream":
        path = f"/v1.1/Datastreams({meters['datastream']})/Thing"
    elif first == "Datastream alone":
        path = f"/v1.1/Datastreams({meters['datastream']})"
    else:
        listed = client.get(f"/v1.1/Datastreams({meters['datastream']})/Observations", headers=ute).json()
        path = f"/v1.1/Observations({listed['value'][0]['@iot.id']})/Datastream/Thing"
    before = _reads(client, "ute")
    assert client.get(path, headers=ute).status_code == 200
    assert _reads(client, "ute") == before + [("sensorthings", "meters-internal")]


def _reads(client: TestClient, principal: str) -> list[tuple[str, str]]:
    records = client.get("/api/admin/audit", params={"principal": principal, "action": "read"}).json()
    return [(r["api"], r["dataset_id"]) for r in reversed(records)]
