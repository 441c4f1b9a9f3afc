"""Payloads held on disk until the end of a window, so that each object is written once per window.

A window is transformed in batches (memory stays that of one batch), but each batch written on
its own would pay its own Bulk API 2.0 job per object, its own adoption updates and so on: a
100k-order backfill in ten batches sent 31 Bulk jobs where 5 do. :class:`PayloadSpool` keeps
each batch's planned rows per sObject (pickled frames appended to a temporary file: a few bytes
a row, none of them in memory) and gives them back together when the window is written.

:func:`merge_rows` makes one row of a key planned by several batches (a company buying in more
than one batch) the way writing the batches one after the other would have left the record:
create-only values from the batch that planned the record first (it would have created it);
each group of values with a source moment from the batch with the freshest moment for it
among those that send values for it (the later batch on a tie: a row with none leaves the
group as it is, as its write would have); any other value from the last batch that has one.
"""

from __future__ import annotations

import math
import pickle
import tempfile
from collections.abc import Iterator
from typing import IO

import numpy as np
import pandas as pd

from connectors.key_set import key_hashes
from transforms.mapping import ObjectMap

#: The column of a spooled row saying whether the record existed when the row was planned.
EXISTS = "_exists"
#: The column numbering the batches, in the order they were spooled.
BATCH = "_batch"
#: The column of a spooled row's ledger hash, as its batch computed it (None once rows are merged).
HASH = "_hash"


_NONE = np.empty(0, dtype=np.uint64)


class PayloadSpool:
    """Per sObject, the frames :meth:`add` was given, in order, on temporary files."""

    def __init__(self) -> None:
        self._files: dict[str, IO[bytes]] = {}
        self._batches = 0
        self._rows: dict[str, int] = {}
        # Per sObject, the keys kept and those kept more than once, as 64-bit hashes (sorted,
        # unique): a backfill's window holds every order's key, and a set of them as strings
        # took about 110 bytes a key (11 MB at 100k orders) where these take 8. A collision can
        # only name a key repeated that is not, and merge_rows leaves such a key's row as it is.
        self._keys: dict[str, np.ndarray] = {}
        self._repeated: dict[str, np.ndarray] = {}

    def add(self, sobject: str, frame: pd.DataFrame, key: str) -> None:
        """Keep ``frame`` (its rows, columns and dtypes; ``key`` its key column) for :meth:`frames`."""
        if frame.empty:
            return
        file = self._files.get(sobject)
        if file is None:
            file = self._files[sobject] = tempfile.TemporaryFile(prefix=f"ats-spool-{sobject}-")  # noqa: SIM115
        self._batches += 1
        frame = frame.assign(**{BATCH: self._batches})
        pickle.dump(frame, file, protocol=pickle.HIGHEST_PROTOCOL)
        self._rows[sobject] = self._rows.get(sobject, 0) + len(frame)
        hashes = np.unique(key_hashes(frame[key]))
        kept = self._keys.get(sobject, _NONE)
        again = hashes[np.isin(hashes, kept, assume_unique=True)]
        self._repeated[sobject] = np.union1d(self._repeated.get(sobject, _NONE), again)
        self._keys[sobject] = np.union1d(kept, hashes)

    def rows(self, sobject: str) -> int:
        """Rows kept for ``sobject``."""
        return self._rows.get(sobject, 0)

    def frames(self, sobject: str) -> Iterator[pd.DataFrame]:
        """The frames kept for ``sobject``, in the order they were added."""
        file = self._files.get(sobject)
        if file is None:
            return
        file.seek(0)
        while True:
            try:
                yield pickle.load(file)  # noqa: S301 (our own temporary file)
            except EOFError:
                return

    def slices(self, objmap: ObjectMap, most: int) -> Iterator[pd.DataFrame]:
        """The rows kept for ``objmap``'s sObject, one per key (:func:`merge_rows`), in frames of
        at most ``most`` rows as even as can be; then they are forgotten.

        Memory holds one slice (and the rows of keys kept more than once, until merged), not
        every row: a slice is written as one job.
        """
        sobject = objmap.sobject
        total = len(self._keys.get(sobject, ()))
        if not total:
            self.discard(sobject)
            return
        size = math.ceil(total / math.ceil(total / most))
        repeated = self._repeated.get(sobject, _NONE)
        again: list[pd.DataFrame] = []  # rows of repeated keys, merged at the end
        pending: list[pd.DataFrame] = []
        rows, held = pd.DataFrame(), 0
        for frame in self.frames(sobject):
            twice = (
                pd.Series(np.isin(key_hashes(frame[objmap.external_id]), repeated), index=frame.index)
                if len(repeated)
                else None
            )
            if twice is not None and twice.any():
                again.append(frame[twice])
                frame = frame[~twice]
            pending.append(frame)
            held += len(frame)
            del frame  # pending holds it
            while held >= size:
                rows = pd.concat(pending, ignore_index=True)
                # The pieces go before the slice is written: one copy of its rows lives, not two.
                pending, held = [rows.iloc[size:]], len(rows) - size
                yield rows.iloc[:size]
        if again:
            pending.append(merge_rows(pd.concat(again, ignore_index=True), objmap))
        rest = pd.concat(pending, ignore_index=True) if pending else pd.DataFrame()
        del pending, again, rows  # in rest now
        self.discard(sobject)
        for start in range(0, len(rest), size):
            yield rest.iloc[start : start + size]

    def discard(self, sobject: str) -> None:
        """Forget the rows of ``sobject`` (its file is deleted)."""
        file = self._files.pop(sobject, None)
        if file is not None:
            file.close()
        self._rows.pop(sobject, None)
        self._keys.pop(sobject, None)
        self._repeated.pop(sobject, None)

    def close(self) -> None:
        """Delete every file."""
        for sobject in list(self._files):
            self.discard(sobject)


def merge_rows(frame: pd.DataFrame, objmap: ObjectMap) -> pd.DataFrame:
    """One row per key of spooled rows (module docstring), given in :data:`BATCH` order.

    The moment columns (:attr:`ObjectMap.moment_columns`) of a merged row hold the moment of the
    values it took for each group.
    """
    key = objmap.external_id
    repeated = frame[key].duplicated(keep=False)
    if not repeated.any():
        return frame
    rows = frame[repeated]
    groups = rows.groupby(key, sort=False)
    create_only = [c for c in objmap.payload_columns(creating=True) if c not in objmap.payload_columns(creating=False)]
    pieces = [groups[[c for c in [*create_only, EXISTS] if c in rows.columns]].first()]
    taken = {key, *pieces[0].columns}
    for group in objmap.moment_columns:
        if group not in rows.columns:
            continue
        columns = [f.target for f in objmap.fields if f.moment == group and f.target in rows.columns]
        # A row with no value in the group sends nothing for it (the record keeps what it has):
        # it never wins over one that has values; among those, the freshest moment, then the latest batch.
        ranked = rows.assign(_given=rows[columns].notna().any(axis=1))
        ranked = ranked.sort_values(["_given", group, BATCH], na_position="first", kind="stable")
        pieces.append(ranked.groupby(key).tail(1).set_index(key)[[*columns, group]])
        taken.update([*columns, group])
    pieces.append(groups[[c for c in rows.columns if c not in taken]].last())
    merged = pd.concat(pieces, axis=1).rename_axis(key).reset_index()[list(frame.columns)]
    if HASH in merged.columns:  # a row made of several batches' values: its hash is computed anew
        merged[HASH] = None
    return pd.concat([frame[~repeated], merged], ignore_index=True)
