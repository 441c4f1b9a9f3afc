"""Dead letters: open, count attempts, resolve, reopen."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from state import FailedRecord, StateStore
from tests.state.conftest import START, FakeClock


def _failure(key: str, reason: str = "REQUIRED_FIELD_MISSING", **overrides: object) -> FailedRecord:
    fields: dict[str, object] = {
        "stage": "load",
        "entity": "Order",
        "external_id": key,
        "reason": reason,
        "message": f"{key} failed",
        "payload": {"Amount": Decimal("1.50")},
    }
    fields.update(overrides)
    return FailedRecord(**fields)  # type: ignore[arg-type]


def test_lifecycle_open_attempts_resolved_reopened(store: StateStore, clock: FakeClock) -> None:
    assert store.dead_letter([_failure("o-1"), _failure("o-2")], "run-1") == 2
    [first, _] = store.open_dead_letters("Order")
    assert (first.external_id, first.attempts, first.first_seen, first.last_seen) == ("o-1", 1, START, START)
    assert first.is_open and first.run_id == "run-1"
    assert json.loads(first.payload or "") == {"Amount": "1.5"}

    clock.advance(hours=1)
    store.dead_letter([_failure("o-1", "FIELD_INTEGRITY_EXCEPTION", message="again", payload="raw text")], "run-2")
    again = next(letter for letter in store.open_dead_letters("Order") if letter.external_id == "o-1")
    assert (again.attempts, again.reason, again.message, again.payload) == (
        2,
        "FIELD_INTEGRITY_EXCEPTION",
        "again",
        "raw text",
    )
    assert (again.first_seen, again.last_seen, again.run_id) == (START, clock.now, "run-2")

    clock.advance(hours=1)
    assert store.resolve_dead_letters("Order", ["o-1", "o-unknown"], "run-3") == 1
    assert [letter.external_id for letter in store.open_dead_letters("Order")] == ["o-2"]
    assert store.resolve_dead_letters("Order", ["o-1"], "run-3") == 0  # already resolved

    clock.advance(hours=1)
    store.dead_letter([_failure("o-1")], "run-4")
    reopened = next(letter for letter in store.open_dead_letters() if letter.external_id == "o-1")
    assert reopened.is_open and reopened.resolved_run_id is None
    assert (reopened.attempts, reopened.first_seen, reopened.last_seen) == (3, START, clock.now)


def test_resolved_letters_keep_their_history(store: StateStore, clock: FakeClock) -> None:
    store.dead_letter([_failure("o-1")], "run-1")
    clock.advance(minutes=5)
    store.resolve_dead_letters("Order", ["o-1"], "run-2")
    assert store.open_dead_letters() == []
    assert store.dead_letter_counts(open_only=False) == {"REQUIRED_FIELD_MISSING": 1}


def test_filters_and_counts_by_reason(store: StateStore) -> None:
    store.dead_letter(
        [
            _failure("o-1"),
            _failure("o-2", "INVALID_EMAIL_ADDRESS"),
            _failure("o-3", "INVALID_EMAIL_ADDRESS"),
            _failure("c-1", "BAD_ROW", stage="transform", entity="customers"),
            # A plain mapping works as well as a FailedRecord.
            {"stage": "extract", "entity": "customers", "external_id": "c-1", "reason": "HTTP_500"},
        ],
        "run-1",
    )
    assert store.dead_letter_counts() == {
        "REQUIRED_FIELD_MISSING": 1,
        "INVALID_EMAIL_ADDRESS": 2,
        "BAD_ROW": 1,
        "HTTP_500": 1,
    }
    assert store.dead_letter_counts("Order") == {"REQUIRED_FIELD_MISSING": 1, "INVALID_EMAIL_ADDRESS": 2}
    assert len(store.open_dead_letters("customers")) == 2
    assert [letter.reason for letter in store.open_dead_letters("customers", stage="extract")] == ["HTTP_500"]
    # Resolving one stage leaves the other open.
    assert store.resolve_dead_letters("customers", ["c-1"], "run-2", stage="transform") == 1
    assert [letter.stage for letter in store.open_dead_letters("customers")] == ["extract"]


def test_many_keys_and_an_invalid_stage(store: StateStore) -> None:
    keys = [f"o-{i}" for i in range(2500)]
    assert store.dead_letter((_failure(key) for key in keys), "run-1") == 2500
    assert store.resolve_dead_letters("Order", keys[:2000], "run-2") == 2000
    assert store.dead_letter_counts("Order") == {"REQUIRED_FIELD_MISSING": 500}
    with pytest.raises(ValueError, match="stage must be one of"):
        store.dead_letter([_failure("x", stage="publish")], "run-3")
