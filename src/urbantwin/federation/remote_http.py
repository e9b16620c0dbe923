"""HTTP to a partner's endpoint: httpx with a timeout, a size bound and a rate limit.

Everything a remote answers is untrusted: a failure to connect, a timeout, a 5xx, a body that is
not JSON or larger than the bound all become one typed error, `RemoteFailure`, which the callers
record as the remote's health and never let through as a 500 of the local platform. A link the
remote answers (a nextLink) is only followed when it points below the remote's registered URL: a
remote that sends us elsewhere is refused, not followed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from urbantwin.errors import PlatformError

#: The largest answer read from a remote (a page of 10,000 Observations is about 1 MB).
MAX_ANSWER_BYTES = 64 * 1024 * 1024
USER_AGENT = "urbantwin-federation"


class RemoteFailure(PlatformError):
    """A partner's endpoint failed or answered what we cannot use (502 when it reaches a client).

    `partner_fault` is False where the partner works and only refused what it was asked (a 4xx to a
    visitor's query): that says nothing about the partner's health."""

    status = 502

    def __init__(self, message: str, *, partner_fault: bool = True) -> None:
        super().__init__(message)
        self.partner_fault = partner_fault


@dataclass(frozen=True)
class Answer:
    """What a remote answered: status, headers (lower-case names), body and the URL asked."""

    status: int
    headers: dict[str, str]
    content: bytes
    url: str


class RemoteHttp:
    """One partner endpoint over HTTP, at most `per_second` requests a second (0: no limit)."""

    def __init__(self, base: str, per_second: float = 10.0, timeout: float = 30.0) -> None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base!r}")
        self.base = base.rstrip("/")
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self.client = httpx.Client(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteHttp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}" if path else self.base

    def check_link(self, link: str) -> str:
        """`link` if it lies on the remote (same scheme and host, below the registered path); else
        RemoteFailure (a remote that lies about its links is not followed elsewhere)."""
        base = urlsplit(self.base)
        parts = urlsplit(link) if isinstance(link, str) else None
        if (
            parts is None
            or (parts.scheme, parts.netloc) != (base.scheme, base.netloc)
            or not parts.path.startswith(base.path.rstrip("/"))
        ):
            raise RemoteFailure(f"{self.base} answered a link outside itself: {str(link)[:200]!r}")
        return link

    def _wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            time.sleep(wait)

    def get(
        self, url: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """GET `url` (absolute); a failure or a body over the bound is RemoteFailure (a 4xx/5xx is
        answered, for the caller to judge)."""
        self._wait()
        try:
            with self.client.stream("GET", url, params=params, headers=headers) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                    raise RemoteFailure(f"{url}: the answer is larger than {MAX_ANSWER_BYTES} bytes")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise RemoteFailure(f"{url}: the answer is larger than {MAX_ANSWER_BYTES} bytes")
                    chunks.append(chunk)
                return Answer(
                    response.status_code, dict(response.headers), b"".join(chunks), str(response.url)
                )
        except httpx.HTTPError as exc:
            raise RemoteFailure(f"{url}: {type(exc).__name__}: {exc}") from None

    def json(self, url: str, params: dict[str, str] | None = None) -> Any:
        """The JSON answer of GET `url`."""
        response = self.get(url, params, {"Accept": "application/json"})
        if response.status >= 400:
            raise RemoteFailure(f"{url}: HTTP {response.status}")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise RemoteFailure(f"{url}: the answer is not JSON") from None
