"""Single sign-on: bearer tokens of an OpenID Connect provider (Keycloak-compatible).

A token is accepted only if it is a JWT signed by one of the configured issuer's keys (fetched from
its JWKS document and cached by PyJWT's `PyJWKClient`), names that issuer in `iss`, is unexpired
and, when an audience is configured, was issued for it. Which user it is comes from `sub`; the
mapping to a user of this platform is `authenticate.py`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
import orjson

from urbantwin.errors import Unauthorized
from urbantwin.settings import Settings

#: Asymmetric algorithms only: a symmetric one would let anyone who knows a public key forge tokens.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


@dataclass(frozen=True)
class OidcIdentity:
    issuer: str
    subject: str
    username: str
    email: str | None
    groups: tuple[str, ...]


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class OidcVerifier:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.audience = settings.oidc_audience or None
        self.groups_claim = settings.oidc_groups_claim
        self._jwks_url = settings.oidc_jwks_url
        self._client: jwt.PyJWKClient | None = None

    def _keys(self) -> jwt.PyJWKClient:
        if self._client is None:
            url = self._jwks_url or _discover_jwks_url(self.issuer)
            self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=600)
        return self._client

    def verify(self, token: str) -> OidcIdentity:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the bearer token is no valid JWT: {exc}") from None
        issuer = str(unverified.get("iss", "")).rstrip("/")
        if issuer != self.issuer:
            raise Unauthorized(f"the token was issued by {issuer or 'nobody'!r}, not by {self.issuer!r}")
        try:
            key = self._keys().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientError as exc:
            raise Unauthorized(f"the token's signing key is not one of the issuer's: {exc}") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=unverified.get("iss"),
                options={"require": ["exp", "iss", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized(
                "the token's signature does not match the issuer's keys (forged or altered)"
            ) from None
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(
                f"the token was not issued for this platform (audience {self.audience!r})"
            ) from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token was refused: {exc}") from None
        groups = claims.get(self.groups_claim) or ()
        return OidcIdentity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            username=str(claims.get("preferred_username") or claims["sub"]),
            email=claims.get("email"),
            # Keycloak writes group paths ("/partners"); the platform's groups are plain ids.
            groups=tuple(str(g).strip("/").rsplit("/", 1)[-1] for g in groups if isinstance(g, str)),
        )


def _discover_jwks_url(issuer: str) -> str:
    from urllib.request import urlopen

    try:
        with urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as response:  # noqa: S310
            return str(orjson.loads(response.read())["jwks_uri"])
    except (OSError, KeyError, ValueError) as exc:
        raise Unauthorized(
            f"the identity provider {issuer!r} cannot be reached to check the token: {exc}"
        ) from None
