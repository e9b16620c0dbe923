"""What stands between a submission and the store: size bounds, a honeypot, a rate per client
address and duplicate detection — the abuse limits of everything citizens send (ideas, map
contributions, comments, support votes).

The rate uses the platform's own token bucket (`urbantwin.ratelimit`, why our own is said there),
with a much smaller budget than reading: `participation_submissions_per_hour`, a burst on top. The
client address only keys the bucket in memory; it is never stored or logged here. Duplicates are
found by a hash of the normalised text (case, spacing and punctuation ignored), so the same idea
sent twice, by a double click or a script, is refused with 409 naming the earlier one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from typing import Any

from urbantwin.errors import BadRequest, PlatformError
from urbantwin.ratelimit import Limit, TokenBuckets
from urbantwin.settings import Settings

#: The honeypot: a field the web form hides from people (and labels "leave empty"); bots fill it.
HONEYPOT = "website"
MAX_TITLE = 200
MAX_TEXT = 5000
MAX_COMMENT = 2000
MAX_CONTACT = 254
MIN_TEXT = 10
#: Client addresses whose budgets are remembered at most (the least recently used go first).
CLIENTS = 100_000
_CONTACT = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s.]{2,}$")


class TooManyRequests(PlatformError):
    status = 429


class SubmissionGuard:
    def __init__(self, settings: Settings) -> None:
        per_hour = settings.participation_submissions_per_hour
        self.limit = Limit(per_hour / 3600, max(1, settings.participation_submission_burst))
        self.buckets = TokenBuckets(CLIENTS)
        secret = settings.participation_vote_secret or secrets.token_hex(32)
        self._secret = secret.encode()

    def admit(self, client: str, body: dict[str, Any]) -> None:
        """Raise unless a submission of `client` (its address, or a token's hash) with `body` may be
        taken: the honeypot empty and the client within its budget."""
        if body.get(HONEYPOT):
            raise BadRequest(f"the field {HONEYPOT!r} must stay empty")
        if self.limit.active:
            wait = self.buckets.take(("participation", client), self.limit)
            if wait > 0:
                raise TooManyRequests(
                    f"too many submissions from this address; try again in {int(wait // 60) + 1} minutes"
                )

    def voter(self, client: str, procedure: str) -> str:
        """The keyed hash a support vote stores for its voter (no address is kept)."""
        return hmac.new(self._secret, f"{procedure}\x00{client}".encode(), hashlib.sha256).hexdigest()


def text(value: Any, what: str, *, maximum: int, minimum: int = 1) -> str:
    """A submitted text, stripped, within its bounds; BadRequest naming `what` otherwise."""
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    value = unicodedata.normalize("NFC", value).strip()
    if "\x00" in value:
        raise BadRequest(f"{what} holds a NUL character")
    if len(value) < minimum:
        raise BadRequest(f"{what} must have at least {minimum} characters")
    if len(value) > maximum:
        raise BadRequest(f"{what} must have at most {maximum} characters, not {len(value)}")
    return value


def contact(value: Any) -> str | None:
    """An optional contact address (personal data: stored for moderators, shown to no one else)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_CONTACT or not _CONTACT.match(value.strip()):
        raise BadRequest("contact must be an e-mail address (or left out)")
    return value.strip().lower()


def fingerprint(*parts: str) -> str:
    """The hash by which the same text sent twice is recognised (case, spacing, punctuation ignored)."""
    normal = " ".join(
        word
        for part in parts
        for word in re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", part).casefold()).split()
    )
    return hashlib.sha256(normal.encode()).hexdigest()


def only(body: Any, allowed: set[str], what: str) -> dict[str, Any]:
    """`body` as an object of the `allowed` fields; BadRequest naming an unknown one."""
    if not isinstance(body, dict):
        raise BadRequest(f"{what} must be a JSON object")
    unknown = sorted(set(body) - allowed - {HONEYPOT})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:60]!r} of {what}; known: {', '.join(sorted(allowed))}")
    return body
