"""The generated store and org: reproducible, realistic, and holding the two seed scenarios exactly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.generator import SEED_ORDER_SEFTON, generate

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def data():
    return generate(orders=600, seed=5, as_of=AS_OF)


def test_same_seed_same_data_other_seed_other_data(data) -> None:
    again = generate(orders=600, seed=5, as_of=AS_OF)
    assert again.orders == data.orders and again.customers == data.customers and again.accounts == data.accounts
    assert generate(orders=600, seed=6, as_of=AS_OF).orders != data.orders


@pytest.mark.parametrize("n", [2, 3, 10, 600, 1001])
def test_exactly_the_number_of_orders_asked_for(n: int) -> None:
    assert len(generate(orders=n, as_of=AS_OF).orders) == n


def test_seed_scenario_000_guest_garth_markey_of_markey_metals(data) -> None:
    garth = [o for o in data.orders if o["billing_address"]["last_name"] == "Markey"]
    assert len(garth) == 1
    order = garth[0]
    assert order["customer_id"] == 0
    assert order["billing_address"]["company"] == "Markey Metals"
    assert order["billing_address"]["first_name"] == "Garth"
    assert order["billing_address"]["phone"]
    assert order["payment_method"] == "Credit Card"
    assert order["shipping_addresses"][0]["shipping_method"] == "Ship by Weight"


def test_seed_scenario_001_registered_eric_sefton_with_order_420(data) -> None:
    order = next(o for o in data.orders if o["id"] == SEED_ORDER_SEFTON)
    eric = next(c for c in data.customers if c["id"] == order["customer_id"])
    assert (eric["first_name"], eric["last_name"], eric["company"]) == ("Eric", "Sefton", "Sefton Services, Inc.")
    assert order["billing_address"]["email"] == eric["email"]
    assert sum(1 for o in data.orders if o["id"] == SEED_ORDER_SEFTON) == 1


def test_a_third_guests_shared_companies_people_without_company_awkward_names(data) -> None:
    orders = data.orders
    guests = sum(1 for o in orders if o["customer_id"] == 0)
    assert abs(guests / len(orders) - 1 / 3) < 0.02
    companies = Counter(o["billing_address"]["company"] for o in orders if o["billing_address"]["company"])
    assert sum(1 for n in companies.values() if n > 1) >= 20
    assert sum(1 for o in orders if not o["billing_address"]["company"]) > len(orders) * 0.1
    last_names = {o["billing_address"]["last_name"] for o in orders}
    assert any("'" in name for name in last_names)
    assert any(not name.isascii() for name in last_names)
    registered = Counter(o["customer_id"] for o in orders if o["customer_id"])
    assert max(registered.values()) > 1  # returning buyers


def test_orders_are_consistent_with_their_customers_and_time(data) -> None:
    customers = {c["id"]: c for c in data.customers}
    assert len({o["id"] for o in data.orders}) == len(data.orders)
    for order in data.orders:
        assert AS_OF - timedelta(days=61) <= order["date_created"] <= order["date_modified"] <= AS_OF
        if order["customer_id"]:
            customer = customers[order["customer_id"]]
            assert order["billing_address"]["email"] == customer["email"]
            assert customer["date_created"] <= order["date_created"]
        total = sum(float(p["total_inc_tax"]) for p in order["products"])
        assert float(order["subtotal_ex_tax"]) == pytest.approx(total)
        assert order["total_inc_tax"].count(".") == 1 and len(order["total_inc_tax"].split(".")[1]) == 4


def test_org_already_knows_some_buyers_spelled_its_own_way_and_some_have_a_csr(data) -> None:
    assert data.users and all(u["Title"] == "CSR" for u in data.users)
    assert len(data.accounts) >= 10
    emails = {o["billing_address"]["email"].lower() for o in data.orders} | {c["email"] for c in data.customers}
    known = [c for c in data.contacts if c["Email"].lower() in emails]
    assert len(known) == len(data.contacts)
    assert any(c["Email"] != c["Email"].lower() for c in data.contacts)
    assert any(a["Name"].isupper() for a in data.accounts)
    assert 0 < sum(1 for a in data.accounts if "_assigned_csr" in a) < len(data.accounts)
    assert not any("BigCommerce_Account_Key__c" in a for a in data.accounts)
