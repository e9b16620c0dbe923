"""The checker's parts: a check (a requirement's URI, its class, a title in English and German, a
function), its result (verdict, reason, evidence) and the `Session` through which every check talks
to the server, recording each request and an excerpt of each answer as evidence."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

Verdict = Literal["pass", "fail", "skip"]

#: How much of a request body and of an answer the evidence keeps.
EXCERPT = 800


@dataclass(frozen=True)
class Text:
    """A text a reader of the report sees, in English and German."""

    en: str
    de: str

    def get(self, lang: str) -> str:
        return self.de if lang == "de" else self.en


class CheckFailed(Exception):
    """The server does not do what the requirement says; the message says what it did instead."""


class Skipped(Exception):
    """The check cannot be made here (nothing to test it on, a read-only run, an option not given)."""


@dataclass
class Exchange:
    """One request a check made and what came back: the evidence of its verdict."""

    method: str
    url: str
    request_body: str | None
    status: int | None
    response_excerpt: str
    content_type: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "request_body": self.request_body,
            "status": self.status,
            "content_type": self.content_type,
            "response_excerpt": self.response_excerpt,
        }


@dataclass
class Result:
    """The verdict of one check."""

    check: Check
    verdict: Verdict
    reason: str
    evidence: list[Exchange]
    seconds: float

    def as_json(self, lang: str = "en") -> dict[str, Any]:
        return {
            "id": self.check.id,
            "requirement": self.check.uri,
            "class": self.check.cls,
            "title": self.check.title.get(lang),
            "verdict": self.verdict,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "evidence": [exchange.as_json() for exchange in self.evidence],
        }


@dataclass(frozen=True)
class Check:
    """One check of one requirement: `run` raises `CheckFailed` or `Skipped`, or returns to pass.

    `api` is the API it checks (`sensorthings` or `features`), `cls` the conformance class the
    requirement belongs to, `writes` whether it changes the server (run only with `--write`)."""

    id: str
    api: Literal["sensorthings", "features"]
    cls: str
    uri: str
    title: Text
    run: Callable[[Session], None]
    writes: bool = False


@dataclass
class Registry:
    """The checks of one API, in the order they run."""

    checks: list[Check] = field(default_factory=list)

    def check(
        self,
        id: str,
        api: Literal["sensorthings", "features"],
        cls: str,
        uri: str,
        en: str,
        de: str,
        writes: bool = False,
    ) -> Callable[[Callable[[Session], None]], Callable[[Session], None]]:
        def register(function: Callable[[Session], None]) -> Callable[[Session], None]:
            if any(existing.id == id for existing in self.checks):
                raise ValueError(f"two checks are called {id}")
            self.checks.append(Check(id, api, cls, uri, Text(en, de), function, writes))
            return function

        return register


def excerpt(text: str, limit: int = EXCERPT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def require(condition: object, message: str) -> None:
    """Fail the check with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)


@dataclass
class Options:
    """What the run may do: write (with a token), and where MQTT is, if not where the server says."""

    write: bool = False
    token: str | None = None
    mqtt_url: str | None = None
    mqtt_topic_prefix: str = ""
    #: The OGC API collection the write checks add a feature to (else the first that accepts one).
    collection: str | None = None
    timeout: float = 30.0
    #: How long an MQTT check waits for a message that should come.
    mqtt_wait: float = 10.0


