"""The sandbox BigCommerce store over real HTTPS: paths, filters, paging, errors, limits, faults.

The module runs its own sandbox (not the session-wide ``sandbox`` fixture) because every test
resets the store's database to a known data set, which other modules' data must not disturb.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.http import make_session
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB

T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
STATUS_CODES_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)


# -- a sandbox of the module's own -----------------------------------------------------------


def _org_app_stand_in() -> dict[str, types.ModuleType]:
    """``sys.modules`` entries standing in for ``sandbox.org.app`` while it cannot be imported.

    The store needs nothing from the org; the stand-in is only patched in while the server is
    built, so no other test module ever sees it.
    """
    try:
        importlib.import_module("sandbox.org.app")
        return {}
    except ImportError:
        from starlette.applications import Starlette

        stub = types.ModuleType("sandbox.org.app")
        stub.create_org_app = lambda ctx: Starlette()  # type: ignore[attr-defined]
        return {"sandbox.org.app": stub}


def start_store_server(home: Path, **config: Any) -> SandboxServer:
    """A sandbox on free loopback ports."""
    stand_in = _org_app_stand_in()
    sys.modules.update(stand_in)
    try:
        server = SandboxServer(SandboxConfig(home=home, store_port=0, org_port=0, **config))
    finally:
        for name in stand_in:
            del sys.modules[name]
    return server.start_in_thread()


class Store:
    """A test's handle on the sandbox store: HTTP session, database, admin calls."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.info.store_url  # https://127.0.0.1:PORT/stores/atsstore/
        self.admin = server.info.store_base + "/__sandbox"
        self.http = make_session(server.certificate.ca_path)
        self.http.headers["X-Auth-Token"] = server.credentials.bc_access_token
        self.http.headers["Accept"] = "application/json"
        self.db = StoreDB(server.config.store_db)

    def close(self) -> None:
        self.http.close()
        self.db.close()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url + path, timeout=10, **kwargs)

    def ok(self, path: str, **kwargs: Any) -> Any:
        response = self.get(path, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def fresh(self) -> None:
        """Known data, no faults, full quota."""
        self.db.reset()
        seed(self.db)
        self.http.put(f"{self.admin}/faults", json={}, timeout=10).raise_for_status()
        self.http.post(f"{self.admin}/store/rate-limit/reset", timeout=10).raise_for_status()
        self.http.put(f"{self.admin}/store/settings", json={"capture_settle_seconds": 1.0}, timeout=10)


def seed(db: StoreDB) -> None:
    """2 groups, 6 customers, 12 orders (100..111) with deliberate ties and boundary seconds."""
    db.insert_customer_groups(
        [
            {"name": "Retail", "is_default": True, "date_created": T0, "date_modified": T0},
            {"name": "eCommerce", "date_created": T0, "date_modified": T0 + timedelta(days=1)},
        ]
    )
    people = [
        ("garth@markey.example", "Garth", "Markey", "Markey Metals", 2),
        ("jo@sefton.example", "Jo", "Sefton", "Sefton Services, Inc.", 2),
        ("ann@abbott.example", "Ann", "Abbott", "", 1),
        ("zed@zimmer.example", "Zed", "Zimmer", "Zimmer Co", 1),
        ("mia@markey.example", "Mia", "Markey", "Markey Metals", 0),
        ("lee@lee.example", "Lee", "Lee", "", 0),
    ]
    db.insert_customers(
        [
            {
                "email": email, "first_name": first, "last_name": last, "company": company,
                "customer_group_id": group,
                "date_created": T0 + timedelta(days=i),
                # customers 1 and 2 share a date_modified: ties must page deterministically
                "date_modified": T0 + timedelta(days=10 + max(i, 1)),
                "addresses": [
                    {"first_name": first, "last_name": last, "address1": f"{i + 1} Main St", "city": "Austin",
                     "state_or_province": "Texas", "postal_code": "78751", "phone": "512-555-0100",
                     "form_fields": [{"name": "Dock", "value": "B"}]}
                ],
                "attributes": [{"attribute_id": 1, "attribute_value": "Yes"}],
                "form_fields": [{"name": "License ID", "value": f"L{i}"}],
            }
            for i, (email, first, last, company, group) in enumerate(people)
        ]
    )  # fmt: skip
    orders = []
    for i in range(12):
        guest = i % 3 == 0
        customer_id = 0 if guest else (i % 6) + 1
        email = f"guest{i}@example.com" if guest else people[(i % 6)][0]
        orders.append(
            {
                "customer_id": customer_id,
                "status_id": (11, 2, 7, 10)[i % 4],
                "date_created": T0 + timedelta(hours=i),
                # pairs of orders share a second: 100/101, 102/103, ...
                "date_modified": T0 + timedelta(hours=24 + i // 2),
                "date_shipped": T0 + timedelta(hours=30) if i % 4 == 1 else None,
                "payment_status": "authorized",
                "cart_id": f"cart-{i}",
                "billing_address": {"first_name": "B", "last_name": f"Buyer{i}", "email": email,
                                    "street_1": "1 Main", "city": "Austin", "state": "Texas", "zip": "78751"},
                "products": [
                    {"name": f"Gauge {j}", "sku": f"G-{j}", "product_id": 10 + j, "price_ex_tax": 100 + i,
                     "price_inc_tax": 108.25 + i, "quantity": j + 1}
                    for j in range(2 if i != 11 else 0)
                ],
                "shipping_addresses": [] if i == 11 else [
                    {"first_name": "S", "last_name": f"Buyer{i}", "street_1": "2 Dock Rd", "city": "Austin",
                     "state": "Texas", "zip": "78752", "email": email, "shipping_method": "Ship by weight",
                     "cost_inc_tax": "12.9900", "cost_ex_tax": 12}
                ],
            }
        )  # fmt: skip
    db.insert_orders(orders)


@contextlib.contextmanager
def own_store(home: Path, **config: Any) -> Iterator[Store]:
    """A sandbox of the test's own (e.g. with a small quota), stopped afterwards."""
    server = start_store_server(home, **config)
    store = Store(server)
    # A TLS connection still open when the server stops (e.g. held by a response the test still
    # references) holds up uvicorn's shutdown for half a minute: use one connection per request.
    store.http.headers["Connection"] = "close"
    try:
        yield store
    finally:
        store.close()
        server.stop()


@pytest.fixture(scope="module")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    server = start_store_server(tmp_path_factory.mktemp("store"))
    yield server
    server.stop()


@pytest.fixture
def store(store_server: SandboxServer) -> Iterator[Store]:
    handle = Store(store_server)
    handle.fresh()
    yield handle
    handle.close()


def rfc2822(value: str) -> datetime:
    parsed = parsedate_to_datetime(value)
    assert value.endswith("+0000"), value
    return parsed


def v2_error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and body[0]["status"] == status and set(body[0]) == {"status", "message"}
    return body[0]["message"]


def v3_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["type"] == STATUS_CODES_URL and isinstance(body["title"], str)
    assert isinstance(body["errors"], dict)
    return body


def ids(body: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in body]


# -- auth, paths, headers --------------------------------------------------------------------


def test_auth_is_required(store: Store) -> None:
    with make_session(store.server.certificate.ca_path) as bare:
        v2_error(bare.get(store.url + "v2/orders", timeout=10), 401)
        v3_error(bare.get(store.url + "v3/customers", headers={"X-Auth-Token": "nope"}, timeout=10), 401)


def test_other_store_hash_and_unknown_paths_are_404(store: Store) -> None:
    other = store.url.replace("/stores/atsstore/", "/stores/otherstore/")
    v2_error(store.http.get(other + "v2/orders", timeout=10), 404)
    v2_error(store.get("v2/no_such_thing"), 404)
    v3_error(store.get("v3/no_such_thing"), 404)
    v2_error(store.get("v2/orders/abc"), 404)
    v2_error(store.http.delete(store.url + "v2/orders/100", timeout=10), 405)


def test_accept_must_allow_json(store: Store) -> None:
    v2_error(store.get("v2/orders", headers={"Accept": "application/xml"}), 406)
    assert store.get("v2/orders", headers={"Accept": "*/*"}).status_code == 200


def test_every_response_carries_the_quota_meter(store: Store) -> None:
    first = store.get("v2/orders")
    second = store.get("v2/orders?page=99")
    assert second.status_code == 204
    for response in (first, second):
        assert all(header in response.headers for header in RATE_HEADERS)
        assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"
        assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
    left = [int(r.headers["X-Rate-Limit-Requests-Left"]) for r in (first, second)]
    assert left[0] == 149 and left[1] == 148


# -- v2 orders -------------------------------------------------------------------------------


def test_order_list_shape(store: Store) -> None:
    orders = store.ok("v2/orders")
    assert ids(orders) == list(range(100, 112))  # default sort: id ascending
    first = orders[0]
    assert first["customer_id"] == 0 and first["billing_address"]["email"] == "guest0@example.com"  # a guest
    assert rfc2822(first["date_created"]) == T0
    assert first["date_shipped"] == "" and rfc2822(orders[1]["date_shipped"]) == T0 + timedelta(hours=30)
    assert first["status_id"] == 11 and first["status"] == "Awaiting Fulfillment"
    assert orders[1]["status"] == "Shipped" and orders[2]["status"] == "Awaiting Payment"
    # money: strings with four decimals
    assert first["subtotal_ex_tax"] == "300.0000"  # 100 x 1 + 100 x 2
    assert first["subtotal_inc_tax"] == "324.7500" and first["total_inc_tax"] == "324.7500"
    assert first["currency_exchange_rate"] == "1.0000000000" and first["refunded_amount"] == "0.0000"
    for link, resource in (
        ("products", "/orders/100/products"),
        ("shipping_addresses", "/orders/100/shippingaddresses"),
        ("coupons", "/orders/100/coupons"),
        ("consignments", "/orders/100/consignments"),
    ):
        assert first[link] == {"url": store.url + "v2" + resource, "resource": resource}
    assert set(first["billing_address"]) >= {"first_name", "street_1", "zip", "country_iso2", "email", "form_fields"}


def test_paging_until_204(store: Store) -> None:
    seen: list[int] = []
    page = 1
    while True:
        response = store.get(f"v2/orders?limit=5&page={page}")
        if response.status_code == 204:
            assert response.content == b""
            break
        assert response.status_code == 200
        seen += ids(response.json())
        page += 1
    assert seen == list(range(100, 112)) and page == 4
    assert store.get("v2/orders?limit=5&page=50").status_code == 204


def test_paging_bounds(store: Store) -> None:
    assert len(store.ok("v2/orders?limit=250")) == 12
    v2_error(store.get("v2/orders?limit=251"), 413)
    v2_error(store.get("v2/orders?limit=0"), 400)
    v2_error(store.get("v2/orders?page=0"), 400)
    v2_error(store.get("v2/orders?page=two"), 400)


def test_order_filters(store: Store) -> None:
    assert ids(store.ok("v2/orders?min_id=103&max_id=105")) == [103, 104, 105]
    assert ids(store.ok("v2/orders?customer_id=0")) == [100, 103, 106, 109]
    assert ids(store.ok("v2/orders?customer_id=2")) == [101, 107]
    assert ids(store.ok("v2/orders?email=JO@Sefton.example")) == [101, 107]
    assert ids(store.ok("v2/orders?status_id=2")) == [101, 105, 109]
    assert ids(store.ok("v2/orders?cart_id=cart-4")) == [104]
    assert ids(store.ok("v2/orders?min_total=330&max_total=339")) == [102, 103, 104]
    assert store.get("v2/orders?customer_id=99").status_code == 204
    v2_error(store.get("v2/orders?min_id=abc"), 400)
    v2_error(store.get("v2/orders?min_total=lots"), 400)


@pytest.mark.parametrize(
    "bound",
    [
        "Sat, 02 Mar 2024 13:00:00 +0000",
        "Sat, 02 Mar 2024 08:00:00 -0500",
        "2024-03-02T13:00:00+00:00",
        "2024-03-02T14:00:00.000+01:00",
        "2024-03-02T13:00:00Z",
    ],
)
def test_date_bounds_are_inclusive_on_the_boundary_second(store: Store, bound: str) -> None:
    # Orders 102 and 103 were modified at exactly 2024-03-02 13:00:00 UTC.
    params = {"min_date_modified": bound, "max_date_modified": bound}
    assert ids(store.ok("v2/orders", params=params)) == [102, 103]
    assert ids(store.ok("v2/orders", params={"max_date_modified": bound}))[-1] == 103
    assert ids(store.ok("v2/orders", params={"min_date_modified": bound}))[0] == 102


def test_date_created_filters(store: Store) -> None:
    params = {"min_date_created": "2024-03-01T15:00:00Z", "max_date_created": "Fri, 01 Mar 2024 17:00:00 +0000"}
    assert ids(store.ok("v2/orders", params=params)) == [103, 104, 105]
    v2_error(store.get("v2/orders", params={"min_date_created": "last tuesday"}), 400)


def test_sorting_is_deterministic(store: Store) -> None:
    newest_first = ids(store.ok("v2/orders?sort=date_modified:desc"))
    assert newest_first == [110, 111, 108, 109, 106, 107, 104, 105, 102, 103, 100, 101]  # ties: id ascending
    assert ids(store.ok("v2/orders?sort=id:desc")) == list(range(111, 99, -1))
    assert ids(store.ok("v2/orders?sort=customer_id"))[:4] == [100, 103, 106, 109]
    assert ids(store.ok("v2/orders?sort=date_created:asc&limit=3&page=2")) == [103, 104, 105]
    v2_error(store.get("v2/orders?sort=total:asc"), 400)
    v2_error(store.get("v2/orders?sort=id:sideways"), 400)


def test_single_order(store: Store) -> None:
    order = store.ok("v2/orders/104")
    assert order["id"] == 104 and order["customer_id"] == 5
    message = v2_error(store.get("v2/orders/999"), 404)
    assert "not found" in message


def test_order_products(store: Store) -> None:
    products = store.ok("v2/orders/100/products")
    assert [p["quantity"] for p in products] == [1, 2]
    product = products[1]
    assert (
        product["order_id"] == 100 and product["price_ex_tax"] == "100.0000" and product["total_inc_tax"] == "216.5000"
    )
    assert product["name_customer"] == "Gauge 1" and product["order_address_id"] > 0
    assert store.ok(f"v2/orders/100/products/{product['id']}") == product
    assert ids(store.ok("v2/orders/100/products?limit=1&page=2")) == [product["id"]]
    assert store.get("v2/orders/111/products").status_code == 204  # an order without products
    v2_error(store.get("v2/orders/999/products"), 404)


def test_order_shipping_addresses(store: Store) -> None:
    (address,) = store.ok("v2/orders/101/shipping_addresses")
    assert address["order_id"] == 101 and address["email"] == "jo@sefton.example"
    assert address["cost_inc_tax"] == "12.9900" and address["cost_ex_tax"] == "12.0000"
    assert address["items_total"] == 3 and address["shipping_method"] == "Ship by weight"
    resource = f"/orders/101/shippingaddresses/{address['id']}/shippingquotes"
    assert address["shipping_quotes"] == {"url": store.url + "v2" + resource, "resource": resource}
    # the spelling the API's own links use
    assert store.ok("v2/orders/101/shippingaddresses") == [address]
    assert store.ok(f"v2/orders/101/shipping_addresses/{address['id']}") == address
    assert store.get("v2/orders/111/shipping_addresses").status_code == 204


def test_consignments_inline(store: Store) -> None:
    (order,) = store.ok("v2/orders?min_id=100&max_id=100&include=consignments&consignment_structure=object")
    consignments = order["consignments"]
    assert set(consignments) == {"pickups", "shipping", "downloads", "email"}
    (shipping,) = consignments["shipping"]
    products = store.ok("v2/orders/100/products")
    assert [item["resource"] for item in shipping["line_items"]] == [
        f"/orders/100/products/{p['id']}" for p in products
    ]
    assert shipping["cost_inc_tax"] == 12.99 and shipping["street_1"] == "2 Dock Rd"

    (with_items,) = store.ok(
        "v2/orders?min_id=100&max_id=100&include=consignments.line_items&consignment_structure=object"
    )
    assert with_items["consignments"]["shipping"][0]["line_items"] == products
    # without consignment_structure=object: the legacy array structure
    (legacy,) = store.ok("v2/orders?min_id=100&max_id=100&include=consignments")
    assert legacy["consignments"] == [consignments]
    single = store.ok("v2/orders/100?include=consignments.line_items&consignment_structure=object")
    assert single["consignments"] == with_items["consignments"]
    assert store.ok("v2/orders/100/consignments") == consignments
    v2_error(store.get("v2/orders?include=consignments&consignment_structure=flat"), 400)


def test_big_consignments_inline_at_most_50_line_items(store: Store) -> None:
    (oid,) = store.db.insert_orders(
        [{"billing_address": {"email": "bulk@example.com"}, "shipping_addresses": [{"first_name": "B"}],
          "products": [{"name": f"Part {i}", "price_ex_tax": 1} for i in range(60)]}]
    )  # fmt: skip
    order = store.ok(f"v2/orders/{oid}?include=consignments.line_items&consignment_structure=object")
    (shipping,) = order["consignments"]["shipping"]
    assert len(shipping["line_items"]) == 50 and "50" in shipping["__warning__"]["message"]
    assert len(store.ok(f"v2/orders/{oid}/products?limit=250")) == 60


def test_orders_count(store: Store) -> None:
    body = store.ok("v2/orders/count")
    assert body["count"] == 12
    assert [s["sort_order"] for s in body["statuses"]] == list(range(15))
    counts = {s["id"]: s["count"] for s in body["statuses"]}
    assert counts[11] == 3 and counts[2] == 3 and counts[7] == 3 and counts[10] == 3 and counts[0] == 0
    assert store.ok("v2/orders/count?customer_id=0")["count"] == 4


def test_order_statuses_and_time(store: Store) -> None:
    statuses = store.ok("v2/order_statuses")
    assert [s["id"] for s in statuses] == list(range(15)) and statuses[11]["name"] == "Awaiting Fulfillment"
    assert abs(store.ok("v2/time")["time"] - time.time()) < 5


def test_new_and_changed_orders_show_at_once(store: Store) -> None:
    assert store.get("v2/orders?min_id=112").status_code == 204
    (oid,) = store.db.insert_orders([{"billing_address": {"email": "late@example.com"}}])
    assert ids(store.ok("v2/orders?min_id=112")) == [oid]
    store.db.update_order(100, status_id=5)
    assert store.ok("v2/orders/100")["status"] == "Cancelled"


# -- v2 customer groups ----------------------------------------------------------------------


def test_customer_groups(store: Store) -> None:
    groups = store.ok("v2/customer_groups")
    assert [g["name"] for g in groups] == ["Retail", "eCommerce"]
    assert groups[0]["date_created"] == "2024-03-01 12:00:00" and groups[1]["date_modified"] == "2024-03-02 12:00:00"
    assert groups[0]["is_default"] is True and groups[0]["category_access"] == {"type": "all"}
    assert [g["id"] for g in store.ok("v2/customer_groups?name=ecommerce")] == [2]
    assert [g["id"] for g in store.ok("v2/customer_groups?is_default=true")] == [1]
    assert store.get("v2/customer_groups?page=2").status_code == 204


# -- v3 customers ----------------------------------------------------------------------------


def test_customer_list_envelope(store: Store) -> None:
    body = store.ok("v3/customers?limit=4")
    assert ids(body["data"]) == [1, 2, 3, 4]
    pagination = body["meta"]["pagination"]
    assert pagination == {
        "total": 6, "count": 4, "per_page": 4, "current_page": 1, "total_pages": 2,
        "links": {"current": "?page=1&limit=4", "next": "?page=2&limit=4"},
    }  # fmt: skip
    assert body["meta"]["cursor_pagination"]["count"] == 4
    garth = body["data"][0]
    assert garth["date_created"] == "2024-03-01T12:00:00Z" and garth["date_modified"] == "2024-03-12T12:00:00Z"
    assert "addresses" not in garth and "form_fields" not in garth and "attributes" not in garth
    assert garth["authentication"] == {"force_password_reset": False} and garth["channel_ids"] == [1]

    second = store.ok("v3/customers?limit=4&page=2")
    assert ids(second["data"]) == [5, 6]
    assert second["meta"]["pagination"]["links"] == {"previous": "?page=1&limit=4", "current": "?page=2&limit=4"}
    assert "cursor_pagination" not in second["meta"]
    past = store.ok("v3/customers?limit=4&page=3")
    assert past["data"] == [] and past["meta"]["pagination"]["count"] == 0


def test_customer_includes(store: Store) -> None:
    (garth,) = store.ok("v3/customers?id:in=1&include=addresses,attributes,formfields,storecredit")["data"]
    (address,) = garth["addresses"]
    assert address["customer_id"] == 1 and address["address1"] == "1 Main St" and address["country_code"] == "US"
    assert address["form_fields"] == [{"name": "Dock", "value": "B"}] and garth["address_count"] == 1
    assert garth["attributes"][0]["attribute_value"] == "Yes" and garth["attributes"][0]["date_created"].endswith("Z")
    assert garth["form_fields"] == [{"name": "License ID", "value": "L0", "customer_id": 1}]
    assert garth["store_credit_amounts"] == [{"amount": 0}]
    (plain,) = store.ok("v3/customers?id:in=1&include=addresses")["data"]
    assert "form_fields" not in plain["addresses"][0]
    v3_error(store.get("v3/customers?include=addresses,secrets"), 422)


def test_customer_filters(store: Store) -> None:
    def found(query: str) -> list[int]:
        return ids(store.ok(f"v3/customers?{query}")["data"])

    assert found("id:in=2,4,99") == [2, 4]
    assert found("email:in=ZED@zimmer.example,lee@lee.example") == [4, 6]
    assert found("company:in=Markey Metals") == [1, 5]
    assert found("customer_group_id:in=2") == [1, 2]
    assert found("name:like=markey") == [1, 5]
    assert found("name:like=ann,zim") == [3, 4]
    assert found("name:in=Jo Sefton") == [2]
    assert found("date_created=2024-03-03") == [3]  # a whole day
    assert found("date_created=2024-03-03T12:00:00") == [3]  # one second
    assert found("date_created:min=2024-03-04T12:00:00&date_created:max=2024-03-05T12:00:00Z") == [4, 5]
    # customers 1 and 2 were both modified at 2024-03-12T12:00:00: the bounds include that second
    assert found("date_modified:min=2024-03-12T12:00:00Z&date_modified:max=2024-03-12T12:00:00Z") == [1, 2]
    assert found("date_modified:max=2024-03-12T11:59:59Z") == []


def test_customer_sorting(store: Store) -> None:
    assert ids(store.ok("v3/customers?sort=last_name:asc")["data"]) == [3, 6, 1, 5, 2, 4]
    assert ids(store.ok("v3/customers?sort=date_modified:desc")["data"]) == [6, 5, 4, 3, 1, 2]
    assert ids(store.ok("v3/customers?sort=date_created:desc&limit=2&page=2")["data"]) == [4, 3]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("date_modified:min=not-a-date", "date_modified:min"),
        ("date_created=2024-13-45", "date_created"),
        ("sort=email:asc", "sort"),
        ("limit=251", "limit"),
        ("limit=0", "limit"),
        ("page=-1", "page"),
        ("id:in=1,two", "id:in"),
        ("after=%%%", "after"),
    ],
)
def test_customer_filter_errors_are_422(store: Store, query: str, name: str) -> None:
    body = v3_error(store.get(f"v3/customers?{query}"), 422)
    assert name in body["errors"] and name in body["title"]


