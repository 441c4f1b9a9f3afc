"""Backfill chunks: idempotent planning, status tracking and resumption."""

from __future__ import annotations

from datetime import timedelta

import pytest

from state import BackfillMismatch, StateStore
from tests.state.conftest import START

DAY = timedelta(days=1)


def test_plan_covers_the_range_half_open(store: StateStore) -> None:
    chunks = store.plan_chunks("bf-1", START, START + 3 * DAY + timedelta(hours=6), DAY)
    assert [(c.start, c.end) for c in chunks] == [
        (START, START + DAY),
        (START + DAY, START + 2 * DAY),
        (START + 2 * DAY, START + 3 * DAY),
        (START + 3 * DAY, START + 3 * DAY + timedelta(hours=6)),
    ]
    assert {c.status for c in chunks} == {"pending"}
    assert all(c.attempts == 0 and c.counts == {} for c in chunks)


def test_replanning_is_idempotent_and_resumes(store: StateStore) -> None:
    chunks = store.plan_chunks("bf-1", START, START + 4 * DAY, DAY)
    store.mark_chunk("bf-1", chunks[0].start, "running")
    store.mark_chunk("bf-1", chunks[0].start, "done", {"orders": 120})
    store.mark_chunk("bf-1", chunks[1].start, "running")
    store.mark_chunk("bf-1", chunks[1].start, "failed", error="HTTP 503")
    store.mark_chunk("bf-1", chunks[2].start, "running")  # the run "dies" here

    again = store.plan_chunks("bf-1", START, START + 4 * DAY, DAY)
    assert [c.status for c in again] == ["done", "failed", "running", "pending"]
    assert again[0].counts == {"orders": 120} and again[1].error == "HTTP 503"
    assert again == store.chunks("bf-1")

    pending = store.pending_chunks("bf-1")
    assert [c.start for c in pending] == [c.start for c in chunks[1:]]
    retried = store.mark_chunk("bf-1", chunks[1].start, "running")
    assert retried.attempts == 2 and retried.error is None
    for chunk in pending:
        store.mark_chunk("bf-1", chunk.start, "done", {"orders": 1})
    assert store.pending_chunks("bf-1") == []
    assert store.chunks("bf-1")[0].counts == {"orders": 120}  # counts=None keeps what was there


def test_a_different_plan_under_the_same_id_is_refused(store: StateStore) -> None:
    store.plan_chunks("bf-1", START, START + 2 * DAY, DAY)
    with pytest.raises(BackfillMismatch, match="use a new backfill id"):
        store.plan_chunks("bf-1", START, START + 3 * DAY, DAY)
    with pytest.raises(BackfillMismatch):
        store.plan_chunks("bf-1", START, START + 2 * DAY, timedelta(hours=12))
    assert len(store.plan_chunks("bf-2", START, START + 2 * DAY, timedelta(hours=12))) == 4


def test_bad_arguments(store: StateStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        store.plan_chunks("bf", START, START, DAY)
    with pytest.raises(ValueError, match="positive"):
        store.plan_chunks("bf", START, START + DAY, timedelta(0))
    with pytest.raises(ValueError, match="exceeds"):
        store.plan_chunks("bf", START, START + 365 * DAY, timedelta(seconds=1))
    store.plan_chunks("bf", START, START + DAY, DAY)
    with pytest.raises(LookupError, match="no chunk starting"):
        store.mark_chunk("bf", START + timedelta(hours=1), "done")
    with pytest.raises(ValueError, match="chunk status"):
        store.mark_chunk("bf", START, "finished")  # type: ignore[arg-type]
