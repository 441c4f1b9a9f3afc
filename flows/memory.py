"""Giving freed memory back to the operating system between the big steps of a window.

A batch leaves the C allocator's heap full of freed blocks (pandas and numpy buffers, parsed
pages); glibc keeps them for reuse instead of returning them, so the process's resident memory
stays at its high-water mark and the window's write, which needs memory of its own, stacks on
top of it. ``malloc_trim(0)`` returns what is free, as Dask's workers do for the same reason.
Elsewhere than glibc (macOS, musl) there is no such call and nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache


@cache
def _malloc_trim() -> object | None:
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_free_memory() -> bool:
    """Collect garbage, then return the allocator's free memory to the system; whether it could."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)  # type: ignore[operator]
    return True
