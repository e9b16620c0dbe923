"""LoRaWAN uplinks committed in groups (`infrastructure/uplinks.py`): the uplinks that arrive while
one group commits go in together, each answered once stored, each refusal its own.

The uplinks are the documented example of The Things Stack (`test_lorawan.TTS_UPLINK`), each with
its own device EUI, frame counter and time.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from tests.conftest import statements
from tests.infrastructure.test_lorawan import BEARER, TTS_UPLINK, _datastreams
from urbantwin.errors import BadRequest, NotFound
from urbantwin.infrastructure.lorawan import Uplink, parse_tts
from urbantwin.store.infrastructure_schema import lorawan_receptions, lorawan_uplinks
from urbantwin.store.schema import observations

DEVICES = ("0004A30B001C0530", "0004A30B001C0531", "0004A30B001C0532")
URL = "/api/infrastructure/lorawan/uplinks/tts"


def _document(device: str, count: int, **fields: Any) -> dict[str, Any]:
    """The documented uplink as `device`'s `count`-th frame (its own time, so no retry of another)."""
    document = copy.deepcopy(TTS_UPLINK)
    document["end_device_ids"]["dev_eui"] = device
    message = document["uplink_message"]
    message["f_cnt"] = count
    message["received_at"] = f"2020-02-12T15:{count // 60:02d}:{count % 60:02d}.5Z"
    message["decoded_payload"] = {"temperature": 20.0 + count / 10, "luminosity": 0.64} | fields
    return document


def _uplink(device: str, count: int, **fields: Any) -> Uplink:
    uplink = parse_tts(_document(device, count, **fields))
    assert uplink is not None
    return uplink


