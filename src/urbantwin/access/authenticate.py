"""From an `Authorization` header to a `Principal`.

Accepted proofs, in the order they are tried:

- the bootstrap administrator token of `URBANTWIN_ADMIN_TOKEN` (compared in constant time);
- an OIDC bearer token (a JWT) of the configured issuer, when SSO is configured;
- an API token of a user, as `Authorization: Bearer <token>` or as the password of HTTP Basic auth
  (frost-sta-client and QGIS speak only Basic);
- a user's password over HTTP Basic, for users who have one.

Anything else that is offered is refused with 401 and a message naming the reason (no silent
fallback to anonymous: a client that sends a wrong token should know). No header at all is the
anonymous principal.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from urbantwin.access.credentials import password_matches, token_hash
from urbantwin.access.oidc import OidcIdentity, OidcVerifier, looks_like_jwt
from urbantwin.access.principal import ANONYMOUS, BOOTSTRAP_ADMIN, SCOPES, Principal
from urbantwin.errors import Unauthorized
from urbantwin.settings import Settings
from urbantwin.store.access_schema import api_tokens, group_members, groups, users
from urbantwin.store.engine import for_writes

#: How often a token's `last_used` is written, at most, per process: a write per request would
#: turn every read into a write transaction.
LAST_USED_INTERVAL_SECONDS = 60.0


class Authenticator:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.oidc = OidcVerifier(settings) if settings.oidc_issuer else None
        self._last_used: dict[int, float] = {}
        self._lock = threading.Lock()

    def principal(self, header: str | None) -> Principal:
        if not header:
            return ANONYMOUS
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return self._bearer(credentials.strip())
        if scheme == "basic":
            encoded = credentials.strip()
            try:
                # base64 is ASCII: other bytes (the server reads headers as Latin-1) are refused here,
                # and were a 500 from the decoder's own check.
                if not encoded.isascii():
                    raise ValueError
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise Unauthorized("the Basic credentials are not valid base64 of user:password") from None
            if "\x00" in decoded:  # no name or password holds NUL; PostgreSQL could not even compare it
                raise Unauthorized("the Basic credentials contain a NUL character")
            username, _, password = decoded.partition(":")
            return self._basic(username, password)
        raise Unauthorized(f"unsupported authorization scheme {scheme!r}; use Bearer or Basic")

    def _bootstrap(self, secret: str) -> bool:
        admin = self.settings.admin_token
        return bool(admin) and hmac.compare_digest(secret.encode(), admin.encode())

    def _bearer(self, token: str) -> Principal:
        if not token:
            raise Unauthorized("the Bearer token is empty")
        if self._bootstrap(token):
            return BOOTSTRAP_ADMIN
        if looks_like_jwt(token):
            if self.oidc is None:
                raise Unauthorized(
                    "this platform accepts no single-sign-on tokens (no OIDC issuer is configured)"
                )
            return self._oidc_principal(self.oidc.verify(token))
        return self._api_token(token)

    def _basic(self, username: str, password: str) -> Principal:
        if self._bootstrap(password):
            return BOOTSTRAP_ADMIN
        with self.engine.connect() as connection:
            found = connection.execute(
                select(api_tokens.c.id).where(api_tokens.c.token_hash == token_hash(password))
            ).first()
        if found is not None:
            return self._api_token(password)
        with self.engine.connect() as connection:
            user = connection.execute(select(users).where(users.c.name == username)).first()
            if user is None or not password_matches(user.password_hash, password):
                raise Unauthorized("the user name or password (or token) is not valid")
            if not user.active:
                raise Unauthorized(f"the user {username!r} is deactivated")
            return _principal_of(connection, user, frozenset({"read", "write"}), "password")

    def _api_token(self, token: str) -> Principal:
        now = datetime.now(UTC)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(api_tokens, users)
                .join(users, users.c.id == api_tokens.c.user_id)
                .where(api_tokens.c.token_hash == token_hash(token))
            ).first()
            if row is None:
                raise Unauthorized("the token is not valid")
            record = row._mapping
            if record[api_tokens.c.revoked] is not None:
                raise Unauthorized(f"the token {record[api_tokens.c.prefix]}… was revoked")
            expires = record[api_tokens.c.expires]
            if expires is not None and expires <= now:
                raise Unauthorized(
                    f"the token {record[api_tokens.c.prefix]}… expired at {expires.isoformat()}"
                )
            if not record[users.c.active]:
                raise Unauthorized(f"the user {record[users.c.name]!r} is deactivated")
            scopes = frozenset(record[api_tokens.c.scopes] or ()) & frozenset(SCOPES)
            principal = _principal_of(connection, _UserView(record), scopes, "token")
        self._touch(record[api_tokens.c.id], now)
        return principal

    def _touch(self, token_id: int, now: datetime) -> None:
        moment = time.monotonic()
        with self._lock:
            last = self._last_used.get(token_id)
            if last is not None and moment - last < LAST_USED_INTERVAL_SECONDS:
                return
            self._last_used[token_id] = moment
        with for_writes(self.engine).begin() as connection:
            connection.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used=now))

    def _oidc_principal(self, identity: OidcIdentity) -> Principal:
        """The platform's user for an SSO identity, registered as a reader at first sign-in."""
        with for_writes(self.engine).begin() as connection:
            user = connection.execute(
                select(users).where(
                    users.c.oidc_issuer == identity.issuer, users.c.oidc_subject == identity.subject
                )
            ).first()
            if user is None:
                name = identity.username
                if connection.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
                    name = f"{identity.username}@{identity.issuer}"
                connection.execute(
                    users.insert().values(
                        name=name,
                        email=identity.email,
                        role="reader",
                        oidc_issuer=identity.issuer,
                        oidc_subject=identity.subject,
                        created=datetime.now(UTC),
                    )
                )
                user = connection.execute(
                    select(users).where(
                        users.c.oidc_issuer == identity.issuer, users.c.oidc_subject == identity.subject
                    )
                ).one()
            if not user.active:
                raise Unauthorized(f"the user {user.name!r} is deactivated")
            principal = _principal_of(connection, user, frozenset(SCOPES), "oidc")
        # Groups named in the token count as well as those kept here, where such a group exists.
        extra = frozenset(identity.groups) - principal.groups
        if extra:
            with self.engine.connect() as connection:
                known = {
                    row.id for row in connection.execute(select(groups.c.id).where(groups.c.id.in_(extra)))
                }
            principal = Principal(**{**principal.__dict__, "groups": principal.groups | known})
        return principal


class _UserView:
    """A user's columns out of a joined token row (whose `id` is the token's)."""

    def __init__(self, record: Any) -> None:
        self.id = record[users.c.id]
        self.name = record[users.c.name]
        self.role = record[users.c.role]
        self.organisation_id = record[users.c.organisation_id]


def _principal_of(connection: Connection, user: Any, scopes: frozenset[str], proof: str) -> Principal:
    member_of = frozenset(
        row.group_id
        for row in connection.execute(
            select(group_members.c.group_id).where(group_members.c.user_id == user.id)
        )
    )
    if user.role != "administrator":
        scopes = scopes - {"admin"}
    return Principal(
        name=user.name,
        user_id=user.id,
        role=user.role,
        organisation_id=user.organisation_id,
        groups=member_of,
        scopes=scopes,
        proof=proof,
    )
