"""A real server under fire: uvicorn in a process of its own, a liveness probe, and a client that judges
every answer.

The server runs in a separate process, not in a thread of the test process: a request that holds the
interpreter (a regular expression backtracking inside a SQLite function holds the GIL) must freeze the
server only, so that the client's timeout and the probe can see it; and a server that no longer
answers is stopped and started again on the same store, so one hang does not stall the whole suite.

`Fuzzer.send` never raises on a bad answer: it records the problem (a 5xx, an answer slower than its
bound, an error without the platform's JSON body, a probe that went unanswered) and the test fails at
its end listing every problem with its request, so one run reports all the inputs that break the
server rather than the first.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import urbantwin
from tests.conftest import ADMIN_TOKEN

#: The longest a request may take before the test calls the server too slow.
REQUEST_BOUND_SECONDS = 10.0
#: The longest the cheap probe request may take while the fuzzing requests run.
PROBE_BOUND_SECONDS = 2.0
PROBE_INTERVAL_SECONDS = 0.1
#: The probe's request: cheap, but through the event loop, the thread pool and the store.
PROBE_PATH = "/v1.1/"
#: The database statement timeout of the server under test, well below the request bound: a query the
#: database stops is the server defending itself (400), not a slow answer.
QUERY_TIMEOUT_SECONDS = 5
STARTUP_SECONDS = 120.0
#: uvicorn's own answer to a request its HTTP parser refuses (a Host header that is not text, say).
UVICORN_REFUSAL = b"Invalid HTTP request received."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`uvicorn` serving the platform from `URBANTWIN_*` settings, in a process of its own."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.restarts = 0

    def start(self) -> None:
        port = _free_port()
        source = str(Path(urbantwin.__file__).parent.parent)  # the sources this test process imports
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]),
            "URBANTWIN_DATABASE_URL": self.database_url,
            "URBANTWIN_ADMIN_TOKEN": ADMIN_TOKEN,
            "URBANTWIN_QUERY_TIMEOUT_SECONDS": str(QUERY_TIMEOUT_SECONDS),
            "URBANTWIN_MAX_TOP": "1000",
            # forwarded headers are believed from the test client, so their abuse reaches the code
            "URBANTWIN_TRUSTED_PROXIES": "127.0.0.1",
            "URBANTWIN_MQTT_URL": "",
            "URBANTWIN_LOG_LEVEL": "warning",
            # The fuzzer's anonymous requests come from the probe's address: with the limits on, a
            # fast run spends that address's budget and the probe is answered 429 (the limits have
            # their own tests, tests/test_ratelimit.py).
            "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
            "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
            # A sweep the fuzzer gets accepted runs on one Dask worker, not one per core.
            "URBANTWIN_DASK_WORKERS": "1",
        }
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "urbantwin.app:create_app_from_environment",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server under test exited at start; see {self.log_path}")
            try:
                if httpx.get(self.base_url + PROBE_PATH, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server under test did not start within {STARTUP_SECONDS} s")

    def stop(self) -> None:
        """Stop the server, briefly gracefully: its store is thrown away, so nothing waits to be written."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:  # frozen in a query: SIGTERM is not handled until it returns
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """A frozen server killed (it cannot handle SIGTERM until its query returns) and started anew."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        self.restarts += 1
        self.start()


class Probe:
    """A thread that GETs a cheap endpoint every 100 ms and notes every answer slower than its bound."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.failures: list[tuple[float, str]] = []
        self.slowest = 0.0
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveness-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=PROBE_BOUND_SECONDS + 5)

    def _run(self) -> None:
        with httpx.Client(timeout=PROBE_BOUND_SECONDS) as client:
            while not self._stop.wait(PROBE_INTERVAL_SECONDS):
                if self.paused.is_set():
                    continue
                started = time.monotonic()
                try:
                    status = client.get(self.server.base_url + PROBE_PATH).status_code
                    problem = "" if status == 200 else f"answered {status}"
                except httpx.HTTPError as exc:
                    problem = f"got no answer ({type(exc).__name__})"
                elapsed = time.monotonic() - started
                if self.paused.is_set():  # the server was being restarted meanwhile
                    continue
                self.slowest = max(self.slowest, elapsed)
                if not problem and elapsed > PROBE_BOUND_SECONDS:
                    problem = f"answered after {elapsed:.1f} s"
                if problem:
                    self.failures.append((started, f"the liveness probe GET {PROBE_PATH} {problem}"))

    def failures_since(self, moment: float) -> list[str]:
        return [message for started, message in self.failures if started >= moment]


@dataclass
class Tally:
    """What one test sent and saw, for the per-backend summary line."""

    inputs: int = 0
    server_errors: int = 0
    slowest: float = 0.0
    slowest_request: str = ""


