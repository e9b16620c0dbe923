"""API tokens and passwords: how they are made, stored and checked.

Tokens are 256 random bits, shown to their owner once and stored as their SHA-256: a fast hash is
safe for secrets of that entropy and keeps the check of every request one index probe. Passwords
are chosen by people and are hashed with argon2 (argon2-cffi), which is slow on purpose.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Every token starts so, which lets a reader (and a secret scanner) tell it from a password.
TOKEN_PREFIX = "ut_"

_hasher = PasswordHasher()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_label(token: str) -> str:
    """The first characters of a token, kept in clear so a listing can tell tokens apart."""
    return token[: len(TOKEN_PREFIX) + 6]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
