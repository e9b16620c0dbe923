"""The fuzz suite's summary: per backend, the inputs tried, the 5xx answers seen and the slowest request.

A pytest plugin (registered by tests/conftest.py, so that the controller of `pytest -n 2` loads it too):
each fuzz test leaves its tally in its report's `user_properties`, which pytest-xdist sends from the
worker to the controller; the controller adds them up and prints one line per backend at the end of
the run, in `pytest -q` output as well.
"""

from __future__ import annotations

from typing import Any

import pytest

#: The name of the user property a fuzz test's tally travels under.
KEY = "fuzz-tally"

_totals: dict[str, dict[str, Any]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name != KEY:
            continue
        backend, inputs, server_errors, slowest, slowest_request, probe_slowest = value
        total = _totals.setdefault(
            backend, {"inputs": 0, "5xx": 0, "slowest": 0.0, "request": "", "probe": 0.0}
        )
        total["inputs"] += inputs
        total["5xx"] += server_errors
        total["probe"] = max(total["probe"], probe_slowest)
        if slowest > total["slowest"]:
            total["slowest"], total["request"] = slowest, slowest_request


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for backend, total in sorted(_totals.items()):
        terminalreporter.write_line(
            f"fuzz {backend}: {total['inputs']} inputs, {total['5xx']} answered 5xx, "
            f"slowest request {total['slowest']:.2f} s ({total['request'][:70]}), "
            f"slowest probe {total['probe']:.2f} s"
        )
