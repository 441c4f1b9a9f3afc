"""What a window keeps from one batch to the next, kept out of the way of the allocator.

A batch's records, frames and results are freed when it ends (:func:`flows.steps.sync_window`
returns their memory before the next batch is read). What the window carries across batches
must not be made of small Python objects created among them: CPython gives the memory of its
small objects back an arena (1 MiB) at a time, once every object in it is gone, so each survivor
holds the freed memory around it. In the 100k benchmark the free space held so grew from 26 to
47 MB over the batches while the live objects grew by 2 MB (``sys._debugmallocstats`` between
batches; ``benchmarks/README.md``). So the window's customers wait on
disk with four numbers each in arrays, its adoptions wait pickled, and the keys it hands on are
hashes in arrays (:mod:`connectors.key_set`).
"""

from __future__ import annotations

import io
import pickle
import tempfile
import threading
from array import array
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


class WindowCustomers:
    """The window's customer records, kept until each has gone out with a batch.

    Kept on disk, pickled, in a temporary file: a backfill's window can hold every customer of
    the store (30,000 at 100k orders, some 2 KB each as pickles) for the whole run, while a batch
    needs only its own. Memory holds four numbers per copy, in arrays (its key, its place in the
    file, its length, whether a batch has taken its key), and no Python object per customer: the
    dict of keys to places these arrays replaced kept the id of every customer page's records
    alive and made a new int per customer taken in each batch, each holding the memory of the
    page or batch it was made among (module docstring; without them the 100k benchmark's peak
    was 9 MB lower). The customers' reading thread adds; the run's thread takes (a lock keeps
    the file's position and the arrays theirs in turn).
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="ats-window-customers-")  # noqa: SIM115 (closed by close())
        self._keys = array("q")  # the record's id, or a negative number of ours when it has none
        self._offsets = array("q")
        self._lengths = array("q")
        self._sent = bytearray()  # per copy: 1 once a batch has taken its key
        self._index: _KeyIndex | None = None  # built when first asked, after the adds before it
        self._unnamed = 0
        self._lock = threading.Lock()

    def add(self, records: Iterable[dict]) -> None:
        """Keep ``records`` (a later copy of an id replaces the earlier)."""
        pickled = [(record, pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)) for record in records]
        with self._lock:
            offset = self._file.seek(0, io.SEEK_END)
            for record, data in pickled:
                self._file.write(data)
                self._keys.append(self._window_key(record))
                self._offsets.append(offset)
                self._lengths.append(len(data))
                self._sent.append(0)
                offset += len(data)
            self._index = None

    def _window_key(self, record: dict) -> int:
        """The record's id; a record without a usable one (the transform rejects it by name) gets
        a negative number of its own, so that it is kept apart and goes out with the last batch."""
        key = record.get("id") if isinstance(record, dict) else None
        if _usable_id(key):
            return key
        self._unnamed += 1
        return -self._unnamed

    def __contains__(self, key: object) -> bool:
        return not self.missing([key])

    def missing(self, keys: Iterable[object]) -> list[object]:
        """Those of ``keys`` no record is kept for (in one look, not one per key)."""
        keys = list(keys)
        with self._lock:
            found = self._ensure_index().find(keys)[1].tolist()
        return [key for key, there in zip(keys, found, strict=True) if not there]

    def take(self, keys: Iterable[object]) -> tuple[list[dict], list[dict]]:
        """The kept records of ``keys``: (those going out for the first time, those sent before)."""
        first, again = [], []
        with self._lock:
            index = self._ensure_index()
            positions, found = index.find(list(keys))
            for position in positions[found].tolist():
                (again if index.sent[position] else first).append(self._read(int(index.latest[position])))
                self._mark_sent(index, [position])
        return first, again

    def unsent(self) -> int:
        """How many kept records no batch has taken yet."""
        with self._lock:
            return int(np.count_nonzero(~self._ensure_index().sent))

    def rest(self, most: int | None = None) -> list[dict]:
        """The kept records no batch has taken yet (customers without an order in the window),
        at most ``most`` of them (the first kept)."""
        with self._lock:
            index = self._ensure_index()
            positions = np.flatnonzero(~index.sent)[:most].tolist()
            records = [self._read(int(index.latest[position])) for position in positions]
            self._mark_sent(index, positions)
        return records

    def _mark_sent(self, index: _KeyIndex, positions: list[int]) -> None:
        """The keys at ``positions`` of ``index`` taken: in the index and in their latest copies."""
        index.sent[positions] = True
        for slot in index.latest[positions].tolist():
            self._sent[slot] = 1

    def _read(self, slot: int) -> dict:
        self._file.seek(self._offsets[slot])
        return pickle.loads(self._file.read(self._lengths[slot]))  # noqa: S301 (our own temporary file)

    def _ensure_index(self) -> _KeyIndex:
        if self._index is None:
            self._index = _KeyIndex.of(np.array(self._keys, dtype=np.int64), np.array(self._sent, dtype=bool))
        return self._index

    def close(self) -> None:
        """Delete the file."""
        self._file.close()


def _usable_id(key: object) -> bool:
    """Whether ``key`` is an id the arrays can hold as it is (a non-negative int of 64 bits)."""
    return type(key) is int and 0 <= key < 1 << 63


@dataclass
class _KeyIndex:
    """The distinct keys of :class:`WindowCustomers`, sorted: each one's latest copy and whether
    any of its copies has been taken."""

    keys: np.ndarray  # int64, sorted, unique
    latest: np.ndarray  # the slot of each key's latest copy
    sent: np.ndarray  # bool

    @classmethod
    def of(cls, keys: np.ndarray, sent: np.ndarray) -> _KeyIndex:
        """The index of ``keys`` (one per copy, in the order added) and their copies' ``sent``."""
        if not len(keys):
            return cls(keys, keys.astype(np.intp), sent)
        order = np.argsort(keys, kind="stable")  # a key's copies stay in the order they came
        ordered = keys[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], len(keys)]
        return cls(ordered[starts], order[ends - 1], np.logical_or.reduceat(sent[order], starts))

    def find(self, keys: list[object]) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``keys`` is, and whether it is there at all (a key that is not an id is not)."""
        wanted = np.array([k if _usable_id(k) else -1 for k in keys], dtype=np.int64)
        if not len(self.keys):
            return np.zeros(len(wanted), dtype=np.intp), np.zeros(len(wanted), dtype=bool)
        positions = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        found = (self.keys[positions] == wanted) & (wanted >= 0)
        return positions, found


class WindowAdoptions:
    """The records CSRs made that a window's batches adopt (``TransformResult.adoptions``), kept
    pickled, one block a batch, until the window's write stamps them; later batches read them as
    claimed (:meth:`claims`) so that no two keys adopt one record."""

    def __init__(self) -> None:
        self._batches: list[bytes] = []

    def add(self, adoptions: pd.DataFrame) -> None:
        """Keep a batch's adoptions (rows of ``sobject``, ``salesforce_id``, ``key`` and the rest)."""
        if not adoptions.empty:
            self._batches.append(pickle.dumps(adoptions, protocol=pickle.HIGHEST_PROTOCOL))

    def frames(self) -> list[pd.DataFrame]:
        """Each batch's adoptions, in the order they were added."""
        return [pickle.loads(data) for data in self._batches]  # noqa: S301 (our own pickles)

    def claims(self, sobject: str, ids: Collection[str]) -> dict[str, str]:
        """Salesforce Id → our key, of the adoptions kept of ``sobject`` among ``ids`` (a later
        batch's wins): :data:`connectors.lookups.Claims`. Only those asked for are made: all of
        them, for every batch, made a dict growing with the window (22,330 at 100k orders)."""
        wanted = set(ids)
        claimed: dict[str, str] = {}
        for frame in self.frames():
            mine = frame[(frame["sobject"] == sobject) & frame["salesforce_id"].isin(wanted)]
            claimed.update(zip(mine["salesforce_id"], mine["key"], strict=True))
        return claimed
