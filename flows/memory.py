"""Giving freed memory back to the operating system between the big steps of a window.

A batch leaves the C allocator's heap full of freed blocks (pandas and numpy buffers, parsed
pages); glibc keeps them for reuse instead of returning them, so the process's resident memory
stays at its high-water mark and the window's write, which needs memory of its own, stacks on
top of it. ``malloc_trim(0)`` returns what is free, as Dask's workers do for the same reason.
Elsewhere than glibc (macOS, musl) there is no such call and nothing happens.

The cyclic collector's full passes scan every tracked object: the interpreter's modules,
Prefect's, the clients', and every parsed record of the batch. CPython starts one on its own
whenever enough objects have survived the young passes, which a batch being parsed does all the
time: three or four full passes of 0.1–0.3 s each in the 10k benchmark, on the core the pipeline
has. :func:`collections_between_batches` leaves a window's full passes to
:func:`release_free_memory`, which runs one between batches anyway: the objects alive when the
window starts are frozen out of them (``gc.freeze``) and the automatic ones wait. The young
generations, where most cyclic garbage dies, are collected as ever.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


#: Full passes wait for this many young passes of the middle generation (CPython's own is 10).
_DEFERRED_FULL = 10_000
_lock = threading.Lock()
_holders = 0  # windows inside collections_between_batches (threads may run several at once)
_saved: tuple[int, int, int] | None = None


@contextmanager
def collections_between_batches() -> Iterator[None]:
    """While the block runs, full collections only where :func:`release_free_memory` asks (module
    docstring). Reentrant and thread-safe: the first window in sets it up, the last one out
    restores the collector as it was."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(_saved[0], _saved[1], _DEFERRED_FULL)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                gc.unfreeze()  # back into the oldest generation: collectable again