class Session:
    """The checks' connection to the server: requests recorded as evidence, what the checks found
    out kept for the next (`state`), and what the write checks made, deleted at the end (`cleanup`).
    """

    def __init__(self, client: httpx.Client, options: Options) -> None:
        self.client = client
        self.options = options
        self.sta_root: str | None = None
        self.features_root: str | None = None
        self.evidence: list[Exchange] = []
        self.state: dict[str, Any] = {}
        #: URLs of what the check created, deleted in reverse order when it ends.
        self.created: list[str] = []
        #: URLs of what the run created for every check (its world), deleted when the run ends.
        self.kept: list[str] = []

    # --- requests ----------------------------------------------------------------------------

    def credentials(self, url: str) -> dict[str, str]:
        """The token's header, for the checked endpoints' own origin only: a link that leads to
        another host (a nextLink, a selfLink, a Location a server made up) never gets the token."""
        if not self.options.token:
            return {}
        origin = httpx.URL(url)
        for root in (self.sta_root, self.features_root):
            if root and (httpx.URL(root).scheme, httpx.URL(root).netloc) == (origin.scheme, origin.netloc):
                return {"Authorization": f"Bearer {self.options.token}"}
        return {}

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Make a request and keep it as evidence; a transport error fails the check."""
        body: str | None = None
        if json is not None:
            import orjson

            content = orjson.dumps(json)
            headers = {"Content-Type": "application/json", **(headers or {})}
        if content is not None:
            body = excerpt(content.decode("utf-8", "replace"))
        headers = {**self.credentials(url), **(headers or {})}
        request = self.client.build_request(method, url, params=params, content=content, headers=headers)
        try:
            response = self.client.send(request)
        except httpx.HTTPError as exc:
            self.evidence.append(
                Exchange(method, str(request.url), body, None, f"{type(exc).__name__}: {exc}")
            )
            raise CheckFailed(f"{method} {request.url} did not answer: {type(exc).__name__}: {exc}") from None
        self.evidence.append(
            Exchange(
                method,
                str(request.url),
                body,
                response.status_code,
                excerpt(response.text),
                response.headers.get("content-type"),
            )
        )
        return response

    def get(self, url: str, params: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, params=params, **kwargs)

    def get_json(self, url: str, params: dict[str, str] | None = None, status: int = 200) -> Any:
        """The JSON of a GET that must answer `status`."""
        response = self.get(url, params)
        expect_status(response, status)
        return json_of(response)

    def note(self, what: str, text: str) -> None:
        """Keep evidence that is no HTTP exchange (an MQTT message, a publication)."""
        method, _, target = what.partition(" ")
        self.evidence.append(Exchange(method, target, None, None, excerpt(text)))

    # --- the write checks' own entities --------------------------------------------------------

    def require_write(self) -> None:
        if not self.options.write:
            raise Skipped("a read-only run: `--write --token …` runs the checks that change the server")

    def remember(self, url: str) -> None:
        """Note an entity the run created, to delete it at the end of the check."""
        if url not in self.created:
            self.created.append(url)

    def keep(self, url: str) -> None:
        """Note an entity the run created for all checks, to delete it at the end of the run."""
        if url not in self.kept:
            self.kept.append(url)

    def clean_up(self, urls: list[str]) -> list[str]:
        """Delete what is in `urls` (emptied), newest first; the URLs that could not be deleted."""
        left: list[str] = []
        while urls:
            url = urls.pop()
            try:
                answer = self.client.delete(url, headers=self.credentials(url))
            except httpx.HTTPError:
                left.append(url)
                continue
            if answer.status_code not in (200, 204, 404, 410):
                left.append(url)
        return left

    # --- running one check -------------------------------------------------------------------

    @contextmanager
    def recording(self) -> Iterator[list[Exchange]]:
        self.evidence = []
        yield self.evidence

    def run(self, check: Check) -> Result:
        started = time.monotonic()
        with self.recording() as evidence:
            try:
                if check.writes:
                    self.require_write()
                check.run(self)
                verdict: Verdict = "pass"
                reason = ""
            except CheckFailed as exc:
                verdict, reason = "fail", str(exc)
            except Skipped as exc:
                verdict, reason = "skip", str(exc)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
                # An answer of another shape than the standard's (a list where an object belongs, a
                # missing member the check reads): the server's fault, reported as such.
                verdict, reason = "fail", f"an answer of unexpected shape ({type(exc).__name__}: {exc})"
            except Exception as exc:  # noqa: BLE001 - one check's trouble never ends the run
                verdict, reason = "fail", f"the check could not finish ({type(exc).__name__}: {exc})"
            finally:
                left = self.clean_up(self.created)
            if left and verdict == "pass":
                verdict, reason = "fail", f"the check could not delete what it created: {', '.join(left)}"
        return Result(check, verdict, reason, list(evidence), time.monotonic() - started)


def expect_status(response: httpx.Response, *expected: int) -> None:
    require(
        response.status_code in expected,
        f"{response.request.method} {response.request.url} answered {response.status_code}, "
        f"expected {' or '.join(map(str, expected))}",
    )


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise CheckFailed(f"the answer of {response.request.url} is not JSON") from None
