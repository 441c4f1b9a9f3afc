"""The client against the sandbox store with scripted faults: what is retried, how long it waits, when it stops.

Every fault is scripted ("the next N requests to this path get KIND"), so each test is
deterministic; the package's sandbox has a 400 ms rate-limit window (a 429's wait is short) and a
``slow`` fault of 2 s against a 1 s read timeout (generous: the machine may be busy).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import Window
from connectors.bigcommerce import (
    BigCommerceApiError,
    BigCommerceError,
    BigCommerceStore,
    RetriesExhausted,
    min_api_calls,
)
from connectors.bigcommerce.streams import laned_calls
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB
from tests.connectors.bigcommerce.helpers import (
    SLOW_SECONDS,
    Sleeps,
    admin,
    fresh_window,
    ids_of,
    insert_orders,
    lane_sizes,
    make_store,
    script_faults,
    spread,
    start_server,
    store_requests,
)

ORDERS = "/v2/orders$"


@pytest.fixture
def orders(db: StoreDB, window: Window) -> list[int]:
    """Five orders in the test's window."""
    return insert_orders(db, spread(window, 5))


def _statuses(store: BigCommerceStore) -> list[tuple[int, Mapping[str, str]]]:
    """Collects (status, headers) of every response the store's session receives."""
    seen: list[tuple[int, Mapping[str, str]]] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append((response.status_code, response.headers.copy()))

    store.client.session.hooks["response"].append(hook)
    return seen


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_429_with_the_meter_waits_the_reset_time(
    live: SandboxServer, window: Window, orders: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    script_faults(live, {"kind": "rate_limit", "path": ORDERS})
    sleeps = Sleeps()
    with make_store(live, sleep=sleeps) as store:
        responses = _statuses(store)
        assert ids_of(store.orders(window)) == orders
        assert store.api_calls() == {"v2/orders": 2}
    status, headers = responses[0]
    assert status == 429 and headers["X-Rate-Limit-Requests-Left"] == "0"
    assert sleeps == [int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000]
    [warning] = _warnings(caplog)
    assert "GET v2/orders" in warning and "429" in warning and f"retrying in {sleeps[0]:.2f} s" in warning
    assert live.credentials.bc_access_token not in caplog.text
    assert store_requests(live, "v2/orders") == 2


@pytest.mark.parametrize(("kind", "status"), [("throttle", "429"), ("server_error", "500"), ("unavailable", "503")])
def test_load_and_server_errors_back_off_and_retry(
    live: SandboxServer,
    window: Window,
    orders: list[int],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    status: str,
) -> None:
    script_faults(live, {"kind": kind, "path": ORDERS, "count": 2})
    sleeps = Sleeps()
    with make_store(live, sleep=sleeps) as store:
        assert ids_of(store.orders(window)) == orders
        assert store.api_calls() == {"v2/orders": 3}
    # Exponential windows (0.02 s, then 0.04 s) with full jitter.
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.02 and 0 <= sleeps[1] <= 0.04
    warnings = _warnings(caplog)
    assert len(warnings) == 2 and all("GET v2/orders" in w and status in w for w in warnings)
    assert store_requests(live, "v2/orders") == 3


def test_a_read_timeout_is_retried(
    live: SandboxServer, window: Window, orders: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    script_faults(live, {"kind": "slow", "path": ORDERS})
    started = time.monotonic()
    with make_store(live) as store:
        assert ids_of(store.orders(window)) == orders
        assert store.api_calls() == {"v2/orders": 2}
    assert time.monotonic() - started < SLOW_SECONDS  # did not wait for the slow answer
    [warning] = _warnings(caplog)
    assert "GET v2/orders" in warning and "ReadTimeout" in warning
    # The store finishes the slow request later; let it, so the next test's counters start clean.
    deadline = time.monotonic() + 5
    while store_requests(live, "v2/orders") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_connection_reset_mid_body_is_retried(
    live: SandboxServer, window: Window, orders: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    script_faults(live, {"kind": "reset", "path": ORDERS})
    with make_store(live) as store:
        assert ids_of(store.orders(window)) == orders
        assert store.api_calls() == {"v2/orders": 2}
    [warning] = _warnings(caplog)
    assert "ChunkedEncodingError" in warning and "IncompleteRead" in warning


def test_retries_are_bounded_in_count(live: SandboxServer, window: Window, orders: list[int]) -> None:
    script_faults(live, {"kind": "unavailable", "path": ORDERS, "count": 10})
    with make_store(live, max_attempts=3) as store, pytest.raises(RetriesExhausted) as raised:
        list(store.orders(window))
    error = raised.value
    assert error.attempts == 3 and error.endpoint == "v2/orders"
    assert "GET v2/orders: gave up after 3 attempt(s)" in str(error) and "HTTP 503" in str(error)
    assert store_requests(live, "v2/orders") == 3


def test_retries_are_bounded_in_time(live: SandboxServer, window: Window, orders: list[int]) -> None:
    # A fresh rate-limit window: the 429 asks for a 400 ms wait, more than the 0.2 s allowed.
    admin(live).post(f"{live.info.store_base}/__sandbox/store/rate-limit/reset").raise_for_status()
    script_faults(live, {"kind": "rate_limit", "path": ORDERS})
    sleeps = Sleeps()
    with make_store(live, sleep=sleeps, max_retry_seconds=0.2) as store, pytest.raises(RetriesExhausted) as raised:
        list(store.orders(window))
    assert raised.value.attempts == 1 and "HTTP 429" in str(raised.value)
    assert sleeps == []  # gave up instead of sleeping past the budget


def test_an_empty_window_is_one_request_answered_204(
    store: BigCommerceStore, live: SandboxServer, window: Window
) -> None:
    responses = _statuses(store)
    assert list(store.orders(window)) == []
    assert [status for status, _ in responses] == [204]
    assert store.api_calls() == {"v2/orders": min_api_calls("orders", 0)}


def test_a_204_past_the_last_full_page_ends_the_orders(live: SandboxServer, db: StoreDB, window: Window) -> None:
    ids = insert_orders(db, spread(window, 4))
    with make_store(live, page_size=2, order_lanes=1) as store:
        responses = _statuses(store)
        assert [[o["id"] for o in page] for page in store.orders(window)] == [ids[:2], ids[2:]]
    assert [status for status, _ in responses] == [200, 200, 204]


def test_a_wrong_token_is_401_not_retried(live: SandboxServer, window: Window) -> None:
    token = "not-the-token-0123456789"
    with make_store(live, access_token=token) as store, pytest.raises(BigCommerceApiError) as raised:
        list(store.orders(window))
    error = raised.value
    assert error.status == 401 and error.endpoint == "v2/orders"
    assert str(error).startswith("GET v2/orders failed with HTTP 401: Unauthorized")
    assert token not in str(error) and live.credentials.bc_access_token not in str(error)
    assert store_requests(live, "v2/orders") == 1


def test_an_unknown_store_is_404_not_retried(live: SandboxServer, window: Window) -> None:
    url = live.info.store_url.replace("/stores/atsstore/", "/stores/nosuchstore/")
    with make_store(live, api_url=url) as store, pytest.raises(BigCommerceApiError) as raised:
        list(store.customers(window))
    assert raised.value.status == 404
    assert str(raised.value) == "GET v3/customers failed with HTTP 404: Store not found."
    assert store_requests(live, "v3/customers") == 1


def test_a_bad_filter_is_422_not_retried_with_the_apis_details(store: BigCommerceStore, live: SandboxServer) -> None:
    with pytest.raises(BigCommerceApiError) as raised:
        store.client.get("v3/customers", {"date_modified:min": "last tuesday"})
    error = raised.value
    assert error.status == 422 and "date_modified:min" in error.errors
    assert "GET v3/customers failed with HTTP 422: Invalid filter(s): date_modified:min" in str(error)
    assert "last tuesday" in str(error)
    assert store.api_calls() == {"v3/customers": 1}


def test_a_limit_over_250_is_413_not_retried(store: BigCommerceStore) -> None:
    with pytest.raises(BigCommerceApiError) as raised:
        store.client.get("v2/orders", {"limit": 251})
    assert raised.value.status == 413 and "maximum limit is 250" in str(raised.value)
    assert store.api_calls() == {"v2/orders": 1}


def test_an_untrusted_certificate_is_refused_not_retried(live: SandboxServer, window: Window) -> None:
    # Without the sandbox's CA the default trust store is used, and the certificate fails it.
    with make_store(live, ca_bundle=None) as store, pytest.raises(BigCommerceError) as raised:
        list(store.orders(window))
    assert str(raised.value).startswith("GET v2/orders: SSLError") and "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert isinstance(raised.value.__cause__, requests.exceptions.SSLError)
    assert store.api_calls() == {"v2/orders": 1}


@pytest.mark.parametrize("lanes", [1, 4])
def test_pacing_keeps_the_store_off_429s(tmp_path: Path, caplog: pytest.LogCaptureFixture, lanes: int) -> None:
    """A quota of 6 requests per 600 ms and 12 (or, four lanes sending at once, about 45) requests
    to send: paced from 3 left, together, never a 429."""
    caplog.set_level(logging.INFO, logger="connectors.bigcommerce")
    server = start_server(tmp_path / "paced", rate_limit_quota=6, rate_limit_window_ms=600)
    try:
        window = fresh_window()
        db = StoreDB(server.config.store_db)
        ids = insert_orders(db, spread(window, 11 if lanes == 1 else 40))
        db.close()
        sleeps = Sleeps()
        with make_store(server, sleep=sleeps, page_size=1, low_quota=3, order_lanes=lanes) as store:
            responses = _statuses(store)
            assert ids_of(store.orders(window)) == ids
        assert [status for status, _ in responses].count(429) == 0
        expected = min_api_calls("orders", 11, 1) if lanes == 1 else laned_calls(lane_sizes(ids, 1, lanes), 1)
        assert len(responses) == store_requests(server, "v2/orders") == expected
        assert sleeps and not _warnings(caplog)
        assert all(0 < wait <= 0.6 for wait in sleeps)
        assert any("left of the store's quota, pacing" in r.getMessage() for r in caplog.records)
    finally:
        server.stop()
