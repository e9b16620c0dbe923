"""The checker against a deliberately broken server (`broken.Broken`, our server behind a fake that
breaks one thing at a time): each kind of check catches the fault it is there for, so the checker
cannot pass a server blindly; and with no fault the fake passes, so what fails is the fault."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.conformance.broken import FAULTS, Broken
from tests.conftest import ADMIN_TOKEN, _free_port
from urbantwin.conformance.core import Options
from urbantwin.conformance.mqtt import REGISTRY as MQTT_CHECKS
from urbantwin.conformance.runner import CHECKS, run


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the fake breaks answers, whichever store is behind it


@pytest.fixture
def broken(live_server: str) -> Iterator[tuple[Broken, str]]:
    """The fake in front of our server, served by uvicorn on a free port; its URL."""
    fake = Broken(live_server)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake server did not start"
        time.sleep(0.02)
    yield fake, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_every_check_but_one_has_a_fault_it_must_catch() -> None:
    caught = {check for fault in FAULTS for check in fault.catches}
    caught |= {check.id for check in MQTT_CHECKS.checks}
    ids = {check.id for check in CHECKS}
    assert caught <= ids
    # The datetime check has no fault here: the test city's features have no time.
    assert ids - caught == {"features.core.datetime"}


@pytest.mark.long
def test_each_fault_is_caught_by_its_checks(broken: tuple[Broken, str], prefix: str) -> None:
    fake, url = broken
    options = Options(write=True, token=ADMIN_TOKEN, mqtt_topic_prefix=prefix)
    honest = run(url, options)
    assert honest.ok, [(r.check.id, r.reason) for r in honest.results if r.verdict == "fail"]
    missed = {}
    for fault in FAULTS:
        fake.fault = fault
        report = run(url, options, only=lambda check, fault=fault: check.id in fault.catches)
        verdicts = {result.check.id: result.verdict for result in report.results}
        if verdicts != dict.fromkeys(fault.catches, "fail"):
            missed[fault.name] = verdicts
    assert not missed


def test_a_server_that_publishes_nowhere_fails_the_mqtt_checks(live_server: str, prefix: str) -> None:
    options = Options(write=True, token=ADMIN_TOKEN, mqtt_topic_prefix=f"elsewhere-{prefix}", mqtt_wait=1.0)
    report = run(live_server, options, only=lambda check: check.id.startswith("mqtt."))
    verdicts = {result.check.id: result.verdict for result in report.results}
    assert verdicts == dict.fromkeys((check.id for check in MQTT_CHECKS.checks), "fail")
