"""The one call every service makes about access: who may see or change what, and the account of
what was read.

A service receives the `Caller` (the principal a request's token proves and what it asked for) and
asks its `Access` — the policy point (`policy.py`) together with the audit (`audit.py`). No route
decides visibility and no service counts reads its own way: the read scope of a request, the 404
for what the caller may not see, the usage count and the audit record of restricted reads, and the
refusal of callers who may write nothing are each written here once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, ScalarSelect, select

from urbantwin.access.audit import AuditLog
from urbantwin.access.policy import AccessPolicy, DatasetRule, DatasetScope
from urbantwin.access.principal import ANONYMOUS, SYSTEM, Principal
from urbantwin.errors import NotFound
from urbantwin.settings import Settings
from urbantwin.store.policy_version import current_version
from urbantwin.store.replicas import read_connection

#: Read scopes kept at most, one per kind of principal (`AccessPolicy.scope_key`: role, signed in or
#: not, organisation, groups): a bound, as the kinds are as many as the combinations of groups.
SCOPE_CACHE_SIZE = 4096


@dataclass
class Caller:
    """Who asks, and what they asked for (`GET /v1.1/Things?$top=1`, kept in the audit record)."""

    principal: Principal
    target: str = ""
    #: The datasets the principal may read, asked once per request (`Access.scope` fills it).
    scope: DatasetScope | None = field(default=None, compare=False)

    @classmethod
    def system(cls, target: str = "") -> Caller:
        """The platform itself (importers, the CLI, analyses): sees and changes everything."""
        return cls(SYSTEM, target)

    @classmethod
    def seeing(cls, scope: DatasetScope) -> Caller:
        """The platform reading with a given scope (what a principal with that scope would see)."""
        return cls(SYSTEM, scope=scope)


class Access:
    """The policy point and the audit of reads, as one object every service asks."""

    def __init__(self, engine: Engine, policy: AccessPolicy, audit: AuditLog) -> None:
        self.engine = engine
        self.policy = policy
        self.audit = audit
        #: scope key → (policy version, the scope worked out under it): see `scope`.
        self._scopes: dict[tuple[Any, ...], tuple[str, DatasetScope]] = {}
        self._scopes_lock = threading.Lock()

    @classmethod
    def of(cls, engine: Engine, settings: Settings) -> Access:
        """An access point of its own, for a service used without the app (tools, tests)."""
        return cls(engine, AccessPolicy(settings), AuditLog(engine))

    # --- reading ----------------------------------------------------------------------------------

    @staticmethod
    def policy_version() -> ScalarSelect[str]:
        """The version of the access rules as a column a service may read along with its own first
        query (one round trip less), to pass as `policy_version` to `scope` or `require_readable`."""
        return current_version()

    def scope(
        self, caller: Caller, connection: Connection | None = None, policy_version: str | None = None
    ) -> DatasetScope:
        """The datasets `caller` may read, worked out once per caller (blocking).

        The policy's answer is kept per kind of principal under the version of the access rules
        (store/policy_version.py) and given again while the version stays: then asking costs the
        version only, one row read, or nothing when `policy_version` was read along already. The
        version is read before the rules, so a scope is never kept under a version newer than its
        rules (a change committed in between is kept under the older version, which no later
        request reads). Principals are made afresh per request from users, groups and tokens, so a
        change of those changes the key, and the version covers every change of the datasets.
        """
        if caller.scope is None:
            if connection is not None:
                caller.scope = self._scope(caller.principal, connection, policy_version)
            else:
                with read_connection(self.engine) as own:
                    caller.scope = self._scope(caller.principal, own, policy_version)
        return caller.scope

    def _scope(self, principal: Principal, connection: Connection, version: str | None) -> DatasetScope:
        fixed = self.policy.fixed_scope(principal)
        if fixed is not None:
            return fixed
        if version is None:
            version = connection.execute(select(current_version())).scalar()
        key = self.policy.scope_key(principal)
        kept = self._scopes.get(key)
        if kept is not None and version is not None and kept[0] == version:
            return kept[1]
        scope = self.policy.read_scope(principal, connection)
        if version is not None:  # else the version row is missing: nothing can be kept safely
            with self._scopes_lock:
                self._scopes[key] = (version, scope)
                if len(self._scopes) > SCOPE_CACHE_SIZE:
                    del self._scopes[next(iter(self._scopes))]
        return scope

    def refresh(self, caller: Caller) -> DatasetScope:
        """The scope asked again (a long-lived stream follows changes of the access rules)."""
        caller.scope = None
        return self.scope(caller)

    def require_readable(
        self,
        caller: Caller,
        dataset_id: str | None,
        what: str,
        api: str,
        connection: Connection | None = None,
        policy_version: str | None = None,
    ) -> DatasetScope:
        """404 naming `what` unless `caller` may read `dataset_id` (so restricted names do not leak);
        otherwise the read is counted (and audited, when the dataset is restricted)."""
        scope = self.scope(caller, connection, policy_version)
        if not scope.allows(dataset_id):
            raise NotFound(f"no {what}")
        self.record_read(caller, api, [dataset_id])
        return scope

    def public(
        self, dataset_id: str | None, connection: Connection, policy_version: str | None = None
    ) -> bool:
        """Whether everyone, signed in or not, may read `dataset_id`: what shows only it may be kept
        by a shared cache and given to anyone (else a cache keeps it for its reader alone). Asks the
        scope of an anonymous reader, kept under the version of the rules like every other scope."""
        return self._scope(ANONYMOUS, connection, policy_version).allows(dataset_id)

    def record_read(self, caller: Caller, api: str, datasets: Iterable[str | None]) -> None:
        """Count a read against each dataset it showed; audit it when any of them is restricted (None
        stands for a read across datasets: audited when the caller may read any restricted one)."""
        shown = list(datasets)
        scope = caller.scope
        restricted = scope is not None and any(
            bool(scope.restricted) if dataset is None else dataset in scope.restricted for dataset in shown
        )
        self.audit.read(caller.principal, api, shown, caller.target, restricted)

    # --- writing ----------------------------------------------------------------------------------

    def require_writer(self, caller: Caller, what: str = "writing") -> None:
        """Refuse at once a caller who may write nothing (anonymous without the setting that allows
        it, a read-only token), before a body is read or a dataset is worked out."""
        self.policy.authorize_writer(caller.principal, what)

    def authorize_write(self, caller: Caller, connection: Connection, dataset_id: str | None) -> None:
        """Raise unless `caller` may write to `dataset_id`."""
        self.policy.authorize_write(caller.principal, connection, dataset_id)

    def may_write(self, caller: Caller, connection: Connection, dataset_id: str | None) -> bool:
        """Whether `caller` may write to `dataset_id` (where `authorize_write` would not raise): who
        sees a dataset's drafts (a campus event not yet published)."""
        return self.policy.may_write(caller.principal, self.policy.rule(connection, dataset_id))

    def may_moderate(self, caller: Caller, connection: Connection, dataset_id: str) -> bool:
        """Whether `caller` moderates the participation dataset `dataset_id` (and sees contacts)."""
        return self.policy.may_moderate(caller.principal, self.policy.rule(connection, dataset_id))

    def authorize_moderate(self, caller: Caller, connection: Connection, dataset_id: str) -> None:
        self.policy.authorize_moderate(caller.principal, connection, dataset_id)

    def authorize_admin(self, caller: Caller) -> None:
        self.policy.authorize_admin(caller.principal)

    def authorize_metrics(self, presented: str | None, principal: Callable[[], Principal]) -> None:
        """Raise unless the bearer token `presented` or the caller may read the metrics."""
        self.policy.authorize_metrics(presented, principal)

    def shared_writes(self, connection: Connection) -> SharedWrites:
        """The decisions for writes of several callers in one transaction (`connection`)."""
        return SharedWrites(self.policy, connection)


class SharedWrites:
    """What each of several callers may see and write, for writes they share one transaction for
    (single Observations committed together): the same rules as for a write of their own, with the
    datasets' rules read once for all of them, and not at all when every caller is an administrator.
    """

    def __init__(self, policy: AccessPolicy, connection: Connection) -> None:
        self.policy = policy
        self.connection = connection
        self._rules: dict[str, DatasetRule] | None = None

    def _read(self) -> dict[str, DatasetRule]:
        if self._rules is None:
            self._rules = {rule.id: rule for rule in self.policy.rules(self.connection)}
        return self._rules

    def scope(self, caller: Caller) -> DatasetScope:
        """The datasets `caller` may read (as `Access.scope`)."""
        if caller.scope is None:
            rules = [] if caller.principal.role == "administrator" else list(self._read().values())
            caller.scope = self.policy.read_scope_in(caller.principal, rules)
        return caller.scope

    def may_write(self, caller: Caller, dataset_id: str | None) -> bool:
        """Whether `caller` may write to `dataset_id` (where `Access.authorize_write` would not raise)."""
        principal = caller.principal
        if principal.writes_everything:
            return True
        rule = self._read().get(dataset_id) if dataset_id is not None else None
        return self.policy.may_write(principal, rule)
