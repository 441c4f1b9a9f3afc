"""Leases: exactly one of many contenders wins (threads and processes), expiry, renewal, release, waiting."""

from __future__ import annotations

import multiprocessing
import pickle
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from state import Lease, LeaseHeld, LeaseLost, StateStore
from state.lease import default_holder
from tests.state.conftest import START, FakeClock
from tests.state.workers import open_and_contend_for_lease

TTL = timedelta(minutes=5)


def test_threads_exactly_one_wins(store: StateStore) -> None:
    contenders = 8
    barrier = threading.Barrier(contenders)
    won: list[Lease] = []
    held: list[str] = []
    errors: list[BaseException] = []

    def contend(holder: str) -> None:
        try:
            barrier.wait(timeout=10)
            won.append(store.acquire_lease("sync", holder, TTL))
        except LeaseHeld as busy:
            held.append(busy.holder)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(f"thread-{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(won) == 1
    assert held == [won[0].holder] * (contenders - 1)


def test_processes_exactly_one_wins(db_url: str) -> None:
    """Processes race to open (and migrate) a fresh database, then for the lease: one wins."""
    context = multiprocessing.get_context("spawn")
    contenders = 3
    barrier = context.Barrier(contenders)
    results = context.Queue()
    processes = [
        context.Process(target=open_and_contend_for_lease, args=(db_url, f"process-{i}", barrier, results))
        for i in range(contenders)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert [outcome for outcome in outcomes if outcome[1] == "error"] == []
    winners = [holder for holder, outcome, _ in outcomes if outcome == "won"]
    assert len(winners) == 1
    assert sorted(seen for _, outcome, seen in outcomes if outcome == "held") == [winners[0]] * (contenders - 1)


def test_held_lease_names_its_holder_and_expiry(store: StateStore) -> None:
    lease = store.acquire_lease("sync", "worker-a", TTL)
    assert (lease.acquired_at, lease.expires_at) == (START, START + TTL)
    with pytest.raises(LeaseHeld) as caught:
        store.acquire_lease("sync", "worker-b", TTL)
    assert (caught.value.holder, caught.value.expires_at) == ("worker-a", START + TTL)
    assert str(caught.value) == "lease 'sync' is held by 'worker-a' until 2024-03-01T12:05:00Z"
    assert pickle.loads(pickle.dumps(caught.value)).holder == "worker-a"  # noqa: S301 - our own bytes
    # Strict: the same holder name does not get a live lease twice either.
    with pytest.raises(LeaseHeld):
        store.acquire_lease("sync", "worker-a", TTL)
    # Other names are independent.
    assert store.acquire_lease("backfill", "worker-b", TTL).holder == "worker-b"


def test_expired_lease_is_taken_over_and_the_old_holder_loses_it(store: StateStore, clock: FakeClock) -> None:
    old = store.acquire_lease("sync", "dead-worker", TTL)
    clock.advance(minutes=4, seconds=59)
    with pytest.raises(LeaseHeld):
        store.acquire_lease("sync", "new-worker", TTL)
    clock.advance(seconds=1)  # expires_at <= now: free
    new = store.acquire_lease("sync", "new-worker", TTL)
    assert store.current_lease("sync") == new
    with pytest.raises(LeaseLost, match="no longer held by 'dead-worker'"):
        store.renew_lease(old)
    assert store.release_lease(old) is False
    assert store.current_lease("sync") == new


def test_renewal_extends_the_lease(store: StateStore, clock: FakeClock) -> None:
    lease = store.acquire_lease("sync", "worker-a", TTL)
    clock.advance(minutes=4)
    renewed = store.renew_lease(lease)
    assert renewed.expires_at == clock.now + TTL and renewed.token == lease.token
    clock.advance(minutes=4)  # past the original expiry, within the renewed one
    with pytest.raises(LeaseHeld):
        store.acquire_lease("sync", "worker-b", TTL)
    longer = store.renew_lease(renewed, timedelta(hours=1))
    assert longer.expires_at == clock.now + timedelta(hours=1)
    # Expired but not taken over: renewing is still safe, nobody else wrote meanwhile.
    clock.advance(hours=2)
    assert store.renew_lease(longer).expires_at == clock.now + timedelta(hours=1)


def test_release_frees_the_lease(store: StateStore) -> None:
    lease = store.acquire_lease("sync", "worker-a", TTL)
    assert store.release_lease(lease) is True
    assert store.current_lease("sync") is None
    assert store.release_lease(lease) is False
    assert store.acquire_lease("sync", "worker-b", TTL).holder == "worker-b"


def test_context_manager_releases_even_on_error(store: StateStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.lease("sync", TTL, holder="worker-a") as lease:
        assert store.current_lease("sync") == lease
        raise RuntimeError("boom")
    assert store.current_lease("sync") is None
    with store.lease("sync", TTL) as lease:
        assert ":" in lease.holder  # host:pid by default


def test_waiting_times_out_with_a_clear_message(store: StateStore) -> None:
    store.acquire_lease("sync", "worker-a", TTL)
    started = time.monotonic()
    with (
        pytest.raises(LeaseHeld) as caught,
        store.lease("sync", TTL, holder="worker-b", wait_seconds=0.3, poll_seconds=0.05),
    ):
        pytest.fail("must not get the lease")
    assert 0.3 <= time.monotonic() - started < 5
    assert str(caught.value) == (
        "lease 'sync' is held by 'worker-a' until 2024-03-01T12:05:00Z (gave up after waiting 0.3 s)"
    )


def test_waiting_gets_the_lease_once_released(store: StateStore) -> None:
    first = store.acquire_lease("sync", "worker-a", TTL)
    releaser = threading.Timer(0.2, store.release_lease, args=(first,))
    releaser.start()
    try:
        with store.lease("sync", TTL, holder="worker-b", wait_seconds=10, poll_seconds=0.05) as lease:
            assert lease.holder == "worker-b"
    finally:
        releaser.join()


def test_bad_ttl(store: StateStore) -> None:
    with pytest.raises(ValueError, match="ttl"):
        store.acquire_lease("sync", "w", timedelta(0))


def test_a_lease_whose_holder_process_died_is_taken_over_at_once(store: StateStore) -> None:
    """A killed sync must not block the next ones until its lease expires."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)  # fmt: skip
    dead = f"{default_holder().rpartition(':')[0]}:{child.stdout.strip()}"
    store.acquire_lease("sync", dead, TTL)
    taken = store.acquire_lease("sync", default_holder(), TTL)
    assert taken.holder == default_holder()
    # A live holder, or one on another host, is never taken over before expiry.
    with pytest.raises(LeaseHeld):
        store.acquire_lease("sync", "some-other-host:1", TTL)
    store.release_lease(taken)
    store.acquire_lease("sync", "some-other-host:1", TTL)
    with pytest.raises(LeaseHeld):
        store.acquire_lease("sync", default_holder(), TTL)
