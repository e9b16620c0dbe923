"""Managing who is who: organisations, users, groups, API tokens, datasets, and reading the audit.

One service for the admin API and the CLI, knowing nothing of either; whether the caller may do
it is asked of the policy by them first. Every change is written to the audit log in its own
transaction. Errors name the field or object at fault.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from urbantwin.access.audit import AuditLog
from urbantwin.access.broker import BrokerAccounts, BrokerUnreachable
from urbantwin.access.credentials import hash_password, new_token, token_hash, token_label
from urbantwin.access.datasets import (
    check_id,
    create_dataset,
    move_entities,
    plan_move,
    require_existing,
    update_dataset,
)
from urbantwin.access.policy import AccessPolicy
from urbantwin.access.principal import SCOPES, Principal, role_scopes
from urbantwin.errors import BadRequest, Conflict, Forbidden, NotFound
from urbantwin.store.access_schema import (
    ORGANISATION_KINDS,
    ROLES,
    api_tokens,
    audit_log,
    dataset_usage,
    datasets,
    group_members,
    groups,
    organisation_kind,
    organisations,
    users,
)
from urbantwin.store.engine import for_writes

log = logging.getLogger("urbantwin.access")


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str
    user: str
    scopes: list[str]
    expires: datetime | None
    #: Whether the broker took the token's MQTT credential: None where the platform does not manage
    #: the broker's accounts (`mqtt_dynsec_url`), False where it could not reach it.
    mqtt: bool | None = None


def checked_kind(kind: Any) -> str:
    """`kind` as the kind it stands for today (a former name taken too); a 400 listing the kinds
    for anything else."""
    if not isinstance(kind, str) or organisation_kind(kind) not in ORGANISATION_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(ORGANISATION_KINDS)}, not {kind!r}")
    return organisation_kind(kind)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _plain(row: Any, hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    return {key: _iso(value) for key, value in row._mapping.items() if key not in hidden}


class AccessAdmin:
    def __init__(self, engine: Engine, audit: AuditLog, broker: BrokerAccounts | None = None) -> None:
        self.engine = engine
        self.write_engine = for_writes(engine)
        self.audit = audit
        #: The broker's accounts, kept in step with every change here (access/broker.py); None: the
        #: broker's accounts are not managed.
        self.broker = broker

    def _change(self, principal: Principal, what: str, action: Any, broker: bool = True) -> Any:
        with self.write_engine.begin() as connection:
            result = action(connection)
            self.audit.write(connection, principal, "admin", "admin", target=what)
        if broker:
            self.sync_broker()
        return result

    def sync_broker(self) -> None:
        """Write the broker's roles and clients afresh after a change of the rules, the groups or
        the users. A broker that cannot be reached does not undo the change: it is logged, and the
        next sync (`urbantwin mqtt sync`, or the server's own every minute) brings the broker in step."""
        if self.broker is None:
            return
        try:
            self.broker.sync(self.engine)
        except BrokerUnreachable as exc:
            log.warning("MQTT broker accounts not brought in step: %s", exc)

    # --- organisations -----------------------------------------------------------------------------

    def organisations(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(organisations).order_by(organisations.c.id)).all()
        return [{**_plain(row), "kind": organisation_kind(row.kind)} for row in rows]

    def add_organisation(
        self,
        principal: Principal,
        ident: str,
        title: str,
        kind: str,
        homepage: str | None = None,
        email: str | None = None,
    ) -> dict[str, Any]:
        check_id("organisation", ident)
        kind = checked_kind(kind)

        def action(connection: Connection) -> None:
            if connection.execute(select(organisations.c.id).where(organisations.c.id == ident)).first():
                raise Conflict(f"an organisation {ident!r} exists already")
            connection.execute(
                insert(organisations).values(
                    id=ident, title=title, kind=kind, homepage=homepage, email=email, created=_now()
                )
            )

        self._change(principal, f"add organisation {ident}", action)
        return {"id": ident, "title": title, "kind": kind, "homepage": homepage, "email": email}

    def update_organisation(self, principal: Principal, ident: str, **fields: Any) -> None:
        """Change an organisation's `title`, `kind`, `homepage` or `email` (None clears the last two)."""
        known = ("title", "kind", "homepage", "email")
        unknown = sorted(set(fields) - set(known))
        if unknown:
            raise BadRequest(f"an organisation has no field {unknown[0]!r}; known: {', '.join(known)}")
        if not fields:
            raise BadRequest(f"nothing to change: give {', '.join(known)}")
        values = dict(fields)
        if "kind" in values:
            values["kind"] = checked_kind(values["kind"])
        if "title" in values and not (isinstance(values["title"], str) and values["title"].strip()):
            raise BadRequest("title: an organisation needs a title")

        def action(connection: Connection) -> None:
            changed = connection.execute(
                update(organisations).where(organisations.c.id == ident).values(**values)
            ).rowcount
            if changed == 0:
                raise NotFound(f"no organisation {ident!r}")

        self._change(principal, f"update organisation {ident}", action)

    # --- users -------------------------------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(users).order_by(users.c.id)).all()
            members = connection.execute(select(group_members)).all()
        by_user: dict[int, list[str]] = {}
        for member in members:
            by_user.setdefault(member.user_id, []).append(member.group_id)
        return [
            {**_plain(row, ("password_hash",)), "groups": sorted(by_user.get(row.id, []))} for row in rows
        ]

    def add_user(
        self, principal: Principal, name: str, role: str = "reader", **fields: Any
    ) -> dict[str, Any]:
        if not name or len(name) > 200 or ":" in name:
            raise BadRequest(
                "name: 1-200 characters without ':' (HTTP Basic separates user and password by it)"
            )
        values = self._user_values(role=role, **fields)

        def action(connection: Connection) -> int:
            if connection.execute(select(users.c.id).where(users.c.name == name)).first():
                raise Conflict(f"a user {name!r} exists already")
            self._check_references(connection, values)
            return connection.execute(
                insert(users).values(name=name, created=_now(), **values).returning(users.c.id)
            ).scalar_one()

        ident = self._change(principal, f"add user {name}", action)
        return {"id": ident, "name": name, "role": values["role"]}

    def update_user(self, principal: Principal, name: str, **fields: Any) -> None:
        values = self._user_values(**fields)
        if not values:
            raise BadRequest(
                "nothing to change: give role, display_name, email, organisation_id, "
                "default_dataset_id, active or password"
            )

        def action(connection: Connection) -> None:
            self._check_references(connection, values)
            if connection.execute(update(users).where(users.c.name == name).values(**values)).rowcount == 0:
                raise NotFound(f"no user {name!r}")

        self._change(principal, f"update user {name}", action)

    def _user_values(self, **fields: Any) -> dict[str, Any]:
        known = {
            "role",
            "display_name",
            "email",
            "organisation_id",
            "default_dataset_id",
            "active",
            "password",
        }
        unknown = set(fields) - known
        if unknown:
            raise BadRequest(f"a user has no field {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}")
        values = {k: v for k, v in fields.items() if k != "password"}
        if "role" in values and values["role"] not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}, not {values['role']!r}")
        if "active" in values and not isinstance(values["active"], bool):
            raise BadRequest("active must be true or false")
        password = fields.get("password")
        if password is not None:
            if not isinstance(password, str) or len(password) < 12:
                raise BadRequest("password: at least 12 characters")
            values["password_hash"] = hash_password(password)
        return values

    def _check_references(self, connection: Connection, values: dict[str, Any]) -> None:
        require_existing(connection, "organisation_id", organisations, values.get("organisation_id"))
        require_existing(connection, "default_dataset_id", datasets, values.get("default_dataset_id"))

    def _user_id(self, connection: Connection, name: str) -> int:
        return self._user_role(connection, name)[0]

    def _user_role(self, connection: Connection, name: str) -> tuple[int, str]:
        row = connection.execute(select(users.c.id, users.c.role).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user {name!r}")
        return row.id, row.role

    # --- groups ------------------------------------------------------------------------------------

    def groups(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(groups).order_by(groups.c.id)).all()
            members = connection.execute(
                select(group_members.c.group_id, users.c.name).join(
                    users, users.c.id == group_members.c.user_id
                )
            ).all()
        by_group: dict[str, list[str]] = {}
        for member in members:
            by_group.setdefault(member.group_id, []).append(member.name)
        return [{**_plain(row), "members": sorted(by_group.get(row.id, []))} for row in rows]

    def add_group(
        self,
        principal: Principal,
        ident: str,
        title: str,
        organisation_id: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        check_id("group", ident)

        def action(connection: Connection) -> None:
            if connection.execute(select(groups.c.id).where(groups.c.id == ident)).first():
                raise Conflict(f"a group {ident!r} exists already")
            self._check_references(connection, {"organisation_id": organisation_id})
            connection.execute(
                insert(groups).values(
                    id=ident,
                    title=title,
                    organisation_id=organisation_id,
                    description=description,
                    created=_now(),
                )
            )

        self._change(principal, f"add group {ident}", action)
        return {"id": ident, "title": title, "organisation_id": organisation_id}

    def set_membership(self, principal: Principal, group: str, user: str, member: bool) -> None:
        def action(connection: Connection) -> None:
            if not connection.execute(select(groups.c.id).where(groups.c.id == group)).first():
                raise NotFound(f"no group {group!r}")
            user_id = self._user_id(connection, user)
            connection.execute(
                delete(group_members).where(
                    group_members.c.group_id == group, group_members.c.user_id == user_id
                )
            )
            if member:
                connection.execute(insert(group_members).values(group_id=group, user_id=user_id))

        self._change(
            principal, f"{'add' if member else 'remove'} {user} {'to' if member else 'from'} {group}", action
        )

    # --- tokens ------------------------------------------------------------------------------------

    def issue_token(
        self,
        principal: Principal,
        user: str,
        scopes: list[str] | None = None,
        expires_in_days: float | None = 365,
        name: str = "",
        within: frozenset[str] | None = None,
    ) -> IssuedToken:
        """A new token for `user`; the token itself is returned here only, and stored hashed.

        Without `scopes` the token gets what the user's role allows short of `admin` (which is
        asked for explicitly). A scope beyond the role is refused rather than dropped: a token that
        silently lacks what it was issued for fails later, far from the mistake. `within` are the
        scopes of the token asking for one of its user's own (a token never makes a wider one).
        """
        unknown = [s for s in scopes or () if s not in SCOPES]
        if unknown or scopes == []:
            raise BadRequest(f"scopes: choose from {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})")
        if expires_in_days is not None and not (0 < expires_in_days <= 3650):
            raise BadRequest("expires_in_days: more than 0 and at most 3650")
        token = new_token()
        expires = _now() + timedelta(days=expires_in_days) if expires_in_days is not None else None
        chosen: list[str] = []

        def action(connection: Connection) -> int:
            user_id, role = self._user_role(connection, user)
            allowed = role_scopes(role)
            if scopes is None:
                chosen.extend(s for s in allowed if s != "admin" and (within is None or s in within))
            else:
                beyond = [s for s in scopes if s not in allowed]
                if beyond:
                    raise BadRequest(
                        f"scopes: {', '.join(beyond)} is beyond the role of {user!r} ({role}), "
                        f"whose tokens may have {', '.join(allowed) or 'no scope'}"
                    )
                if within is not None and not set(scopes) <= within:
                    raise Forbidden("a token cannot have a scope the token asking for it lacks")
                chosen.extend(dict.fromkeys(scopes))
            if not chosen:
                raise BadRequest(f"scopes: the role of {user!r} ({role}) allows no scope")
            nonlocal token
            # The label names the token's client at the broker, so no two tokens share one (a clash
            # of its 36 random bits is rare, and a new token costs nothing).
            while connection.execute(
                select(api_tokens.c.id).where(api_tokens.c.prefix == token_label(token))
            ).first():
                token = new_token()
            return connection.execute(
                insert(api_tokens)
                .values(
                    user_id=user_id,
                    token_hash=token_hash(token),
                    prefix=token_label(token),
                    name=name,
                    scopes=chosen,
                    created=_now(),
                    expires=expires,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()

        ident = self._change(principal, f"issue token for {user}", action, broker=False)
        return IssuedToken(ident, token, user, chosen, expires, self._register(user, token))

    def _register(self, user: str, token: str) -> bool | None:
        """Give the broker the new token's client, with its user's roles (see `IssuedToken.mqtt`)."""
        if self.broker is None:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(
                select(users.c.id, users.c.role, users.c.organisation_id).where(users.c.name == user)
            ).one()
            member_of = connection.execute(
                select(group_members.c.group_id).where(group_members.c.user_id == row.id)
            ).scalars()
            group_ids = list(member_of)
        try:
            self.broker.register(token, row.role, row.organisation_id, group_ids)
        except BrokerUnreachable as exc:
            log.warning("MQTT: the broker has no client for the token just issued to %s: %s", user, exc)
            return False
        return True

    def tokens(self, user: str | None = None) -> list[dict[str, Any]]:
        query = select(api_tokens, users.c.name.label("user")).join(users, users.c.id == api_tokens.c.user_id)
        if user is not None:
            query = query.where(users.c.name == user)
        with self.engine.connect() as connection:
            return [_plain(r, ("token_hash",)) for r in connection.execute(query.order_by(api_tokens.c.id))]

    def token_owner(self, token_id: int) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                select(users.c.name)
                .join(api_tokens, api_tokens.c.user_id == users.c.id)
                .where(api_tokens.c.id == token_id)
            ).scalar()

    def revoke_token(self, principal: Principal, token_id: int) -> None:
        def action(connection: Connection) -> str:
            result = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked.is_(None))
                .values(revoked=_now())
            )
            if result.rowcount == 0:
                raise NotFound(f"no unrevoked token {token_id}")
            return connection.execute(
                select(api_tokens.c.prefix).where(api_tokens.c.id == token_id)
            ).scalar_one()

        label = self._change(principal, f"revoke token {token_id}", action, broker=False)
        if self.broker is not None:
            try:
                self.broker.remove(label)
            except BrokerUnreachable as exc:
                log.warning("MQTT: the broker still has the client of revoked token %s: %s", token_id, exc)

    # --- datasets ----------------------------------------------------------------------------------

    def datasets(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [_plain(r) for r in connection.execute(select(datasets).order_by(datasets.c.id))]

    def add_dataset(self, principal: Principal, ident: str, **fields: Any) -> None:
        self._change(principal, f"add dataset {ident}", lambda c: create_dataset(c, ident, **fields))

    def update_dataset(self, principal: Principal, ident: str, **fields: Any) -> None:
        changed = ", ".join(
            f"{key}={fields[key]}" if key == "publisher_id" else key for key in sorted(fields)
        )
        self._change(
            principal, f"update dataset {ident}: {changed}", lambda c: update_dataset(c, ident, **fields)
        )

    def move(
        self, principal: Principal, policy: AccessPolicy, ident: str, entity_set: str, ids: list[int]
    ) -> int:
        """Move entities into dataset `ident` if `policy` lets `principal` (decided in the same
        transaction as the move, so what was judged is what moves)."""

        def action(connection: Connection) -> int:
            policy.authorize_steward(principal, connection, ident)  # before planning costs anything
            policy.authorize_move(principal, connection, plan_move(connection, ident, entity_set, ids))
            return move_entities(connection, ident, entity_set, ids)

        # A move changes no dataset's rules, so the broker's roles stay (they name datasets, not rows).
        return self._change(principal, f"move {entity_set} {ids} to dataset {ident}", action, broker=False)

    # --- accountability ----------------------------------------------------------------------------

    def audit_records(
        self,
        principal: str | None = None,
        dataset: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        self.audit.flush()
        query = select(audit_log).order_by(audit_log.c.time.desc(), audit_log.c.id.desc()).limit(limit)
        if principal:
            query = query.where(audit_log.c.principal == principal)
        if dataset:
            query = query.where(audit_log.c.dataset_id == dataset)
        if action:
            query = query.where(audit_log.c.action == action)
        if since:
            query = query.where(audit_log.c.time >= since)
        if until:
            query = query.where(audit_log.c.time < until)
        with self.engine.connect() as connection:
            return [_plain(r) for r in connection.execute(query)]

    def usage(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Requests per dataset and API between two days (ISO dates, inclusive)."""
        self.audit.flush()
        query = select(
            dataset_usage.c.dataset_id,
            dataset_usage.c.api,
            func.sum(dataset_usage.c.requests).label("requests"),
        ).group_by(dataset_usage.c.dataset_id, dataset_usage.c.api)
        if since:
            query = query.where(dataset_usage.c.day >= since)
        if until:
            query = query.where(dataset_usage.c.day <= until)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(dataset_usage.c.dataset_id, dataset_usage.c.api)).all()
        return [
            {"dataset": row.dataset_id or None, "api": row.api, "requests": int(row.requests)} for row in rows
        ]
