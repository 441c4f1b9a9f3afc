"""Run history: one row per flow run with its parameters, counts, API calls and watermarks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, select, update

from state.base import StoreBase
from state.jsonutil import dumps, loads
from state.models import runs
from state.records import FINISHED_STATUSES, Run, RunStatus, Watermark
from state.timeutil import iso, parse_iso

WatermarkSnapshot = Mapping[str, Watermark | None]
"""Watermarks by entity as a run saw them (None: the entity had none yet)."""


class RunsMixin(StoreBase):
    """Starting, finishing and listing runs."""

    def start_run(self, flow: str, parameters: Mapping[str, Any] | None = None, *, run_id: str | None = None) -> str:
        """Record a run of ``flow`` as running and return its id (a new UUID unless ``run_id`` is given,
        e.g. Prefect's flow-run id)."""
        run_id = run_id or str(uuid.uuid4())
        with self._write() as connection:
            connection.execute(
                runs.insert().values(
                    run_id=run_id,
                    flow=flow,
                    status="running",
                    parameters=dumps(dict(parameters or {})),
                    started_at=self.now(),
                )
            )
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        counts: Mapping[str, Any] | None = None,
        api_calls: Mapping[str, Any] | None = None,
        watermark_before: WatermarkSnapshot | Watermark | None = None,
        watermark_after: WatermarkSnapshot | Watermark | None = None,
        error: str | BaseException | None = None,
    ) -> Run:
        """Record how run ``run_id`` ended and return it; finishing again overwrites (retries are safe).

        ``status`` is one of succeeded, partial (some records dead-lettered), failed or cancelled.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"status must be one of {', '.join(FINISHED_STATUSES)}, not {status!r}")
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        statement = (
            update(runs)
            .where(runs.c.run_id == run_id)
            .values(
                status=status,
                finished_at=self.now(),
                counts=dumps(dict(counts or {})),
                api_calls=dumps(dict(api_calls or {})),
                watermark_before=_snapshot_json(watermark_before),
                watermark_after=_snapshot_json(watermark_after),
                error=error,
            )
        )
        with self._write() as connection:
            if connection.execute(statement).rowcount != 1:
                raise LookupError(f"no run {run_id!r} was started")
            row = connection.execute(select(runs).where(runs.c.run_id == run_id)).one()
        return _run(row)

    def get_run(self, run_id: str) -> Run | None:
        """The run ``run_id`` (None if unknown)."""
        with self._read() as connection:
            row = connection.execute(select(runs).where(runs.c.run_id == run_id)).one_or_none()
        return None if row is None else _run(row)

    def recent_runs(self, n: int = 20, *, flow: str | None = None) -> list[Run]:
        """The ``n`` most recently started runs (of ``flow`` when given), newest first."""
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(n)
        if flow is not None:
            query = query.where(runs.c.flow == flow)
        with self._read() as connection:
            return [_run(row) for row in connection.execute(query)]


def _snapshot_json(snapshot: WatermarkSnapshot | Watermark | None) -> str | None:
    if snapshot is None:
        return None
    if isinstance(snapshot, Watermark):
        snapshot = {snapshot.entity: snapshot}
    return dumps(
        {
            entity: None if mark is None else {"ts": iso(mark.ts), "last_id": mark.last_id, "run_id": mark.run_id}
            for entity, mark in snapshot.items()
        }
    )


def _snapshot(text: str | None) -> dict[str, Watermark | None]:
    data = loads(text) or {}
    return {
        entity: None if mark is None else Watermark(entity, parse_iso(mark["ts"]), mark["last_id"], mark["run_id"])
        for entity, mark in data.items()
    }


def _run(row: Row[Any]) -> Run:
    return Run(
        run_id=row.run_id,
        flow=row.flow,
        status=row.status,
        parameters=loads(row.parameters),
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=loads(row.counts) or {},
        api_calls=loads(row.api_calls) or {},
        watermark_before=_snapshot(row.watermark_before),
        watermark_after=_snapshot(row.watermark_after),
        error=row.error,
    )
