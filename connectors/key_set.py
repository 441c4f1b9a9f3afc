"""Sets of record keys that outlive a batch, as 64-bit hashes in one sorted array.

A window's batches hand keys on to the batches after them and to its write: the Accounts the
run plans to create, the records it adopts, every key spooled. As Python sets of the batches'
own strings, each key kept alive a string made among the batch's short-lived objects, and each
such string held the freed memory around it (CPython gives its small objects' memory back an
arena at a time, once every object in it is gone: :mod:`flows.window_keep`). An array holds no
Python object per key, is freed or grown as one block, and takes 8 bytes a key instead of
about 110.

A hash can collide: two keys with one hash make a key that is not in the set look as if it
were. With 64-bit hashes, a run of 100,000 keys asked about 100,000 others has a chance of
about 1 in 2 billion of one such answer; what each caller risks by it is in its docstring.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

_NONE = np.empty(0, dtype=np.uint64)


def key_hashes(keys: Iterable[str] | pd.Series) -> np.ndarray:
    """pandas' 64-bit hash of each key (stable across processes, vectorised)."""
    values = keys.to_numpy(dtype=object) if isinstance(keys, pd.Series) else np.array(list(keys), dtype=object)
    return pd.util.hash_array(values) if len(values) else _NONE


class KeySet:
    """A set of string keys, kept as their hashes (module docstring): add, ask, count, clear."""

    def __init__(self, keys: Iterable[str] | pd.Series = ()) -> None:
        self._hashes = np.unique(key_hashes(keys))

    def add(self, keys: Iterable[str] | pd.Series) -> None:
        """Add ``keys``."""
        hashes = key_hashes(keys)
        if len(hashes):
            self._hashes = np.union1d(self._hashes, hashes)

    def contains(self, keys: Iterable[str] | pd.Series) -> np.ndarray:
        """Whether each of ``keys`` is in the set (one bool each, in order)."""
        return np.isin(key_hashes(keys), self._hashes)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.contains([key])[0])

    def __len__(self) -> int:
        return len(self._hashes)

    def clear(self) -> None:
        """Forget every key."""
        self._hashes = _NONE
