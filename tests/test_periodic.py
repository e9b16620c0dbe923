"""A module's background chore: repeated while the server runs, stopped at once, never killed by a
failing round."""

from __future__ import annotations

import threading
import time

import pytest

from urbantwin.periodic import Periodic


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_the_task_repeats_until_stopped_and_stopping_does_not_wait_out_the_interval() -> None:
    rounds: list[float] = []
    chore = Periodic("test-chore", 0.02, lambda: rounds.append(time.monotonic()))
    chore.start()
    assert wait_for(lambda: len(rounds) >= 3)
    assert chore.running
    chore.stop()
    assert not chore.running
    settled = len(rounds)
    time.sleep(0.1)
    assert len(rounds) == settled

    slow = Periodic("test-slow", 3600, lambda: None)
    slow.start()
    began = time.monotonic()
    slow.stop()
    assert time.monotonic() - began < 1.0


def test_a_chore_runs_first_after_one_interval_unless_asked_to_run_at_start() -> None:
    ran = threading.Event()
    later = Periodic("test-later", 3600, ran.set)
    later.start()
    assert not ran.wait(0.1)
    later.stop()

    at_once = Periodic("test-at-once", 3600, ran.set, at_start=True)
    at_once.start()
    assert ran.wait(5)
    at_once.stop()


def test_a_failing_round_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the broker is away")

    chore = Periodic("test-flaky", 0.02, flaky)
    chore.start()
    assert wait_for(lambda: len(calls) >= 2)
    chore.stop()
    assert "test-flaky: a periodic task failed" in caplog.text
    assert "the broker is away" in caplog.text


def test_it_may_be_started_again_after_a_stop_and_a_second_start_is_ignored() -> None:
    calls: list[int] = []
    chore = Periodic("test-restart", 0.02, lambda: calls.append(1))
    chore.start()
    chore.start()
    assert wait_for(lambda: len(calls) >= 1)
    chore.stop()
    before = len(calls)
    chore.start()
    assert wait_for(lambda: len(calls) > before)
    chore.stop()


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        Periodic("test-none", 0, lambda: None)
