"""The Makefile's commands as the README gives them (`make -n` prints what they would run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _would_run(*arguments: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_demo_serves_on_port_8000_or_the_one_given() -> None:
    assert "urbantwin demo --port 8000\n" in _would_run("demo")
    assert "urbantwin demo --port 8080\n" in _would_run("demo", "PORT=8080")
