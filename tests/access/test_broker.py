"""The broker's accounts kept by the platform (access/broker.py), against the real Mosquitto of
deploy/mosquitto/urbantwin.conf with its dynamic security plugin: real clients of each role sign in
over the readers' WebSocket listener, and a restricted Observation the platform publishes reaches
only those who may read its dataset."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.access.world import DATASETS, PRINCIPALS, USERS, World, build, may_read
from tests.deploy.conftest import Broker, broker, certificate  # noqa: F401 (fixtures)
from tests.live.helpers import free_port
from urbantwin.access.audit import AuditLog
from urbantwin.access.authenticate import Authenticator
from urbantwin.access.broker import (
    BrokerAccounts,
    DynsecControl,
    broker_roles,
    client_roles,
    dataset_topic_root,
    group_role,
    organisation_role,
)
from urbantwin.access.manage import AccessAdmin
from urbantwin.access.policy import AccessPolicy, DatasetRule
from urbantwin.access.principal import ANONYMOUS, SYSTEM
from urbantwin.cli import app as cli
from urbantwin.settings import Settings

WAIT = 15.0
#: How long a client that should receive nothing is watched after the messages it may see arrived.
QUIET = 1.0
PARTNER = "research-partner"


@pytest.fixture
def settings(settings: Settings, broker: Broker) -> Settings:  # noqa: F811
    return settings.with_overrides(
        mqtt_url=f"mqtt://urbantwin@127.0.0.1:{broker.platform}",  # as deploy/urbantwin.env
        mqtt_client_id=f"test-{uuid.uuid4().hex[:8]}",
        mqtt_broker_acl=True,
        mqtt_dynsec_url=broker.dynsec_url,
    )


class Reader:
    """A client of the readers' WebSocket listener: whether it signed in, what it may subscribe to
    and what it receives."""

    def __init__(self, broker: Broker, token: str | None = None) -> None:  # noqa: F811
        self.answers: queue.Queue[Any] = queue.Queue()
        self.granted: queue.Queue[bool] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.gone = threading.Event()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, transport="websockets", protocol=paho.MQTTv5
        )
        self.client.ws_set_options(path="/mqtt")
        if token is not None:
            self.client.username_pw_set(token[:9], token)  # the token's label, and the token
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.answers.put(reason)
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self.granted.put(
            all(not code.is_failure for code in codes)
        )
        self.client.on_message = lambda _c, _u, message: self.messages.put((message.topic, message.payload))
        self.client.on_disconnect = lambda *_args: self.gone.set()
        self.client.connect_async("127.0.0.1", broker.websocket)
        self.client.loop_start()
        self.reason = self.answers.get(timeout=WAIT)

    @property
    def accepted(self) -> bool:
        return not self.reason.is_failure

    def subscribe(self, topic: str) -> bool:
        """Whether the broker grants the subscription."""
        self.client.subscribe(topic, qos=0)
        return self.granted.get(timeout=WAIT)

    def gather(self, marker: bytes, wanted: set[str]) -> set[str]:
        """The topics of the messages carrying `marker`, gathered until all of `wanted` have arrived
        (or WAIT has passed): another client's delivery says nothing of when this one's thread runs."""
        seen: set[str] = set()
        deadline = time.monotonic() + WAIT
        while not wanted <= seen and (left := deadline - time.monotonic()) > 0:
            try:
                topic, payload = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if marker in payload:
                seen.add(topic)
        return seen

    def received(self) -> list[tuple[str, bytes]]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def readers(broker: Broker) -> Iterator[Any]:  # noqa: F811
    opened: list[Reader] = []

    def open_reader(token: str | None = None) -> Reader:
        reader = Reader(broker, token)
        opened.append(reader)
        return reader

    yield open_reader
    for reader in opened:
        reader.close()


@dataclass
class City:
    client: TestClient
    world: World

    def observe(self, dataset: str, result: float) -> None:
        datastream = self.world.ids[dataset]["datastream"]
        answer = self.client.post(f"/v1.1/Datastreams({datastream})/Observations", json={"result": result})
        assert answer.status_code == 201, answer.text


@pytest.fixture
def city(client: TestClient, engine: Engine) -> City:
    """The access tests' world (datasets of every level, users of every role, a token each), built
    through the API of an app that manages the broker's accounts."""
    return City(client, build(client, engine))


