"""The two streams (v3 customers, v2 orders) and :class:`BigCommerceStore`, the ``StoreSource``.

Both streams read a closed window fixed for the run (:class:`connectors.base.Window`; bounds
inclusive, whole seconds: records on a boundary second are kept) and page **by id** (see
:class:`~connectors.bigcommerce.client.KeysetStream` for why page numbers would skip records):

* customers, ``GET v3/customers?include=addresses&date_modified:min=..&date_modified:max=..``:
  the first page is the lowest ids (the API's default order), every later page is asked for
  with the ``after`` cursor (``meta.cursor_pagination.end_cursor``) of the page before; the
  cursor block says whether there is a next page, so no request is spent on an empty one;
* orders, ``GET v2/orders?sort=id:asc&min_date_modified=..&max_date_modified=..
  &include=consignments.line_items&consignment_structure=object`` (shipping addresses and line
  items inline, no request per order): always page 1, with ``min_id`` one past the last id
  seen. v2 says nothing about what follows, so a short page ends the stream and otherwise the
  next request tells (a full page, or ``204 No Content``).

**Id lanes** (orders; ``ATS_BC_ORDER_LANES``, default 4): one stream of pages waits a round trip
per page, so a large window is cut by id and its parts read at once. When the first page (the
lowest ids) is full, one request asks for the highest id above it (``sort=id:desc&limit=1&
min_id=``); the ids in between are cut into up to that many ranges (one per
:data:`PAGES_PER_LANE` pages expected at the first page's density of ids), each a keyset stream
of its own (``min_id``..``max_id``; the last has no upper bound) in its own thread. A lane drops
a record whose id is below its range as a repeat (it is another lane's), as a single stream drops
ids it has passed. The pages still come out in id order, as one stream's would (a later lane's
wait, read, for their turn), so a window yields the same batches however it was read; hence
lanes only for a window expected to hold at most :data:`LANED_ORDERS` more orders (what they
may hold ahead). The store's quota is shared by all of them (the client paces them together).

Pages come out as they arrive (generators), so memory does not grow with the window. Pages are
in ascending id order, not ``date_modified`` order: the window is the unit of completeness, so a
caller advances its watermark only after the whole window is through.

Requests for N records with page size L (:func:`min_api_calls`, no retries):

* customers: ``max(1, ceil(N / L))``: one request even for none; no extra request at an exact
  multiple of L, since the cursor block says there is no next page;
* orders: ``N // L + 1``: ``ceil(N / L)`` when N is not a multiple of L (the short last page
  ends it), one more otherwise (the ``204`` that shows the previous full page was the last).
  Read in lanes: the first page, the request for the highest id, and ``n // L + 1`` per lane of
  ``n`` records (:func:`laned_calls`): at most a request more per lane, and one for the highest id.

One exception, on orders only: the API inlines at most 50 line items per consignment (and says
so in a ``__warning__``); such an order's line items are then read from
``v2/orders/{id}/products`` (``n // 250 + 1`` more requests for an order of ``n`` items), so the
transforms always see them all.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from connectors.base import Window
from connectors.bigcommerce.client import (
    BigCommerceClient,
    BigCommerceError,
    KeysetStream,
    Params,
    RateLimit,
    Record,
    record_id,
)
from connectors.bigcommerce.parsing import (
    amount_parser,
    format_iso8601,
    format_rfc2822,
    parse_customer,
    parse_line_items,
    parse_order,
    shipping_consignments,
)
from connectors.read_ahead import merge_ahead
from connectors.settings import BigCommerceSettings

log = logging.getLogger(__name__)

#: The most records the API returns per request, whatever ``limit`` asks for.
MAX_PAGE_SIZE = 250


class CustomersStream(KeysetStream[str]):
    """v3 customers with their addresses, by id, with ``after`` cursors."""

    endpoint = "v3/customers"

    @staticmethod
    def window_params(window: Window) -> dict[str, str]:
        """The query of the customers modified in ``window``."""
        return {
            "include": "addresses",
            "date_modified:min": format_iso8601(window.start),
            "date_modified:max": format_iso8601(window.end),
        }

    def fetch(self, params: Params, cursor: str | None) -> tuple[list[Any], str | None]:
        """One page; the next cursor when the API's cursor block shows a next page."""
        query: dict[str, str | int] = {**params, "limit": self.page_size}
        if cursor is not None:
            query["after"] = cursor
        body = self.client.get(self.endpoint, query)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BigCommerceError(f"GET {self.endpoint}: expected a {{data, meta}} envelope, got {body!r:.200}")
        if not data:
            return [], None
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        cursors = meta.get("cursor_pagination")
        if not isinstance(cursors, dict):
            # The API sends the block on page 1 and with every cursor; without it, a short page ends.
            return data, (self._cursor_after(data) if len(data) >= self.page_size else None)
        links = cursors.get("links") if isinstance(cursors.get("links"), dict) else {}
        if not links.get("next"):
            return data, None
        return data, str(cursors.get("end_cursor") or self._cursor_after(data))

    def parse_page(self, records: list[Record]) -> list[Record]:
        """Dates of each customer parsed."""
        return [parse_customer(record) for record in records]

    @staticmethod
    def min_calls(records: int, page_size: int) -> int:
        """``max(1, ceil(records / page_size))``."""
        return max(1, math.ceil(records / page_size))

    def _cursor_after(self, data: list[Any]) -> str:
        """A cursor past a page, in the API's documented form (base64 of ``{"id": N}``)."""
        cursor = json.dumps({"id": self.last_id(data)}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(cursor).decode().rstrip("=")


#: A lane is opened per this many pages the rest of a window is expected to hold: each lane ends
#: on a page of its own (short, or the ``204`` after a full one), a request more than one stream.
PAGES_PER_LANE = 4
#: Lanes only for a window expected to hold at most this many orders more: their pages come out
#: in id order (a later lane's wait, read, for their turn), so the lanes hold up to this many
#: orders ahead. A larger window (a backfill, bound by the store's quota anyway) is one stream.
LANED_ORDERS = 10_000


def lane_bounds(low: int, high: int, lanes: int) -> list[tuple[int, int]]:
    """``lanes`` (or fewer: never an empty one) contiguous id ranges, bounds inclusive, as even
    as can be, covering ``[low, high]`` in ascending order; none when ``high < low``."""
    span = high - low + 1
    if span <= 0:
        return []
    lanes = max(1, min(lanes, span))
    edges = [low + span * i // lanes for i in range(lanes + 1)]
    return [(edges[i], edges[i + 1] - 1) for i in range(lanes)]


def expected_records(first_ids: list[int], ids: tuple[int, int]) -> float:
    """How many records the ids ``ids`` (bounds inclusive) should hold, at the density of ids of a
    window's first page (``first_ids``)."""
    return (ids[1] - ids[0] + 1) * len(first_ids) / (max(first_ids) - min(first_ids) + 1)


def lanes_for(expected: float, page_size: int, most: int) -> int:
    """How many lanes to read ``expected`` records in: one per :data:`PAGES_PER_LANE` pages (at
    most ``most``, at least one)."""
    return max(1, min(most, round(expected / page_size / PAGES_PER_LANE)))


def laned_calls(lane_records: list[int], page_size: int = MAX_PAGE_SIZE) -> int:
    """Requests of a window read in lanes holding ``lane_records`` records each, no retries: the
    first page, the request for the highest id, then ``n // page_size + 1`` per lane."""
    return 2 + sum(n // page_size + 1 for n in lane_records)


class OrdersStream(KeysetStream[int]):
    """v2 orders with inline consignments and line items, by id, with ``min_id``; in id lanes read at
    the same time when a window holds many pages (module docstring)."""

    endpoint = "v2/orders"
    #: The name the requests for an order's line items are counted under.
    products_endpoint = "v2/orders/{id}/products"

    def __init__(self, client: BigCommerceClient, page_size: int, read_ahead: int = 4, lanes: int = 1) -> None:
        """As :class:`KeysetStream`, reading a window in up to ``lanes`` id ranges at once."""
        super().__init__(client, page_size, read_ahead)
        self.lanes = lanes
        self.laned_orders = LANED_ORDERS

    @staticmethod
    def window_params(window: Window, field: str = "date_modified") -> dict[str, str]:
        """The query of the orders whose ``field`` lies in ``window``."""
        if field not in ("date_modified", "date_created"):
            raise ValueError(f"orders are windowed on date_modified or date_created, not {field!r}")
        return {
            f"min_{field}": format_rfc2822(window.start),
            f"max_{field}": format_rfc2822(window.end),
            "include": "consignments.line_items",
            "consignment_structure": "object",
        }

    def fetch(self, params: Params, cursor: int | None) -> tuple[list[Any], int | None]:
        """One page (``204`` is an empty one); the next ``min_id`` unless the page was short."""
        query: dict[str, str | int] = {**params, "sort": "id:asc", "limit": self.page_size}
        if cursor is not None:
            query["min_id"] = cursor
        body = self._array(self.client.get(self.endpoint, query))
        if not body:
            return [], None
        if len(body) < self.page_size:
            # Nothing can enter a window that ended before the run began: a short page is the last.
            return body, None
        return body, self.last_id(body) + 1

    def _array(self, body: Any) -> list[Any]:
        """A v2 list's body (``204``, None: empty); raises for anything but a JSON array."""
        if body is None:
            return []
        if not isinstance(body, list):
            raise BigCommerceError(f"GET {self.endpoint}: expected a JSON array, got {body!r:.200}")
        return body

    def pages(self, params: Params) -> Iterator[list[Record]]:
        """Parsed pages of the orders matching ``params``, as they arrive (see :meth:`KeysetStream.pages`).

        With more than one lane (and no id bounds in ``params``), a window whose first page is
        full has its highest id asked for, and the ids above the first page are read in lanes at
        once, their pages still in id order (module docstring).
        """
        if self.lanes < 2 or "min_id" in params or "max_id" in params:
            return super().pages(params)
        return self._laned_pages(params)

    def _laned_pages(self, params: Params) -> Iterator[list[Record]]:
        first, more = self.fetch(params, None)
        first = self._fresh(first, None)
        if first:
            yield self.parse_page(first)
        if more is None:
            return
        # Where the window's ids end: the highest above the first page's (one record). It only
        # cuts the lanes evenly; the last lane has no upper bound, so a wrong answer (a record
        # served again under a later id, say) makes a lane longer, never the window shorter.
        first_ids = self.ids(first)
        above = max(first_ids) + 1
        body = self._array(self.client.get(self.endpoint, {**params, "sort": "id:desc", "limit": 1, "min_id": above}))
        if not body:
            return
        # Never below the first page's end: the last lane reads from there on, whatever the answer.
        top = max([above, *(i for i in map(record_id, body) if i is not None)])
        expected = expected_records(first_ids, (above, top))
        lanes = lanes_for(expected, self.page_size, self.lanes) if expected <= self.laned_orders else 1
        bounds = lane_bounds(above, top, lanes)
        # Each lane owns its ids: a record below its range is another lane's, served again (a repeat).
        streams = [
            self._raw_pages({**params, "max_id": high} if i < len(bounds) - 1 else params, cursor=low, after=low - 1)
            for i, (low, high) in enumerate(bounds)
        ]
        # In id order, as one stream gives them (batches are cut in id order: which batch plans a
        # record first decides its create-only values); each of several lanes may read its whole
        # range ahead (at most LANED_ORDERS in all), one stream only its read-ahead.
        ahead = self.read_ahead
        if len(bounds) > 1:
            ahead = max(ahead, math.ceil(expected / self.page_size / len(bounds)) + 1)
        for records in merge_ahead(streams, ahead, name=f"read {self.endpoint}"):
            yield self.parse_page(records)

    def parse_page(self, records: list[Record]) -> list[Record]:
        """Dates and amounts parsed; consignments the API truncated completed."""
        amounts = amount_parser()
        orders = [parse_order(record, amounts) for record in records]
        for order in orders:
            self._complete_line_items(order)
        return orders

    @staticmethod
    def min_calls(records: int, page_size: int) -> int:
        """``records // page_size + 1``."""
        return records // page_size + 1

    def _complete_line_items(self, order: Record) -> None:
        """Replace the line items of consignments the API truncated by the order's full list."""
        truncated = [shipping for shipping in shipping_consignments(order) if "__warning__" in shipping]
        order_id = record_id(order)
        if not truncated or order_id is None:
            return
        products = list(self.order_products(order_id))
        for shipping in truncated:
            shipping["line_items"] = [
                p for p in products if p.get("order_address_id") == shipping.get("id") and p.get("type") == "physical"
            ]
            del shipping["__warning__"]

    def order_products(self, order_id: int) -> Iterator[Record]:
        """Every line item of an order (``v2/orders/{id}/products``, pages of 250, ``204`` ends)."""
        # A fixed sub-collection of one order: page numbers are safe here.
        page = 1
        while True:
            body = self.client.get(
                f"v2/orders/{order_id}/products",
                {"limit": MAX_PAGE_SIZE, "page": page},
                endpoint=self.products_endpoint,
            )
            items = [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []
            parse_line_items(items, amount_parser())
            yield from items
            if len(items) < MAX_PAGE_SIZE:
                return
            page += 1


def min_api_calls(entity: Literal["customers", "orders"], records: int, page_size: int = MAX_PAGE_SIZE) -> int:
    """The fewest requests that extract ``records`` records of ``entity`` (see the module docstring).

    Exactly the number sent when nothing is retried (and no order has over 50 line items in
    one consignment): customers ``max(1, ceil(N / L))``, orders ``N // L + 1``.
    """
    if records < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"need records >= 0 and 1 <= page_size <= {MAX_PAGE_SIZE}")
    streams: dict[str, type[KeysetStream[Any]]] = {"customers": CustomersStream, "orders": OrdersStream}
    return streams[entity].min_calls(records, page_size)


class BigCommerceStore:
    """The BigCommerce store as a :class:`connectors.base.StoreSource`: one client (session) per run."""

    def __init__(self, settings: BigCommerceSettings, *, client: BigCommerceClient | None = None) -> None:
        """Read the store of ``settings`` (through ``client`` when given, e.g. with a test ``sleep``)."""
        self.client = client or BigCommerceClient(settings)
        self._customers = CustomersStream(self.client, settings.page_size, settings.read_ahead_pages)
        self._orders = OrdersStream(self.client, settings.page_size, settings.read_ahead_pages, settings.order_lanes)

    def customers(self, window: Window) -> Iterator[list[Record]]:
        """Pages of v3 customers (with ``addresses``) modified in ``window``, by id, each once."""
        return self._logged("customers", window, self._customers.pages(self._customers.window_params(window)))

    def customers_by_id(self, ids: Iterable[int]) -> Iterator[list[Record]]:
        """Pages of the v3 customers (with ``addresses``) of ``ids`` (``id:in``), by id, each once.

        For the registered buyers of a batch's orders whose records did not change themselves.
        """
        wanted = sorted({int(i) for i in ids})
        size = self._customers.page_size
        for start in range(0, len(wanted), size):
            chunk = ",".join(str(i) for i in wanted[start : start + size])
            yield from self._customers.pages({"include": "addresses", "id:in": chunk})

    def orders(self, window: Window, *, field: str = "date_modified") -> Iterator[list[Record]]:
        """Pages of v2 orders (inline consignments with line items) whose ``field`` lies in ``window``.

        ``field`` is ``date_modified`` (the incremental sync) or ``date_created`` (reconciliation).
        """
        params = self._orders.window_params(window, field)
        return self._logged("orders", window, self._orders.pages(params))

    def orders_by_id(self, ids: Iterable[int]) -> Iterator[list[Record]]:
        """Pages (of one) of the v2 orders of ``ids``, as :meth:`orders` gives them; absent ids skipped.

        One call per order: for the few a run retries (dead letters), not for extraction.
        """
        for order_id in sorted({int(i) for i in ids}):
            params = {"min_id": str(order_id), "max_id": str(order_id), "include": "consignments.line_items",
                      "consignment_structure": "object"}  # fmt: skip
            yield from self._orders.pages(params)

    def api_calls(self) -> dict[str, int]:
        """Requests sent so far per endpoint (``v3/customers``, ``v2/orders``, ...), retries included."""
        return self.client.api_calls()

    def rate_limit(self) -> RateLimit | None:
        """The store's quota meter as the last response reported it."""
        return self.client.rate_limit()

    def close(self) -> None:
        """Close the session."""
        self.client.close()

    def __enter__(self) -> BigCommerceStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @staticmethod
    def _logged(entity: str, window: Window, pages: Iterator[list[Record]]) -> Iterator[list[Record]]:
        count = 0
        log.info("extracting %s in [%s, %s]", entity, window.start.isoformat(), window.end.isoformat())
        for page in pages:
            count += len(page)
            yield page
        log.info("extracted %d %s in [%s, %s]", count, entity, window.start.isoformat(), window.end.isoformat())
