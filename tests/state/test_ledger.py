"""The load ledger: batch upsert, lookup and "unchanged" at a few thousand keys."""

from __future__ import annotations

from datetime import timedelta, timezone

from state import LedgerEntry, StateStore, payload_hash
from tests.state.conftest import START, FakeClock

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


def test_lookups_of_every_size_are_exact_and_compile_few_statements(store: StateStore) -> None:
    """Any number of keys finds exactly its rows; on SQLite the IN lists come in a few sizes only
    (padded with the last key), so the cached statements stay few however the chunks fall."""
    from state import ledger

    hashes = {key: payload_hash(payload) for key, payload in _payloads(2_000).items()}
    store.record_loaded("Order", [(k, h, None) for k, h in hashes.items()], "r1")
    keys = list(hashes)
    ledger._in_query.cache_clear()
    for n in [*range(1, 40), 511, 512, 513, 899, 900, 901, 1_799, 2_000]:
        wanted = [*keys[:n], "never-loaded"]
        assert set(store.ledger_lookup("Order", wanted)) == set(keys[:n])
        assert store.unchanged("Order", {k: hashes[k] for k in wanted[:n]}) == set(keys[:n])
    if store.dialect == "sqlite":
        # Two column sets (lookup, hashes), each in at most the ten powers of two below 900 and 900.
        assert 0 < ledger._in_query.cache_info().currsize <= 2 * 11


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


def test_source_moments_round_trip_and_only_move_forward_per_group(store: StateStore) -> None:
    """The source moments of the values written, per group: recorded with a load, merged into the
    stored ones (each group never moved back, a group or key without one keeping the stored one),
    absent for keys loaded without any."""
    t1, t2, t3 = START + timedelta(days=1), START + timedelta(days=2, microseconds=7), START + timedelta(days=3)
    paris = timezone(timedelta(hours=2))
    keys = [f"co:{i}" for i in range(N)]
    written = {k: {"phone_at": t1, "address_at": t2} for k in keys[1:]}
    assert store.record_loaded("Account", [(k, "h1", None) for k in keys], "r1", written) == N
    assert store.source_moments("Account", [*keys, "never-loaded"]) == written
    assert "co:0" not in store.source_moments("Account", ["co:0"])

    store.record_loaded("Account", [("co:1", "h2", None), ("co:2", "h2", None), ("co:3", "h2", None)], "r2",
                        {"co:1": {"phone_at": t3.astimezone(paris), "address_at": t1},  # phone on, address kept
                         "co:2": {"customer_group_at": t1}})  # fmt: skip
    assert store.source_moments("Account", ["co:1", "co:2", "co:3"]) == {
        "co:1": {"phone_at": t3, "address_at": t2},
        "co:2": {"phone_at": t1, "address_at": t2, "customer_group_at": t1},
        "co:3": {"phone_at": t1, "address_at": t2},
    }
    assert store.ledger_lookup("Account", ["co:1"])["co:1"].payload_hash == "h2"
    assert store.source_moments("Contact", keys) == {}


def test_advance_source_moments_moves_groups_forward_only(store: StateStore) -> None:
    t1, t2 = START + timedelta(days=1), START + timedelta(days=2)
    store.record_loaded("Contact", [("a", "h", None), ("b", "h", None), ("c", "h", None)], "r1",
                        {"a": {"seen_at": t1}, "b": {"seen_at": t2, "phone_at": t1}})  # fmt: skip
    moved = store.advance_source_moments("Contact", {
        "a": {"seen_at": t2}, "b": {"seen_at": t1, "phone_at": t1}, "c": {"phone_at": t1}, "unknown": {"seen_at": t2},
    })  # fmt: skip
    assert moved == 2  # a and c; b holds as fresh already; unknown has no ledger row
    assert store.source_moments("Contact", ["a", "b", "c", "unknown"]) == {
        "a": {"seen_at": t2}, "b": {"seen_at": t2, "phone_at": t1}, "c": {"phone_at": t1},
    }  # fmt: skip
    assert store.ledger_lookup("Contact", ["a"])["a"].run_id == "r1"  # the load itself is unchanged
    assert store.advance_source_moments("Contact", {}) == 0
