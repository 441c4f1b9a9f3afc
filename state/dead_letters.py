"""Dead letters: records that failed at extract, transform or load, kept until they go through.

One row per (stage, entity, external id). Reporting the same failure again counts another attempt
and refreshes reason, message, payload and ``last_seen``; reporting a resolved one reopens it
(``attempts`` and ``first_seen`` keep their history). A later run that gets the record through
resolves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Row, func, select, update

from state.base import StoreBase
from state.jsonutil import dumps
from state.models import dead_letters
from state.records import STAGES, DeadLetter, FailedRecord, Stage
from state.util import IN_CHUNK, WRITE_BATCH, chunked


class DeadLettersMixin(StoreBase):
    """Recording, listing and resolving dead letters."""

    def dead_letter(self, rows: Iterable[FailedRecord | Mapping[str, Any]], run_id: str | None) -> int:
        """Record failures (upsert: attempts + 1, reopened if resolved); returns the letters written.

        Rows are :class:`FailedRecord` or mappings of its fields. A key repeated within one call
        counts once, with its last report.
        """
        now = self.now()
        latest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows:
            record = row if isinstance(row, FailedRecord) else FailedRecord(**row)
            latest[(_check_stage(record.stage), record.entity, record.external_id)] = {
                "stage": record.stage,
                "entity": record.entity,
                "external_id": record.external_id,
                "reason": record.reason,
                "message": record.message,
                "payload": _payload_text(record.payload),
                "attempts": 1,
                "first_seen": now,
                "last_seen": now,
                "resolved_at": None,
                "run_id": run_id,
                "resolved_run_id": None,
            }
        if not latest:
            return 0
        insert = self._insert(dead_letters)
        new = insert.excluded
        upsert = insert.on_conflict_do_update(
            index_elements=[dead_letters.c.stage, dead_letters.c.entity, dead_letters.c.external_id],
            set_={
                "attempts": dead_letters.c.attempts + 1,
                "reason": new.reason,
                "message": new.message,
                "payload": new.payload,
                "last_seen": new.last_seen,
                "run_id": new.run_id,
                "resolved_at": None,
                "resolved_run_id": None,
            },
        )
        params = list(latest.values())
        with self._write() as connection:
            for batch in chunked(params, WRITE_BATCH):
                connection.execute(upsert, list(batch))
        return len(params)

    def open_dead_letters(self, entity: str | None = None, *, stage: Stage | None = None) -> list[DeadLetter]:
        """Unresolved dead letters (of ``entity`` / ``stage`` when given), oldest first."""
        query = select(dead_letters).where(dead_letters.c.resolved_at.is_(None))
        if entity is not None:
            query = query.where(dead_letters.c.entity == entity)
        if stage is not None:
            query = query.where(dead_letters.c.stage == _check_stage(stage))
        query = query.order_by(dead_letters.c.first_seen, dead_letters.c.entity, dead_letters.c.external_id)
        with self._read() as connection:
            return [_dead_letter(row) for row in connection.execute(query)]

    def resolve_dead_letters(
        self, entity: str, keys: Iterable[str], run_id: str | None, *, stage: Stage | None = None
    ) -> int:
        """Resolve the open letters of ``entity`` for ``keys`` (all stages unless ``stage``); returns how many."""
        unique = list(dict.fromkeys(keys))
        now = self.now()
        resolved = 0
        with self._write() as connection:
            for chunk in chunked(unique, IN_CHUNK):
                statement = (
                    update(dead_letters)
                    .where(
                        dead_letters.c.entity == entity,
                        dead_letters.c.external_id.in_(chunk),
                        dead_letters.c.resolved_at.is_(None),
                    )
                    .values(resolved_at=now, resolved_run_id=run_id)
                )
                if stage is not None:
                    statement = statement.where(dead_letters.c.stage == _check_stage(stage))
                resolved += connection.execute(statement).rowcount
        return resolved

    def dead_letter_counts(self, entity: str | None = None, *, open_only: bool = True) -> dict[str, int]:
        """How many (open, unless ``open_only`` is False) dead letters there are per reason code."""
        query = select(dead_letters.c.reason, func.count()).group_by(dead_letters.c.reason)
        if open_only:
            query = query.where(dead_letters.c.resolved_at.is_(None))
        if entity is not None:
            query = query.where(dead_letters.c.entity == entity)
        with self._read() as connection:
            return {reason: count for reason, count in connection.execute(query)}


def _payload_text(payload: Any) -> str | None:
    """Text is stored as given (e.g. a raw API body); anything else as canonical JSON."""
    return payload if payload is None or isinstance(payload, str) else dumps(payload)


def _check_stage(stage: str) -> Stage:
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    return stage  # type: ignore[return-value]


def _dead_letter(row: Row[Any]) -> DeadLetter:
    return DeadLetter(
        stage=row.stage,
        entity=row.entity,
        external_id=row.external_id,
        reason=row.reason,
        message=row.message,
        payload=row.payload,
        attempts=row.attempts,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
        run_id=row.run_id,
        resolved_run_id=row.resolved_run_id,
    )
