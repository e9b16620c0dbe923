"""The one call every service makes about access: who may see or change what, and the account of
what was read.

A service receives the `Caller` (the principal a request's token proves and what it asked for) and
asks its `Access` — the policy point (`policy.py`) together with the audit (`audit.py`). No route
decides visibility and no service counts reads its own way: the read scope of a request, the 404
for what the caller may not see, the usage count and the audit record of restricted reads, and the
refusal of callers who may write nothing are each written here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from urbantwin.access.audit import AuditLog
from urbantwin.access.policy import AccessPolicy, DatasetRule, DatasetScope
from urbantwin.access.principal import SYSTEM, Principal
from urbantwin.errors import NotFound
from urbantwin.settings import Settings


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

    @classmethod
    def of(cls, engine: Engine, settings: Settings) -> Access:
        """An access point of its own, for a service used without the app (tools, tests)."""
        return cls(engine, AccessPolicy(settings), AuditLog(engine))

    # --- reading ----------------------------------------------------------------------------------

    def scope(self, caller: Caller, connection: Connection | None = None) -> DatasetScope:
        """The datasets `caller` may read (asked of the policy once per caller; blocking)."""
        if caller.scope is None:
            if connection is not None:
                caller.scope = self.policy.read_scope(caller.principal, connection)
            else:
                with self.engine.connect() as own:
                    caller.scope = self.policy.read_scope(caller.principal, own)
        return caller.scope

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
    ) -> DatasetScope:
        """404 naming `what` unless `caller` may read `dataset_id` (so restricted names do not leak);
        otherwise the read is counted (and audited, when the dataset is restricted)."""
        scope = self.scope(caller, connection)
        if not scope.allows(dataset_id):
            raise NotFound(f"no {what}")
        self.record_read(caller, api, [dataset_id])
        return scope

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

    def authorize_admin(self, caller: Caller) -> None:
        self.policy.authorize_admin(caller.principal)

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
