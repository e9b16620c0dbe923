"""LoRaWAN uplinks of The Things Stack and ChirpStack into mapped Datastreams, and which sensors
reach which gateways.

The uplinks are the documented examples of both network servers:

* The Things Stack: "Uplink message example" of Integrations > Data Formats
  (https://www.thethingsindustries.com/docs/integrations/data-formats/, as in the repository
  TheThingsIndustries/lorawan-stack-docs, doc/content/integrations/data-formats/_index.md), whole;
* ChirpStack v4: the JSON example of the `up` event in Integrations > Event types
  (https://www.chirpstack.io/docs/chirpstack/integrations/events.html, repository
  chirpstack/chirpstack-docs, src/chirpstack/integrations/events.md), with an `object` and an
  `fCnt` added: the example device has no codec (so no decoded object) and frame counter 0 (so, as
  protobuf's JSON mapping omits zeros, no `fCnt`).

Further gateways and devices (gateway `0016c001f153a14d`, device `0101010101010102`) are made up
from those examples by changing one digit.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.infrastructure.conftest import TOKEN
from urbantwin.errors import BadRequest
from urbantwin.infrastructure.lorawan import parse_chirpstack, parse_tts
from urbantwin.infrastructure.sites import import_sites, read_site_mapping
from urbantwin.settings import Settings

TTS_UPLINK: dict[str, Any] = {
    "end_device_ids": {
        "device_id": "dev1",
        "application_ids": {"application_id": "app1"},
        "dev_eui": "0004A30B001C0530",
        "join_eui": "800000000000000C",
        "dev_addr": "00BCB929",
    },
    "correlation_ids": [
        "as:up:01E0WZGT6Y7657CPFPE5WEYDSQ",
        "gs:conn:01E0WDEC6T5T4XXBAX7S1VMFKE",
        "gs:uplink:01E0WZGSZWT07NE5TS2APTV1Z9",
        "ns:uplink:01E0WZGSZXZXZS8RFAWZX0F2FY",
        "rpc:/ttn.lorawan.v3.GsNs/HandleUplink:01E0WZGSZXGE1KS577PFBWRJEE",
    ],
    "received_at": "2020-02-12T15:15:46.014773143Z",
    "uplink_message": {
        "session_key_id": "AXA50tHUGUucuzS/bCGMNw==",
        "f_cnt": 1,
        "frm_payload": "gkHe",
        "decoded_payload": {"temperature": 1.0, "luminosity": 0.64},
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": "gtw1", "eui": "9C5C8E00001A05C4"},
                "time": "2020-02-12T15:15:45.787Z",
                "timestamp": 2463457000,
                "rssi": -35,
                "channel_rssi": -35,
                "snr": 5,
                "uplink_token": "ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk=",
                "channel_index": 2,
            }
        ],
        "settings": {
            "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}},
            "data_rate_index": 5,
            "coding_rate": "4/6",
            "frequency": "868300000",
            "timestamp": 2463457000,
            "time": "2020-02-12T15:15:45.787Z",
        },
        "consumed_airtime": "0.056576s",
        "locations": {
            "user": {
                "latitude": 37.97155556731436,
                "longitude": 23.72678801175413,
                "altitude": 10,
                "source": "SOURCE_REGISTRY",
            }
        },
        "received_at": "2020-02-12T15:15:45.789585559Z",
    },
}

CHIRPSTACK_UP: dict[str, Any] = {
    "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
    "time": "2022-07-18T09:34:15.775023242+00:00",
    "deviceInfo": {
        "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
        "tenantName": "ChirpStack",
        "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
        "applicationName": "Test application",
        "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
        "deviceProfileName": "Test device-profile",
        "deviceName": "Test device",
        "devEui": "0101010101010101",
        "tags": {"key": "value"},
    },
    "devAddr": "00189440",
    "dr": 1,
    "fPort": 1,
    "data": "qg==",
    "rxInfo": [
        {
            "gatewayId": "0016c001f153a14c",
            "uplinkId": 4217106255,
            "rssi": -36,
            "snr": 10.5,
            "context": "E3OWOQ==",
            "metadata": {"region_name": "eu868", "region_common_name": "EU868"},
        }
    ],
    "txInfo": {
        "frequency": 867100000,
        "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 11, "codeRate": "CR_4_5"}},
    },
    # added (see the module docstring)
    "object": {"temperature": 21.5},
    "fCnt": 7,
}

#: The gateway of the ChirpStack example as a site (made up: a roof at 10°E 50°N).
GATEWAY_SITE: dict[str, Any] = {
    "type": "Feature",
    "properties": {"eui": "0016c001f153a14c", "carrier": "roof"},
    "geometry": {"type": "Point", "coordinates": [10.0, 50.0]},
}

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_the_documented_uplinks_are_read() -> None:
    tts = parse_tts(TTS_UPLINK)
    assert tts is not None
    assert (tts.dev_eui, tts.f_cnt, tts.fields) == (
        "0004A30B001C0530",
        1,
        {"temperature": 1.0, "luminosity": 0.64},
    )
    assert tts.received.isoformat() == "2020-02-12T15:15:45.789585+00:00"
    assert [(r.gateway_id, r.rssi, r.snr) for r in tts.receptions] == [("9C5C8E00001A05C4", -35.0, 5.0)]
    chirp = parse_chirpstack(CHIRPSTACK_UP, "up")
    assert chirp is not None
    assert (chirp.dev_eui, chirp.f_cnt, chirp.dedupe_key) == (
        "0101010101010101",
        7,
        "chirpstack:3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
    )
    assert [(r.gateway_id, r.rssi, r.snr) for r in chirp.receptions] == [("0016C001F153A14C", -36.0, 10.5)]
    # other messages are not uplinks
    assert parse_chirpstack({"deviceInfo": {}}, "join") is None
    assert parse_tts({"end_device_ids": {}, "join_accept": {}}) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda u: u["end_device_ids"].pop("dev_eui"), "end_device_ids.dev_eui None is not an EUI-64"),
        (lambda u: u["uplink_message"].pop("decoded_payload"), "no decoded payload"),
        (lambda u: u["uplink_message"].update(received_at="yesterday"), "uplink_message.received_at"),
        (lambda u: u["uplink_message"]["rx_metadata"][0].update(rssi="loud"), "rx_metadata[0].rssi must be"),
        (lambda u: u["uplink_message"].update(f_cnt=-1), "f_cnt must be a non-negative integer"),
    ],
)
def test_malformed_tts_uplinks_are_named(change: Any, message: str) -> None:
    uplink = copy.deepcopy(TTS_UPLINK)
    change(uplink)
    with pytest.raises(BadRequest, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_tts(uplink)


def _datastreams(client: TestClient, name: str, fields: list[str]) -> dict[str, int]:
    thing = {
        "name": name,
        "description": "a LoRaWAN sensor (test)",
        "Locations": [
            {
                "name": "mast",
                "description": "where the sensor hangs",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [10.0, 50.0]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} {field}",
                "description": field,
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "unit", "symbol": "u", "definition": "http://example.org/u"},
                "Sensor": {"name": "s", "description": "s", "encodingType": "text/html", "metadata": "x"},
                "ObservedProperty": {
                    "name": field,
                    "definition": f"http://example.org/{field}",
                    "description": field,
                },
            }
            for field in fields
        ],
    }
    answer = client.post("/v1.1/Things", json=thing)
    assert answer.status_code == 201, answer.text
    link = answer.headers["location"].split("/v1.1/")[1]
    streams = client.get(f"/v1.1/{link}/Datastreams").json()["value"]
    return {s["description"]: s["@iot.id"] for s in streams}


def test_uplinks_become_observations_once(client: TestClient, anonymous: TestClient) -> None:
    streams = _datastreams(client, "dev1", ["temperature", "luminosity"])
    url = "/api/infrastructure/lorawan/uplinks/tts"

    # unknown device, no token, wrong token, malformed
    unknown = anonymous.post(url, json=TTS_UPLINK, headers=BEARER)
    assert unknown.status_code == 404 and "unknown device 0004A30B001C0530" in unknown.json()["message"]
    assert anonymous.post(url, json=TTS_UPLINK).status_code == 401
    assert anonymous.post(url, json=TTS_UPLINK, headers={"Authorization": "Bearer guess"}).status_code == 401

    # mapping needs a writer; then the device's fields feed the Datastreams
    path = "/api/infrastructure/lorawan/devices/0004a30b001c0530"
    assert anonymous.put(path, json={"fields": {"temperature": streams["temperature"]}}).status_code == 401
    bad = client.put(path, json={"fields": {"temperature": 999999}})
    assert bad.status_code == 400 and bad.json()["message"] == "fields.temperature: no Datastream 999999"
    assert (
        client.put("/api/infrastructure/lorawan/devices/0004", json={"fields": {"t": 1}}).status_code == 400
    )
    mapped = client.put(path, json={"fields": streams})
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["dev_eui"] == "0004A30B001C0530"

    stored = anonymous.post(url, json=TTS_UPLINK, headers=BEARER)
    assert stored.status_code == 200, stored.text
    assert stored.json() == {
        "stored": True,
        "observations": 2,
        "fields": ["luminosity", "temperature"],
        "ignored_fields": [],
        "gateways": 1,
    }
    # the network server retries: nothing more is stored
    again = anonymous.post(url, json=TTS_UPLINK, headers=BEARER)
    assert again.json() == {"stored": False, "duplicate": True}
    observations = client.get(f"/v1.1/Datastreams({streams['temperature']})/Observations").json()["value"]
    assert len(observations) == 1
    observation = observations[0]
    assert observation["result"] == 1.0
    assert observation["phenomenonTime"].startswith("2020-02-12T15:15:45.789")
    assert observation["parameters"]["lorawan"]["gateways"] == [
        {"gateway_id": "9C5C8E00001A05C4", "rssi": -35.0, "snr": 5.0}
    ]

    malformed = copy.deepcopy(TTS_UPLINK)
    malformed["uplink_message"]["decoded_payload"]["temperature"] = {"value": 1}
    malformed["uplink_message"]["f_cnt"] = 2
    refused = anonymous.post(url, json=malformed, headers=BEARER)
    assert refused.status_code == 400
    assert (
        refused.json()["message"]
        == "malformed uplink: the decoded field 'temperature' must be a number, text or boolean"
    )
    not_json = anonymous.post(url, content=b"{", headers={**BEARER, "Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert (
        anonymous.post("/api/infrastructure/lorawan/uplinks/loriot", json={}, headers=BEARER).status_code
        == 404
    )

    listed = client.get("/api/infrastructure/lorawan/devices").json()["devices"]
    assert listed == [{"dev_eui": "0004A30B001C0530", "fields": streams}]


def test_chirpstack_uplinks_and_which_gateways_hear_whom(
    client: TestClient, anonymous: TestClient, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    one = _datastreams(client, "one gateway", ["temperature"])
    two = _datastreams(client, "two gateways", ["temperature"])
    client.put("/api/infrastructure/lorawan/devices/0101010101010101", json={"fields": one})
    client.put("/api/infrastructure/lorawan/devices/0101010101010102", json={"fields": two})
    url = "/api/infrastructure/lorawan/uplinks/chirpstack"

    assert anonymous.post(url, json=CHIRPSTACK_UP, headers=BEARER).status_code == 400  # no ?event=
    joined = anonymous.post(url, params={"event": "join"}, json=CHIRPSTACK_UP, headers=BEARER)
    assert joined.json() == {"stored": False, "ignored": "not an uplink"}
    first = anonymous.post(url, params={"event": "up"}, json=CHIRPSTACK_UP, headers=BEARER)
    assert first.json()["observations"] == 1
    second = copy.deepcopy(CHIRPSTACK_UP)
    second.update(deduplicationId="3ac7e3c4-4401-4b8d-9386-a5c902f9202e", fCnt=8, time="2022-07-18T09:44:15Z")
    second["rxInfo"][0]["rssi"] = -40
    assert anonymous.post(url, params={"event": "up"}, json=second, headers=BEARER).json()["stored"] is True

    # the second device is heard by two gateways (the second one twice, at different strengths)
    for number, (rssi, snr) in enumerate([(-100, -5.0), (-90, 1.0)]):
        other = copy.deepcopy(CHIRPSTACK_UP)
        other["deduplicationId"] = f"00000000-0000-0000-0000-00000000000{number}"
        other["deviceInfo"]["devEui"] = "0101010101010102"
        other["rxInfo"].append({"gatewayId": "0016c001f153a14d", "rssi": rssi, "snr": snr})
        assert (
            anonymous.post(url, params={"event": "up"}, json=other, headers=BEARER).json()["stored"] is True
        )

    # the gateway that hears both is a site of an operator's registry (GeoJSON, its EUI as id)
    sites = tmp_path / "gateways.geojson"
    sites.write_text(json.dumps({"type": "FeatureCollection", "features": [GATEWAY_SITE]}), encoding="utf-8")
    mapping = tmp_path / "gateways.toml"
    mapping.write_text(
        '[registry]\ncollection = "gw-test"\noperator = "Stadtwerke (test)"\n'
        '[site]\nid = "eui"\ncarrier = "carrier"\n[defaults]\ntechnology = "lorawan_gateway"\n',
        encoding="utf-8",
    )
    import_sites(engine, sites, read_site_mapping(mapping))

    coverage = client.get("/api/infrastructure/lorawan/coverage").json()
    devices = {d["dev_eui"]: d for d in coverage["devices"]}
    assert coverage["single_gateway"] == ["0101010101010101"]
    lonely = devices["0101010101010101"]
    assert lonely["uplinks"] == 2 and lonely["redundant"] is False
    assert lonely["gateways"] == [
        {
            "gateway_id": "0016C001F153A14C",
            "uplinks": 2,
            "median_rssi": -38.0,
            "median_snr": 10.5,
            "site": "gw-test/0016c001f153a14c",
            "geometry": GATEWAY_SITE["geometry"],
        }
    ]
    both = devices["0101010101010102"]
    assert both["redundant"] is True and both["uplinks"] == 2
    assert both["gateways"][1] == {
        "gateway_id": "0016C001F153A14D",
        "uplinks": 2,
        "median_rssi": -95.0,
        "median_snr": -2.0,
        "site": None,
        "geometry": None,
    }
    later = client.get(
        "/api/infrastructure/lorawan/coverage", params={"since": "2022-07-18T09:40:00Z"}
    ).json()
    assert {d["dev_eui"]: d["uplinks"] for d in later["devices"]} == {"0101010101010101": 1}
    bad = client.get("/api/infrastructure/lorawan/coverage", params={"since": "soon"})
    assert bad.status_code == 400 and "since" in bad.json()["message"]

    # a caller who may not read the Datastreams' dataset sees neither devices nor their gateways
    assert len(anonymous.get("/api/infrastructure/lorawan/coverage").json()["devices"]) == 2
    assert (
        client.patch(
            f"/api/datasets/{settings.default_dataset}", json={"access_level": "internal"}
        ).status_code
        == 204
    )
    assert anonymous.get("/api/infrastructure/lorawan/coverage").json()["devices"] == []
    assert anonymous.get("/api/infrastructure/lorawan/devices").json()["devices"] == []
    assert len(client.get("/api/infrastructure/lorawan/coverage").json()["devices"]) == 2
    assert client.delete("/api/infrastructure/lorawan/devices/0101010101010101").status_code == 204
    gone = anonymous.post(
        url, params={"event": "up"}, json=CHIRPSTACK_UP | {"deduplicationId": "x"}, headers=BEARER
    )
    assert gone.status_code == 404


def test_the_endpoint_is_off_without_a_token(client: TestClient, app: Any) -> None:
    service = app.state.infrastructure
    service.settings = type(service.settings)(**{**service.settings.__dict__, "lorawan_webhook_token": ""})
    answer = client.post("/api/infrastructure/lorawan/uplinks/tts", json=TTS_UPLINK, headers=BEARER)
    assert answer.status_code == 403 and "set lorawan_webhook_token" in answer.json()["message"]
