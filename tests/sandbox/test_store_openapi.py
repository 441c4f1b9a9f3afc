"""The sandbox store's real responses, validated against BigCommerce's public OpenAPI files.

The specs (``../shared/specs/bigcommerce``) are the judge of shapes, but they have defects of
their own; where one is wrong or stricter than the API, :func:`load_spec` narrows it *here*,
with the reason, instead of bending the sandbox away from what the API does:

* ``customers.v2.yml`` uses ``exclusiveMaximum: false`` without ``maximum`` (invalid OpenAPI 3.0);
* ``oneOf`` between alternatives that overlap is unsatisfiable for the values the API sends, so
  those become ``anyOf``: ``customerGroup_Full.discount_rules`` (four array shapes that all accept
  ``[]``, what a group without discounts has), the order's ``consignments`` (a ``{url, resource}``
  link is also a valid ``orderConsignment_Get``, whose properties are all optional) and a
  consignment's ``line_items`` (an empty list matches both array shapes); so that ``anyOf`` still
  checks inline objects, the link schemas get the ``required: [url, resource]`` they imply;
* ``GET /orders`` documents no ``204``, yet an empty page is ``204 No Content`` (see
  ``test_store.py::test_paging_until_204``), so only non-empty pages are validated here;
* the legacy consignment structure (``include=consignments`` without
  ``consignment_structure=object``: the same object wrapped in a list) is not in the spec at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from sandbox.server import SandboxServer
from tests.conftest import shared_path
from tests.sandbox.test_store import Store, start_store_server


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _one_of_to_any_of(spec: dict[str, Any], *path: str) -> None:
    node: Any = spec
    for key in path:
        node = node[key]
    node["anyOf"] = node.pop("oneOf")


def load_spec(name: str, server_url: str) -> OpenAPI:
    """One of the BigCommerce specs, pointed at the sandbox and narrowed as the module doc says."""
    spec = yaml.safe_load(shared_path("specs", "bigcommerce", name).read_text())
    spec["servers"] = [{"url": server_url}]
    for node in _walk(spec):
        for bound in ("Maximum", "Minimum"):
            if node.get(f"exclusive{bound}") is False and bound.lower() not in node:
                del node[f"exclusive{bound}"]
    schemas = spec["components"]["schemas"]
    if name == "customers.v2.yml":
        _one_of_to_any_of(schemas, "customerGroup_Full", "properties", "discount_rules")
    if name == "orders.v2.yml":
        # A link always has both fields; requiring them keeps anyOf from letting an inline
        # consignment (or product) pass as a "link" without being checked.
        for link in ("orderConsignments_Resource", "products_Resource"):
            schemas[link]["required"] = ["url", "resource"]
        _one_of_to_any_of(schemas, "order_RespOnly", "properties", "consignments")
        for consignment in ("shippingConsignment_Get", "pickupConsignment_Get"):
            for part in schemas[consignment]["allOf"]:
                if "line_items" in part.get("properties", {}):
                    _one_of_to_any_of(part, "properties", "line_items")
        for consignment in ("digitalConsignment_Get", "giftCertificateConsignment_Get"):
            _one_of_to_any_of(schemas, consignment, "properties", "line_items")
    return OpenAPI.from_dict(spec)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    server: SandboxServer = start_store_server(tmp_path_factory.mktemp("store-openapi"))
    handle = Store(server)
    handle.fresh()
    yield handle
    handle.close()
    server.stop()


@pytest.fixture(scope="module")
def specs(store: Store) -> dict[str, OpenAPI]:
    return {
        "orders.v2": load_spec("orders.v2.yml", store.url + "v2"),
        "customers.v2": load_spec("customers.v2.yml", store.url + "v2"),
        "customers.v3": load_spec("customers.v3.yml", store.url + "v3"),
        "orders.v3": load_spec("orders.v3.yml", store.url + "v3"),
    }


def check(spec: OpenAPI, response: requests.Response, status: int) -> Any:
    """Validate ``response`` against ``spec`` (raises with the spec's complaint) and return its JSON."""
    assert response.status_code == status, response.text
    spec.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
    return response.json()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?include=addresses",
        "?include=addresses,attributes,formfields,storecredit",
        "?limit=2&page=2",
        "?sort=date_modified:desc&date_modified:min=2024-03-12",
    ],
)
def test_customers(store: Store, specs: dict[str, OpenAPI], query: str) -> None:
    body = check(specs["customers.v3"], store.get(f"v3/customers{query}"), 200)
    assert body["data"]


def test_customers_by_cursor(store: Store, specs: dict[str, OpenAPI]) -> None:
    first = check(specs["customers.v3"], store.get("v3/customers?limit=2"), 200)
    cursor = first["meta"]["cursor_pagination"]["end_cursor"]
    check(specs["customers.v3"], store.get(f"v3/customers?limit=2&after={cursor}"), 200)


def test_customer_filter_error(store: Store, specs: dict[str, OpenAPI]) -> None:
    check(specs["customers.v3"], store.get("v3/customers?date_created:min=soon"), 422)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?sort=date_modified:desc&limit=5",
        "?include=consignments&consignment_structure=object",
        "?include=consignments.line_items&consignment_structure=object",
    ],
)
def test_orders(store: Store, specs: dict[str, OpenAPI], query: str) -> None:
    assert check(specs["orders.v2"], store.get(f"v2/orders{query}"), 200)


def test_single_order(store: Store, specs: dict[str, OpenAPI]) -> None:
    order = check(specs["orders.v2"], store.get("v2/orders/101"), 200)
    assert order["id"] == 101
    check(
        specs["orders.v2"], store.get("v2/orders/101?include=consignments.line_items&consignment_structure=object"), 200
    )
    check(specs["orders.v2"], store.get("v2/orders/999"), 404)


def test_order_sub_resources(store: Store, specs: dict[str, OpenAPI]) -> None:
    spec = specs["orders.v2"]
    products = check(spec, store.get("v2/orders/101/products"), 200)
    check(spec, store.get(f"v2/orders/101/products/{products[0]['id']}"), 200)
    addresses = check(spec, store.get("v2/orders/101/shipping_addresses"), 200)
    check(spec, store.get(f"v2/orders/101/shipping_addresses/{addresses[0]['id']}"), 200)
    check(spec, store.get("v2/orders/101/consignments"), 200)
    check(spec, store.get("v2/orders/101/consignments?include=consignments.line_items"), 200)
    check(spec, store.get("v2/orders/count"), 200)
    check(spec, store.get("v2/order_statuses"), 200)


def test_order_coupons(store: Store, specs: dict[str, OpenAPI]) -> None:
    (oid,) = store.db.insert_orders(
        [
            {
                "billing_address": {"email": "coupon@example.com"},
                "coupons": [{"coupon_id": 4, "code": "SAVE5", "amount": 5}],
            }
        ]
    )
    (coupon,) = check(specs["orders.v2"], store.get(f"v2/orders/{oid}/coupons"), 200)
    assert coupon["code"] == "SAVE5" and coupon["order_id"] == oid


def test_customer_groups(store: Store, specs: dict[str, OpenAPI]) -> None:
    assert len(check(specs["customers.v2"], store.get("v2/customer_groups"), 200)) == 2


def test_capture(store: Store, specs: dict[str, OpenAPI]) -> None:
    spec = specs["orders.v3"]
    check(spec, store.post("v3/orders/104/payment_actions/capture", json={}), 201)
    check(spec, store.post("v3/orders/104/payment_actions/capture", json={}), 422)
    check(spec, store.post("v3/orders/999/payment_actions/capture", json={}), 404)
