"""The ``backfill`` flow: a date range of store changes into Salesforce, chunk by chunk.

The same code path as ``sync`` (:func:`flows.steps.sync_window`) over each chunk of the range,
with its own lease (it may run for hours beside the scheduled syncs; both write idempotently).
It never reads or moves the live watermark. Chunks and their status live in the state store,
so a rerun of the same backfill skips the chunks already done; a dry run plans nothing and
writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from pydantic import AwareDatetime

from connectors.base import Window
from connectors.settings import Settings
from flows.resources import open_resources
from flows.steps import WindowSummary, sync_window
from flows.summary import summary_markdown
from flows.sync import Entities, selected

LEASE_TTL = timedelta(hours=2)
ONE_SECOND = timedelta(seconds=1)


def backfill_id(start: datetime, end: datetime, chunk: timedelta, entities: str) -> str:
    """The identity of a backfill: the same range, chunking and entities resume the same chunks."""
    return f"{start.isoformat()}..{end.isoformat()}/{int(chunk.total_seconds())}s/{entities}"


@flow(name="backfill", log_prints=False)
def backfill(
    start: AwareDatetime,
    end: AwareDatetime,
    chunk_hours: int = 24,
    dry_run: bool = False,
    entities: Entities = "all",
) -> dict:
    """Load everything the store changed between two moments, one chunk at a time.

    Args:
        start: First moment of the range (UTC unless the value says otherwise).
        end: End of the range (exclusive).
        chunk_hours: Length of one chunk in hours; a rerun of the same backfill skips finished chunks.
        dry_run: Report what would be written, and write nothing.
        entities: Which store records to read: customers, orders, or both.
    """
    if end <= start:
        raise ValueError(f"the backfill ends ({end}) before it starts ({start})")
    if chunk_hours < 1:
        raise ValueError("chunk_hours must be at least 1")
    logger = get_run_logger()
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    chunk = timedelta(hours=chunk_hours)
    ident = backfill_id(start, end, chunk, entities)
    total = WindowSummary()
    with open_resources(Settings()) as res:
        state = res.state
        with state.lease("backfill", LEASE_TTL, wait_seconds=0) as lease:
            parameters = {"start": start.isoformat(), "end": end.isoformat(), "chunk_hours": chunk_hours,
                          "dry_run": dry_run, "entities": entities}  # fmt: skip
            run_id = state.start_run("backfill", parameters)
            if dry_run:
                bounds = [(s, min(s + chunk, end)) for s in _starts(start, end, chunk)]
            else:
                bounds = [(c.start, c.end) for c in state.plan_chunks(ident, start, end, chunk)]
                done = {c.start for c in state.chunks(ident) if c.status == "done"}
                bounds = [b for b in bounds if b[0] not in done]
            progress = create_progress_artifact(0.0, key="backfill-progress", description=ident)
            for i, (lo, hi) in enumerate(bounds):
                # Chunks are half-open [lo, hi); windows are closed at second precision.
                window = Window(lo, max(lo, hi - ONE_SECOND))
                if not dry_run:
                    state.mark_chunk(ident, lo, "running")
                try:
                    summary = sync_window(res, dict.fromkeys(selected(entities), window), run_id, dry_run=dry_run)
                except BaseException as exc:
                    if not dry_run:
                        state.mark_chunk(ident, lo, "failed", error=str(exc))
                    state.finish_run(run_id, "failed", counts=total.as_dict(), error=exc, api_calls=res.api_calls())
                    raise
                total.add(summary)
                if not dry_run:
                    state.mark_chunk(ident, lo, "done", summary.as_dict())
                    state.renew_lease(lease, LEASE_TTL)
                update_progress_artifact(progress, 100.0 * (i + 1) / len(bounds))
                logger.info("chunk %s..%s done: %s", lo.isoformat(), hi.isoformat(), summary.extracted)
            data = total.as_dict() | {"dry_run": dry_run, "backfill": ident, "chunks_run": len(bounds),
                                      "api_calls": res.api_calls()}  # fmt: skip
            failed = sum(r.failed for r in total.loads.values())
            state.finish_run(run_id, "partial" if failed else "succeeded", counts=total.as_dict(),
                             api_calls=data["api_calls"])  # fmt: skip
    create_markdown_artifact(key="backfill-summary", markdown=summary_markdown("Backfill", data))
    return data


def _starts(start: datetime, end: datetime, chunk: timedelta) -> list[datetime]:
    starts, moment = [], start
    while moment < end:
        starts.append(moment)
        moment += chunk
    return starts
