"""The sandbox BigCommerce store: the read side of the v2/v3 APIs the pipeline uses, over HTTPS.

Endpoints, under ``/stores/{store_hash}/`` (another hash answers 404):

* ``GET v3/customers``: filters ``id:in``, ``email:in``, ``company:in``,
  ``customer_group_id:in``, ``name:in``, ``name:like``, ``date_created[:min|:max]``,
  ``date_modified[:min|:max]``, ``sort``, ``include``, ``page``/``limit`` and ``after``/``before``
  cursors; the ``{data, meta}`` envelope; 422 for a bad value.
* ``GET v2/orders`` (bare array; ``204 No Content`` for an empty page), ``v2/orders/count``,
  ``v2/orders/{id}`` and its ``products``, ``shipping_addresses`` (also spelled
  ``shippingaddresses``, as the API's own links do), ``coupons`` and ``consignments``;
  ``v2/order_statuses``, ``v2/customer_groups``, ``v2/time``.
* ``POST v3/orders/{id}/payment_actions/capture``: 201 ``{"data": {}, "meta": {}}``; the payment
  turns ``capture pending`` and settles to ``captured`` (``date_modified`` moving again) once
  ``capture_settle_seconds`` have passed, rounded up to a whole second (default 1 s; 0 settles at
  once; see the admin API), as the real capture is scheduled asynchronously. A payment that is
  not ``authorized`` gets 422.

Every request needs ``X-Auth-Token`` (401 otherwise) and spends the store's quota (429 with
``X-Rate-Limit-*`` headers once spent); the ``rate_limit`` and ``throttle`` faults of
:mod:`sandbox.faults` fake a spent quota and platform-load 429s (no headers) respectively.
Data is read from :class:`~sandbox.store.db.StoreDB` on every request, never cached.

Admin endpoints (``/__sandbox/store/...``), besides the common ones of :mod:`sandbox.http`:

* ``GET  /__sandbox/store/rate-limit``         the quota meter;
* ``POST /__sandbox/store/rate-limit/reset``   start a fresh window (full quota);
* ``GET|PUT /__sandbox/store/settings``        ``{"capture_settle_seconds": 1.0}``;
* ``POST /__sandbox/store/captures/settle``    settle every pending capture now.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sandbox.http import ServiceContext, json_response, wrap_service
from sandbox.store import formats
from sandbox.store.db import CustomerFilter, OrderFilter, StoreDB
from sandbox.store.errors import ApiError, error_body, error_response
from sandbox.store.ratelimit import QuotaState, RateLimiter
from sandbox.store.records import (
    CUSTOMER_INCLUDES,
    ORDER_STATUSES,
    Links,
    Record,
    render_consignments,
    render_coupon,
    render_customer,
    render_group,
    render_order,
    render_product,
    render_shipping_address,
    status_entry,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
DEFAULT_CAPTURE_SETTLE_SECONDS = 1.0
STORE = "/stores/{store_hash}"

# v3 includes the store accepts without rendering anything for them (beta features).
_SILENT_INCLUDES = frozenset({"shopper_profile_id", "segment_ids"})
_JSON_ACCEPTED = re.compile(r"(^|[,\s])(\*/\*|application/\*|application/json)(\s*;[^,]*)?(\s*,|$)", re.I)

Handler = Callable[[Request], Response]


# -- query parameters ------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """Typed access to query parameters; a bad value raises the API's own error (400 or 422)."""

    params: QueryParams
    status: int  # 400 for v2, 422 for v3

    def bad(self, name: str, why: str) -> ApiError:
        """The error for parameter ``name``."""
        message = f"The filter '{name}' is not valid: {why}."
        return ApiError(self.status, message if self.status == 400 else f"Invalid filter(s): {name}", {name: why})

    def text(self, name: str) -> str | None:
        """The raw value, or None when absent."""
        return self.params.get(name)

    def integer(self, name: str, minimum: int | None = None, default: int | None = None) -> int | None:
        """An integer parameter (``default`` when absent)."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self.bad(name, f"{raw!r} is not an integer") from None
        if minimum is not None and value < minimum:
            raise self.bad(name, f"must be at least {minimum}")
        return value

    def number(self, name: str) -> float | None:
        """A decimal parameter such as ``min_total=12.50``."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return None
        try:
            return float(raw)
        except ValueError:
            raise self.bad(name, f"{raw!r} is not a number") from None

    def csv(self, name: str) -> list[str]:
        """A comma-separated list (``id:in=4,5,6``); repeated parameters are joined."""
        return [item.strip() for raw in self.params.getlist(name) for item in raw.split(",") if item.strip()]

    def csv_integers(self, name: str) -> list[int]:
        """A comma-separated list of integers."""
        items = self.csv(name)
        try:
            return [int(item) for item in items]
        except ValueError:
            raise self.bad(name, "expects comma-separated integers") from None

    def date(self, name: str, upper: bool = False) -> int | None:
        """An inclusive date bound in epoch seconds (RFC 2822 or ISO 8601; a bare date is midnight UTC)."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return None
        try:
            return formats.upper_bound(raw) if upper else formats.lower_bound(raw)
        except ValueError:
            raise self.bad(name, f"{raw!r} is not a date (RFC 2822 or ISO 8601)") from None

    def sort(self, allowed: frozenset[str], default: str) -> tuple[str, str]:
        """``sort=field[:asc|:desc]``."""
        raw = self.params.get("sort")
        if not raw:
            return default, "asc"
        column, _, direction = raw.partition(":")
        direction = (direction or "asc").lower()
        if column not in allowed or direction not in ("asc", "desc"):
            raise self.bad("sort", f"{raw!r} is not one of {', '.join(sorted(allowed))} with :asc or :desc")
        return column, direction


def _paging(query: Query, v2: bool) -> tuple[int, int]:
    """(page, limit) with the API's defaults and bounds."""
    page = query.integer("page", minimum=1, default=1)
    limit = query.integer("limit", minimum=1, default=DEFAULT_LIMIT)
    assert page is not None and limit is not None
    if limit > MAX_LIMIT:
        # v2 refuses with 413 Request Entity Too Large (the status-codes page's own example);
        # v3 validates the value like any other filter.
        raise ApiError(413) if v2 else query.bad("limit", f"must be at most {MAX_LIMIT}")
    return page, limit


