"""The broker's share of the access rules: Mosquitto's dynamic security plugin, kept in step with the
platform's datasets, groups and tokens through the plugin's control topic.

Topics. The SensorThings topics (`v1.1/…`) carry only what anonymous clients may read. An entity of
a dataset they may not read is published under that dataset's root instead,
`datasets/<dataset>/v1.1/…` (`dataset_topic_root`), with the same topics below it. So whether a
client may receive a message depends on the dataset alone, which one ACL per dataset and role
decides; entities never need ACLs of their own, and a new or moved Datastream needs no change at
the broker.

Roles (`broker_roles`), each deciding through the policy (`AccessPolicy.may_read` of a principal
that stands for the role) which datasets' roots it may read:

- `urbantwin-open`: the SensorThings topics; the anonymous group's role, and every client's;
- `urbantwin-registered`: the roots of the datasets every signed-in user may read;
- `urbantwin-organisation-<id>`, `urbantwin-group-<id>`: those of an organisation's members and a
  group's members;
- `urbantwin-administrator`: every dataset's root.

A user reads the union of the datasets of their roles, which is what the policy lets them read (its
rule is a disjunction of level, organisation and groups).

Clients. A client signs in with an API token: username the token's label (its first characters,
`ut_abc123`, unique among tokens), password the token. The platform keeps only a hash of each token,
so the broker keeps its own credential record (the plugin's, salted PBKDF2): it is written when the
token is issued, the only moment the token exists in clear (`BrokerAccounts.register`). Revoking a
token deletes its client, which the broker disconnects. `BrokerAccounts.sync` writes every role and
every client's roles afresh, and deletes the clients of tokens no longer valid (revoked, expired,
their user inactive or gone); it cannot restore a credential the broker lost: it names the tokens
without one, and their owners need new tokens for MQTT.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine, select

from urbantwin.access.credentials import TOKEN_PREFIX, token_label
from urbantwin.access.policy import AccessPolicy, DatasetRule
from urbantwin.access.principal import ANONYMOUS, Principal
from urbantwin.settings import Settings
from urbantwin.store.access_schema import api_tokens, group_members, groups, organisations, users

log = logging.getLogger("urbantwin.access.broker")

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
#: Every role the platform manages starts so; others (the plugin's `admin`) are left alone.
ROLE_PREFIX = "urbantwin-"
OPEN_ROLE = ROLE_PREFIX + "open"
ADMIN_ROLE = ROLE_PREFIX + "administrator"
REGISTERED_ROLE = ROLE_PREFIX + "registered"
#: The group of clients without a username (the plugin's anonymous group).
ANONYMOUS_GROUP = ROLE_PREFIX + "anonymous"
#: Roles granting datasets are checked before the open role (the plugin asks a client's roles in
#: the order of their priority); nothing is denied explicitly, so the order only keeps checks short.
GRANT_PRIORITY = 10
#: What a client may do where no ACL says: publish nothing (readers only on this listener), receive
#: and subscribe to nothing, unsubscribe from anything.
DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}
WAIT = 10.0


class BrokerUnreachable(RuntimeError):
    """The control API did not answer (the broker is down, or the credentials are refused)."""


def dataset_topic_root(prefix: str, dataset_id: str) -> str:
    """Where the entities of a restricted dataset are published: `datasets/<id>/` (then `v1.1/…`)."""
    return f"{prefix}datasets/{dataset_id}/"


def _acls(topics: Iterable[str]) -> list[dict[str, Any]]:
    """Subscribe to and receive `topics` (filters ending in `#`)."""
    out: list[dict[str, Any]] = []
    for topic in sorted(topics):
        for kind in ("subscribePattern", "publishClientReceive"):
            out.append({"acltype": kind, "topic": topic, "priority": 0, "allow": True})
    return out


@dataclass(frozen=True)
class BrokerPlan:
    """What the broker should hold: each managed role's ACLs and each valid token's roles."""

    roles: dict[str, list[dict[str, Any]]]
    #: token label → the roles of its client
    clients: dict[str, list[str]]


def broker_roles(
    policy: AccessPolicy,
    rules: list[DatasetRule],
    organisation_ids: Iterable[str],
    group_ids: Iterable[str],
    prefix: str,
) -> dict[str, list[dict[str, Any]]]:
    """Every managed role and its ACLs (see the module docstring)."""
    stand_ins: dict[str, Principal] = {
        REGISTERED_ROLE: Principal("registered", user_id=0, role="reader", proof="token")
    }
    for organisation in organisation_ids:
        stand_ins[organisation_role(organisation)] = Principal(
            "member", user_id=0, role="reader", organisation_id=organisation, proof="token"
        )
    for group in group_ids:
        stand_ins[group_role(group)] = Principal(
            "member", user_id=0, role="reader", groups=frozenset({group}), proof="token"
        )
    restricted = [rule for rule in rules if not policy.may_read(ANONYMOUS, rule)]
    roles = {
        OPEN_ROLE: _acls([f"{prefix}v1.1/#"]),
        ADMIN_ROLE: _acls([f"{prefix}datasets/#"]),
    }
    for name, principal in stand_ins.items():
        readable = [rule.id for rule in restricted if policy.may_read(principal, rule)]
        roles[name] = _acls(dataset_topic_root(prefix, ident) + "#" for ident in readable)
    return roles


def organisation_role(organisation_id: str) -> str:
    return f"{ROLE_PREFIX}organisation-{organisation_id}"


def group_role(group_id: str) -> str:
    return f"{ROLE_PREFIX}group-{group_id}"


def client_roles(role: str | None, organisation_id: str | None, group_ids: Iterable[str]) -> list[str]:
    """The broker roles of a user's tokens."""
    if role == "administrator":
        return [ADMIN_ROLE, OPEN_ROLE]
    out = [REGISTERED_ROLE]
    if organisation_id:
        out.append(organisation_role(organisation_id))
    out.extend(group_role(group) for group in sorted(group_ids))
    return [*out, OPEN_ROLE]