def test_customer_cursors(store: Store) -> None:
    first = store.ok("v3/customers?limit=2")["meta"]["cursor_pagination"]
    assert first["links"]["next"] == f"?after={first['end_cursor']}&limit=2"
    second = store.ok(f"v3/customers?after={first['end_cursor']}&limit=2")
    assert ids(second["data"]) == [3, 4] and "pagination" not in second["meta"]
    cursors = second["meta"]["cursor_pagination"]
    assert ids(store.ok(f"v3/customers?before={cursors['start_cursor']}&limit=2")["data"]) == [1, 2]
    last = store.ok(f"v3/customers?after={cursors['end_cursor']}&limit=2")["meta"]["cursor_pagination"]
    assert "next" not in last["links"] and last["count"] == 2


# -- payment capture -------------------------------------------------------------------------


def test_capture_goes_pending_then_captured(store: Store) -> None:
    store.http.put(f"{store.admin}/store/settings", json={"capture_settle_seconds": 0.5}, timeout=10)
    before = rfc2822(store.ok("v2/orders/100")["date_modified"])
    response = store.post("v3/orders/100/payment_actions/capture", json={})
    assert response.status_code == 201 and response.json() == {"data": {}, "meta": {}}
    pending = store.ok("v2/orders/100")
    assert pending["payment_status"] == "capture pending" and rfc2822(pending["date_modified"]) > before
    deadline = time.monotonic() + 5
    while (order := store.ok("v2/orders/100"))["payment_status"] != "captured":
        assert time.monotonic() < deadline, order["payment_status"]
        time.sleep(0.2)
    assert rfc2822(order["date_modified"]) >= rfc2822(pending["date_modified"])
    # captured now, so it cannot be captured again
    v3_error(store.post("v3/orders/100/payment_actions/capture", json={}), 422)
    v3_error(store.post("v3/orders/999/payment_actions/capture", json={}), 404)


