"""Scenario 4, concurrency: two syncs started at once on one state store; exactly one writes.

Both run as child processes (distinct pids, so distinct lease holders) against the same sandbox
and the same state (a SQLite file, or a PostgreSQL schema of its own). Org latency keeps the
winner running while the other starts. The loser must exit with LeaseHeld naming the winner;
the org must equal a clean single run's, with no duplicates.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sandbox.faults import FaultSettings
from state import StateStore
from tests.reliability.conftest import SandboxFactory
from tests.reliability.harness import diff_snapshots, duplicates, org_snapshot, run_sync, run_sync_process, sync_env

PG_ROOT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ORDERS = 150


@pytest.fixture
def pg_state_url() -> Iterator[str]:
    """A PostgreSQL state URL on a schema of its own, dropped afterwards (skip when no server answers)."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
        engine = create_engine(PG_ROOT)
        schema = f"rel_{uuid.uuid4().hex[:10]}"
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (db test, user postgres) is not answering: {exc}")
    try:
        yield f"{PG_ROOT}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def sqlite_state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shared-state.sqlite'}"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_syncs_at_once_one_writes(
    backend: str,
    request: pytest.FixtureRequest,
    sandbox_factory: SandboxFactory,
    metrics: Callable[..., None],
) -> None:
    state_url = request.getfixturevalue(f"{'pg' if backend == 'postgresql' else 'sqlite'}_state_url")
    if backend == "sqlite":
        StateStore.open(state_url).close()  # migrate once, so neither contender races the migration
    server = sandbox_factory("contended", orders=ORDERS)
    server.org.faults.configure(FaultSettings(latency_ms=40))
    env = sync_env(server, state_url)
    procs = [run_sync_process(env) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], [(p.returncode, err[-1500:]) for p, (_, err) in zip(procs, outputs, strict=True)]
    winner = next(p for p in procs if p.returncode == 0)
    _, loser_err = outputs[[p.returncode for p in procs].index(3)]
    assert "LEASE_HELD lease 'sync' is held by" in loser_err
    assert f":{winner.pid}'" in loser_err, loser_err[-500:]

    with StateStore.open(state_url) as state:
        runs = state.recent_runs(flow="sync")
    assert len(runs) == 1 and runs[0].status == "succeeded"

    reference = sandbox_factory("reference", orders=ORDERS)
    code, _, err = run_sync(sync_env(reference, f"sqlite:///{reference.config.home / 'ref-state.sqlite'}"))
    assert code == 0, err[-2000:]
    actual, expected = org_snapshot(server.config.org_db), org_snapshot(reference.config.org_db)
    lost, extra, notes = diff_snapshots(actual, expected)
    dup = sum(duplicates(actual).values())
    metrics(records=len(expected["Order"]), lost=lost, duplicated=dup + extra, notes="; ".join(notes[:3]))
    assert (lost, extra, dup) == (0, 0, 0), notes
