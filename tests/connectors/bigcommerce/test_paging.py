"""Paging over a window: nothing skipped while records change, each record once, calls as the formula says.

The decisive test mutates the store between two page requests (a requests hook on the client's
own session runs :meth:`StoreDB.update_order` as soon as page 1 has arrived; ``date_modified``
becomes now, which moves the record out of the window). Page numbers, with the API sorting by
``date_modified``, then skip a record that never changed; keyset paging by id does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from connectors.base import StoreSource, Window
from connectors.bigcommerce import BigCommerceClient, BigCommerceStore, min_api_calls
from connectors.bigcommerce.streams import CustomersStream, OrdersStream
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB
from tests.connectors.bigcommerce.helpers import (
    fresh_window,
    ids_of,
    insert_customers,
    insert_orders,
    make_store,
    spread,
    store_requests,
)


def after_each_page(store: BigCommerceStore, path: str, change: Callable[[int], None]) -> None:
    """Call ``change(n)`` once the ``n``-th page of ``path`` has arrived (n = 1, 2, ...)."""
    pages = 0

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        nonlocal pages
        if response.status_code == 200 and response.request.path_url.split("?")[0].endswith(path):
            pages += 1
            change(pages)

    store.client.session.hooks["response"].append(hook)


def naive_pages(client: BigCommerceClient, endpoint: str, params: dict[str, str], size: int) -> Iterator[list[Any]]:
    """Page numbers over the window sorted by date_modified: the strategy the connector does NOT use."""
    page = 1
    while True:
        body = client.get(endpoint, {**params, "sort": "date_modified:asc", "limit": size, "page": page})
        records = (body or {}).get("data", []) if endpoint.startswith("v3") else (body or [])
        if records:
            yield records
        if len(records) < size:
            return
        page += 1


# -- records changing during the run ------------------------------------------------------------


@pytest.fixture
def ten_orders(db: StoreDB, window: Window) -> list[int]:
    return insert_orders(db, spread(window, 10))


def test_page_numbers_skip_an_order_when_one_leaves_the_window_during_the_run(
    live: SandboxServer, db: StoreDB, window: Window, ten_orders: list[int]
) -> None:
    """Documents the failure keyset paging avoids: page 2 starts one record too late."""
    with make_store(live, page_size=3) as store:
        after_each_page(store, "/v2/orders", lambda n: db.update_order(ten_orders[0]) if n == 1 else None)
        seen = ids_of(naive_pages(store.client, "v2/orders", OrdersStream.window_params(window), 3))
    # Order 1 changed after page 1 (so it left the window); order 4 never changed, yet is lost.
    assert ten_orders[3] not in seen
    assert sorted(seen) == ten_orders[:3] + ten_orders[4:]


def test_keyset_paging_misses_no_order_however_the_window_changes(
    live: SandboxServer, db: StoreDB, window: Window, ten_orders: list[int]
) -> None:
    def change(page: int) -> None:
        # After each page, the first order of that page leaves the window, and so does an
        # order not read yet (it is the next run's: its new date_modified is in that window).
        if page <= 3:
            db.update_order(ten_orders[3 * (page - 1)])
        if page == 1:
            db.update_order(ten_orders[8])

    with make_store(live, page_size=3, order_lanes=1) as store:
        after_each_page(store, "/v2/orders", change)
        seen = ids_of(store.orders(window))
    assert seen == [i for i in ten_orders if i != ten_orders[8]]
    # The order that left the window before it was read is in the next run's window.
    next_run = Window.incremental(
        window.end, datetime.now(UTC) + timedelta(seconds=2), timedelta(0), timedelta(0), window.start
    )
    with make_store(live) as store:
        assert ten_orders[8] in ids_of(store.orders(next_run))


@pytest.fixture
def ten_customers(db: StoreDB, window: Window) -> list[int]:
    return insert_customers(db, spread(window, 10), tag=f"changing-{window.start:%Y%m%d}")


def test_page_numbers_skip_a_customer_when_one_leaves_the_window_during_the_run(
    live: SandboxServer, db: StoreDB, window: Window, ten_customers: list[int]
) -> None:
    params = CustomersStream.window_params(window)
    with make_store(live, page_size=3) as store:
        after_each_page(store, "/v3/customers", lambda n: db.update_customer(ten_customers[0]) if n == 1 else None)
        seen = ids_of(naive_pages(store.client, "v3/customers", params, 3))
    assert sorted(seen) == ten_customers[:3] + ten_customers[4:]  # the 4th never changed, never seen


def test_keyset_paging_misses_no_customer_however_the_window_changes(
    live: SandboxServer, db: StoreDB, window: Window, ten_customers: list[int]
) -> None:
    with make_store(live, page_size=3) as store:
        after_each_page(
            store, "/v3/customers", lambda n: db.update_customer(ten_customers[3 * (n - 1)]) if n <= 3 else None
        )
        assert ids_of(store.customers(window)) == ten_customers


# -- the window's bounds ------------------------------------------------------------------------


def test_records_on_the_boundary_seconds_are_kept(store: BigCommerceStore, db: StoreDB, window: Window) -> None:
    second = timedelta(seconds=1)
    moments = [window.start - second, window.start, window.end, window.end + second]
    orders = insert_orders(db, moments)
    customers = insert_customers(db, moments, tag=f"bounds-{window.start:%Y%m%d}")
    assert ids_of(store.orders(window)) == orders[1:3]
    assert ids_of(store.customers(window)) == customers[1:3]


def test_orders_can_be_windowed_on_their_creation(store: BigCommerceStore, db: StoreDB, window: Window) -> None:
    # Created in the window, modified long after it: reconciliation finds them by date_created.
    later = window.end + timedelta(days=3)
    ids = db.insert_orders(
        [
            {"date_created": m, "date_modified": later, "billing_address": {"email": "r@example.com"}}
            for m in spread(window, 3)
        ]
    )
    assert ids_of(store.orders(window, field="date_created")) == ids
    assert ids_of(store.orders(window)) == []
    with pytest.raises(ValueError, match="date_modified or date_created"):
        store.orders(window, field="date_shipped")


# -- how many requests --------------------------------------------------------------------------

COUNTS = [0, 1, 4, 5, 10, 12, 250, 300, 500]


@pytest.fixture(scope="module")
def counted(server: SandboxServer) -> dict[int, Window]:
    """For each N of COUNTS, a window holding exactly N orders and N customers."""
    db = StoreDB(server.config.store_db)
    windows: dict[int, Window] = {}
    for n in COUNTS:
        window = fresh_window()
        moments = [window.start + timedelta(seconds=60 * i) for i in range(n)]
        insert_orders(db, moments)
        insert_customers(db, moments, tag=f"counted-{n}")
        windows[n] = window
    db.close()
    return windows


@pytest.mark.parametrize("entity", ["orders", "customers"])
@pytest.mark.parametrize("records", COUNTS)
def test_requests_for_n_records_follow_the_formula(
    live: SandboxServer, counted: dict[int, Window], entity: str, records: int
) -> None:
    page_size = 5 if records <= 12 else 250
    endpoint = {"orders": "v2/orders", "customers": "v3/customers"}[entity]
    with make_store(live, page_size=page_size, order_lanes=1) as store:
        pages = list(getattr(store, entity)(counted[records]))
        calls = store.api_calls()
    assert sum(len(page) for page in pages) == records
    assert all(0 < len(page) <= page_size for page in pages)
    expected = min_api_calls(entity, records, page_size)  # type: ignore[arg-type]
    assert store_requests(live, endpoint) == calls[endpoint] == expected


def test_an_order_with_more_line_items_than_the_api_inlines_gets_them_all(
    store: BigCommerceStore, live: SandboxServer, db: StoreDB, window: Window
) -> None:
    products = [{"name": f"Part {i}", "sku": f"P-{i}", "price_ex_tax": "1.2500", "quantity": 1} for i in range(55)]
    [order_id] = db.insert_orders(
        [
            {
                "date_created": window.start,
                "date_modified": window.start,
                "billing_address": {"email": "bulk@example.com"},
                "shipping_addresses": [{"first_name": "Bulk", "city": "Akron"}],
                "products": products,
            }
        ]
    )
    [[order]] = list(store.orders(window))
    [shipping] = order["consignments"]["shipping"]
    assert "__warning__" not in shipping
    assert [item["sku"] for item in shipping["line_items"]] == [f"P-{i}" for i in range(55)]
    assert all(item["price_ex_tax"] == Decimal("1.2500") for item in shipping["line_items"])
    assert store.api_calls() == {"v2/orders": 1, "v2/orders/{id}/products": 1}
    assert order["id"] == order_id


def test_customers_by_id_reads_the_named_customers_once(store: BigCommerceStore, db: StoreDB, window: Window) -> None:
    ids = insert_customers(db, spread(window, 3), tag=f"byid-{window.start:%Y%m%d}")
    pages = list(store.customers_by_id([ids[2], ids[0], ids[2]]))
    assert ids_of(pages) == [ids[0], ids[2]]
    assert pages[0][0]["addresses"][0]["city"] == "Columbus"
    assert store.api_calls() == {"v3/customers": 1}
    assert list(store.customers_by_id([])) == []


def test_pages_come_out_as_they_arrive(live: SandboxServer, db: StoreDB, window: Window) -> None:
    """Pages stream: nothing is asked before the first page is wanted, and the requests run at most
    ``read_ahead`` pages ahead of the consumer (one page in hand, ``read_ahead`` waiting, one more
    fetched and waiting for room), never the whole window."""
    ids = insert_orders(db, spread(window, 30))
    with make_store(live, page_size=3, order_lanes=1) as paged:
        pages = paged.orders(window)
        assert paged.api_calls() == {}
        assert ids_of([next(pages)]) == ids[:3]
        ahead = paged._orders.read_ahead
        deadline = time.monotonic() + 10
        while paged.api_calls()["v2/orders"] < ahead + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # room for a request too many, were the bound broken
        assert paged.api_calls() == {"v2/orders": ahead + 2} and ahead + 2 < 11
        assert ids_of(pages) == ids[3:]
        assert paged.api_calls() == {"v2/orders": 11}  # 10 pages and the 204 after the last full one


def test_the_store_is_a_store_source(store: BigCommerceStore) -> None:
    source: StoreSource = store  # checked by type checkers; at run time, the protocol's methods exist
    assert all(callable(getattr(source, name)) for name in ("customers", "orders", "api_calls"))
