"""The machine a benchmark ran on, which every script prints with its figures and writes into its
results: figures of different CPUs (an AMD EPYC, an Intel Xeon of the same kind) are not comparable."""

from __future__ import annotations

import contextlib
import os
import subprocess


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo, else lscpu's "Model name" (other kernels, ARM)."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listing = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in listing.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def machine() -> dict[str, object]:
    """The cores and CPU model, for a script's results."""
    return {"nproc": os.cpu_count(), "cpu": cpu_model()}


def describe() -> str:
    """One line for a script's printed figures: "2 cores (AMD EPYC)"."""
    return f"{os.cpu_count()} cores ({cpu_model()})"
