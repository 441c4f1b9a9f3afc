"""Small helpers shared by the store's modules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Keys per IN list: well under SQLite's historical 999-variable limit (newer builds allow 32766),
# and large enough that 100k keys take only 200 round trips.
IN_CHUNK = 900

# Parameter sets per executemany call: bounds the memory of one driver call, not the transaction.
WRITE_BATCH = 20_000


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for index in range(0, len(items), size):
        yield items[index : index + size]
