"""The load ledger: batch upsert, lookup and "unchanged" at a few thousand keys."""

from __future__ import annotations

from state import LedgerEntry, StateStore, payload_hash
from tests.state.conftest import FakeClock

N = 3000  # more than three SQLite IN chunks


def _payloads(n: int, version: int = 1) -> dict[str, dict[str, object]]:
    return {f"order-{i}": {"Name": f"Order {i}", "Version": version, "Amount": i / 4} for i in range(n)}


def test_record_and_look_up_thousands_of_keys(store: StateStore, clock: FakeClock) -> None:
    hashes = {key: payload_hash(payload) for key, payload in _payloads(N).items()}
    written = store.record_loaded("Order", ((k, h, f"801{i:015d}") for i, (k, h) in enumerate(hashes.items())), "r1")
    assert written == N

    found = store.ledger_lookup("Order", [*hashes, "never-loaded"])
    assert len(found) == N and "never-loaded" not in found
    assert found["order-7"] == LedgerEntry("Order", "order-7", hashes["order-7"], "801000000000000007", clock.now, "r1")
    # Other sObjects are another key space.
    assert store.ledger_lookup("Account", list(hashes)) == {}


def test_unchanged_compares_hashes(store: StateStore) -> None:
    hashes = {key: payload_hash(payload) for key, payload in _payloads(N).items()}
    store.record_loaded("Order", [(k, h, None) for k, h in hashes.items()], "r1")

    changed = {f"order-{i}" for i in range(0, N, 3)}
    new_hashes = {k: (payload_hash({"changed": k}) if k in changed else h) for k, h in hashes.items()}
    new_hashes["order-new"] = payload_hash({"new": True})
    assert store.unchanged("Order", new_hashes) == set(hashes) - changed
    assert store.unchanged("Order", {}) == set()


def test_upsert_overwrites_and_keeps_a_known_salesforce_id(store: StateStore, clock: FakeClock) -> None:
    store.record_loaded("Order", [("a", "h1", "801A"), ("b", "h1", None)], "r1")
    clock.advance(hours=1)
    store.record_loaded("Order", [("a", "h2", None), ("b", "h2", "801B")], "r2")
    found = store.ledger_lookup("Order", ["a", "b"])
    assert (found["a"].payload_hash, found["a"].salesforce_id, found["a"].run_id) == ("h2", "801A", "r2")
    assert (found["b"].payload_hash, found["b"].salesforce_id) == ("h2", "801B")
    assert found["a"].loaded_at == clock.now


def test_repeated_keys_in_one_batch_keep_the_last(store: StateStore) -> None:
    assert store.record_loaded("Order", [("a", "h1", "1"), ("a", "h2", "2")], "r") == 1
    assert store.ledger_lookup("Order", ["a", "a"])["a"].payload_hash == "h2"
    assert store.record_loaded("Order", [], "r") == 0
