"""Orders read in id lanes: each order once and in id order, nothing skipped while the window
changes, one stream for a window too large to hold ahead, and requests as
:func:`connectors.bigcommerce.streams.laned_calls` says. (The lanes keeping the store's quota
together: ``test_live.test_pacing_keeps_the_store_off_429s``.)"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from connectors.base import Window
from connectors.bigcommerce import BigCommerceStore, min_api_calls
from connectors.bigcommerce.streams import PAGES_PER_LANE, expected_records, lane_bounds, laned_calls, lanes_for
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB
from tests.connectors.bigcommerce.helpers import (
    ids_of,
    insert_orders,
    lane_ranges,
    lane_sizes,
    make_store,
    spread,
    store_requests,
)

# -- the cut, as pure functions ------------------------------------------------------------------


@pytest.mark.parametrize(("low", "high", "lanes"), [(1, 100, 4), (10, 13, 4), (5, 5, 3), (1, 7, 2), (1, 1000, 16)])
def test_lane_bounds_cover_the_range_in_even_contiguous_parts(low: int, high: int, lanes: int) -> None:
    bounds = lane_bounds(low, high, lanes)
    assert bounds[0][0] == low and bounds[-1][1] == high
    assert all(a <= b for a, b in bounds)  # never an empty lane
    assert all(b + 1 == c for (_, b), (c, _) in pairwise(bounds))
    sizes = [b - a + 1 for a, b in bounds]
    assert len(bounds) == min(lanes, high - low + 1) and max(sizes) - min(sizes) <= 1


def test_no_lanes_for_an_empty_range() -> None:
    assert lane_bounds(10, 9, 4) == []


def test_lanes_follow_the_pages_expected_at_the_first_pages_density() -> None:
    dense = list(range(1, 251))  # 10,000 orders, every id
    assert expected_records(dense, (251, 10_000)) == 9_750
    assert lanes_for(9_750, 250, most=4) == 4  # 39 pages after the first
    assert lanes_for(9_750, 250, most=16) == round(39 / PAGES_PER_LANE)
    sparse = list(range(1, 2501, 10))  # one id in ten
    assert expected_records(sparse, (2501, 100_000)) == pytest.approx(9_750, rel=0.01)
    assert lanes_for(1_000, 250, most=4) == 1  # four pages: one lane
    assert lanes_for(10, 250, most=4) == 1  # never none


# -- against the sandbox -----------------------------------------------------------------------


def _queries(store: BigCommerceStore) -> list[dict[str, str]]:
    """The query of each request ``store`` sends from now on, in the order they are answered."""
    seen: list[dict[str, str]] = []
    hook = lambda response, *_, **__: seen.append(dict(parse_qsl(urlsplit(response.request.url).query)))  # noqa: E731
    store.client.session.hooks["response"].append(hook)
    return seen


@pytest.mark.parametrize(("orders", "page_size"), [(60, 3), (37, 2), (250, 10)])
def test_a_large_window_is_read_in_lanes_at_once_each_order_once(
    live: SandboxServer, db: StoreDB, window: Window, orders: int, page_size: int
) -> None:
    ids = insert_orders(db, spread(window, orders))
    with make_store(live, page_size=page_size, order_lanes=4) as store:
        queries = _queries(store)
        seen = ids_of(store.orders(window))
        calls = store.api_calls()["v2/orders"]
    assert seen == ids  # each once, in id order, as one stream gives them
    sizes = lane_sizes(ids, page_size)
    assert len(sizes) > 1
    assert calls == store_requests(live, "v2/orders") == laned_calls(sizes, page_size)
    assert calls <= min_api_calls("orders", orders, page_size) + len(sizes)
    # The lowest page, then the highest id, then lanes bounded by id (the last one open).
    assert queries[0]["sort"] == "id:asc" and "min_id" not in queries[0]
    assert queries[1] == {**queries[0], "sort": "id:desc", "limit": "1", "min_id": str(ids[page_size - 1] + 1)}
    highs = {str(high) for _, high in lane_ranges(ids, page_size)[:-1]}
    assert {q.get("max_id") for q in queries[2:]} == highs | {None}


@pytest.mark.parametrize(("orders", "calls"), [(0, 1), (1, 1), (2, 2), (3, 3), (4, 4), (5, 4)])
def test_a_small_window_costs_at_most_a_request_more_than_one_stream(
    live: SandboxServer, db: StoreDB, window: Window, orders: int, calls: int
) -> None:
    """A short first page ends it; otherwise the request for the highest id is the one more."""
    ids = insert_orders(db, spread(window, orders))
    with make_store(live, page_size=2, order_lanes=4) as store:
        assert ids_of(store.orders(window)) == ids
    assert store_requests(live, "v2/orders") == calls <= min_api_calls("orders", orders, 2) + 1


def test_lanes_miss_no_order_however_the_window_changes(live: SandboxServer, db: StoreDB, window: Window) -> None:
    """Orders leave the window while the lanes read it (their ``date_modified`` becomes now):
    every order that stays is read once, and each that left is read or is in the next window."""
    ids = insert_orders(db, spread(window, 90))
    leaving = {5: ids[40], 6: ids[89], 9: ids[10], 12: ids[70], 15: ids[41]}  # after the n-th page arrives
    arrived = 0
    lock = threading.Lock()

    def change(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        nonlocal arrived
        if response.status_code == 200 and "/v2/orders" in response.request.path_url:
            with lock:
                arrived += 1
                order = leaving.get(arrived)
            if order is not None:
                db.update_order(order)

    with make_store(live, page_size=3, order_lanes=4) as store:
        store.client.session.hooks["response"].append(change)
        seen = ids_of(store.orders(window))
    assert len(seen) == len(set(seen))
    left = set(leaving.values())
    assert set(ids) - left <= set(seen)
    next_run = Window.incremental(
        window.end, datetime.now(UTC) + timedelta(seconds=2), timedelta(0), timedelta(0), window.start
    )
    with make_store(live) as store:
        later = set(ids_of(store.orders(next_run)))
    assert left <= set(seen) | later


def test_a_window_expected_to_hold_more_than_the_lanes_may_hold_ahead_is_one_stream(
    live: SandboxServer, db: StoreDB, window: Window
) -> None:
    ids = insert_orders(db, spread(window, 60))
    with make_store(live, page_size=3, order_lanes=4) as store:
        store._orders.laned_orders = 40  # the rest holds 57
        queries = _queries(store)
        pages = store.orders(window)
        head = ids_of([next(pages), next(pages)])
        time.sleep(0.3)  # room for pages too many, were the stream reading the window whole ahead
        # The first page, the highest id; then one page in hand, read_ahead waiting, one more fetched.
        assert store.api_calls()["v2/orders"] <= 2 + 1 + store._orders.read_ahead + 1 < 21
        assert head + ids_of(pages) == ids
    assert all("max_id" not in q for q in queries)  # one lane, open above
    assert store_requests(live, "v2/orders") == laned_calls([57], 3) == min_api_calls("orders", 60, 3) + 1
