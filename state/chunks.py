"""Backfill chunks: a backfill's time range cut into slices whose progress survives restarts.

:meth:`ChunksMixin.plan_chunks` is idempotent: planning the same backfill id again returns the
chunks already stored, statuses included, so a rerun resumes where the last one stopped. Planning
an existing id with a different range or chunk size is refused (it would silently mix two plans).
Chunks are half-open ``[start, end)``; the last one ends at the range end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, select, update

from state.base import StoreBase
from state.jsonutil import dumps, loads
from state.models import backfill_chunks, backfills
from state.records import CHUNK_STATUSES, Chunk, ChunkStatus
from state.timeutil import as_utc, iso

MAX_CHUNKS = 100_000  # a plan this large is a mistaken chunk size, not a backfill


class BackfillMismatch(ValueError):
    """A backfill id was planned again with a different range or chunk size."""


class ChunksMixin(StoreBase):
    """Planning and tracking resumable backfills."""

    def plan_chunks(self, backfill_id: str, start: datetime, end: datetime, chunk: timedelta) -> list[Chunk]:
        """The chunks of backfill ``backfill_id`` over ``[start, end)``, created on first call.

        Later calls with the same arguments return the stored chunks with their statuses; other
        arguments raise :class:`BackfillMismatch`.
        """
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if end <= start:
            raise ValueError(f"backfill range is empty: {iso(start)} .. {iso(end)}")
        if chunk <= timedelta(0):
            raise ValueError(f"chunk size must be positive, not {chunk}")
        if (end - start) / chunk > MAX_CHUNKS:
            raise ValueError(f"{iso(start)} .. {iso(end)} in chunks of {chunk} exceeds {MAX_CHUNKS} chunks")
        micros = chunk // timedelta(microseconds=1)
        now = self.now()
        plan = self._insert(backfills).values(
            backfill_id=backfill_id, range_start=start, range_end=end, chunk_microseconds=micros, created_at=now
        )
        with self._write() as connection:
            # DO NOTHING + re-read: a concurrent planner of the same id waits, then sees this plan.
            created = connection.execute(plan.on_conflict_do_nothing(index_elements=[backfills.c.backfill_id]))
            stored = connection.execute(select(backfills).where(backfills.c.backfill_id == backfill_id)).one()
            if (stored.range_start, stored.range_end, stored.chunk_microseconds) != (start, end, micros):
                raise BackfillMismatch(
                    f"backfill {backfill_id!r} was planned as {iso(stored.range_start)} .. {iso(stored.range_end)} "
                    f"in chunks of {timedelta(microseconds=stored.chunk_microseconds)}, not {iso(start)} .. "
                    f"{iso(end)} in chunks of {chunk}; use a new backfill id"
                )
            if created.rowcount == 1:
                connection.execute(backfill_chunks.insert(), _chunk_rows(backfill_id, start, end, chunk, now))
            return _chunks(connection.execute(_chunk_query(backfill_id)))

    def mark_chunk(
        self,
        backfill_id: str,
        chunk_start: datetime,
        status: ChunkStatus,
        counts: Mapping[str, Any] | None = None,
        *,
        error: str | None = None,
    ) -> Chunk:
        """Set a chunk's status (and counts when given; ``error`` is kept only with ``failed``).

        Marking ``running`` counts an attempt. Raises LookupError for an unknown chunk.
        """
        if status not in CHUNK_STATUSES:
            raise ValueError(f"chunk status must be one of {', '.join(CHUNK_STATUSES)}, not {status!r}")
        chunk_start = as_utc(chunk_start, "chunk_start")
        values: dict[str, Any] = {
            "status": status,
            "updated_at": self.now(),
            "error": error if status == "failed" else None,
        }
        if counts is not None:
            values["counts"] = dumps(dict(counts))
        if status == "running":
            values["attempts"] = backfill_chunks.c.attempts + 1
        key = (backfill_chunks.c.backfill_id == backfill_id, backfill_chunks.c.chunk_start == chunk_start)
        with self._write() as connection:
            if connection.execute(update(backfill_chunks).where(*key).values(**values)).rowcount != 1:
                raise LookupError(f"backfill {backfill_id!r} has no chunk starting at {iso(chunk_start)}")
            return _chunk(connection.execute(select(backfill_chunks).where(*key)).one())

    def chunks(self, backfill_id: str) -> list[Chunk]:
        """Every chunk of ``backfill_id`` in time order (empty if it was never planned)."""
        with self._read() as connection:
            return _chunks(connection.execute(_chunk_query(backfill_id)))

    def pending_chunks(self, backfill_id: str) -> list[Chunk]:
        """The chunks still to do, in time order: every status but ``done``.

        ``running`` ones are included: under the sync lease only one run works a backfill, so a
        chunk still marked running when a run starts was left by a run that died.
        """
        query = _chunk_query(backfill_id).where(backfill_chunks.c.status != "done")
        with self._read() as connection:
            return _chunks(connection.execute(query))


def _chunk_rows(
    backfill_id: str, start: datetime, end: datetime, size: timedelta, now: datetime
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = start
    while cursor < end:
        stop = min(cursor + size, end)
        rows.append(
            {
                "backfill_id": backfill_id,
                "chunk_start": cursor,
                "chunk_end": stop,
                "status": "pending",
                "counts": None,
                "attempts": 0,
                "error": None,
                "updated_at": now,
            }
        )
        cursor = stop
    return rows


def _chunk_query(backfill_id: str) -> Select[Any]:
    return (
        select(backfill_chunks)
        .where(backfill_chunks.c.backfill_id == backfill_id)
        .order_by(backfill_chunks.c.chunk_start)
    )


def _chunks(rows: Iterable[Row[Any]]) -> list[Chunk]:
    return [_chunk(row) for row in rows]


def _chunk(row: Row[Any]) -> Chunk:
    return Chunk(
        backfill_id=row.backfill_id,
        start=row.chunk_start,
        end=row.chunk_end,
        status=row.status,
        counts=loads(row.counts) or {},
        attempts=row.attempts,
        error=row.error,
        updated_at=row.updated_at,
    )
