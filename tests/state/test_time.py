"""Timestamps go in aware (any offset) and always come out as aware UTC, on SQLite too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from state import StateStore
from state.jsonutil import payload_hash
from tests.state.conftest import START, FakeClock

PLUS_TWO = timezone(timedelta(hours=2))


def test_timezone_round_trip(store: StateStore, clock: FakeClock) -> None:
    local = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=PLUS_TWO)
    clock.now = datetime(2024, 5, 2, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    watermark = store.advance_watermark("orders", local, 1, "run-1")
    assert watermark.ts == local
    assert watermark.ts.tzinfo is UTC and watermark.ts.hour == 12
    assert watermark.updated_at == datetime(2024, 5, 2, 14, 0, tzinfo=UTC)
    assert watermark.updated_at is not None and watermark.updated_at.tzinfo is UTC

    stored = store.get_watermark("orders")
    assert stored is not None and stored.ts.tzinfo is UTC and stored.ts == local
    store.record_loaded("Order", [("o-1", "h", "801")], "run-1")
    loaded_at = store.ledger_lookup("Order", ["o-1"])["o-1"].loaded_at
    assert loaded_at.tzinfo is UTC and loaded_at == clock.now


def test_sqlite_stores_utc_text(tmp_path: Path) -> None:
    with StateStore.open(f"sqlite:///{tmp_path}/s.sqlite") as store:
        store.advance_watermark("orders", datetime(2024, 1, 1, 2, 0, tzinfo=PLUS_TWO), 1, None)
        with store.engine.connect() as connection:
            raw = connection.execute(text("SELECT ts FROM watermarks")).scalar()
    assert raw == "2024-01-01 00:00:00.000000"


def test_naive_datetimes_are_refused(store: StateStore, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.advance_watermark("orders", datetime(2024, 1, 1), 1, None)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.plan_chunks("b", datetime(2024, 1, 1), START, timedelta(days=1))
    clock.now = datetime(2024, 1, 1)
    with pytest.raises(ValueError, match="clock"):
        store.start_run("sync")


def test_payload_hash_is_stable_and_canonical() -> None:

    first = {"b": Decimal("1.10"), "a": [datetime(2024, 1, 1, 2, tzinfo=PLUS_TWO), {2, 1}], "c": None}
    second = {"c": None, "a": [datetime(2024, 1, 1, 0, tzinfo=UTC), {1, 2}], "b": Decimal("1.1")}
    assert payload_hash(first) == payload_hash(second)
    assert len(payload_hash(first)) == 64
    assert payload_hash({"a": 1}) != payload_hash({"a": "1"})
    assert payload_hash({"d": datetime(2024, 1, 1).date()}) == payload_hash({"d": "2024-01-01"})
    with pytest.raises(TypeError, match="no stable JSON form"):
        payload_hash({"x": object()})
