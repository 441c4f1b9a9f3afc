"""Watermarks: how far the live incremental sync of each entity has been confirmed.

Contract: call :meth:`WatermarksMixin.advance_watermark` only after every load the new position
covers has been confirmed by Salesforce (and failures recorded as dead letters); the next run
extracts from the watermark on, so advancing early would skip records for good. A watermark only
moves forward: a position at or behind the stored one is ignored (logged when strictly behind),
because a retried or overlapping run re-confirming older data must never rewind the sync.
Positions order by timestamp, then by id (several records share a ``date_modified`` second).

Backfills never read or write watermarks; they track progress in backfill chunks, so a backfill
of old data can run while the live sync keeps its place.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select

from state.base import StoreBase
from state.models import watermarks
from state.records import Watermark
from state.timeutil import as_utc, iso

log = logging.getLogger(__name__)

LIVE = "live"


class WatermarksMixin(StoreBase):
    """Per-entity watermarks of the live sync."""

    def get_watermark(self, entity: str, *, scope: str = LIVE) -> Watermark | None:
        """The stored watermark of ``entity`` (None before the first confirmed run)."""
        with self._read() as connection:
            row = connection.execute(
                select(watermarks).where(watermarks.c.scope == scope, watermarks.c.entity == entity)
            ).one_or_none()
        return None if row is None else _watermark(row)

    def get_watermarks(self, *, scope: str = LIVE) -> dict[str, Watermark]:
        """Every stored watermark of ``scope`` by entity (e.g. for a run's ``watermark_before``)."""
        with self._read() as connection:
            rows = connection.execute(select(watermarks).where(watermarks.c.scope == scope)).all()
        return {row.entity: _watermark(row) for row in rows}

    def advance_watermark(
        self, entity: str, ts: datetime, last_id: int, run_id: str | None, *, scope: str = LIVE
    ) -> Watermark:
        """Move ``entity``'s watermark forward to ``(ts, last_id)`` and return the stored one.

        Only after the loads up to this position are confirmed (see the module docstring). A
        position at or behind the stored one changes nothing; compare the returned watermark
        with what you passed to tell. The check and the write are one conditional upsert, so
        concurrent callers cannot move it backwards either.
        """
        ts = as_utc(ts, "ts")
        if isinstance(last_id, bool) or not isinstance(last_id, int):
            raise TypeError(f"last_id must be an int, not {type(last_id).__name__}")
        insert = self._insert(watermarks).values(
            scope=scope, entity=entity, ts=ts, last_id=last_id, run_id=run_id, updated_at=self.now()
        )
        new = insert.excluded
        upsert = insert.on_conflict_do_update(
            index_elements=[watermarks.c.scope, watermarks.c.entity],
            set_={"ts": new.ts, "last_id": new.last_id, "run_id": new.run_id, "updated_at": new.updated_at},
            where=or_(
                watermarks.c.ts < new.ts,
                and_(watermarks.c.ts == new.ts, watermarks.c.last_id < new.last_id),
            ),
        )
        with self._write() as connection:
            moved = connection.execute(upsert).rowcount == 1
            row = connection.execute(
                select(watermarks).where(watermarks.c.scope == scope, watermarks.c.entity == entity)
            ).one()
        stored = _watermark(row)
        if not moved and (ts, last_id) < stored.position():
            log.warning(
                "watermark %s/%s not moved back to %s id %s: it is at %s id %s",
                scope,
                entity,
                iso(ts),
                last_id,
                iso(stored.ts),
                stored.last_id,
            )
        return stored


def _watermark(row: Row[Any]) -> Watermark:
    return Watermark(row.entity, row.ts, row.last_id, row.run_id, row.updated_at)
