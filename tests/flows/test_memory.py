"""Freed memory goes back to the system between a window's steps (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from benchmarks.pipeline import rss_mb
from flows.memory import release_free_memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_memory_freed_below_a_live_block_is_returned() -> None:
    assert ctypes.util.find_library("c")
    blocks = [bytearray(4096) for _ in range(50_000)]  # ~200 MB from malloc, not from pymalloc
    pin = bytearray(4096)  # allocated last: the heap's top stays in use, so glibc cannot shrink it alone
    del blocks
    before = rss_mb()
    assert release_free_memory()
    assert before - rss_mb() > 100, "the freed blocks stayed resident"
    del pin