def plan(engine: Engine, policy: AccessPolicy, prefix: str) -> BrokerPlan:
    """What the broker should hold, read from the store."""
    now = datetime.now(UTC)
    with engine.connect() as connection:
        rules = policy.rules(connection)
        organisation_ids = list(connection.execute(select(organisations.c.id)).scalars())
        group_ids = list(connection.execute(select(groups.c.id)).scalars())
        memberships: dict[int, list[str]] = {}
        for user_id, group_id in connection.execute(
            select(group_members.c.user_id, group_members.c.group_id)
        ):
            memberships.setdefault(user_id, []).append(group_id)
        tokens = connection.execute(
            select(
                api_tokens.c.prefix, api_tokens.c.expires, users.c.id, users.c.role, users.c.organisation_id
            )
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.revoked.is_(None), users.c.active.is_(True))
        ).all()
    clients: dict[str, list[str]] = {}
    for token in tokens:
        if token.expires is not None and _aware(token.expires) <= now:
            continue
        clients[token.prefix] = client_roles(token.role, token.organisation_id, memberships.get(token.id, ()))
    return BrokerPlan(broker_roles(policy, rules, organisation_ids, group_ids, prefix), clients)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass
class SyncReport:
    roles_written: list[str] = field(default_factory=list)
    roles_deleted: list[str] = field(default_factory=list)
    clients_updated: list[str] = field(default_factory=list)
    clients_deleted: list[str] = field(default_factory=list)
    #: Valid tokens the broker holds no credential for (issued while it was unreachable).
    without_credential: list[str] = field(default_factory=list)


