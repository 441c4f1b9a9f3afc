"""Shared helpers of the reliability suite: sandboxes of any size, settings for them, org snapshots.

A sandbox here is a :class:`~sandbox.server.SandboxServer` in a thread, seeded by the generator
with a fixed seed, so two sandboxes made with the same arguments hold the same store and org.
:func:`org_snapshot` reads an org's Accounts, Contacts and Orders into comparable form (ids,
auto numbers, timestamps and owners replaced or dropped), so a faulted run can be compared with
a clean one record by record and field by field. :func:`org_rows` and :func:`store_digest` read
an org's and a store's files directly, :func:`wait_for_bulk_jobs` lets a killed run's Bulk jobs
finish.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.http import make_session
from sandbox import generator
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sandbox.store.db import CustomerFilter, OrderFilter, StoreDB

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
RUN_SYNC = Path(__file__).with_name("run_sync.py")

#: Fields that differ between two orgs holding the same data (ids, numbering, times, owners).
IGNORED_FIELDS = frozenset(
    {
        "Id", "OrderNumber", "CreatedDate", "LastModifiedDate", "SystemModstamp", "LastActivityDate",
        "LastViewedDate", "LastReferencedDate", "OwnerId", "CreatedById", "LastModifiedById", "IsDeleted",
    }
)  # fmt: skip
#: The natural key of each compared object (a record's identity across orgs).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "Account": ("BigCommerce_Account_Key__c", "Name"),
    "Contact": ("BigCommerce_Contact_Key__c", "Email", "LastName"),
    "Order": ("BigCommerce_Order_Id__c",),
}


def make_sandbox(
    home: Path, *, orders: int, seed: int = 7, rate_limit_window_ms: int = 30_000, **config: Any
) -> SandboxServer:
    """A running sandbox in ``home`` seeded with ``orders`` orders (same seed, same data)."""
    cfg = SandboxConfig(home=home, store_port=0, org_port=0, rate_limit_window_ms=rate_limit_window_ms, **config)
    generator.seed(cfg, orders=orders, seed=seed, as_of=AS_OF)
    return SandboxServer(cfg).start_in_thread()


def sync_env(server: SandboxServer, state_url: str, **extra: str) -> dict[str, str]:
    """The ``ATS_*`` settings that point the pipeline at ``server`` with its own state store."""
    return {
        "ATS_TARGET": "sandbox",
        "ATS_SANDBOX_HOME": str(server.config.home),
        "ATS_STATE_URL": state_url,
        "ATS_BC_WINDOW_LAG_SECONDS": "0",
        **extra,
    }


def run_sync_process(env: dict[str, str], *, timeout: float = 600, args: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """Start :mod:`tests.reliability.run_sync` (the sync flow's body, no Prefect engine) in a child."""
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(  # noqa: S603 - our interpreter and our script
        [PYTHON, str(RUN_SYNC), *args], cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_sync(env: dict[str, str], *, timeout: float = 600) -> tuple[int, dict[str, Any] | None, str]:
    """Run one sync in a child process; (exit code, result or None, stderr)."""
    proc = run_sync_process(env)
    out, err = proc.communicate(timeout=timeout)
    result = json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 and out.strip() else None
    return proc.returncode, result, err


def _read_only(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)


def _rows(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" WHERE IsDeleted = 0')]


def org_rows(org_db: Path, sobject: str, *fields: str) -> list[tuple[Any, ...]]:
    """``fields`` of every live record of ``sobject``, read from the org's file (as committed)."""
    columns = ", ".join(f'"{f}"' for f in fields)
    conn = _read_only(org_db)
    try:
        return conn.execute(f'SELECT {columns} FROM "{sobject}" WHERE IsDeleted = 0').fetchall()
    finally:
        conn.close()


def store_digest(store_db: Path) -> str:
    """A digest of a store's orders (with their children) and customers: equal for equal stores."""
    store = StoreDB(store_db)
    try:
        orders = store.list_orders(OrderFilter(), ("id", "asc"), 0, sys.maxsize, children=True)
        customers, _ = store.list_customers(CustomerFilter(), ("id", "asc"), 0, sys.maxsize)
    finally:
        store.close()
    return hashlib.sha256(json.dumps([orders, customers], sort_keys=True, default=str).encode()).hexdigest()


def wait_for_bulk_jobs(server: SandboxServer, timeout: float = 120) -> None:
    """Return once none of the org's Bulk jobs is still writing (a killed run's jobs go on without it)."""
    deadline = time.monotonic() + timeout
    with make_session(server.certificate.ca_path) as http:
        while True:
            response = http.get(f"{server.org.base_url}/__sandbox/org/jobs", timeout=30)
            response.raise_for_status()
            busy = [job["id"] for job in response.json() if job["state"] in ("UploadComplete", "InProgress")]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Bulk jobs still running after {timeout:.0f} s: {busy}")
            time.sleep(0.2)


def org_snapshot(org_db: Path) -> dict[str, list[dict[str, Any]]]:
    """Accounts, Contacts and Orders of an org, comparable across orgs, sorted by natural key.

    Reference fields hold the natural key of the record they point at instead of its Id.
    """
    conn = _read_only(org_db)
    try:
        tables = {name: _rows(conn, name) for name in NATURAL_KEYS}
    finally:
        conn.close()
    keys: dict[str, tuple[Any, ...]] = {}
    for name, rows in tables.items():
        for row in rows:
            keys[str(row["Id"])] = (name, *(row.get(f) for f in NATURAL_KEYS[name]))
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in tables.items():
        records = []
        for row in rows:
            record = {}
            for field, value in row.items():
                if field in IGNORED_FIELDS:
                    continue
                if isinstance(value, str) and value in keys:
                    value = list(keys[value])
                record[field] = value
            records.append(record)
        out[name] = sorted(records, key=lambda r, n=name: json.dumps([r.get(f) for f in NATURAL_KEYS[n]]))
    return out


def duplicates(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Records sharing a non-empty external key, per object (0 everywhere in a healthy org)."""
    dup = {}
    for name, rows in snapshot.items():
        ext = NATURAL_KEYS[name][0]
        counts = Counter(str(r.get(ext)).lower() for r in rows if r.get(ext))
        dup[name] = sum(n - 1 for n in counts.values() if n > 1)
    return dup


def diff_keys(actual: dict[str, list[dict[str, Any]]], expected: dict[str, list[dict[str, Any]]]) -> tuple[int, int]:
    """(records of ``expected`` whose external key ``actual`` lacks, records of ``actual`` beyond
    ``expected``'s under their key): lost and extra records, whatever their field values."""
    lost = extra = 0
    for name, keys in NATURAL_KEYS.items():
        want = Counter(str(r.get(keys[0])).lower() for r in expected.get(name, []))
        got = Counter(str(r.get(keys[0])).lower() for r in actual.get(name, []))
        lost += sum((want - got).values())
        extra += sum((got - want).values())
    return lost, extra


def field_differences(
    actual: dict[str, list[dict[str, Any]]], expected: dict[str, list[dict[str, Any]]], limit: int = 10
) -> list[str]:
    """Readable field differences of records sharing an external key: ``Account co:baker: Name
    'Baker LLC' (expected 'Baker Inc')`` (at most ``limit`` lines)."""
    lines: list[str] = []
    for name, keys in NATURAL_KEYS.items():
        want = {str(r.get(keys[0])).lower(): r for r in expected.get(name, []) if r.get(keys[0])}
        for record in actual.get(name, []):
            other = want.get(str(record.get(keys[0])).lower())
            if other is None or other == record:
                continue
            fields = sorted(f for f in {*record, *other} if record.get(f) != other.get(f))
            changes = ", ".join(f"{f} {record.get(f)!r} (expected {other.get(f)!r})" for f in fields)
            lines.append(f"{name} {record.get(keys[0])}: {changes}")
            if len(lines) >= limit:
                return lines
    return lines


def diff_snapshots(
    actual: dict[str, list[dict[str, Any]]], expected: dict[str, list[dict[str, Any]]], limit: int = 5
) -> tuple[int, int, list[str]]:
    """(records missing from ``actual``, extra records in ``actual``, a few readable differences)."""
    lost = extra = 0
    notes: list[str] = []
    for name in NATURAL_KEYS:
        want = Counter(json.dumps(r, sort_keys=True, default=str) for r in expected.get(name, []))
        got = Counter(json.dumps(r, sort_keys=True, default=str) for r in actual.get(name, []))
        missing, surplus = want - got, got - want
        lost += sum(missing.values())
        extra += sum(surplus.values())
        notes += [f"{name} missing: {m[:400]}" for m in list(missing)[:limit]]
        notes += [f"{name} extra: {s[:400]}" for s in list(surplus)[:limit]]
    return lost, extra, notes
