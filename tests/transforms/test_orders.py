"""Order rows: keys, dates, totals, addresses, set codes and owners (rule R7, R8)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from tests.transforms.factories import QUEUE, address, at, order, run
from transforms.fields import output_columns
from transforms.mapping import MAPPING


def test_columns_follow_the_mapping() -> None:
    result = run(orders=[order(1)])
    assert list(result.orders.columns) == output_columns(MAPPING.order)
    assert list(result.contacts.columns) == output_columns(MAPPING.contact)
    assert list(result.accounts.columns) == output_columns(MAPPING.account)


def test_order_values() -> None:
    late = order(9, date_created=at(12.5), date_modified=at(20), total_inc_tax=Decimal("10.005"),
                 status=None, status_id=2, payment_status="captured",
                 consignments={"shipping": [address(street_1="1 Dock Rd", street_2="Bay 4", city="Toledo", zip="43604",
                                                    country=None, country_iso2="US")]})  # fmt: skip
    got = run(orders=[late]).orders.iloc[0]
    assert got["order_key"] == "9"
    assert got["order_date"] == date(2026, 11, 24)  # the UTC date: 00:30 on the 24th
    assert got["date_modified"] == pd.Timestamp(at(20))
    assert got["total"] == Decimal("10.01") and str(got["total"]) == "10.01"  # half up, to cents
    assert got["store_status"] == "Shipped"  # from status_id when the name is missing
    assert got["payment_status"] == "captured"
    assert (got["ship_street"], got["ship_city"], got["ship_postal_code"], got["ship_country"]) == (
        "1 Dock Rd\nBay 4", "Toledo", "43604", "US")  # fmt: skip
    assert got["street"] == "4410 Industrial Pkwy"
    assert got["owner_id"] == QUEUE


def test_order_without_consignment_has_no_shipping_address() -> None:
    got = run(orders=[order(1, consignments={"shipping": []})]).orders.iloc[0]
    assert got[["ship_street", "ship_city", "ship_state", "ship_postal_code", "ship_country"]].isna().all()


def test_set_code_keeps_the_last_name_as_typed() -> None:
    names = {1: "Müller", 2: "O'Neill", 3: "  van   der Berg ", 4: "L'Écuyer"}
    orders = [order(i, billing={"last_name": n, "email": f"b{i}@x.com"}) for i, n in names.items()]
    codes = run(orders=orders).orders["suggested_set_code"].tolist()
    assert codes == ["109337-Müller", "109337-O'Neill", "109337-van der Berg", "109337-L'Écuyer"]


def test_zero_total_is_fine() -> None:
    assert run(orders=[order(1, total_inc_tax=Decimal("0.0000"))]).orders.iloc[0]["total"] == Decimal("0.00")


def test_orders_sorted_by_number() -> None:
    result = run(orders=[order(i, billing={"email": f"b{i}@x.com"}) for i in (30, 4, 200)])
    assert result.orders["order_key"].tolist() == ["4", "30", "200"]


def test_an_empty_batch_gives_empty_frames_with_the_columns() -> None:
    result = run()
    assert result.orders.empty and list(result.orders.columns) == output_columns(MAPPING.order)
    assert result.accounts.empty and result.contacts.empty and result.adoptions.empty and result.rejects.empty
    assert result.balance() == {"customer": {"in": 0, "accepted": 0, "rejected": 0},
                                "order": {"in": 0, "accepted": 0, "rejected": 0}}  # fmt: skip


def test_output_types() -> None:
    result = run(customers=[], orders=[order(1)])
    orders = result.orders
    assert str(orders["date_modified"].dtype) == "datetime64[us, UTC]"
    assert isinstance(orders["order_date"].iloc[0], date)
    assert isinstance(orders["total"].iloc[0], Decimal)
    text = [c for c in orders.columns if c not in {"order_date", "date_modified", "total"}]
    assert all(orders[c].dtype == "str" for c in text)
    for people, objmap in ((result.contacts, MAPPING.contact), (result.accounts, MAPPING.account)):
        moments = objmap.moment_columns  # the source moments, for the loader
        assert all(str(people[c].dtype) == "datetime64[us, UTC]" for c in moments)
        assert all(people[c].dtype == "str" for c in people.columns if c not in moments)