class DynsecControl:
    """A client of the plugin's control topic (`mqtt://` or `ws://user:password@host:port/path`)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "ws", "wss") or not parts.hostname:
            raise ValueError(
                "URBANTWIN_MQTT_DYNSEC_URL must look like ws://user:password@127.0.0.1:8083/mqtt"
            )
        self.host = parts.hostname
        websocket = parts.scheme in ("ws", "wss")
        tls = parts.scheme in ("mqtts", "wss")
        self.port = parts.port or {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}[parts.scheme]
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._connected: queue.Queue[ReasonCode] = queue.Queue()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"urbantwin-dynsec-{uuid.uuid4().hex[:8]}",
            transport="websockets" if websocket else "tcp",
            protocol=paho.MQTTv5,
        )
        if websocket:
            self.client.ws_set_options(path=parts.path or "/mqtt")
        if tls:
            self.client.tls_set()
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self._connected.put(reason)
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = self._on_message

    def __enter__(self) -> DynsecControl:
        try:
            self.client.connect(self.host, self.port)
        except OSError as exc:
            raise BrokerUnreachable(f"the broker's control API at {self.host}:{self.port}: {exc}") from None
        self.client.loop_start()
        try:
            reason = self._connected.get(timeout=WAIT)
        except queue.Empty:
            self.close()
            raise BrokerUnreachable(f"the broker at {self.host}:{self.port} did not answer") from None
        if reason.is_failure:
            self.close()
            raise BrokerUnreachable(f"the broker refused the platform's control client: {reason}")
        self.client.subscribe(RESPONSE_TOPIC, qos=1)
        if not self._subscribed.wait(WAIT):
            self.close()
            raise BrokerUnreachable("the broker did not confirm the control subscription")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        # Disconnecting first wakes the network thread, which loop_stop then joins at once (the
        # other way round it waits out the thread's one-second select).
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        try:
            self._answers.put(json.loads(message.payload))
        except ValueError:
            log.warning("the broker's control API answered something that is no JSON")

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send `commands` in one message; their responses, in order (each may hold an `error`)."""
        if not commands:
            return []
        self.client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
        try:
            answer = self._answers.get(timeout=WAIT)
        except queue.Empty:
            raise BrokerUnreachable(
                "the broker's control API did not answer (is the dynamic security plugin loaded on "
                "that listener, and is the client its administrator?)"
            ) from None
        responses = answer.get("responses", [])
        for response in responses:
            if response.get("error") and response["error"] not in _HARMLESS:
                log.warning("broker: %s refused: %s", response.get("command"), response["error"])
        return responses

    def one(self, command: dict[str, Any]) -> dict[str, Any]:
        return self.run([command])[0]


#: Answers of commands whose aim already holds (another server process wrote it a moment before).
_HARMLESS = (
    "Client not found",
    "Role not found",
    "Group not found",
    "Role already exists",
    "ACL with this topic already exists",
    "ACL not found",
)


