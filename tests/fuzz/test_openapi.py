"""schemathesis over every operation of `/openapi.json`, against the real server on both backends.

Each operation's examples are sent twice, as the administrator (so the admin and energy APIs get past
authentication and reach their parsers and the store) and anonymously (so the refusals run too). The
checks: schemathesis' `not_a_server_error`, and the Fuzzer's own, the response time bound and the
platform's JSON body on every 4xx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.conftest import ADMIN_TOKEN
from tests.fuzz.conftest import EXAMPLES, FUZZ
from tests.fuzz.server import REQUEST_BOUND_SECONDS, Fuzzer
from urbantwin.app import create_app
from urbantwin.settings import Settings

# One worker runs the whole module (`pytest -n --dist loadgroup`):
# the fuzz servers (`served`, one per backend), started once, not again on the other worker.
pytestmark = pytest.mark.xdist_group("fuzz")

#: The OpenAPI document (the app is built only to write it; no request reaches this one).
SCHEMA = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://", admin_token=ADMIN_TOKEN)).openapi()
)
#: A stream never ends, so its answer cannot be judged as a whole; tests/live/test_sse.py covers it.
STREAMS = {"GET /api/live/observations"}
OPERATIONS = {
    result.ok().label: result.ok()
    for result in SCHEMA.get_all_operations()
    if result.ok().label not in STREAMS
}
#: Examples per operation: fewer than the property tests draw, since there are many operations.
PER_OPERATION = settings(FUZZ, max_examples=max(3, EXAMPLES // 4))
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


# `schemathesis.pytest.from_fixture(...).parametrize()` would take the server from a fixture, but
# schemathesis 4.32 reads `request.node._nodeid`, which pytest 9 no longer has; so each operation is a
# parametrized test running its own Hypothesis strategy.
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_operation_as_administrator_and_anonymously(
    fuzz: Fuzzer, session: requests.Session, label: str
) -> None:
    @PER_OPERATION
    @given(case=cases(OPERATIONS[label]))
    def run(case: Any) -> None:
        for headers in (AS_ADMIN, {}):
            call(fuzz, session, case, headers)

    run()


def cases(operation: Any) -> st.SearchStrategy[Any]:
    """Cases that fit the document (to reach the service and the store) and cases that break it."""
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )


def call(fuzz: Fuzzer, session: requests.Session, case: Any, headers: dict[str, str]) -> None:
    """One case sent to the server under test, judged, its problems recorded with a curl reproducer."""
    who = "as administrator" if headers else "anonymously"
    started = time.monotonic()
    try:
        response = case.call(
            base_url=fuzz.server.base_url, session=session, headers=headers, timeout=REQUEST_BOUND_SECONDS
        )
    except requests.Timeout:
        fuzz.count(case.operation.label, time.monotonic() - started)
        fuzz.problems.append(
            f"{reproducer(case, headers)} ({who}) -> no answer within {REQUEST_BOUND_SECONDS} s"
        )
        fuzz.revive()
        return
    except requests.ConnectionError as exc:
        fuzz.count(case.operation.label, time.monotonic() - started)
        fuzz.problems.append(f"{reproducer(case, headers)} ({who}) -> the connection failed: {exc}")
        fuzz.revive()
        return
    elapsed = time.monotonic() - started
    label = f"{reproducer(case, headers)} ({who})"
    try:
        case.validate_response(response, checks=[not_a_server_error])
    except Exception as failure:  # noqa: BLE001 - a failed check is the finding, whatever its type
        fuzz.problems.append(f"{label} -> {str(failure).strip().splitlines()[0][:200]}")
    fuzz.judge(label, response.status_code, elapsed, response.content, case.method, server_error_checked=True)


def reproducer(case: Any, headers: dict[str, str]) -> str:
    """The case as a curl command line, shortened."""
    command = case.as_curl_command(headers=headers) if headers else case.as_curl_command()
    return command if len(command) <= 400 else command[:300] + f"…({len(command):,} chars)"


#: Writes that take no body: the path says it all.
WITHOUT_BODY = {
    "PUT /api/admin/groups/{group}/members/{user}",
    "POST /api/air/assessment/publish",  # the year is a query parameter; nothing is sent
    "POST /api/participation/contributions/{contribution}/supports",  # a support is the request itself
    "POST /api/remotes/{name}/harvest",  # harvests the partner named in the path
}


def test_every_write_describes_its_body() -> None:
    """schemathesis generates bodies only for the writes whose body the document describes."""
    undescribed = {
        label
        for label, operation in OPERATIONS.items()
        if operation.method.upper() in ("POST", "PUT", "PATCH") and not operation.body
    }
    assert undescribed == WITHOUT_BODY