def _no_content() -> Response:
    # v2 answers an empty collection (or a page past the end) with 204 and no body at all.
    return Response(status_code=204)


# -- the service -----------------------------------------------------------------------------


class StoreService:
    """Route handlers and their shared state (database, quota, capture settings)."""

    def __init__(self, ctx: ServiceContext) -> None:
        """Serve ``ctx.config.store_db`` with the quota of ``ctx.config``."""
        self.ctx = ctx
        self.db = StoreDB(ctx.config.store_db)
        self.limiter = RateLimiter(ctx.config.rate_limit_quota, ctx.config.rate_limit_window_ms)
        self.capture_settle_seconds = DEFAULT_CAPTURE_SETTLE_SECONDS

    # -- plumbing

    def links(self) -> Links:
        """Sub-resource links pointing at this server (``ctx.base_url`` is known once it is bound)."""
        return Links(f"{self.ctx.base_url}/stores/{self.ctx.config.store_hash}/v2")

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a synchronous handler with the store's gate: hash, auth, Accept, faults, quota.

        The handler runs in a worker thread (SQLite calls block) and may raise :class:`ApiError`.
        """

        async def run(request: Request) -> Response:
            try:
                quota = self._gate(request)
            except ApiError as refusal:
                return error_response(request.url.path, refusal)
            try:
                response = await run_in_threadpool(handler, request)
            except ApiError as error:
                response = error_response(request.url.path, error)
            # Answers spend the quota, errors included, and say so.
            response.headers.update(quota.headers())
            return response

        return run

    def _gate(self, request: Request) -> QuotaState:
        """Refuse the request (raise ApiError) or spend one request of the quota."""
        if request.path_params.get("store_hash") != self.ctx.config.store_hash:
            raise ApiError(404, "Store not found.")
        token = request.headers.get("x-auth-token", "")
        if not hmac.compare_digest(token.encode(), self.ctx.credentials.bc_access_token.encode()):
            raise ApiError(401)
        accept = request.headers.get("accept")
        if accept and not _JSON_ACCEPTED.search(accept):
            raise ApiError(406)
        kind = self.ctx.faults.take(("rate_limit", "throttle"), request.method, request.url.path)
        if kind == "throttle":
            # Platform load: a 429 with no meter, so a client can only back off.
            raise ApiError(429, "Too many requests: the platform is under heavy load; retry later.")
        if kind == "rate_limit":
            raise ApiError(429, headers=self.limiter.spent().headers())
        allowed, quota = self.limiter.take()
        if not allowed:
            raise ApiError(429, headers=quota.headers())
        return quota

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        """Unknown paths and methods, in the API's error shape."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        return error_response(request.url.path, ApiError(status, headers=headers))

    def routes(self) -> list[Route]:
        """The store's API routes."""
        get = ["GET"]
        table: list[tuple[str, Handler, list[str]]] = [
            ("/v3/customers", self.customers, get),
            ("/v2/customer_groups", self.customer_groups, get),
            ("/v2/orders", self.orders, get),
            ("/v2/orders/count", self.orders_count, get),
            ("/v2/orders/{order_id:int}", self.order, get),
            ("/v2/orders/{order_id:int}/products", self.order_products, get),
            ("/v2/orders/{order_id:int}/products/{product_id:int}", self.order_product, get),
            ("/v2/orders/{order_id:int}/shipping_addresses", self.order_shipping_addresses, get),
            ("/v2/orders/{order_id:int}/shippingaddresses", self.order_shipping_addresses, get),
            ("/v2/orders/{order_id:int}/shipping_addresses/{address_id:int}", self.order_shipping_address, get),
            ("/v2/orders/{order_id:int}/shippingaddresses/{address_id:int}", self.order_shipping_address, get),
            ("/v2/orders/{order_id:int}/coupons", self.order_coupons, get),
            ("/v2/orders/{order_id:int}/consignments", self.order_consignments, get),
            ("/v2/order_statuses", self.order_statuses, get),
            ("/v2/time", self.time, get),
            ("/v3/orders/{order_id:int}/payment_actions/capture", self.capture, ["POST"]),
        ]
        return [Route(STORE + path, self.endpoint(handler), methods=methods) for path, handler, methods in table]

    # -- v3 customers

    def customers(self, request: Request) -> Response:
        """``GET /v3/customers``."""
        query = Query(request.query_params, 422)
        page, limit = _paging(query, v2=False)
        includes = set(query.csv("include"))
        unknown = includes - CUSTOMER_INCLUDES - _SILENT_INCLUDES
        if unknown:
            raise query.bad("include", f"unknown value(s) {', '.join(sorted(unknown))}")
        created, modified = _v3_date_range(query, "date_created"), _v3_date_range(query, "date_modified")
        flt = CustomerFilter(
            ids=query.csv_integers("id:in"),
            emails=query.csv("email:in"),
            companies=query.csv("company:in"),
            group_ids=query.csv_integers("customer_group_id:in"),
            names=query.csv("name:in"),
            name_like=query.csv("name:like"),
            min_date_created=created[0],
            max_date_created=created[1],
            min_date_modified=modified[0],
            max_date_modified=modified[1],
        )
        after, before = _cursor(query, "after"), _cursor(query, "before")
        sort = query.sort(StoreDB.CUSTOMER_SORTS - {"id"}, "id")
        if after is not None or before is not None:
            return self._customers_by_cursor(query, flt, after, before, limit, includes)
        rows, total = self.db.list_customers(flt, sort, (page - 1) * limit, limit)
        total_pages = math.ceil(total / limit)
        links = {"current": _page_link(query.params, page, limit)}
        if page > 1:
            links = {"previous": _page_link(query.params, page - 1, limit), **links}
        if page < total_pages:
            links["next"] = _page_link(query.params, page + 1, limit)
        meta: dict[str, Any] = {
            "pagination": {
                "total": total,
                "count": len(rows),
                "per_page": limit,
                "current_page": page,
                "total_pages": total_pages,
                "links": links,
            }
        }
        # The first page also offers cursors, so a client can switch to cursor paging.
        if page == 1 and rows and "page" not in query.params:
            meta["cursor_pagination"] = _cursor_meta(rows, limit, total > len(rows), first_page=True)
        return json_response({"data": [render_customer(c, includes) for c in rows], "meta": meta})

    def _customers_by_cursor(
        self, query: Query, flt: CustomerFilter, after: int | None, before: int | None, limit: int, includes: set[str]
    ) -> Response:
        """Cursor paging (by id): ``after`` the id of a previous page's end, ``before`` its start."""
        flt.after_id, flt.before_id = after, before
        if before is not None and after is None:
            rows, total = self.db.list_customers(flt, ("id", "desc"), 0, limit)
            rows.reverse()
        else:
            rows, total = self.db.list_customers(flt, ("id", "asc"), 0, limit)
        meta = {"cursor_pagination": _cursor_meta(rows, limit, total > len(rows), first_page=False)}
        return json_response({"data": [render_customer(c, includes) for c in rows], "meta": meta})

    # -- v2 customer groups

    def customer_groups(self, request: Request) -> Response:
        """``GET /v2/customer_groups`` (few rows: filtered in Python after one read)."""
        query = Query(request.query_params, 400)
        page, limit = _paging(query, v2=True)
        groups = self.db.list_customer_groups()
        name, like = query.text("name"), query.text("name:like")
        if name is not None:
            groups = [g for g in groups if g["name"].lower() == name.lower()]
        if like is not None:
            groups = [g for g in groups if like.lower() in g["name"].lower()]
        for flag in ("is_default", "is_group_for_guests"):
            raw = query.text(flag)
            if raw is not None:
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise query.bad(flag, "expects true or false")
                groups = [g for g in groups if g[flag] == (raw.lower() in ("true", "1"))]
        selected = groups[(page - 1) * limit : page * limit]
        return json_response([render_group(g) for g in selected]) if selected else _no_content()

    # -- v2 orders

    def _order_filter(self, query: Query) -> OrderFilter:
        email = query.text("email")
        return OrderFilter(
            min_id=query.integer("min_id"),
            max_id=query.integer("max_id"),
            customer_id=query.integer("customer_id"),
            email=email or None,
            status_id=query.integer("status_id"),
            min_date_created=query.date("min_date_created"),
            max_date_created=query.date("max_date_created", upper=True),
            min_date_modified=query.date("min_date_modified"),
            max_date_modified=query.date("max_date_modified", upper=True),
            min_total=query.number("min_total"),
            max_total=query.number("max_total"),
            cart_id=query.text("cart_id") or None,
            payment_method=query.text("payment_method") or None,
            channel_id=query.integer("channel_id"),
            external_order_id=query.text("external_order_id") or None,
        )

    @staticmethod
    def _consignment_mode(query: Query) -> tuple[str | None, bool]:
        """(None | "object" | "array", line items inline) from ``include`` and ``consignment_structure``."""
        includes = set(query.csv("include"))
        structure = query.text("consignment_structure")
        if structure not in (None, "", "object"):
            raise query.bad("consignment_structure", "the only supported value is 'object'")
        line_items = "consignments.line_items" in includes
        if not line_items and "consignments" not in includes:
            return None, False
        # Without consignment_structure=object the API still answers with its legacy array.
        return ("object" if structure == "object" else "array"), line_items

    def orders(self, request: Request) -> Response:
        """``GET /v2/orders``."""
        query = Query(request.query_params, 400)
        page, limit = _paging(query, v2=True)
        flt = self._order_filter(query)
        sort = query.sort(StoreDB.ORDER_SORTS, "id")
        mode, line_items = self._consignment_mode(query)
        self.db.settle_captures()
        rows = self.db.list_orders(flt, sort, (page - 1) * limit, limit, children=mode is not None, read_only=True)
        if not rows:
            return _no_content()
        links = self.links()
        return json_response([render_order(o, links, mode, line_items) for o in rows])

    def orders_count(self, request: Request) -> Response:
        """``GET /v2/orders/count``: every status (in control-panel order) with its count, and the total."""
        flt = self._order_filter(Query(request.query_params, 400))
        self.db.settle_captures()
        counts = self.db.count_orders_by_status(flt)
        statuses = sorted(ORDER_STATUSES, key=lambda s: ORDER_STATUSES[s][1])
        body = {"statuses": [status_entry(s, counts.get(s, 0)) for s in statuses], "count": sum(counts.values())}
        return json_response(body)

    def _order_or_404(self, request: Request) -> Record:
        self.db.settle_captures()
        order = self.db.order_record(request.path_params["order_id"])
        if order is None:
            raise ApiError(404)
        return order

    def order(self, request: Request) -> Response:
        """``GET /v2/orders/{id}``."""
        mode, line_items = self._consignment_mode(Query(request.query_params, 400))
        return json_response(render_order(self._order_or_404(request), self.links(), mode, line_items))

    def _child_page(self, request: Request, items: list[Any]) -> Response:
        """A paged v2 sub-collection (already rendered), 204 when the page is empty."""
        page, limit = _paging(Query(request.query_params, 400), v2=True)
        selected = items[(page - 1) * limit : page * limit]
        return json_response(selected) if selected else _no_content()

    def order_products(self, request: Request) -> Response:
        """``GET /v2/orders/{id}/products``."""
        order = self._order_or_404(request)
        return self._child_page(request, [render_product(p) for p in order["products"]])

    def order_product(self, request: Request) -> Response:
        """``GET /v2/orders/{id}/products/{product_id}``."""
        wanted = request.path_params["product_id"]
        for product in self._order_or_404(request)["products"]:
            if product["id"] == wanted:
                return json_response(render_product(product))
        raise ApiError(404)

    def order_shipping_addresses(self, request: Request) -> Response:
        """``GET /v2/orders/{id}/shipping_addresses``."""
        order, links = self._order_or_404(request), self.links()
        return self._child_page(request, [render_shipping_address(a, links) for a in order["shipping_addresses"]])

    def order_shipping_address(self, request: Request) -> Response:
        """``GET /v2/orders/{id}/shipping_addresses/{address_id}``."""
        wanted = request.path_params["address_id"]
        for address in self._order_or_404(request)["shipping_addresses"]:
            if address["id"] == wanted:
                return json_response(render_shipping_address(address, self.links()))
        raise ApiError(404)

    def order_coupons(self, request: Request) -> Response:
        """``GET /v2/orders/{id}/coupons``."""
        order = self._order_or_404(request)
        return self._child_page(request, [render_coupon(c) for c in order["coupons"]])

    def order_consignments(self, request: Request) -> Response:
        """``GET /v2/orders/{id}/consignments`` (``include=consignments.line_items`` inlines products)."""
        line_items = "consignments.line_items" in Query(request.query_params, 400).csv("include")
        return json_response(render_consignments(self._order_or_404(request), self.links(), line_items))

    def order_statuses(self, _: Request) -> Response:
        """``GET /v2/order_statuses``."""
        body = [{**status_entry(s), "order": ORDER_STATUSES[s][1]} for s in ORDER_STATUSES]
        return json_response(body)

    def time(self, _: Request) -> Response:
        """``GET /v2/time``: the store's clock in epoch seconds."""
        return json_response({"time": int(time.time())})

    # -- v3 payment actions

    def capture(self, request: Request) -> Response:
        """``POST /v3/orders/{id}/payment_actions/capture``: 201, payment ``capture pending``."""
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type.lower():
            raise ApiError(415)
        order_id = request.path_params["order_id"]
        now = time.time()
        # Whole seconds, rounded up, so that the settled order's date_modified is never earlier
        # than a read that still saw 'capture pending'; a zero delay settles at once.
        delay = self.capture_settle_seconds
        settle_at = math.ceil(now + delay) if delay > 0 else int(now)
        try:
            self.db.request_capture(order_id, settle_at)
        except KeyError:
            raise ApiError(404, f"Order {order_id} not found.") from None
        except ValueError as why:
            raise ApiError(422, "The payment of this order cannot be captured.", {"payment_status": str(why)}) from None
        self.db.settle_captures(int(now))
        return json_response({"data": {}, "meta": {}}, status=201)

    # -- admin

    def admin_routes(self) -> list[Route]:
        """Store-specific ``/__sandbox`` endpoints."""

        async def rate_limit(_: Request) -> Response:
            """The quota meter, without spending anything."""
            return json_response(self.limiter.peek().as_json())

        async def rate_limit_reset(_: Request) -> Response:
            """Start a fresh window with the full quota."""
            self.limiter.reset()
            return json_response(self.limiter.peek().as_json())

        async def settings_get(_: Request) -> Response:
            """The store's adjustable behaviour."""
            return json_response({"capture_settle_seconds": self.capture_settle_seconds})

        async def settings_put(request: Request) -> Response:
            """Change ``capture_settle_seconds``."""
            body = await request.json()
            seconds = body.get("capture_settle_seconds", self.capture_settle_seconds)
            if not isinstance(seconds, int | float) or seconds < 0:
                return json_response({"error": "capture_settle_seconds must be a number >= 0"}, status=400)
            self.capture_settle_seconds = float(seconds)
            return await settings_get(request)

        async def settle(_: Request) -> Response:
            """Settle every pending capture now."""
            settled = await run_in_threadpool(self.db.settle_captures, None, True)
            return json_response({"settled": settled})

        return [
            Route("/store/rate-limit", rate_limit, methods=["GET"]),
            Route("/store/rate-limit/reset", rate_limit_reset, methods=["POST"]),
            Route("/store/settings", settings_get, methods=["GET"]),
            Route("/store/settings", settings_put, methods=["PUT"]),
            Route("/store/captures/settle", settle, methods=["POST"]),
        ]


