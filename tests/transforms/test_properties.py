"""Properties: normalisation is idempotent; the transform is deterministic and keys are unique."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transforms.factories import customer, existing, order, run
from transforms.identity import company_norm
from transforms.text import clean_scalar

COMPANIES = ["Sefton Services, Inc.", "SEFTON SERVICES INC", " Sefton Services Inc ", "Markey Metals",
             "markey metals llc", "Markey &amp; Sons", "", None, "The Company Inc", "Company", "🚀"]  # fmt: skip
EMAILS = ["eric@sefton.com", "ERIC@sefton.com", "garth@markey.com", "jane@gmail.com", "bad@", "", "Jane@Gmail.com "]
FIRST = ["Eric", "Garth", "Zoë", "", "Jane"]
LAST = ["Sefton", "Markey", "O'Brien", "  Van  der Berg ", "", "D'Angelo"]
TOTALS = [Decimal("361.9500"), Decimal("0"), Decimal("-12.00"), "abc", None, Decimal("10.005")]


@given(st.text())
def test_clean_scalar_is_idempotent(text: str) -> None:
    once = clean_scalar(text)
    assert once is None or clean_scalar(once) == once


@given(st.text())
def test_company_norm_is_idempotent_and_never_empty(text: str) -> None:
    cleaned = clean_scalar(text)
    if cleaned is None:
        return
    norm = company_norm(cleaned)
    assert norm
    assert company_norm(norm) == norm


def _billing(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "company": draw(st.sampled_from(COMPANIES)),
        "email": draw(st.sampled_from(EMAILS)),
        "first_name": draw(st.sampled_from(FIRST)),
        "last_name": draw(st.sampled_from(LAST)),
        "street_1": draw(st.sampled_from(["1 Main St", "2 Side St", ""])),
        "phone": draw(st.sampled_from(["", "555-0100", "555-0199"])),
    }


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    orders = [
        order(
            draw(st.integers(1, 12)),  # repeated ids happen: duplicates
            customer_id=draw(st.sampled_from([0, 0, 1, 2])),
            hours=draw(st.integers(0, 3)),  # equal dates happen: ties
            total_inc_tax=draw(st.sampled_from(TOTALS)),
            billing=_billing(draw),
        )
        for _ in range(draw(st.integers(0, 12)))
    ]
    customers = []
    for _ in range(draw(st.integers(0, 4))):
        b = _billing(draw)
        customers.append(
            customer(
                draw(st.integers(1, 4)),
                hours=draw(st.integers(0, 3)),
                email=b["email"],
                company=b["company"],
                first_name=b["first_name"],
                last_name=b["last_name"],
                phone=b["phone"],
            )
        )
    return customers, orders


KNOWN = existing(
    accounts=[
        {"Id": "001A", "Name": "SEFTON SERVICES", "Assigned_CSR__c": "005CSR", "CreatedDate": "2024-01-01T00:00:00Z"},
        {"Id": "001B", "Name": "Sefton Services Inc", "CreatedDate": "2024-01-01T00:00:00Z"},
        {"Id": "001J", "Name": "Jane D'Angelo", "CreatedDate": "2023-01-01T00:00:00Z"},
    ],
    contacts=[
        {"Id": "003J", "Email": "JANE@gmail.com", "AccountId": "001J", "CreatedDate": "2023-01-01T00:00:00Z"},
        {"Id": "003E", "Email": "eric@sefton.com", "AccountId": "001A", "CreatedDate": "2023-01-01T00:00:00Z"},
    ],
)


def _frames(result: Any) -> dict[str, pd.DataFrame]:
    return {n: getattr(result, n) for n in ("accounts", "contacts", "orders", "adoptions", "rejects")}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.randoms(use_true_random=False))
def test_transform_is_deterministic_with_unique_keys_and_balanced(
    batch: tuple[list[dict[str, Any]], list[dict[str, Any]]], rng: Any
) -> None:
    customers, orders = batch
    first = run(customers, orders, KNOWN)
    shuffled_customers, shuffled_orders = customers[:], orders[:]
    rng.shuffle(shuffled_customers)
    rng.shuffle(shuffled_orders)
    second = run(shuffled_customers, shuffled_orders, KNOWN)
    for name, frame in _frames(first).items():
        pd.testing.assert_frame_equal(frame, _frames(second)[name], obj=name)

    assert first.accounts["account_key"].is_unique
    assert first.contacts["contact_key"].is_unique
    assert first.orders["order_key"].is_unique
    assert not first.adoptions.duplicated(["sobject", "key"]).any()
    assert not first.adoptions.duplicated(["sobject", "salesforce_id"]).any()
    for counts in first.balance().values():
        assert counts["in"] == counts["accepted"] + counts["rejected"]
    # Every order points at an account and a contact of the batch.
    assert first.orders["account_key"].isin(first.accounts["account_key"]).all()
    assert first.orders["contact_key"].isin(first.contacts["contact_key"]).all()
    assert first.contacts["account_key"].isin(first.accounts["account_key"]).all()
