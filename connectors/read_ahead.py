"""Read an iterator ahead in a thread, so that waiting for the next page overlaps the work on this one.

An extraction alternates between waiting for a page (the request's latency, the server's work)
and working on the page it has (parsing; the caller's own work). :func:`read_ahead` runs the
waiting part in a thread, at most ``depth`` items ahead of the consumer: memory stays bounded,
and the thread stops (after the request in flight) as soon as the consumer stops iterating.

The items come out in order, each once; an exception raised by the iterator is raised by the
consumer at the point where the item would have come, with its traceback. The thread runs in
a copy of the caller's context (``contextvars``), so logs still belong to the caller's run.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

#: How often a blocked producer checks whether the consumer has gone (seconds).
_POLL = 0.05
_ITEM, _DONE, _ERROR = "item", "done", "error"


def read_ahead(items: Iterator[T], depth: int, *, name: str = "read-ahead") -> Iterator[T]:
    """The items of ``items``, produced by a thread running up to ``depth`` items ahead.

    Nothing is read until the first item is asked for. Closing the returned generator (or
    letting it go) stops the thread after the item it is producing; that iterator is then
    closed in the thread that ran it.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    return _consume(items, depth, name)


def _consume(items: Iterator[T], depth: int, name: str) -> Iterator[T]:
    handoff: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        """Hand one item over; False when the consumer has gone."""
        while not stop.is_set():
            try:
                handoff.put((kind, value), timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(_ITEM, item):
                    break
            else:
                put(_DONE, None)
        except BaseException as error:
            put(_ERROR, error)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=contextvars.copy_context().run, args=(produce,), name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == _DONE:
                return
            if kind == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