# -- helpers for v3 paging -------------------------------------------------------------------


def _v3_date_range(query: Query, column: str) -> tuple[int | None, int | None]:
    """Inclusive epoch bounds from ``column``, ``column:min`` and ``column:max``.

    ``date_created=2024-05-14`` matches that whole day, ``date_created=2024-05-14T09:34:00`` that
    second; the ``:min``/``:max`` bounds are inclusive (a bare date is midnight UTC).
    """
    low, high = query.date(f"{column}:min"), query.date(f"{column}:max", upper=True)
    exact = query.text(column)
    if exact:
        start, end = query.date(column), query.date(column, upper=True)
        assert start is not None and end is not None
        if formats.is_date_only(exact):
            end = start + 86_399
        low = start if low is None else max(low, start)
        high = end if high is None else min(high, end)
    return low, high


def _page_link(params: QueryParams, page: int, limit: int) -> str:
    """``?<other params>&page=N&limit=L``, the form of the v3 pagination links."""
    others = [(k, v) for k, v in params.multi_items() if k not in ("page", "limit")]
    return "?" + urlencode([*others, ("page", page), ("limit", limit)], safe=":,")


def _encode_cursor(customer_id: int) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps({"id": customer_id}, separators=(",", ":")).encode()).decode().rstrip("=")
    )