class BrokerAccounts:
    """The platform's hand on the broker's accounts (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.mqtt_dynsec_url
        self.prefix = settings.mqtt_topic_prefix
        self.policy = AccessPolicy(settings)
        #: One sync at a time in a process: each reads what the broker holds, then writes the
        #: difference, which two at once would both write.
        self._lock = threading.Lock()
        DynsecControl(self.url)  # the URL's form is checked at once, not at the first change

    @classmethod
    def of(cls, settings: Settings) -> BrokerAccounts | None:
        return cls(settings) if settings.mqtt_dynsec_url else None

    def register(
        self, token: str, role: str | None, organisation_id: str | None, group_ids: Iterable[str]
    ) -> None:
        """Give the broker a client for a token just issued (raises BrokerUnreachable)."""
        roles = client_roles(role, organisation_id, group_ids)
        with self._lock, DynsecControl(self.url) as control:
            existing = set(_names(control.one({"command": "listRoles", "verbose": False})))
            # A role the next sync fills (a new organisation's or group's) is made empty here.
            answer = control.run(
                [{"command": "createRole", "rolename": name} for name in roles if name not in existing]
                + [
                    {
                        "command": "createClient",
                        "username": token_label(token),
                        "password": token,
                        "roles": [_priority(name) for name in roles],
                    }
                ]
            )[-1]
        if answer.get("error"):
            raise BrokerUnreachable(f"the broker did not take the token's client: {answer['error']}")

    def remove(self, label: str) -> None:
        """Delete a revoked token's client (the broker disconnects it)."""
        with DynsecControl(self.url) as control:
            control.one({"command": "deleteClient", "username": label})

    def sync(self, engine: Engine) -> SyncReport:
        """Write every role, the anonymous group and every token's roles; delete what is stale."""
        with self._lock:
            return self.apply(plan(engine, self.policy, self.prefix))

    def apply(self, wanted: BrokerPlan) -> SyncReport:
        """Bring the broker to `wanted`: read what it holds, then write what differs.

        Only what differs is written: the plugin disconnects the clients a change concerns, and a
        change of the anonymous group concerns every client without a username on every listener
        (the platform's own publisher among them). Commands go in a few messages of many, as each
        message is a round trip.
        """
        report = SyncReport()
        with DynsecControl(self.url) as control:
            access, listed, group, anonymous, clients = control.run(
                [
                    {"command": "getDefaultACLAccess"},
                    {"command": "listRoles", "verbose": False},
                    {"command": "getGroup", "groupname": ANONYMOUS_GROUP},
                    {"command": "getAnonymousGroup"},
                    {"command": "listClients", "verbose": True},
                ]
            )
            existing = set(_names(listed))
            commands: list[dict[str, Any]] = []
            held_access = {acl["acltype"]: acl["allow"] for acl in _data(access).get("acls", [])}
            if held_access != DEFAULT_ACCESS:
                commands.append(
                    {
                        "command": "setDefaultACLAccess",
                        "acls": [{"acltype": kind, "allow": allow} for kind, allow in DEFAULT_ACCESS.items()],
                    }
                )
            commands += [
                {"command": "createRole", "rolename": n} for n in sorted(set(wanted.roles) - existing)
            ]
            names = sorted(existing & set(wanted.roles))
            held_roles = dict(
                zip(names, control.run([{"command": "getRole", "rolename": n} for n in names]), strict=True)
            )
            for name, acls in sorted(wanted.roles.items()):
                changes = _acl_changes(
                    name, _data(held_roles.get(name, {})).get("role", {}).get("acls", []), acls
                )
                if changes:
                    commands += changes
                    report.roles_written.append(name)
            if group.get("error"):
                commands.append(
                    {
                        "command": "createGroup",
                        "groupname": ANONYMOUS_GROUP,
                        "roles": [{"rolename": OPEN_ROLE}],
                    }
                )
            elif OPEN_ROLE not in _names({"data": {"roles": _data(group).get("group", {}).get("roles", [])}}):
                commands.append(
                    {"command": "addGroupRole", "groupname": ANONYMOUS_GROUP, "rolename": OPEN_ROLE}
                )
            if _data(anonymous).get("group", {}).get("groupname") != ANONYMOUS_GROUP:
                commands.append({"command": "setAnonymousGroup", "groupname": ANONYMOUS_GROUP})
            commands += self._client_changes(_data(clients).get("clients", []), wanted.clients, report)
            report.roles_deleted = sorted(
                n for n in existing if n.startswith(ROLE_PREFIX) and n not in wanted.roles
            )
            commands += [{"command": "deleteRole", "rolename": n} for n in report.roles_deleted]
            control.run(commands)
        return report

    def _client_changes(
        self, listed: list[dict[str, Any]], clients: dict[str, list[str]], report: SyncReport
    ) -> list[dict[str, Any]]:
        held = {
            client["username"]: [role["rolename"] for role in client.get("roles", [])] for client in listed
        }
        commands: list[dict[str, Any]] = []
        for label, roles in sorted(clients.items()):
            if label not in held:
                report.without_credential.append(label)
            elif sorted(held[label]) != sorted(roles):
                commands.append(
                    {"command": "modifyClient", "username": label, "roles": [_priority(r) for r in roles]}
                )
                report.clients_updated.append(label)
        for label in sorted(held):
            if label.startswith(TOKEN_PREFIX) and label not in clients:
                commands.append({"command": "deleteClient", "username": label})
                report.clients_deleted.append(label)
        return commands


def _acl_changes(role: str, held: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The commands that make the ACLs `held` of `role` the ones `wanted`."""
    have = {(acl["acltype"], acl["topic"]): acl for acl in held}
    want = {(acl["acltype"], acl["topic"]): acl for acl in wanted}
    commands: list[dict[str, Any]] = [
        {"command": "removeRoleACL", "rolename": role, "acltype": kind, "topic": topic}
        for (kind, topic), acl in have.items()
        if (kind, topic) not in want or _differs(acl, want[(kind, topic)])
    ]
    return commands + [
        {"command": "addRoleACL", "rolename": role, **acl}
        for key, acl in want.items()
        if key not in have or _differs(have[key], acl)
    ]


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    return answer.get("data", {}) if not answer.get("error") else {}


def _names(answer: dict[str, Any]) -> list[str]:
    """The role names of a `listRoles` answer (plain, or verbose objects)."""
    return [r if isinstance(r, str) else r["rolename"] for r in _data(answer).get("roles", [])]


def _priority(role: str) -> dict[str, Any]:
    return {"rolename": role, "priority": 0 if role == OPEN_ROLE else GRANT_PRIORITY}


def _differs(held: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return bool(held.get("allow")) != wanted["allow"] or int(held.get("priority", 0)) != wanted["priority"]
