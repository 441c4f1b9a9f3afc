"""Flattening extracted records into typed frames (transforms.frames)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd

from tests.transforms.factories import T0, address, customer, order
from transforms.frames import CUSTOMER_COLUMNS, ORDER_COLUMNS, customers_frame, orders_frame


def test_empty_input_gives_typed_empty_frames() -> None:
    customers, orders = customers_frame([]), orders_frame([])
    assert tuple(customers.columns) == CUSTOMER_COLUMNS and customers.empty
    assert tuple(orders.columns) == ORDER_COLUMNS and orders.empty
    assert str(orders["date_created"].dtype) == "datetime64[us, UTC]"
    assert str(orders["id"].dtype) == "Int64"


def test_order_columns_and_types() -> None:
    frame = orders_frame([order(420, customer_id=1, billing={"zip": 43215, "street_2": "  Suite 5 "})])
    got = frame.iloc[0]
    assert got["id"] == 420 and got["customer_id"] == 1
    assert got["date_created"] == pd.Timestamp(T0)
    assert got["total_inc_tax"] == Decimal("361.9500")
    assert got["billing_zip"] == "43215"  # numbers become text
    assert got["billing_street_2"] == "Suite 5"  # cleaned
    assert got["shipping_city"] == "Cleveland"
    assert got["has_billing_address"]
    assert got["record"]["id"] == 420
    assert frame[[c for c in ORDER_COLUMNS if c.endswith("_unparsed")]].isna().all().all()


def test_unparsed_values_are_kept_as_text() -> None:
    record = order(
        7, date_created="not a date", date_modified=datetime(2026, 1, 1), total_inc_tax="abc", customer_id="x"
    )
    got = orders_frame([record]).iloc[0]
    assert pd.isna(got["date_created"]) and got["date_created_unparsed"] == "not a date"
    assert got["date_modified_unparsed"] == "2026-01-01T00:00:00"  # naive: its zone is unknown
    assert got["total_inc_tax"] is None and got["total_inc_tax_unparsed"] == "abc"
    assert got["customer_id_unparsed"] == "x"


def test_missing_and_blank_values_are_missing_not_unparsed() -> None:
    record = {"id": 9, "customer_id": None, "date_modified": "  ", "billing_address": None}
    got = orders_frame([record]).iloc[0]
    assert got["customer_id"] == 0  # no customer: a guest
    assert pd.isna(got["date_modified"]) and pd.isna(got["date_modified_unparsed"])
    assert not got["has_billing_address"]
    assert pd.isna(got["billing_email"])


def test_shipping_address_shapes() -> None:
    ship = address(street_1="1 Dock Rd", city="Toledo")
    legacy = order(1, consignments=[{"shipping": [ship]}])
    links = order(2, consignments={"url": "https://x/consignments"}, shipping_addresses=[ship])
    none = order(3, consignments={"shipping": []})
    frame = orders_frame([legacy, links, none])
    assert frame["shipping_city"].fillna("-").tolist() == ["Toledo", "Toledo", "-"]


def test_customer_first_address_and_scalars() -> None:
    record = customer(5, phone=6145550199, company="  ", addresses=[])
    got = customers_frame([record]).iloc[0]
    assert got["phone"] == "6145550199"
    assert pd.isna(got["company"])
    assert pd.isna(got["address_street_1"])
    assert got["customer_group_id"] == "1"


def test_ids_from_digit_strings_and_floats_as_amounts() -> None:
    got = orders_frame([order("42", total_inc_tax=12.5)]).iloc[0]
    assert got["id"] == 42
    assert got["total_inc_tax"] == Decimal("12.5")
