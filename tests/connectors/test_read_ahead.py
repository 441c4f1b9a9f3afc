"""connectors.read_ahead: order, errors, the bound on how far ahead, stopping, and the caller's context."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from connectors.read_ahead import read_ahead

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