def _mapped(client: TestClient) -> dict[str, dict[str, int]]:
    """Each device a Thing with two Datastreams, its fields mapped to them."""
    streams = {}
    for device in DEVICES:
        streams[device] = _datastreams(client, f"sensor {device}", ["temperature", "luminosity"])
        mapped = client.put(f"/api/infrastructure/lorawan/devices/{device}", json={"fields": streams[device]})
        assert mapped.status_code == 200, mapped.text
    return streams


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_parallel_uplinks_are_all_stored_once(client: TestClient, live_server: str, engine: Engine) -> None:
    streams = _mapped(client)
    # 90 uplinks, each delivered twice (a network server's retry), all at once over 30 connections
    documents = [_document(DEVICES[n % 3], n // 3 + 1) for n in range(90)]

    async def deliver() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=30)
        async with httpx.AsyncClient(base_url=live_server, headers=BEARER, limits=limits, timeout=60) as http:
            return await asyncio.gather(*(http.post(URL, json=d) for d in documents + documents))

    answers = asyncio.run(deliver())
    assert Counter(a.status_code for a in answers) == {200: 180}
    stored = [a.json() for a in answers if a.json()["stored"]]
    assert len(stored) == 90  # each uplink stored by one of its deliveries, the other a duplicate
    assert all(a.json() == {"stored": False, "duplicate": True} for a in answers if not a.json()["stored"])
    assert stored[0] == {
        "stored": True,
        "observations": 2,
        "fields": ["luminosity", "temperature"],
        "ignored_fields": [],
        "gateways": 1,
    }
    assert (_count(engine, lorawan_uplinks), _count(engine, lorawan_receptions)) == (90, 90)
    assert _count(engine, observations) == 180
    # each device's temperatures, once each, with the gateway's signal beside them
    for device in DEVICES:
        got = client.get(
            f"/v1.1/Datastreams({streams[device]['temperature']})/Observations",
            params={"$orderby": "phenomenonTime", "$top": 100},
        ).json()["value"]
        assert [o["result"] for o in got] == [20.0 + n / 10 for n in range(1, 31)]
        assert {o["parameters"]["lorawan"]["dev_eui"] for o in got} == {device}
        assert got[0]["parameters"]["lorawan"]["gateways"] == [
            {"gateway_id": "9C5C8E00001A05C4", "rssi": -35.0, "snr": 5.0}
        ]


def test_a_refused_uplink_takes_no_other_with_it(client: TestClient, app: Any, engine: Engine) -> None:
    _mapped(client)
    posts = app.state.infrastructure.uplinks
    group = [
        _uplink(DEVICES[0], 1),
        _uplink("0004A30B001C0539", 1),  # no such device
        _uplink(DEVICES[1], 1, temperature={"value": 1}),  # a field that is no value
        _uplink(DEVICES[1], 2),
        _uplink(DEVICES[0], 1),  # a retry within the group
        _uplink(DEVICES[2], 1, luminosity=None),
    ]
    futures = posts.submit_all(group)  # one group: they arrived together
    assert futures[0].result(timeout=60)["stored"] is True
    with pytest.raises(NotFound, match="unknown device 0004A30B001C0539"):
        futures[1].result(timeout=60)
    with pytest.raises(BadRequest, match="decoded field 'temperature' must be a number, text or boolean"):
        futures[2].result(timeout=60)
    assert futures[3].result(timeout=60)["observations"] == 2
    assert futures[4].result(timeout=60) == {"stored": False, "duplicate": True}
    with pytest.raises(BadRequest, match="decoded field 'luminosity'"):
        futures[5].result(timeout=60)
    assert (_count(engine, lorawan_uplinks), _count(engine, observations)) == (2, 4)


def test_a_group_that_fails_is_made_again_uplink_by_uplink(
    client: TestClient, app: Any, engine: Engine
) -> None:
    """Another server process stores one of the group's uplinks while the group is being written:
    the group's transaction fails, and each of its uplinks gets its own answer after all."""
    _mapped(client)
    posts = app.state.infrastructure.uplinks
    taken = _uplink(DEVICES[0], 1)
    with engine.connect() as other:
        other.begin()
        other.execute(
            lorawan_uplinks.insert().values(
                dedupe_key=taken.dedupe_key,
                network="tts",
                dev_eui=taken.dev_eui,
                f_cnt=1,
                received=taken.received,
                observations=0,
            )
        )
        futures = posts.submit_all([_uplink(DEVICES[1], 1), taken, _uplink(DEVICES[2], 1)])
        # The group waits for the other transaction's row (PostgreSQL) or write lock (SQLite).
        threading.Event().wait(0.3)
        other.commit()
    answers = [future.result(timeout=60) for future in futures]
    assert [a["stored"] for a in answers] == [True, False, True]
    assert answers[1] == {"stored": False, "duplicate": True}
    assert (_count(engine, lorawan_uplinks), _count(engine, observations)) == (3, 4)


#: The thread that commits the groups (`infrastructure/uplinks.py`).
GROUP_THREAD = "urbantwin-lorawan-uplinks"


def test_a_group_costs_the_statements_of_one_uplink(client: TestClient, app: Any, engine: Engine) -> None:
    """The round trips of a group do not grow with its uplinks: one insert of each kind, the
    Observations as one block."""
    _mapped(client)
    posts = app.state.infrastructure.uplinks
    for device in DEVICES:  # each Datastream's FeatureOfInterest and observed area made once
        posts.submit(_uplink(device, 1)).result(timeout=60)
    with statements(engine, thread=GROUP_THREAD) as small:
        for future in posts.submit_all([_uplink(DEVICES[0], 2), _uplink(DEVICES[1], 2)]):
            future.result(timeout=60)
    with statements(engine, thread=GROUP_THREAD) as large:
        group = [_uplink(device, count) for count in range(3, 23) for device in DEVICES]
        for future in posts.submit_all(group):
            assert future.result(timeout=60)["stored"] is True
    assert len(large) == len(small)
    assert _count(engine, observations) == 2 * (3 + 2 + 60)


def test_close_commits_what_waits(client: TestClient, app: Any, engine: Engine) -> None:
    _mapped(client)
    posts = app.state.infrastructure.uplinks
    futures = posts.submit_all([_uplink(DEVICES[0], n) for n in range(1, 11)])
    posts.close()
    assert all(f.result(timeout=0)["stored"] for f in futures)
    assert _count(engine, lorawan_uplinks) == 10
    # and the next uplink starts the committing thread again
    assert posts.submit(_uplink(DEVICES[0], 11)).result(timeout=60)["stored"] is True