def _cursor(query: Query, name: str) -> int | None:
    """The id inside an ``after``/``before`` cursor (base64 of ``{"id": N}``, or of ``id:N``)."""
    raw = query.text(name)
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        value = json.loads(text)["id"] if text.startswith("{") else text.split(":", 1)[1]
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError):
        raise query.bad(name, "not a cursor returned by this API") from None


def _cursor_meta(rows: list[Record], limit: int, more: bool, first_page: bool) -> dict[str, Any]:
    """The ``cursor_pagination`` block for a page of ``rows``."""
    if not rows:
        return {"count": 0, "per_page": limit, "links": {}}
    start, end = _encode_cursor(rows[0]["id"]), _encode_cursor(rows[-1]["id"])
    links: dict[str, str] = {}
    if not first_page:
        links["previous"] = f"?before={start}&limit={limit}"
    if more:
        links["next"] = f"?after={end}&limit={limit}"
    return {"count": len(rows), "per_page": limit, "start_cursor": start, "end_cursor": end, "links": links}


# -- the app ---------------------------------------------------------------------------------


def create_store_app(ctx: ServiceContext) -> ASGIApp:
    """The store's ASGI app, behind the sandbox middleware (counters, latency, generic faults)."""
    service = StoreService(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        service.db.close()

    return wrap_service(
        ctx,
        service.routes(),
        error_body,
        extra_admin=service.admin_routes(),
        exception_handlers={HTTPException: service.http_exception},
        lifespan=lifespan,
    )