@dataclass
class Fuzzer:
    """A client of the server under test that checks every answer and records what goes wrong."""

    backend: str
    server: ServerProcess
    probe: Probe
    tally: Tally = field(default_factory=Tally)
    problems: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def verdict(self) -> None:
        """Fail the test listing every problem seen since the fuzzer was made, the probe's included."""
        problems = list(self.problems)
        unanswered = self.probe.failures_since(self.started)
        if unanswered:
            problems.append(f"{unanswered[0]} (and {len(unanswered) - 1} more times)")
        if problems:
            shown = "\n".join(f"- {problem}" for problem in problems[:25])
            more = f"\n… and {len(problems) - 25} more" if len(problems) > 25 else ""
            pytest.fail(f"{len(problems)} problems on {self.backend}:\n{shown}{more}", pytrace=False)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, Any] | None = None,
        admin: bool = True,
        content_type: str = "application/json",
    ) -> httpx.Response | None:
        """The answer to one request, or None when there was none; every problem is recorded."""
        all_headers: dict[str, Any] = {}
        if admin:
            all_headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        if body is not None:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        content = body.encode() if isinstance(body, str) else body
        label = describe(method, path, params, content, headers)
        started = time.monotonic()
        try:
            response = httpx.request(
                method,
                self.server.base_url + path,
                params=params,
                content=content,
                headers=all_headers,
                timeout=REQUEST_BOUND_SECONDS,
            )
        except httpx.TimeoutException:
            self.count(label, time.monotonic() - started)
            self.problems.append(f"{label} -> no answer within {REQUEST_BOUND_SECONDS} s")
            self.revive()
            return None
        except httpx.TransportError as exc:
            self.count(label, time.monotonic() - started)
            self.problems.append(f"{label} -> the connection failed ({type(exc).__name__}: {exc})")
            self.revive()
            return None
        self.judge(label, response.status_code, time.monotonic() - started, response.content, method)
        return response

    def count(self, label: str, elapsed: float) -> None:
        self.tally.inputs += 1
        if elapsed > self.tally.slowest:
            self.tally.slowest, self.tally.slowest_request = elapsed, label

    def judge(
        self,
        label: str,
        status: int,
        elapsed: float,
        content: bytes,
        method: str,
        server_error_checked: bool = False,
    ) -> None:
        """Record the problems of one answer: a 5xx, too slow, an error without the JSON error body.

        `server_error_checked`: the caller has recorded a 5xx already (schemathesis' check), so it is
        counted here but not listed twice.
        """
        self.count(label, elapsed)
        if status >= 500:
            self.tally.server_errors += 1
            if not server_error_checked:
                self.problems.append(f"{label} -> {status} {content[:300]!r}")
        elif elapsed > REQUEST_BOUND_SECONDS:
            self.problems.append(f"{label} -> answered after {elapsed:.1f} s")
        elif status == 400 and content == UVICORN_REFUSAL:
            pass  # a request the HTTP layer cannot parse never reaches the platform to be answered
        elif status >= 400 and method != "HEAD" and not has_error_body(content):
            self.problems.append(f"{label} -> {status} without the JSON error body: {content[:200]!r}")
        elif status >= 400 and (leak := library_text(content)):
            self.problems.append(f"{label} -> {status} quotes a library ({leak!r}): {content[:200]!r}")

    def revive(self) -> None:
        """Restart the server when it no longer answers the probe's request, so the run goes on."""
        try:
            if httpx.get(self.server.base_url + PROBE_PATH, timeout=PROBE_BOUND_SECONDS).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        self.problems.append(f"the server stopped answering and was restarted (log: {self.server.log_path})")
        self.probe.paused.set()
        try:
            self.server.restart()
        finally:
            self.probe.paused.clear()


#: Text that only a library writes: a message with it shows the user our internals (the database, the
#: ORM, a Python repr), not their mistake. (The JSON parser's own wording with a line and column is
#: not listed: it does point at the mistake.)
LIBRARY_TEXT = re.compile(
    r"Traceback|\[SQL: |Background on this error|psycopg|sqlite3\.|sqlalchemy|np\.\w+\(|"
    r"out of range for type|bigint out of range|integer out of range|<[\w.]+ object at 0x"
)


def library_text(content: bytes) -> str:
    """The first piece of library text in an error body's message, or ''."""
    try:
        message = orjson.loads(content).get("message", "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    found = LIBRARY_TEXT.search(str(message))
    return found.group(0) if found else ""


def has_error_body(content: bytes) -> bool:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and isinstance(body.get("message"), str) and bool(body["message"])


def describe(
    method: str, path: str, params: Any, content: bytes | None, headers: dict[str, Any] | None
) -> str:
    """The request in one line, long values shortened, so a failure names a reproducible input."""
    parts = [method, path]
    if params:
        items = params.items() if isinstance(params, dict) else params
        parts.append("?" + "&".join(f"{k}={shorten(str(v))}" for k, v in items))
    if headers:
        parts.append(" ".join(f"[{k}: {shorten(repr(v))}]" for k, v in headers.items()))
    if content:
        parts.append(f"body {shorten(content.decode(errors='replace'))}")
    return " ".join(parts)


def shorten(text: str, keep: int = 80) -> str:
    """A long text as its start and end with the length between (`{"a":{"a":…(2,000 chars)…1}}`)."""
    if len(text) <= keep:
        return text
    return f"{text[: keep // 2]}…({len(text):,} chars)…{text[-keep // 4 :]}"