def _open_arrives(city: City, reader: Reader) -> None:
    """Publish open Observations until `reader` receives one: the platform's connection to the
    broker is up, and everything published before has been delivered (one broker keeps the order)."""
    for attempt in range(50):
        city.observe("air-open", 1000 + attempt)
        try:
            topic, _ = reader.messages.get(timeout=0.3)
        except queue.Empty:
            continue
        if topic.startswith("v1.1/"):
            return
    raise AssertionError("no open Observation reached the anonymous reader")


def test_a_restricted_observation_reaches_only_those_who_may_read_it(city: City, readers: Any) -> None:
    tokens = city.world.tokens
    root = dataset_topic_root("", PARTNER)
    anonymous = readers()
    assert anonymous.accepted
    assert anonymous.subscribe("v1.1/#")
    assert not anonymous.subscribe(root + "#")  # refused: the dataset is not theirs
    assert not anonymous.subscribe("#")
    anna = readers(tokens["anna"])  # a registered reader, in no group
    assert anna.accepted
    assert not anna.subscribe(root + "#")
    assert not anna.subscribe("datasets/#")
    assert anna.subscribe(dataset_topic_root("", "traffic-registered") + "#")
    paul = readers(tokens["paul"])  # a member of the group `partners`, which may read the dataset
    assert paul.subscribe(root + "#")
    ada = readers(tokens["ada"])  # the administrator
    assert ada.subscribe("datasets/#")
    _open_arrives(city, anonymous)

    city.observe(PARTNER, 42.5)
    _open_arrives(city, anonymous)  # everything published before it has reached every reader
    datastream = city.world.ids[PARTNER]["datastream"]
    topic = f"{root}v1.1/Datastreams({datastream})/Observations"
    wanted = {topic, f"{root}v1.1/Observations"}
    for allowed in (paul, ada):
        assert allowed.gather(b"42.5", wanted) == wanted
    # Both allowed readers have it, so the broker has handed it out: the others never get it.
    seen_by_anonymous = anonymous.received()
    assert not [t for t, payload in seen_by_anonymous if b"42.5" in payload]
    assert not [t for t, _ in seen_by_anonymous if t.startswith("datasets/")]
    assert not [t for t, payload in anna.received() if b"42.5" in payload]


def test_a_revoked_token_is_refused_and_its_client_disconnected(city: City, readers: Any) -> None:
    paul = readers(city.world.tokens["paul"])
    assert paul.accepted
    token_id = next(t["id"] for t in city.client.get("/api/admin/tokens").json() if t["user"] == "paul")
    assert city.client.delete(f"/api/admin/tokens/{token_id}").status_code == 204
    assert paul.gone.wait(WAIT)  # the broker disconnects the client of the deleted token
    again = readers(city.world.tokens["paul"])
    assert not again.accepted
    wrong = readers(city.world.tokens["anna"][:9] + "x" * 40)  # a guessed password
    assert not wrong.accepted


def test_leaving_a_group_takes_its_datasets_away_at_the_broker(city: City, readers: Any) -> None:
    root = dataset_topic_root("", PARTNER)
    assert readers(city.world.tokens["paul"]).subscribe(root + "#")
    answer = city.client.delete("/api/admin/groups/partners/members/paul")
    assert answer.status_code == 204, answer.text
    # Paul is still a member of the publisher `uni`, which may read its partner dataset; the group's
    # other dataset access is what goes. Rita (contributor of uni) keeps hers.
    assert readers(city.world.tokens["paul"]).subscribe(root + "#")
    answer = city.client.patch(f"/api/datasets/{PARTNER}", json={"publisher_id": "lwb"})
    assert answer.status_code == 204, answer.text
    assert not readers(city.world.tokens["paul"]).subscribe(root + "#")
    assert readers(city.world.tokens["sven"]).subscribe(root + "#")  # of lwb, the new publisher