def test_capture_settles_at_once_when_told(store: Store) -> None:
    store.http.put(f"{store.admin}/store/settings", json={"capture_settle_seconds": 60}, timeout=10)
    assert store.post("v3/orders/101/payment_actions/capture").status_code == 201
    assert store.ok("v2/orders/101")["payment_status"] == "capture pending"
    assert store.http.post(f"{store.admin}/store/captures/settle", timeout=10).json() == {"settled": 1}
    assert store.ok("v2/orders/101")["payment_status"] == "captured"
    store.http.put(f"{store.admin}/store/settings", json={"capture_settle_seconds": 0}, timeout=10)
    assert store.post("v3/orders/102/payment_actions/capture").status_code == 201
    assert store.ok("v2/orders/102")["payment_status"] == "captured"


# -- rate limits and faults ------------------------------------------------------------------


def test_quota_spent_gives_429_until_the_window_resets(tmp_path: Path) -> None:
    with own_store(tmp_path / "sandbox", rate_limit_quota=5, rate_limit_window_ms=60_000) as store:
        left = [int(store.get("v2/time").headers["X-Rate-Limit-Requests-Left"]) for _ in range(5)]
        assert left == [4, 3, 2, 1, 0]
        refused = store.get("v2/orders")
        assert v2_error(refused, 429)
        assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
        assert refused.headers["X-Rate-Limit-Requests-Quota"] == "5"
        assert refused.headers["X-Rate-Limit-Time-Window-Ms"] == "60000"
        assert 0 < int(refused.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 60_000
        assert int(refused.headers["X-Retry-After"]) >= 1
        v3_error(store.get("v3/customers"), 429)
        # the admin API is not metered, and can start a fresh window
        state = store.http.post(f"{store.admin}/store/rate-limit/reset", timeout=10).json()
        assert state["left"] == 5
        assert store.get("v2/time").status_code == 200


def test_short_windows_refill(tmp_path: Path) -> None:
    with own_store(tmp_path / "sandbox", rate_limit_quota=2, rate_limit_window_ms=1000) as store:
        assert [store.get("v2/time").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(1.05)
        assert store.get("v2/time").status_code == 200


def test_requests_are_counted_per_endpoint(store: Store) -> None:
    store.http.post(f"{store.admin}/counters/reset", timeout=10).raise_for_status()
    store.get("v2/orders")
    store.get("v2/orders/100/products")
    store.get("v2/orders/101/products")
    counts = store.http.get(f"{store.admin}/counters", timeout=10).json()["endpoints"]
    assert counts["GET /stores/{store_hash}/v2/orders"] == 1
    assert counts["GET /stores/{store_hash}/v2/orders/{order_id:int}/products"] == 2


def test_rate_limit_fault(store: Store) -> None:
    script = [{"kind": "rate_limit", "path": "/v2/orders$", "method": "GET", "count": 2}]
    store.http.post(f"{store.admin}/faults/script", json=script, timeout=10).raise_for_status()
    assert store.get("v2/time").status_code == 200  # other paths unaffected
    for _ in range(2):
        refused = store.get("v2/orders")
        v2_error(refused, 429)
        assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
        assert all(header in refused.headers for header in RATE_HEADERS)
    assert store.get("v2/orders").status_code == 200
    assert store.http.get(f"{store.admin}/faults", timeout=10).json()["fired"]["rate_limit"] == 2


def test_throttle_fault_has_no_meter(store: Store) -> None:
    script = [{"kind": "throttle", "path": "/v3/customers"}]
    store.http.post(f"{store.admin}/faults/script", json=script, timeout=10).raise_for_status()
    refused = store.get("v3/customers")
    v3_error(refused, 429)
    assert not [h for h in refused.headers if h.lower().startswith("x-rate-limit")]
    assert store.get("v3/customers").status_code == 200


@pytest.mark.parametrize(("kind", "status"), [("server_error", 500), ("unavailable", 503)])
def test_generic_fault_bodies(store: Store, kind: str, status: int) -> None:
    script = [{"kind": kind, "count": 2}]
    store.http.post(f"{store.admin}/faults/script", json=script, timeout=10).raise_for_status()
    v2_error(store.get("v2/orders"), status)
    v3_error(store.get("v3/customers"), status)
    assert store.get("v2/orders").status_code == 200


def test_rate_fault_settings_are_seeded(store: Store) -> None:
    settings = {"seed": 7, "rates": {"throttle": 0.5}}
    store.http.put(f"{store.admin}/faults", json=settings, timeout=10).raise_for_status()
    first = [store.get("v2/time").status_code for _ in range(12)]
    store.http.put(f"{store.admin}/faults", json=settings, timeout=10).raise_for_status()
    second = [store.get("v2/time").status_code for _ in range(12)]
    assert first == second and 429 in first and 200 in first
