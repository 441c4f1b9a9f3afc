"""Records in the extractor's shape (see transforms.frames) and a one-call transform, for tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from transforms.frames import customers_frame, orders_frame
from transforms.matching import ExistingRecords
from transforms.pipeline import TransformResult, transform

QUEUE = "00G000000000QUEUE"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    """A moment ``hours`` after T0."""
    return T0 + timedelta(hours=hours)


def address(**fields: Any) -> dict[str, Any]:
    """A v2 billing address / shipping consignment (Garth Markey's by default)."""
    base = {
        "first_name": "Garth", "last_name": "Markey", "company": "Markey Metals", "street_1": "4410 Industrial Pkwy",
        "street_2": "", "city": "Cleveland", "state": "Ohio", "zip": "44135", "country": "United States",
        "country_iso2": "US", "phone": "(216) 555-0148", "email": "garth.markey@markeymetals.com",
    }  # fmt: skip
    return {**base, **fields}


def order(order_id: int = 1001, customer_id: int = 0, hours: float = 0, **fields: Any) -> dict[str, Any]:
    """A v2 order with inline consignments; ``billing`` overrides billing-address fields."""
    billing = address(**fields.pop("billing", {}))
    record = {
        "id": order_id, "customer_id": customer_id, "date_created": at(hours), "date_modified": at(hours),
        "status_id": 11, "status": "Awaiting Fulfillment", "payment_status": "authorized",
        "total_inc_tax": Decimal("361.9500"), "currency_code": "USD", "billing_address": billing,
        "consignments": {"shipping": [{**billing, "id": 1, "line_items": []}]},
    }  # fmt: skip
    record.update(fields)
    return record


def customer(customer_id: int = 1, hours: float = 0, **fields: Any) -> dict[str, Any]:
    """A v3 customer with one address (Eric Sefton's by default)."""
    record = {
        "id": customer_id, "email": "eric.sefton@seftonservices.com", "first_name": "Eric", "last_name": "Sefton",
        "company": "Sefton Services, Inc.", "phone": "(614) 555-0199", "customer_group_id": 1,
        "date_created": at(hours), "date_modified": at(hours),
        "addresses": [{
            "id": 1, "customer_id": customer_id, "first_name": "Eric", "last_name": "Sefton",
            "company": "Sefton Services, Inc.", "address1": "77 Commerce Dr", "address2": "", "city": "Columbus",
            "state_or_province": "Ohio", "postal_code": "43215", "country": "United States", "country_code": "US",
            "phone": "(614) 555-0199", "address_type": "commercial",
        }],
    }  # fmt: skip
    record.update(fields)
    return record


def existing(accounts: Iterable[dict[str, Any]] = (), contacts: Iterable[dict[str, Any]] = ()) -> ExistingRecords:
    """ExistingRecords from rows of Salesforce fields."""
    return ExistingRecords(accounts=pd.DataFrame(list(accounts)), contacts=pd.DataFrame(list(contacts)))


def run(
    customers: Iterable[dict[str, Any]] = (),
    orders: Iterable[dict[str, Any]] = (),
    known: ExistingRecords | None = None,
) -> TransformResult:
    """The transform of these records (queue QUEUE)."""
    return transform(customers_frame(customers), orders_frame(orders), known or ExistingRecords(), QUEUE)


def row(frame: pd.DataFrame, column: str, value: Any) -> pd.Series:
    """The single row of ``frame`` whose ``column`` equals ``value``."""
    found = frame[frame[column] == value]
    assert len(found) == 1, f"{len(found)} rows with {column} == {value!r}"
    return found.iloc[0]