def test_each_users_roles_grant_exactly_the_restricted_datasets_they_may_read() -> None:
    """The roles against the rule written out independently in tests/access/world.py."""
    policy = AccessPolicy(Settings())
    rules = [
        DatasetRule(ident, level, publisher, frozenset(groups), frozenset(writers))
        for ident, (level, publisher, groups, writers) in DATASETS.items()
    ]
    organisations = {org for _role, org, _groups in USERS.values() if org} | {"city"}
    roles = broker_roles(policy, rules, organisations, ["partners"], "")
    assert organisation_role("uni") in roles and group_role("partners") in roles
    for principal in PRINCIPALS:
        if principal == "anonymous":
            granted = ["urbantwin-open"]
        else:
            role, org, groups = USERS[principal]
            granted = client_roles(role, org, groups)
        topics = {
            acl["topic"] for name in granted for acl in roles[name] if acl["acltype"] == "subscribePattern"
        }
        for rule in rules:
            if policy.may_read(ANONYMOUS, rule):
                continue  # open: on the SensorThings topics, which every role reads
            reachable = f"datasets/{rule.id}/#" in topics or "datasets/#" in topics
            assert reachable == may_read(principal, rule.id), (principal, rule.id)
        assert "v1.1/#" in topics


def test_urbantwin_mqtt_sync_writes_the_roles_and_names_tokens_the_broker_cannot_know(
    broker: Broker,  # noqa: F811
    readers: Any,
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'city.sqlite'}"
    runner = CliRunner()

    def run(*args: str, managed: bool = True, code: int = 0) -> str:
        env = {"URBANTWIN_MQTT_DYNSEC_URL": broker.dynsec_url if managed else ""}
        result = runner.invoke(cli, [*args, "--database-url", url], env=env)
        assert result.exit_code == code, result.output
        return result.output

    assert "URBANTWIN_MQTT_DYNSEC_URL is not set" in run("mqtt", "sync", managed=False, code=1)
    run("org", "add", "uni", "--title", "Universität", "--kind", "science")
    run("user", "add", "prof", "--role", "reader", "--organisation", "uni")
    run(
        "dataset", "add", "noise", "--title", "Noise", "--licence", "dl-by-de/2.0", "--access", "internal",
        "--publisher", "uni",
    )  # fmt: skip
    # Issued while the broker's accounts were not managed: the broker never saw the token in clear.
    early = run("token", "issue", "prof", managed=False).splitlines()[1]
    token = run("token", "issue", "prof").splitlines()[1]
    with DynsecControl(broker.dynsec_url) as control:  # a client of a token the store does not know
        control.one({"command": "createClient", "username": "ut_stale0", "password": "x" * 20})

    output = run("mqtt", "sync")
    assert f"({early[:9]})" in output and "need new tokens" in output
    with DynsecControl(broker.dynsec_url) as control:
        answer = control.one({"command": "listClients"})
    assert token[:9] in answer["data"]["clients"] and "ut_stale0" not in answer["data"]["clients"]
    assert not readers(early).accepted
    prof = readers(token)
    assert prof.subscribe(dataset_topic_root("", "noise") + "#")  # the organisation's role has it
    assert not prof.subscribe(dataset_topic_root("", "other") + "#")


def test_a_broker_that_cannot_be_reached_holds_back_no_change(engine: Engine, settings: Settings) -> None:
    """The token is issued and revoked in the store all the same; the answer says the broker has no
    client for it (its owner issues another once the broker is back), and the next sync catches up."""
    unreachable = settings.with_overrides(mqtt_dynsec_url=f"ws://admin:x@127.0.0.1:{free_port()}/mqtt")
    admin = AccessAdmin(engine, AuditLog(engine), BrokerAccounts(unreachable))
    admin.add_user(SYSTEM, "olga")
    issued = admin.issue_token(SYSTEM, "olga")
    assert issued.mqtt is False
    assert Authenticator(settings, engine).principal(f"Bearer {issued.token}").name == "olga"
    admin.revoke_token(SYSTEM, issued.id)
    assert admin.tokens("olga")[0]["revoked"] is not None
    unmanaged = AccessAdmin(engine, AuditLog(engine))
    assert unmanaged.issue_token(SYSTEM, "olga").mqtt is None
