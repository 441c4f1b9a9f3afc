"""Smoke test of the benchmark: it runs end to end on a small store, and our call counts, read
from the sandbox's own request counters, equal the formula of :mod:`benchmarks.model` exactly.

No timing is asserted: the machine is shared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.model import FIXED_SALESFORCE_CALLS, bigcommerce_min_calls, salesforce_write_calls
from benchmarks.run import by_kind, run_benchmark, write_reports

ORDERS = 120
SAMPLE = 10


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    """One small run: no latency, a generous rate limit, a per-record sample of ten orders."""
    return run_benchmark(ORDERS, latency_ms=0, rate_limit_quota=10_000, per_record_orders=SAMPLE, log=lambda _: None)


def test_backfill_extracts_the_whole_store(result: dict[str, Any]) -> None:
    assert result["orders"] == ORDERS
    assert result["customers"] > 0
    loaded = result["backfill"]["loaded"]
    assert loaded["Order"] == ORDERS - sum(result["backfill"]["rejected"].values())
    assert set(loaded) == {"Account", "Contact", "Order"}


def test_bigcommerce_calls_equal_the_minimum(result: dict[str, Any]) -> None:
    back = result["backfill"]
    expected = bigcommerce_min_calls(result["customers"], result["orders"])
    assert back["calls"]["bigcommerce"] == expected
    assert result["ratios"]["bigcommerce_calls_vs_minimum"] == 1.0


def test_salesforce_calls_equal_the_formula(result: dict[str, Any]) -> None:
    back = result["backfill"]
    kinds = by_kind(back["calls"]["salesforce"])
    reads, writes = back["formula"]["salesforce_reads"], back["formula"]["salesforce_writes"]
    sizes = result["measured"]["backfill"]["expected"]["write_sizes"]
    assert kinds.pop("login") == FIXED_SALESFORCE_CALLS["login"]
    lookups = FIXED_SALESFORCE_CALLS["queue lookup"] + FIXED_SALESFORCE_CALLS["integration user lookup"]
    assert kinds.pop("query") == lookups + reads["query"]
    assert kinds.pop("query_more", 0) == reads["query_more"] == 0
    # Below the Bulk threshold every object is one load of ceil(n / 200) sObject Collections calls.
    assert kinds.pop("collections") == writes["collections"] == sum(salesforce_write_calls(n) for _, _, n in sizes)
    assert kinds == {}, f"calls outside the formula: {kinds}"
    assert sum(back["calls"]["salesforce"].values()) == back["formula"]["salesforce"]
    assert {(op, obj) for op, obj, _ in sizes} >= {("upsert", "Account"), ("upsert", "Contact"), ("upsert", "Order")}


def test_idle_incremental_reads_two_pages_and_writes_nothing(result: dict[str, Any]) -> None:
    idle = result["idle"]
    assert idle["calls"]["bigcommerce"] == {
        "GET /stores/{store_hash}/v2/orders": 1,
        "GET /stores/{store_hash}/v3/customers": 1,
    }
    assert idle["salesforce_calls"] == 0
    assert result["targets"]["idle"]["met"] is True


def test_per_record_path_is_one_call_per_order_and_record(result: dict[str, Any]) -> None:
    per = result["per_record"]
    assert per["sample_orders"] == SAMPLE
    assert per["sample_calls"]["bigcommerce"] == 1 + 3 * SAMPLE  # a page, then 3 sub-resources per order
    assert per["sample_calls"]["salesforce"] == per["sample_records"] > 0
    assert per["calls_at_n"] > result["backfill"]["totals"]["bigcommerce"] + result["backfill"]["totals"]["salesforce"]


def test_reports_put_ratios_first(result: dict[str, Any], tmp_path: Path) -> None:
    json_path, md_path = write_reports(result, tmp_path)
    assert json_path.name == f"bench-{ORDERS}.json" and md_path.name == f"bench-{ORDERS}.md"
    data = json.loads(json_path.read_text())
    assert list(data)[:1] == ["ratios"]
    text = md_path.read_text()
    assert text.index("## Ratios") < text.index("## Targets") < text.index("## API calls")
