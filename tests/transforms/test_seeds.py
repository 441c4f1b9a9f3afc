"""The two source documents, end to end (../shared/seeds)."""

from __future__ import annotations

from decimal import Decimal

from tests.transforms.factories import QUEUE, T0, customer, order, row, run


def test_guest_checkout_makes_account_contact_and_queued_order() -> None:
    """Seed 000: guest Garth Markey of Markey Metals (rule R1, R2, R7, R8)."""
    result = run(orders=[order(1001, customer_id=0)])

    account = row(result.accounts, "account_key", "co:markey metals")
    assert account["account_name"] == "Markey Metals"
    assert account["customer_group"] == "0"  # populated, so the CSR sees it came from eCommerce
    contact = row(result.contacts, "contact_key", "garth.markey@markeymetals.com")
    assert (contact["first_name"], contact["last_name"]) == ("Garth", "Markey")
    assert contact["account_key"] == "co:markey metals"
    assert contact["phone"] == "(216) 555-0148"
    assert contact.isna()["customer_id"]  # a guest has no customer id
    placed = row(result.orders, "order_key", "1001")
    assert placed["account_key"] == "co:markey metals"
    assert placed["contact_key"] == "garth.markey@markeymetals.com"
    assert placed["suggested_set_code"] == "109337-Markey"
    assert placed["owner_id"] == QUEUE
    assert result.rejects.empty


def test_registered_customer_and_order_420() -> None:
    """Seed 001: Eric Sefton of Sefton Services, Inc. registers and places order 420."""
    result = run(customers=[customer(1, hours=-3)], orders=[order(420, customer_id=1, hours=-2, billing={
        "first_name": "Eric", "last_name": "Sefton", "company": "Sefton Services, Inc.", "street_1": "77 Commerce Dr",
        "city": "Columbus", "state": "Ohio", "zip": "43215", "phone": "(614) 555-0199",
        "email": "eric.sefton@seftonservices.com"})])  # fmt: skip

    assert list(result.accounts["account_key"]) == ["co:sefton services"]
    account = result.accounts.iloc[0]
    assert account["account_name"] == "Sefton Services, Inc."
    assert account["customer_group"] == "1"
    assert len(result.contacts) == 1
    contact = result.contacts.iloc[0]
    assert contact["customer_id"] == "1"
    assert contact["email"] == "eric.sefton@seftonservices.com"
    placed = row(result.orders, "order_key", "420")
    assert placed["order_name"] == "ATS Store order 420"
    assert placed["order_date"] == (T0.date())
    assert placed["total"] == Decimal("361.95")
    assert placed["suggested_set_code"] == "109337-Sefton"
    assert placed["owner_id"] == QUEUE  # a new customer: Orders in the Queue
    assert placed["store_status"] == "Awaiting Fulfillment"
    assert result.balance() == {
        "customer": {"in": 1, "accepted": 1, "rejected": 0},
        "order": {"in": 1, "accepted": 1, "rejected": 0},
    }
