"""Who is asking: the principal a request proved, with what the policy needs to decide.

A principal is built once per request by `authenticate.py` and is immutable: its organisation,
groups and role are read from the store when the token is checked, so a change of membership takes
effect with the next request, in every server process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from urbantwin.store.access_schema import ROLES

#: What a token may be used for. A user's own tokens never exceed the user's role.
SCOPES = ("read", "write", "admin")

#: The lowest role each scope is of use to: a reader writes nowhere (the policy lets contributors
#: and above write), and only administrators administer. A token is issued with none beyond its
#: user's role, and a role taken away later narrows the tokens at their next use.
SCOPE_ROLES = {"read": "reader", "write": "contributor", "admin": "administrator"}


def role_rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def role_scopes(role: str | None) -> tuple[str, ...]:
    """The scopes a user of `role` may hold, in the order of `SCOPES`."""
    return tuple(scope for scope in SCOPES if role_rank(role or "") >= role_rank(SCOPE_ROLES[scope]))


@dataclass(frozen=True)
class Principal:
    name: str
    #: The user's id in the store; None for anonymous clients and the bootstrap administrator.
    user_id: int | None = None
    role: str | None = None
    organisation_id: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = frozenset(SCOPES)
    #: How the principal proved itself: "anonymous", "bootstrap", "token", "password", "oidc".
    proof: str = "anonymous"

    @property
    def anonymous(self) -> bool:
        return self.proof == "anonymous"

    @property
    def is_admin(self) -> bool:
        return self.role == "administrator" and "admin" in self.scopes

    @property
    def writes_everything(self) -> bool:
        """An administrator with a token that may write: no dataset's rules hold them back."""
        return self.role == "administrator" and "write" in self.scopes

    def has_role(self, role: str) -> bool:
        """Whether the principal holds `role` or one above it."""
        return role_rank(self.role or "") >= role_rank(role)

    def may_use(self, scope: str) -> bool:
        return scope in self.scopes


ANONYMOUS = Principal("anonymous", scopes=frozenset({"read"}))
#: The bootstrap administrator of `URBANTWIN_ADMIN_TOKEN`.
BOOTSTRAP_ADMIN = Principal("admin", role="administrator", proof="bootstrap")
#: The platform itself (the CLI, the demo loader, importers run by an operator on the machine).
SYSTEM = Principal("system", role="administrator", proof="system")
