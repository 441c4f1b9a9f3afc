"""The ``sync`` flow: everything changed in the store since the last run, into Salesforce.

Per entity (customers, orders): read the watermark, extract the closed window, transform,
drop what the ledger says is unchanged, load, record results in the ledger and dead letters,
and only then advance the watermark to the window's end. One run at a time: the deployment has
a concurrency limit of one, and the state store's lease stops any second writer that gets past
it (a manual CLI run, another server). A dry run reports and writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from connectors.base import Window
from connectors.settings import Settings
from flows.resources import open_resources
from flows.steps import ENTITIES, Entity, WindowSummary, sync_window
from flows.summary import summary_markdown

Entities = Literal["all", "customers", "orders"]
#: Where a first run starts when the state holds no watermark: the whole history of the store.
FIRST_RUN_START = datetime(2000, 1, 1, tzinfo=UTC)
LEASE_TTL = timedelta(minutes=30)


def selected(entities: Entities) -> tuple[Entity, ...]:
    """The entities a run covers."""
    return ENTITIES if entities == "all" else (entities,)


@flow(name="sync", log_prints=False)
def sync(dry_run: bool = False, entities: Entities = "all") -> dict:
    """Bring Salesforce up to date with the ATS Store.

    Args:
        dry_run: Report what would be created, updated, unchanged and rejected, and write nothing.
        entities: Which store records to read: customers, orders, or both.
    """
    logger = get_run_logger()
    settings = Settings()
    run_start = datetime.now(UTC)
    with open_resources(settings) as res:
        state = res.state
        with state.lease("sync", LEASE_TTL, wait_seconds=0):
            run_id = state.start_run("sync", {"dry_run": dry_run, "entities": entities})
            before = {e: state.get_watermark(e) for e in selected(entities)}
            windows = {
                e: Window.incremental(
                    wm.ts if wm else None,
                    run_start,
                    timedelta(seconds=settings.bc.window_lag_seconds),
                    timedelta(seconds=settings.bc.overlap_seconds),
                    FIRST_RUN_START,
                )
                for e, wm in before.items()
            }
            try:
                summary: WindowSummary = sync_window(res, windows, run_id, dry_run=dry_run)
            except BaseException as exc:
                state.finish_run(run_id, "failed", error=exc, api_calls=res.api_calls())
                raise
            after = {}
            if not dry_run:
                for entity, window in windows.items():
                    after[entity] = state.advance_watermark(entity, window.end, 0, run_id)
            data = summary.as_dict() | {
                "dry_run": dry_run,
                "windows": {e: [w.start.isoformat(), w.end.isoformat()] for e, w in windows.items()},
                "watermark_before": {e: (wm.ts.isoformat() if wm else None) for e, wm in before.items()},
                "watermark_after": {e: wm.ts.isoformat() for e, wm in after.items()},
                "api_calls": res.api_calls(),
            }
            failed = sum(r.failed for r in summary.loads.values())
            state.finish_run(
                run_id,
                "partial" if failed else "succeeded",
                counts=summary.as_dict(),
                api_calls=data["api_calls"],
                watermark_before=before,
                watermark_after=after,
            )
    create_markdown_artifact(key="sync-summary", markdown=summary_markdown("Sync", data), description="Last sync")
    logger.info("sync %s: %s", "dry run" if dry_run else "done", summary.as_dict())
    return data
