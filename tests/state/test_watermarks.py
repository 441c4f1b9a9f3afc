"""Watermarks move only forward, per entity, and backfills have none."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from state import StateStore
from tests.state.conftest import START


def test_no_watermark_before_the_first_run(store: StateStore) -> None:
    assert store.get_watermark("orders") is None
    assert store.get_watermarks() == {}


def test_watermark_moves_forward_only(store: StateStore, caplog: pytest.LogCaptureFixture) -> None:
    first = store.advance_watermark("orders", START, 100, "run-1")
    assert (first.ts, first.last_id, first.run_id) == (START, 100, "run-1")

    # A higher id at the same timestamp is forward; a later timestamp with a lower id is too.
    assert store.advance_watermark("orders", START, 101, "run-2").last_id == 101
    later = START + timedelta(seconds=1)
    assert store.advance_watermark("orders", later, 5, "run-3").position() == (later, 5)

    with caplog.at_level(logging.WARNING, logger="state.watermarks"):
        kept = store.advance_watermark("orders", START, 999, "run-4")
        same_ts_lower_id = store.advance_watermark("orders", later, 4, "run-5")
    assert kept.position() == same_ts_lower_id.position() == (later, 5)
    assert kept.run_id == "run-3"
    assert "not moved back" in caplog.text

    # Re-confirming the same position is a quiet no-op (a retried run).
    caplog.clear()
    assert store.advance_watermark("orders", later, 5, "run-6").run_id == "run-3"
    assert caplog.text == ""
    stored = store.get_watermark("orders")
    assert stored is not None and stored.position() == (later, 5) and stored.run_id == "run-3"


def test_entities_are_independent(store: StateStore) -> None:
    store.advance_watermark("orders", START, 1, "r")
    store.advance_watermark("customers", START - timedelta(days=1), 9, "r")
    marks = store.get_watermarks()
    assert {entity: mark.last_id for entity, mark in marks.items()} == {"orders": 1, "customers": 9}
    assert marks["customers"].ts == START - timedelta(days=1)


def test_backfill_chunks_never_touch_the_live_watermark(store: StateStore) -> None:
    store.advance_watermark("orders", START, 1, "live-run")
    chunks = store.plan_chunks(
        "orders-2023", START - timedelta(days=400), START - timedelta(days=30), timedelta(days=30)
    )
    for chunk in chunks:
        store.mark_chunk("orders-2023", chunk.start, "done", {"loaded": 1})
    watermark = store.get_watermark("orders")
    assert watermark is not None and watermark.position() == (START, 1) and watermark.run_id == "live-run"
    # Another scope is a separate namespace.
    assert store.get_watermark("orders", scope="sandbox") is None


def test_last_id_must_be_an_int(store: StateStore) -> None:
    with pytest.raises(TypeError, match="last_id"):
        store.advance_watermark("orders", START, "10", None)  # type: ignore[arg-type]
