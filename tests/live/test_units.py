"""The pure parts of the live machinery: change sets on the wire, topics, the MQTT ingest plan."""

from __future__ import annotations

import pytest

from urbantwin.live.changes import MAX_PAYLOAD, ChangeSet
from urbantwin.live.events import EntityEvent
from urbantwin.live.mqtt import Broker, _plan
from urbantwin.live.topics import creation_path, parse_selects, topics_of
from urbantwin.sensorthings.model import OBSERVATION, THING
from urbantwin.settings import Settings


def test_a_change_set_travels_as_ranges() -> None:
    changes = ChangeSet(origin="p1")
    changes.add("create", "Observation", range(1, 1001))
    changes.add("update", "Thing", [7])
    (payload,) = changes.encode()
    assert len(payload) < 100
    back = ChangeSet.decode(payload)
    assert back.origin == "p1"
    assert back.created == {"Observation": set(range(1, 1001))}
    assert back.updated == {"Thing": {7}}


def test_a_large_change_set_is_split_into_notifications_postgresql_takes() -> None:
    changes = ChangeSet(origin="p1")
    changes.add("create", "Observation", range(0, 60_000, 3))  # no two ids adjacent
    payloads = changes.encode()
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    merged = ChangeSet()
    for payload in payloads:
        merged.merge(ChangeSet.decode(payload))
    assert merged.created == changes.created


def _event(entity, kind, parents):  # noqa: ANN001, ANN202
    return EntityEvent(entity, 5, kind, {}, "open", parents)


def test_a_new_observation_goes_to_its_set_and_navigation_sets() -> None:
    event = _event(
        OBSERVATION, "create", [("Datastreams", 1, "Observations"), ("FeaturesOfInterest", 2, "Observations")]
    )
    selects = parse_selects("Observations?$select=result,phenomenonTime")
    names = [t.name for t in topics_of(event, "", selects)]
    assert names == [
        "v1.1/Observations",
        "v1.1/Observations?$select=result,phenomenonTime",
        "v1.1/Datastreams(1)/Observations",
        "v1.1/Datastreams(1)/Observations?$select=result,phenomenonTime",
        "v1.1/FeaturesOfInterest(2)/Observations",
        "v1.1/FeaturesOfInterest(2)/Observations?$select=result,phenomenonTime",
    ]


def test_by_default_no_select_form_is_published() -> None:
    """Each form is one more message per change whether anyone listens or not: only when configured."""
    event = _event(OBSERVATION, "create", [("Datastreams", 1, "Observations")])
    selects = parse_selects(Settings().mqtt_select_topics)
    assert [t.name for t in topics_of(event, "", selects)] == [
        "v1.1/Observations",
        "v1.1/Datastreams(1)/Observations",
    ]


def test_an_update_goes_to_the_entity_and_each_property_too() -> None:
    topics = list(topics_of(_event(THING, "update", [("Locations", 3, "Things")]), "city/", {}))
    names = [t.name for t in topics]
    assert names[:3] == ["city/v1.1/Things", "city/v1.1/Locations(3)/Things", "city/v1.1/Things(5)"]
    assert {t.property for t in topics[3:]} == {"name", "description", "properties"}


def test_bad_select_topics_are_named() -> None:
    with pytest.raises(ValueError, match="Thing has no colour"):
        parse_selects("Things?$select=colour")
    with pytest.raises(ValueError, match="Observations\\?\\$expand"):
        parse_selects("Observations?$expand=Datastream")


def test_creation_topics() -> None:
    assert creation_path("v1.1/Observations", "") == "Observations"
    assert creation_path("x/v1.1/Datastreams(4)/Observations", "x/") == "Datastreams(4)/Observations"
    assert (
        creation_path("v1.1/FeaturesOfInterest(4)/Observations", "") == "FeaturesOfInterest(4)/Observations"
    )
    for topic in (
        "v1.1/Things",
        "v1.1/Things(1)/Observations",
        "v1.1/Observations?$select=result",
        "v1.0/Observations",
    ):
        assert creation_path(topic, "") is None


def test_plain_observations_become_one_block_per_datastream() -> None:
    blocks, singles = _plan(
        [
            ("Datastreams(1)/Observations", {"result": 1, "phenomenonTime": "2026-01-01T00:00:00Z"}),
            (
                "Observations",
                {"phenomenonTime": "2026-01-01T00:01:00Z", "result": 2, "Datastream": {"@iot.id": 1}},
            ),
            (
                "Observations",
                {"result": 3, "Datastream": {"@iot.id": "2"}, "FeatureOfInterest": {"@iot.id": 9}},
            ),
            ("Observations", {"result": 4, "Datastream": {"@iot.id": 1, "name": "x"}}),
            ("Datastreams(1)/Observations", {"result": 5, "Datastream": {"@iot.id": 1}}),
            ("FeaturesOfInterest(3)/Observations", {"result": 6, "Datastream": {"@iot.id": 1}}),
        ]
    )
    assert blocks == [
        {
            "Datastream": {"@iot.id": 1},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-01-01T00:00:00Z", 1], ["2026-01-01T00:01:00Z", 2]],
        },
        {
            "Datastream": {"@iot.id": 2},
            "components": ["FeatureOfInterest/id", "result"],
            "dataArray": [[9, 3]],
        },
    ]
    assert [body["result"] for _path, body in singles] == [4, 5, 6]


def test_the_broker_address_hides_its_credentials() -> None:
    broker = Broker.parse("mqtt://server:secret@broker.example:1884")
    assert (broker.host, broker.port, broker.username, broker.password) == (
        "broker.example",
        1884,
        "server",
        "secret",
    )
    assert broker.public == "mqtt://broker.example:1884"
    assert Broker.parse("mqtts://b").port == 8883
    with pytest.raises(ValueError):
        Broker.parse("http://b")
