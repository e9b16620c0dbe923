"""The policy decision point: every API asks here whether a principal may read or write.

This first version knows two principals: anonymous clients, who may read everything and write only
where the settings allow anonymous writes (a fresh install does not), and the bootstrap
administrator, who proves itself with the token named by `URBANTWIN_ADMIN_TOKEN`, sent as
`Authorization: Bearer <token>` or as the password of HTTP Basic auth (what frost-sta-client and
QGIS speak). Organisations, roles and per-dataset rules extend this module, not the APIs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from urbantwin.errors import Forbidden, Unauthorized
from urbantwin.settings import Settings


@dataclass(frozen=True)
class Principal:
    name: str
    is_admin: bool = False

    @property
    def anonymous(self) -> bool:
        return self.name == "anonymous"


ANONYMOUS = Principal("anonymous")
ADMIN = Principal("admin", is_admin=True)


def principal_from_authorization(header: str | None, settings: Settings) -> Principal:
    """The principal a request's Authorization header proves, or anonymous without one."""
    if not header:
        return ANONYMOUS
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        token = credentials.strip()
    elif scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Basic credentials are not valid base64 of user:password") from None
        _, _, token = decoded.partition(":")
    else:
        raise Unauthorized(f"unsupported authorization scheme {scheme!r}; use Bearer or Basic")
    if settings.admin_token and hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        return ADMIN
    raise Unauthorized("the token is not valid")


def authorize_write(principal: Principal, settings: Settings, dataset: str) -> None:
    """Raise unless `principal` may change `dataset` (an entity set or collection name)."""
    if principal.is_admin:
        return
    if principal.anonymous:
        if settings.allow_anonymous_writes:
            return
        raise Unauthorized(f"writing {dataset} needs a token (Authorization: Bearer …)")
    raise Forbidden(f"{principal.name} may not write {dataset}")
