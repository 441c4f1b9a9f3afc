"""Rejects: reason codes, messages, payloads and balanced counts (transforms.validation)."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from tests.transforms.factories import customer, order, row, run
from transforms.pipeline import TransformResult
from transforms.validation import REASON_CODES, REJECT_COLUMNS, is_email


def _reject(result: TransformResult, entity: str, source_id: str) -> pd.Series:
    rejects = result.rejects[(result.rejects["entity"] == entity) & (result.rejects["source_id"] == source_id)]
    assert len(rejects) == 1
    return rejects.iloc[0]


@pytest.mark.parametrize(
    ("changes", "code", "says"),
    [
        ({"billing": {"email": "  "}}, "missing_email", "email is missing"),
        ({"billing": {"first_name": None}}, "missing_first_name", "first_name is missing"),
        ({"billing": {"last_name": ""}}, "missing_last_name", "last_name is missing"),
        ({"billing": {"street_1": "", "street_2": ""}}, "missing_street", "street is missing"),
        ({"billing": {"city": None}}, "missing_city", "city is missing"),
        ({"billing": {"state": " "}}, "missing_state", "state is missing"),
        ({"billing": {"zip": None}}, "missing_postal_code", "postal_code is missing"),
        ({"billing_address": None}, "missing_billing_address", "no billing address"),
        ({"billing": {"email": "garth@markey"}}, "invalid_email", "'garth@markey' is not an address"),
        ({"billing": {"email": "garth markey@x.com"}}, "invalid_email", "is not an address"),
        ({"billing": {"email": "gärth@x.com"}}, "invalid_email", "is not an address"),
        ({"billing": {"email": "a" * 65 + "@x.com"}}, "invalid_email", "is not an address"),
        (
            {"billing": {"last_name": "M" * 81}},
            "field_too_long",
            "last_name is 81 characters long but Contact.LastName",
        ),
        ({"billing": {"zip": "4" * 21}}, "field_too_long", "postal_code is 21 characters"),
        ({"billing": {"phone": "5" * 41}}, "field_too_long", "phone is 41 characters"),
        ({"date_created": "not a date"}, "invalid_date", "date_created 'not a date' is not a date"),
        ({"date_created": None}, "invalid_date", "date_created is missing"),
        ({"date_modified": "Wed, 10 Jan 2018"}, "invalid_date", "date_modified 'Wed, 10 Jan 2018'"),
        ({"total_inc_tax": "abc"}, "invalid_amount", "total_inc_tax 'abc' is not an amount"),
        ({"total_inc_tax": Decimal("-12.00")}, "invalid_amount", "-12.00 is negative"),
        ({"total_inc_tax": Decimal("NaN")}, "invalid_amount", "not a finite amount"),
        ({"total_inc_tax": None}, "invalid_amount", "total_inc_tax is missing"),
        ({"total_inc_tax": Decimal("1E+15")}, "invalid_amount", "too large"),
        ({"id": None}, "invalid_id", "has no id"),
        ({"id": "abc"}, "invalid_id", "'abc' is not a whole number"),
        ({"customer_id": "seven"}, "invalid_id", "customer_id 'seven'"),
    ],
)
def test_order_rejects(changes: dict, code: str, says: str) -> None:
    billing = changes.pop("billing", {})
    result = run(orders=[order(500, billing=billing, **changes), order(501)])
    assert len(result.orders) == 1 and result.orders["order_key"].tolist() == ["501"]
    assert len(result.rejects) == 1
    reject = result.rejects.iloc[0]
    assert reject["entity"] == "order"
    assert reject["reason_code"] == code
    assert says in reject["message"]
    assert json.loads(reject["payload"])["customer_id"] == changes.get("customer_id", 0)


def test_long_text_that_may_be_cut_is_truncated_not_rejected() -> None:
    result = run(orders=[order(1, billing={"city": "C" * 60, "first_name": "F" * 50, "company": "Co " * 100})])
    assert result.rejects.empty
    assert row(result.contacts, "contact_key", "garth.markey@markeymetals.com")["first_name"] == "F" * 40
    assert len(result.orders.iloc[0]["city"]) == 40
    assert len(result.accounts.iloc[0]["account_name"]) <= 255


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"email": None}, "missing_email"),
        ({"email": "eric@"}, "invalid_email"),
        ({"first_name": " "}, "missing_first_name"),
        ({"last_name": None}, "missing_last_name"),
        ({"date_modified": "2021-07-28T19:00:38Z", "date_created": None}, "invalid_date"),
        ({"date_modified": "not a date"}, "invalid_date"),  # the connector leaves what it cannot parse
        ({"date_modified": None, "date_created": None}, "invalid_date"),
        ({"id": -3}, "invalid_id"),
        ({"phone": "1" * 41}, "field_too_long"),
    ],
)
def test_customer_rejects(changes: dict, code: str) -> None:
    result = run(customers=[customer(9, **changes)])
    assert result.contacts.empty and result.accounts.empty
    reject = result.rejects.iloc[0]
    assert (reject["entity"], reject["reason_code"]) == ("customer", code)
    assert result.balance()["customer"] == {"in": 1, "accepted": 0, "rejected": 1}


def test_customer_without_address_is_fine() -> None:
    result = run(customers=[customer(9, addresses=[])])
    assert result.rejects.empty
    assert result.contacts.iloc[0].isna()["street"]


def test_first_failing_check_names_the_reject_and_the_message_lists_all() -> None:
    result = run(orders=[order(1, billing={"email": "bad", "city": None, "zip": "9" * 30})])
    reject = _reject(result, "order", "1")
    assert reject["reason_code"] == "missing_city"
    assert "city is missing" in reject["message"]
    assert "'bad' is not an address" in reject["message"]
    assert "postal_code is 30 characters" in reject["message"]


def test_duplicates_keep_the_latest_copy() -> None:
    old = order(7, hours=0, billing={"city": "Old Town"})
    new = order(7, hours=0, date_modified=order(hours=5)["date_modified"], billing={"city": "New Town"})
    result = run(orders=[new, old])
    assert row(result.orders, "order_key", "7")["city"] == "New Town"
    reject = _reject(result, "order", "7")
    assert reject["reason_code"] == "duplicate_record"
    assert "appears 2 times" in reject["message"]
    assert json.loads(reject["payload"])["billing_address"]["city"] == "Old Town"


def test_payload_is_json_with_iso_dates_and_decimal_strings() -> None:
    result = run(orders=[order(3, total_inc_tax=Decimal("-1.50"))])
    payload = json.loads(result.rejects.iloc[0]["payload"])
    assert payload["date_created"] == "2026-11-23T12:00:00+00:00"
    assert payload["total_inc_tax"] == "-1.50"


def test_nothing_is_dropped_silently() -> None:
    customers = [customer(1), customer(2, email="x"), customer(3, email="c3@x.com"), customer(3, email="c3@x.com")]
    orders = [order(1), order(2, total_inc_tax="?"), order(3, customer_id=1), order(3), order(4, billing_address={})]
    result = run(customers, orders)
    balance = result.balance()
    for entity, counts in balance.items():
        assert counts["in"] == counts["accepted"] + counts["rejected"], entity
    assert balance == {
        "customer": {"in": 4, "accepted": 2, "rejected": 2},
        "order": {"in": 5, "accepted": 2, "rejected": 3},
    }
    assert set(result.rejects["reason_code"]) <= set(REASON_CODES)
    assert tuple(result.rejects.columns) == REJECT_COLUMNS


def test_rejected_order_feeds_no_contact_or_account() -> None:
    result = run(orders=[order(1, billing={"zip": None, "email": "solo@x.com", "company": "Solo"})])
    assert result.contacts.empty and result.accounts.empty and result.orders.empty


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("eric.sefton@seftonservices.com", True),
        ("o'brien+orders@sub.example.co.uk", True),
        ("x@b.xn--p1ai", True),
        ("eric@localhost", False),
        ("eric..sefton@x.com", False),
        (".eric@x.com", False),
        ("eric@-x.com", False),
        ("eric@x.c", False),
        ("a" * 64 + "@x.com", True),
        ("a" * 65 + "@x.com", False),
        ("eric@@x.com", False),
    ],
)
def test_is_email(email: str, ok: bool) -> None:
    assert is_email(email) is ok
