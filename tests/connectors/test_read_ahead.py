"""connectors.read_ahead: order, errors, the bound on how far ahead, stopping, and the caller's context."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from connectors.read_ahead import merge_ahead, read_ahead

RUN = contextvars.ContextVar("RUN", default="none")


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


class Counting:
    """An iterator of 0..n-1 that records what it produced, where, and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.produced: list[int] = []
        self.threads: set[str] = set()
        self.contexts: set[str] = set()
        self.closed = False
        self._gen = self._run(n, fail_at)

    def _run(self, n: int, fail_at: int | None) -> Iterator[int]:
        try:
            for i in range(n):
                if i == fail_at:
                    raise LookupError(f"page {i} failed")
                self.produced.append(i)
                self.threads.add(threading.current_thread().name)
                self.contexts.add(RUN.get())
                yield i
        finally:
            self.closed = True

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()


def test_items_come_in_order_each_once_from_another_thread_in_the_callers_context() -> None:
    source = Counting(50)
    token = RUN.set("run-42")
    try:
        assert list(read_ahead(source, 3, name="reader")) == list(range(50))
    finally:
        RUN.reset(token)
    assert source.threads == {"reader"} and source.contexts == {"run-42"}
    _wait_for(lambda: source.closed)
    assert source.closed


def test_nothing_is_read_before_the_first_item_is_wanted_and_never_more_than_depth_ahead() -> None:
    source = Counting(100)
    items = read_ahead(source, 4)
    time.sleep(0.05)
    assert source.produced == []
    assert next(items) == 0
    # One in hand, four waiting, one more produced and waiting for room.
    _wait_for(lambda: len(source.produced) >= 6)
    time.sleep(0.1)
    assert len(source.produced) == 6


def test_an_error_is_raised_where_its_item_would_have_come() -> None:
    items = read_ahead(Counting(10, fail_at=3), 2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(LookupError, match="page 3 failed") as caught:
        next(items)
    assert caught.value.__traceback__ is not None


def test_closing_stops_the_thread_and_closes_the_iterator() -> None:
    source = Counting(1_000_000)
    items = read_ahead(source, 2, name="stopping")
    assert next(items) == 0
    items.close()
    _wait_for(lambda: not any(t.name == "stopping" for t in threading.enumerate()))
    assert source.closed and len(source.produced) <= 4
    assert not any(t.name == "stopping" for t in threading.enumerate())


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        read_ahead(iter([]), 0)


# -- several sources at once (the orders' id lanes) --------------------------------------------


class Offset(Counting):
    """``Counting`` of ``start .. start + n - 1``, each item taking a moment (as a page does)."""

    def __init__(self, start: int, n: int, fail_at: int | None = None) -> None:
        super().__init__(n, fail_at)
        self.start = start

    def __next__(self) -> int:
        time.sleep(0.002)
        return self.start + super().__next__()


def test_merged_sources_come_in_turn_while_all_read_at_once_each_in_its_thread() -> None:
    sources = [Offset(0, 30), Offset(100, 20), Offset(200, 25)]
    token = RUN.set("run-7")
    try:
        items = merge_ahead(sources, 30, name="lane")
        first = [next(items) for _ in range(30)]
        # While the first source was taken, the others read ahead too (each up to its depth).
        _wait_for(lambda: len(sources[1].produced) == 20 and len(sources[2].produced) >= 25)
        rest = list(items)
    finally:
        RUN.reset(token)
    assert first + rest == [*range(30), *range(100, 120), *range(200, 225)]
    assert [s.threads for s in sources] == [{"lane 1"}, {"lane 2"}, {"lane 3"}]
    assert all(s.contexts == {"run-7"} for s in sources)
    _wait_for(lambda: all(s.closed for s in sources))


def test_each_merged_source_reads_at_most_depth_ahead() -> None:
    sources = [Counting(100), Counting(100), Counting(100)]
    items = merge_ahead(sources, 2)
    next(items)
    time.sleep(0.2)  # room for items too many, were the bound broken
    # The first: one in hand, two waiting, one more held; the others: two waiting, one held.
    assert [len(s.produced) for s in sources] == [4, 3, 3]
    items.close()


def test_an_error_of_a_later_source_is_raised_in_its_turn_and_stops_them_all() -> None:
    sources = [Offset(0, 5), Offset(100, 10, fail_at=4), Offset(200, 10_000)]
    items = merge_ahead(sources, 2, name="failing")
    taken = []
    with pytest.raises(LookupError, match="page 4 failed"):
        for item in items:
            taken.append(item)
    assert taken == [*range(5), *range(100, 104)]
    _wait_for(lambda: not any(t.name.startswith("failing") for t in threading.enumerate()))
    assert all(s.closed for s in sources) and len(sources[2].produced) < 10_000


def test_no_sources_give_nothing() -> None:
    assert list(merge_ahead([], 3)) == []
