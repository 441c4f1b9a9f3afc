"""Read an iterator ahead in a thread, so that waiting for the next page overlaps the work on this one.

An extraction alternates between waiting for a page (the request's latency, the server's work)
and working on the page it has (parsing; the caller's own work). :func:`read_ahead` runs the
waiting part in a thread, at most ``depth`` items ahead of the consumer: memory stays bounded,
and the thread stops (after the request in flight) as soon as the consumer stops iterating.
:func:`merge_ahead` does the same for several iterators at once (one thread each), their items
coming out in turn, as one iterator's would: the pages of several id ranges read at the same time.

The items come out in order, each once; an exception raised by the iterator is raised by the
consumer at the point where the item would have come, with its traceback. The thread runs in
a copy of the caller's context (``contextvars``), so logs still belong to the caller's run.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator, Sequence
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
    return merge_ahead([items], depth, name=name)


def merge_ahead(sources: Sequence[Iterator[T]], depth: int, *, name: str = "read-ahead") -> Iterator[T]:
    """The items of every iterator of ``sources`` in turn (all of the first, then of the second, and
    so on, as one iterator would give them), each read by its own thread up to ``depth`` items
    ahead meanwhile: a later source's items wait, read, for their turn.

    As :func:`read_ahead` (of which this is the general case). The first error of a source is
    raised where its item would have come, and every thread then stops.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    return _consume(list(sources), depth, name)


def _consume(sources: list[Iterator[T]], depth: int, name: str) -> Iterator[T]:
    queues: list[queue.Queue[tuple[str, object]]] = [queue.Queue(maxsize=depth) for _ in sources]
    stop = threading.Event()

    def put(handoff: queue.Queue[tuple[str, object]], kind: str, value: object) -> bool:
        """Hand one item over; False when the consumer has gone."""
        while not stop.is_set():
            try:
                handoff.put((kind, value), timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce(items: Iterator[T], handoff: queue.Queue[tuple[str, object]]) -> None:
        try:
            for item in items:
                if not put(handoff, _ITEM, item):
                    break
            else:
                put(handoff, _DONE, None)
        except BaseException as error:
            put(handoff, _ERROR, error)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    for i, (items, handoff) in enumerate(zip(sources, queues, strict=True)):
        thread_name = name if len(sources) == 1 else f"{name} {i + 1}"
        # Each thread runs in a copy of the caller's context (a context cannot be entered twice at once).
        run = contextvars.copy_context().run
        threading.Thread(target=run, args=(produce, items, handoff), name=thread_name, daemon=True).start()
    try:
        for handoff in queues:
            while True:
                kind, value = handoff.get()
                if kind == _DONE:
                    break
                if kind == _ERROR:
                    assert isinstance(value, BaseException)
                    raise value
                yield value  # type: ignore[misc]
    finally:
        stop.set()
