"""Run history: start, finish with counts, API calls and watermarks, list the recent ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from state import StateStore
from tests.state.conftest import START, FakeClock


def test_start_finish_and_list(store: StateStore, clock: FakeClock) -> None:
    run_id = store.start_run("sync", {"since": START, "dry_run": False})
    started = store.get_run(run_id)
    assert started is not None and started.status == "running" and started.finished_at is None
    assert started.parameters == {"since": "2024-03-01T12:00:00+00:00", "dry_run": False}

    before = store.get_watermarks()
    after = {"orders": store.advance_watermark("orders", START, 42, run_id), "customers": None}
    clock.advance(minutes=3)
    finished = store.finish_run(
        run_id,
        "succeeded",
        {"orders": {"loaded": 40, "skipped": 2}},
        {"bigcommerce": 12, "salesforce": 3},
        before,
        after,
    )
    assert (finished.status, finished.finished_at, finished.error) == ("succeeded", START + timedelta(minutes=3), None)
    assert finished.counts == {"orders": {"loaded": 40, "skipped": 2}}
    assert finished.api_calls == {"bigcommerce": 12, "salesforce": 3}
    assert finished.watermark_before == {}
    orders_after = finished.watermark_after["orders"]
    assert orders_after is not None and orders_after.position() == (START, 42)
    assert finished.watermark_after["customers"] is None
    assert store.get_run(run_id) == finished


def test_recent_runs_newest_first_and_by_flow(store: StateStore, clock: FakeClock) -> None:
    ids = []
    for flow in ("sync", "backfill", "sync", "reconcile"):
        ids.append(store.start_run(flow, {}))
        clock.advance(minutes=1)
    assert [run.run_id for run in store.recent_runs(3)] == ids[:0:-1]
    assert [run.run_id for run in store.recent_runs(10, flow="sync")] == [ids[2], ids[0]]


def test_failure_with_an_exception_and_given_run_id(store: StateStore) -> None:
    run_id = store.start_run("sync", None, run_id="prefect-flow-run-1")
    assert run_id == "prefect-flow-run-1"
    failed = store.finish_run(run_id, "failed", error=RuntimeError("Salesforce said no"))
    assert failed.error == "RuntimeError: Salesforce said no"
    assert (failed.counts, failed.api_calls) == ({}, {})


def test_unknown_run_and_bad_status(store: StateStore) -> None:
    with pytest.raises(LookupError, match="no run"):
        store.finish_run("nope", "succeeded")
    run_id = store.start_run("sync")
    with pytest.raises(ValueError, match="status must be one of"):
        store.finish_run(run_id, "ok")  # type: ignore[arg-type]
