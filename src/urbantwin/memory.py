"""The server process's memory: how many malloc arenas the C library may keep.

glibc gives each thread that allocates while another does an arena of its own, up to eight per core,
and keeps what is freed into an arena for that arena's reuse. A server answers in a pool of 40
threads: after a burst of large answers (50 readers of 5,000-feature pages) each thread's arena held
on to its peak, and the process stayed at 730 MB when idle, against 430 MB with two arenas
(bench/README.md, "Memory under load"). Neither a cache nor a leak: the allocator keeping freed
memory. `malloc_arenas` caps the arenas of the process; the GIL lets one thread run Python at a
time, so a few arenas cost no speed.
"""

from __future__ import annotations

import ctypes
import os

#: glibc's `mallopt` parameter for the most arenas (malloc.h).
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap the C library's malloc arenas for this process; whether it was done.

    Call it before the request threads start (arenas made before stay). Nothing is done for 0, where
    the C library has no `mallopt` (macOS), or when `MALLOC_ARENA_MAX` is in the environment (the
    C library read it at start: the operator's choice stands).
    """
    if arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(M_ARENA_MAX, arenas) == 1
