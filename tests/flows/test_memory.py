"""Freed memory goes back to the system between a window's steps (glibc's malloc_trim), and a
window's full garbage collections come between its batches."""

from __future__ import annotations

import ctypes.util
import gc
import platform
import weakref

import pytest

from benchmarks.pipeline import rss_mb
from flows.memory import collections_between_batches, release_free_memory


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


class _Node:
    """A container that can sit in a reference cycle (and be watched through a weak reference)."""

    def __init__(self) -> None:
        self.other: object = None


def _cycle() -> weakref.ref:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_a_window_leaves_full_collections_to_the_batch_boundaries_and_restores_the_collector() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    old = _cycle()  # alive when the window starts: frozen with the rest
    with collections_between_batches():
        assert gc.get_freeze_count() > frozen
        assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > before[2]
        young = _cycle()
        release_free_memory()
        assert young() is None  # garbage made in the window goes at the batch boundary
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
    gc.collect()
    assert old() is None  # what was frozen is collectable again


def test_overlapping_windows_restore_the_collector_only_when_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first, second = collections_between_batches(), collections_between_batches()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() != before  # the second window still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
