"""Ledger timings at 100k keys (not a test): ``.venv/bin/python -m tests.state.bench_ledger [URL ...]``.

Without URLs it measures a temporary SQLite file. Each URL is measured as given, so point a
PostgreSQL URL at a scratch schema (``...?options=-csearch_path%3Dscratch``): it writes 100k rows.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from state import StateStore, payload_hash

N = 100_000


def _timed(label: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"  {label:<28} {time.perf_counter() - started:6.2f} s")
    return result


def bench(url: str) -> None:
    """Hash, record (new and existing keys), look up and compare 100k keys on ``url``."""
    print(url)
    payloads = {
        f"order-{i}": {"Name": f"Order {i}", "Amount__c": Decimal(i) / 100, "Date__c": date(2024, 1, 1 + i % 28)}
        for i in range(N)
    }
    with StateStore.open(url) as store:
        hashes = _timed("payload_hash x 100k", lambda: {key: payload_hash(p) for key, p in payloads.items()})
        rows = [(key, digest, f"801{i:015d}") for i, (key, digest) in enumerate(hashes.items())]
        _timed("record_loaded (new)", lambda: store.record_loaded("Order", rows, "bench-1"))
        _timed("record_loaded (existing)", lambda: store.record_loaded("Order", rows, "bench-2"))
        found = _timed("ledger_lookup", lambda: store.ledger_lookup("Order", list(hashes)))
        same = _timed("unchanged", lambda: store.unchanged("Order", hashes))
        assert len(found) == len(same) == N


if __name__ == "__main__":
    if len(sys.argv) > 1:
        for url in sys.argv[1:]:
            bench(url)
    else:
        with tempfile.TemporaryDirectory() as folder:
            bench(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
