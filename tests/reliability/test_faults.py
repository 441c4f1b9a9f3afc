"""Scenario 1, faults: with at least 10% of requests failing in every way the sandbox can fail, the
org ends up exactly as a clean run leaves it.

A faulted sandbox and a reference sandbox are seeded identically. The faulted one gets fault
rates on both services (every kind, ~12% of requests each side) plus one scripted fault of each
kind so that every kind fires at least once even in the small variant. Syncs run (child
processes, short client timeouts so ``slow`` bites) until one succeeds or the attempts are spent
(a run may stop, e.g. on REQUEST_LIMIT_EXCEEDED); then a run with faults off completes the job.
The org must then equal the reference org record by record and field by field, with no
duplicates and no open dead letters.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sandbox.faults import FaultKind, FaultSettings, ScriptedFault
from state import StateStore
from tests.reliability.conftest import SandboxFactory
from tests.reliability.harness import diff_snapshots, duplicates, org_snapshot, run_sync, sync_env

STORE_RATES: dict[FaultKind, float] = {
    "rate_limit": 0.02, "throttle": 0.02, "server_error": 0.03, "unavailable": 0.02, "slow": 0.01, "reset": 0.02,
}  # fmt: skip
ORG_RATES: dict[FaultKind, float] = {
    "lock_row": 0.03, "unavailable": 0.02, "server_error": 0.03, "session_expired": 0.02, "request_limit": 0.01,
    "slow": 0.005, "reset": 0.01,
}  # fmt: skip
CLIENT_ENV = {
    "ATS_BC_READ_TIMEOUT": "2",
    "ATS_BC_CONNECT_TIMEOUT": "2",
    "ATS_SF_TIMEOUT": "3",
    "ATS_BC_MAX_ATTEMPTS": "10",
    # Short backoff ceilings: the waits, not the data, would otherwise make this test long.
    "ATS_BC_BACKOFF_MAX_SECONDS": "0.5",
    "ATS_SF_BACKOFF_MAX_SECONDS": "0.5",
    "ATS_SF_BULK_POLL_SECONDS": "0.2",
}
SLOW_SECONDS = 4.0
FAULTED_RUNS = 3


def _script(rates: dict[FaultKind, float], path: str) -> list[ScriptedFault]:
    return [ScriptedFault(kind=kind, path=path) for kind in rates]


def _run_scenario(sandbox_factory: SandboxFactory, orders: int, seed: int, metrics: Callable[..., None]) -> None:
    faulted = sandbox_factory("faulted", orders=orders, seed=seed, rate_limit_window_ms=2000)
    reference = sandbox_factory("reference", orders=orders, seed=seed, rate_limit_window_ms=2000)
    faulted.store.faults.configure(FaultSettings(rates=STORE_RATES, seed=seed, slow_seconds=SLOW_SECONDS))
    faulted.org.faults.configure(FaultSettings(rates=ORG_RATES, seed=seed, slow_seconds=SLOW_SECONDS))
    faulted.store.faults.add_script(_script(STORE_RATES, "orders"))
    # request_limit last: it stops the load, and the other kinds should fire on the way.
    faulted.org.faults.add_script(_script({k: v for k, v in ORG_RATES.items() if k != "request_limit"}, "/services/"))
    faulted.org.faults.add_script([ScriptedFault(kind="request_limit", path="composite/sobjects")])
    state_url = f"sqlite:///{faulted.config.home.parent / 'faulted-state.sqlite'}"
    env = sync_env(faulted, state_url, **CLIENT_ENV)

    outcomes = []
    for _ in range(FAULTED_RUNS):
        code, result, err = run_sync(env, timeout=1800)
        outcomes.append(code)
        if code == 0 and result is not None and not any(r["failed"] for r in result["loads"].values()):
            break
    requests = faulted.store.counters.snapshot()["total"] + faulted.org.counters.snapshot()["total"]
    fired = {
        "store": dict(faulted.store.faults.snapshot()["fired"]),
        "org": dict(faulted.org.faults.snapshot()["fired"]),
    }
    faulted.store.faults.configure(FaultSettings())
    faulted.org.faults.configure(FaultSettings())
    code, result, err = run_sync(env, timeout=1800)
    assert code == 0, err[-3000:]

    code, _, err = run_sync(sync_env(reference, f"sqlite:///{reference.config.home.parent / 'ref.sqlite'}"))
    assert code == 0, err[-3000:]
    actual, expected = org_snapshot(faulted.config.org_db), org_snapshot(reference.config.org_db)
    lost, extra, notes = diff_snapshots(actual, expected)
    dup = sum(duplicates(actual).values())
    # lock_row fires per record, not per request: leave it out of the request failure rate.
    failures = sum(n for kinds in fired.values() for kind, n in kinds.items() if kind != "lock_row")
    metrics(
        records=len(expected["Order"]),
        lost=lost,
        duplicated=dup + extra,
        notes=f"runs={outcomes}; {failures}/{requests} requests faulted; fired={fired}; " + "; ".join(notes[:2]),
    )
    assert set(STORE_RATES) <= set(fired["store"]), fired
    assert set(ORG_RATES) <= set(fired["org"]), fired
    assert failures >= 0.10 * requests, (failures, requests)
    assert (lost, extra, dup) == (0, 0, 0), notes
    assert len(expected["Order"]) == orders
    with StateStore.open(state_url) as state:
        assert state.open_dead_letters() == []


def test_faults_small_store(sandbox_factory: SandboxFactory, metrics: Callable[..., None]) -> None:
    _run_scenario(sandbox_factory, orders=300, seed=11, metrics=metrics)


@pytest.mark.slow
def test_faults_5000_orders(sandbox_factory: SandboxFactory, metrics: Callable[..., None]) -> None:
    _run_scenario(sandbox_factory, orders=5000, seed=23, metrics=metrics)
