"""StoreDB and the store's date/money formats, without a server."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox.generator import generate
from sandbox.http import json_response
from sandbox.store import formats
from sandbox.store.db import FIRST_ORDER_ID, CustomerFilter, OrderFilter, StoreDB
from sandbox.store.records import PRODUCT_DEFAULTS, Links, render_order

T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[StoreDB]:
    store = StoreDB(tmp_path / "store.sqlite")
    yield store
    store.close()


def order(email: str = "jo@example.com", **fields: object) -> dict:
    return {
        "billing_address": {"first_name": "Jo", "last_name": "Sefton", "email": email},
        "products": [{"name": "Widget", "price_ex_tax": "10.5", "price_inc_tax": 11.34, "quantity": 3}],
        "shipping_addresses": [{"first_name": "Jo", "last_name": "Sefton", "email": email}],
        **fields,
    }


# -- formats ---------------------------------------------------------------------------------


def test_date_formats_round_trip() -> None:
    seconds = formats.to_epoch(datetime(2018, 1, 10, 21, 5, 30, tzinfo=UTC))
    assert formats.rfc2822(seconds) == "Wed, 10 Jan 2018 21:05:30 +0000"
    assert formats.iso_z(seconds) == "2018-01-10T21:05:30Z"
    assert formats.plain_utc(seconds) == "2018-01-10 21:05:30"
    assert formats.to_epoch("Wed, 10 Jan 2018 16:05:30 -0500") == seconds
    assert formats.to_epoch("2018-01-10T22:05:30+01:00") == seconds


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        formats.to_epoch(datetime(2024, 1, 1))  # naive on purpose


def test_filter_bounds_round_inwards() -> None:
    # A fractional instant never widens an inclusive bound.
    assert formats.lower_bound("2017-04-20T11:32:00.500Z") == formats.to_epoch("2017-04-20T11:32:01Z")
    assert formats.upper_bound("2017-04-20T11:32:00.500Z") == formats.to_epoch("2017-04-20T11:32:00Z")
    assert formats.lower_bound("2024-05-14") == formats.to_epoch("2024-05-14T00:00:00Z")
    with pytest.raises(ValueError):
        formats.parse_datetime("yesterday")


@pytest.mark.parametrize(
    ("given", "expected"),
    [(361.95, "361.9500"), ("5", "5.0000"), (None, "0.0000"), ("12.34567", "12.3457"), (0, "0.0000")],
)
def test_money(given: object, expected: str) -> None:
    assert formats.money(given) == expected
    assert formats.from_units(formats.units(expected)) == expected


# -- orders ----------------------------------------------------------------------------------


def test_order_ids_start_at_100_and_children_get_ids(db: StoreDB) -> None:
    assert db.next_order_id() == FIRST_ORDER_ID
    ids = db.insert_orders([order(), order(), order(id=500)])
    assert ids == [100, 101, 500]
    assert db.next_order_id() == 501
    first, second = db.get_order(100), db.get_order(101)
    assert first is not None and second is not None
    assert first["products"][0]["id"] != second["products"][0]["id"]
    # A product ships to the order's first shipping address unless told otherwise.
    assert first["products"][0]["order_address_id"] == first["shipping_addresses"][0]["id"]
    assert db.count_orders() == 3


def test_order_is_completed_like_a_store_would(db: StoreDB) -> None:
    (oid,) = db.insert_orders([order(date_created=T0, date_modified=T0, shipping_cost_inc_tax=5)])
    stored = db.get_order(oid)
    assert stored is not None
    assert stored["date_created"] == T0 and stored["date_shipped"] is None
    product = stored["products"][0]
    assert (product["price_ex_tax"], product["price_tax"], product["total_inc_tax"]) == ("10.5000", "0.8400", "34.0200")
    assert stored["subtotal_inc_tax"] == "34.0200"
    assert stored["total_inc_tax"] == "39.0200"  # subtotal + shipping
    assert stored["items_total"] == 3 and stored["shipping_address_count"] == 1
    assert stored["status"] == "Awaiting Fulfillment" and stored["payment_status"] == "authorized"
    assert stored["shipping_addresses"][0]["items_total"] == 3


def test_bad_order_fields_fail_loudly(db: StoreDB) -> None:
    with pytest.raises(ValueError, match="unknown order field"):
        db.insert_orders([order(totl_inc_tax="1")])
    with pytest.raises(ValueError, match="status_id"):
        db.insert_orders([order(status_id=99)])
    with pytest.raises(ValueError, match="naive"):
        db.insert_orders([order(date_created=datetime(2024, 1, 1))])
    assert db.count_orders() == 0  # nothing half-inserted


def test_update_order_bumps_date_modified(db: StoreDB) -> None:
    (oid,) = db.insert_orders([order(date_created=T0, date_modified=T0)])
    before = time.time()
    updated = db.update_order(oid, status_id=2, date_shipped=T0 + timedelta(days=1))
    assert updated["status"] == "Shipped"
    assert updated["date_modified"].timestamp() >= int(before)
    kept = db.update_order(oid, staff_notes="call first", date_modified=T0)
    assert kept["date_modified"] == T0 and kept["staff_notes"] == "call first"
    with pytest.raises(KeyError):
        db.update_order(9999, status_id=2)


def test_capture_payment(db: StoreDB) -> None:
    (oid,) = db.insert_orders([order(date_created=T0, date_modified=T0)])
    captured = db.capture_payment(oid)
    assert captured["payment_status"] == "captured" and captured["date_modified"] > T0


def test_requested_capture_settles_when_due(db: StoreDB) -> None:
    (oid,) = db.insert_orders([order(date_created=T0, date_modified=T0)])
    due = int(time.time()) + 60
    assert db.request_capture(oid, due)["payment_status"] == "capture pending"
    assert db.settle_captures() == 0
    with pytest.raises(ValueError, match="not authorized"):
        db.request_capture(oid, due)
    assert db.settle_captures(due) == 1
    settled = db.get_order(oid)
    assert settled is not None
    assert settled["payment_status"] == "captured" and settled["date_modified"].timestamp() == due


def test_list_orders_filters_and_sorts(db: StoreDB) -> None:
    db.insert_orders(
        [
            order("a@example.com", date_created=T0, date_modified=T0 + timedelta(seconds=2)),
            order("B@Example.com", date_created=T0, date_modified=T0, customer_id=7),
            order("c@example.com", date_created=T0, date_modified=T0 + timedelta(seconds=2)),
        ]
    )
    ids = [o["id"] for o in db.list_orders(OrderFilter(), ("date_modified", "desc"), 0, 10)]
    assert ids == [100, 102, 101]  # ties by id ascending
    assert [o["id"] for o in db.list_orders(OrderFilter(email="b@example.com"), ("id", "asc"), 0, 10)] == [101]
    bound = formats.to_epoch(T0 + timedelta(seconds=2))
    assert len(db.list_orders(OrderFilter(min_date_modified=bound), ("id", "asc"), 0, 10)) == 2
    assert db.count_orders_by_status(OrderFilter(customer_id=7)) == {11: 1}


def test_read_only_pages_are_the_same_orders_and_leave_the_defaults_alone(db: StoreDB) -> None:
    data = generate(orders=80, seed=5, as_of=T0 + timedelta(days=60))
    db.insert_orders(data.orders)
    args = (OrderFilter(), ("id", "asc"), 0, 250)
    copied = db.list_orders(*args, children=True)
    shared = db.list_orders(*args, children=True, read_only=True)
    assert shared == copied
    before = copy.deepcopy(PRODUCT_DEFAULTS)
    links = Links("https://store.test/stores/h/v2")
    for record in shared:
        render_order(record, links, "object", line_items=True)
    assert before == PRODUCT_DEFAULTS


def test_pages_are_encoded_as_json_would(db: StoreDB) -> None:
    """The orjson body is byte for byte what ``json.dumps`` made before, non-ASCII names included."""
    data = generate(orders=80, seed=5, as_of=T0 + timedelta(days=60))
    data.orders[0]["billing_address"]["first_name"] = "Zoë"
    db.insert_orders(data.orders)
    links = Links("https://store.test/stores/h/v2")
    rows = db.list_orders(OrderFilter(), ("id", "asc"), 0, 250, children=True, read_only=True)
    body = [render_order(o, links, "object", line_items=True) for o in rows]
    expected = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert json_response(body).body == expected
    assert "Zoë".encode() in expected


# -- customers and groups --------------------------------------------------------------------


def test_customers_insert_update_and_filter(db: StoreDB) -> None:
    ids = db.insert_customers(
        [
            {"email": "garth@markey.example", "first_name": "Garth", "last_name": "Markey", "company": "Markey Metals",
             "addresses": [{"first_name": "Garth", "last_name": "Markey", "address1": "1 Main", "city": "Austin"}]},
            {"email": "jo@sefton.example", "first_name": "Jo", "last_name": "Sefton", "date_created": T0,
             "date_modified": T0},
        ]
    )  # fmt: skip
    assert ids == [1, 2] and db.count_customers() == 2
    garth = db.get_customer(1)
    assert garth is not None and garth["addresses"][0]["customer_id"] == 1 and garth["addresses"][0]["id"] == 1
    updated = db.update_customer(2, company="Sefton Services, Inc.")
    assert updated["company"] == "Sefton Services, Inc." and updated["date_modified"] > T0
    rows, total = db.list_customers(CustomerFilter(name_like=["markey"]), ("id", "asc"), 0, 10)
    assert total == 1 and rows[0]["email"] == "garth@markey.example"
    with pytest.raises(Exception, match="UNIQUE"):
        db.insert_customers([{"email": "GARTH@markey.example"}])


def test_groups_and_reset(db: StoreDB) -> None:
    assert db.insert_customer_groups([{"name": "Retail", "is_default": True}, {"name": "eCommerce"}]) == [1, 2]
    assert [g["name"] for g in db.list_customer_groups()] == ["Retail", "eCommerce"]
    db.insert_orders([order()])
    db.reset()
    assert db.count_orders() == 0 and db.list_customer_groups() == [] and db.next_order_id() == FIRST_ORDER_ID


def test_other_instances_see_writes(db: StoreDB, tmp_path: Path) -> None:
    other = StoreDB(tmp_path / "store.sqlite")
    try:
        assert other.count_orders() == 0
        db.insert_orders([order()])
        assert other.count_orders() == 1  # nothing cached
    finally:
        other.close()


def test_bulk_insert_is_fast(db: StoreDB) -> None:
    offset = timezone(timedelta(hours=-5))
    batch = [
        order(f"buyer{i}@example.com", date_created=T0.astimezone(offset) + timedelta(minutes=i), date_modified=T0)
        for i in range(5000)
    ]
    started = time.perf_counter()
    db.insert_orders(batch)
    elapsed = time.perf_counter() - started
    # ~1 s on a laptop; generous for a loaded CI box. 100k orders take about 20 times as long.
    assert elapsed < 15, elapsed
    started = time.perf_counter()
    page = db.list_orders(OrderFilter(min_date_modified=formats.to_epoch(T0)), ("date_modified", "asc"), 2500, 250)
    assert len(page) == 250 and time.perf_counter() - started < 1
