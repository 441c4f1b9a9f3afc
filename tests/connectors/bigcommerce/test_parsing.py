"""Dates and money: RFC 2822 and ISO 8601 to aware UTC, amounts to exact Decimals, bad values kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.bigcommerce.parsing import (
    amount_parser,
    format_iso8601,
    format_rfc2822,
    loads,
    parse_customer,
    parse_decimal,
    parse_iso8601,
    parse_order,
    parse_rfc2822,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 10 Jan 2018 21:05:30 +0000", datetime(2018, 1, 10, 21, 5, 30, tzinfo=UTC)),
        ("Thu, 20 Apr 2017 11:32:00 -0400", datetime(2017, 4, 20, 15, 32, tzinfo=UTC)),
        ("Sat, 01 Jan 2022 00:30:00 +0530", datetime(2021, 12, 31, 19, 0, tzinfo=UTC)),
        ("Wed, 10 Jan 2018 21:05:30 -0000", datetime(2018, 1, 10, 21, 5, 30, tzinfo=UTC)),  # UTC, zone unknown
        ("  Wed, 10 Jan 2018 21:05:30 GMT ", datetime(2018, 1, 10, 21, 5, 30, tzinfo=UTC)),
    ],
)
def test_rfc2822_dates_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_rfc2822(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-07-28T19:00:38Z", datetime(2021, 7, 28, 19, 0, 38, tzinfo=UTC)),
        ("2021-07-28T19:00:38+02:00", datetime(2021, 7, 28, 17, 0, 38, tzinfo=UTC)),
        ("2017-04-20T11:32:00.000-04:00", datetime(2017, 4, 20, 15, 32, tzinfo=UTC)),
        ("2021-07-28T19:00:38.250Z", datetime(2021, 7, 28, 19, 0, 38, 250_000, tzinfo=UTC)),
    ],
)
def test_iso8601_dates_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_iso8601(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_date_is_not_given(blank: str) -> None:
    # date_shipped is '' until the order ships.
    assert parse_rfc2822(blank) is None
    assert parse_iso8601(blank) is None


@pytest.mark.parametrize("bad", ["not a date", "2018-01-10T21:05:30Z", "Wed, 42 Foo 2018 99:99:99 +0000", "0"])
def test_a_bad_v2_date_is_left_as_given(bad: str) -> None:
    # An ISO date in a v2 field is not what the API writes: the transform decides, not a guess.
    assert parse_rfc2822(bad) == bad


@pytest.mark.parametrize(
    "bad",
    ["not a date", "2021-07-28T19:00:38", "2021-07-28", "Wed, 10 Jan 2018 21:05:30 +0000", "2021-13-45T00:00:00Z"],
)
def test_a_bad_or_zoneless_v3_date_is_left_as_given(bad: str) -> None:
    # A zone-less instant is unknown: guessing UTC could move a record across a window bound.
    assert parse_iso8601(bad) == bad


@pytest.mark.parametrize("value", [None, 1_700_000_000, ["x"]])
def test_non_strings_pass_through_date_parsers(value: object) -> None:
    assert parse_rfc2822(value) == value
    assert parse_iso8601(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("361.9500", Decimal("361.9500")),
        ("-5.0000", Decimal("-5.0000")),
        ("0", Decimal("0")),
        (" 12.50 ", Decimal("12.50")),
        (Decimal("5.1"), Decimal("5.1")),
        (7, Decimal(7)),
        ("", None),
    ],
)
def test_money_is_exact(value: object, expected: Decimal | None) -> None:
    parsed = parse_decimal(value)
    assert parsed == expected
    if expected is not None:
        assert isinstance(parsed, Decimal)
        assert str(parsed) == str(expected)  # scale kept: "361.9500", not 361.95


def test_money_keeps_its_four_decimals() -> None:
    assert str(parse_decimal("361.9500")) == "361.9500"
    assert parse_decimal("0.1000") + parse_decimal("0.2000") == Decimal("0.3")


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", "1e3", "1_000.00", "12,50", "$5.00", True, 1.5])
def test_bad_money_is_left_as_given(bad: object) -> None:
    assert parse_decimal(bad) is bad


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
def test_any_four_place_amount_round_trips_exactly(amount: Decimal) -> None:
    text = f"{amount:.4f}"
    assert parse_decimal(text) == Decimal(text)
    assert str(parse_decimal(text)) == text


def test_json_numbers_never_pass_through_float() -> None:
    body = loads(b'{"cost": 0.1, "big": 12345678901234567.8901, "n": 3}')
    assert body == {"cost": Decimal("0.1"), "big": Decimal("12345678901234567.8901"), "n": 3}
    assert isinstance(body["n"], int)


def test_a_body_s_equal_strings_are_decoded_as_one_and_its_values_are_unchanged() -> None:
    """Equal string values across a body's objects, nested ones included, are one object (the
    memory of a page read ahead); keys, order, other types and the strings' text stay as decoded."""
    page = [
        {"id": 1, "status": "Pending", "total": "0.0000", "tags": ["a", "b"], "cost": 5.1,
         "billing_address": {"country": "United States", "zip": "44135"}},
        {"id": 2, "status": "Pending", "total": "0.0000", "tags": ["a"], "cost": 0,
         "billing_address": {"country": "United States", "zip": "44135"}},
    ]  # fmt: skip
    text = json.dumps(page)
    decoded = loads(text.encode())
    assert decoded == json.loads(text, parse_float=Decimal)
    assert [list(order) for order in decoded] == [list(order) for order in page]
    first, second = decoded
    assert first["status"] is second["status"] and first["total"] is second["total"]
    assert first["billing_address"]["country"] is second["billing_address"]["country"]
    assert first["billing_address"]["zip"] is second["billing_address"]["zip"]
    assert isinstance(first["cost"], Decimal) and type(first["status"]) is str


def _order(**fields: object) -> dict:
    line_item = {"id": 1, "type": "physical", "price_inc_tax": "54.0000", "total_inc_tax": "108.0000", "sku": "0001"}
    order = {
        "id": 100,
        "date_created": "Wed, 10 Jan 2018 21:05:30 +0000",
        "date_modified": "Thu, 11 Jan 2018 08:00:00 +0000",
        "date_shipped": "",
        "total_inc_tax": "361.9500",
        "currency_exchange_rate": "1.0000000000",
        "ebay_order_id": "0",
        "billing_address": {"zip": "44135", "phone": "5550148", "email": "a@b.com"},
        "consignments": {
            "shipping": [
                {"id": 7, "zip": "43215", "base_cost": Decimal("5.1"), "cost_tax": 0, "line_items": [line_item]}
            ],
            "downloads": [{"line_items": [{"id": 2, "total_inc_tax": "9.9900"}]}],
            "email": {"gift_certificates": []},
        },
    }
    order.update(fields)
    return order


def test_an_order_gets_its_dates_and_amounts_parsed_and_keeps_its_shape() -> None:
    order = parse_order(loads(json.dumps(_order(), default=str)))
    assert order["date_created"] == datetime(2018, 1, 10, 21, 5, 30, tzinfo=UTC)
    assert order["date_shipped"] is None
    assert order["total_inc_tax"] == Decimal("361.9500") and str(order["total_inc_tax"]) == "361.9500"
    assert order["currency_exchange_rate"] == Decimal("1.0000000000")
    # Text that merely looks numeric stays text.
    assert order["ebay_order_id"] == "0"
    assert order["billing_address"] == {"zip": "44135", "phone": "5550148", "email": "a@b.com"}
    shipping = order["consignments"]["shipping"][0]
    assert shipping["zip"] == "43215"
    assert shipping["base_cost"] == Decimal("5.1") and isinstance(shipping["base_cost"], Decimal)
    assert shipping["cost_tax"] == Decimal(0) and isinstance(shipping["cost_tax"], Decimal)
    item = shipping["line_items"][0]
    assert item["price_inc_tax"] == Decimal("54.0000") and item["sku"] == "0001"
    assert order["consignments"]["downloads"][0]["line_items"][0]["total_inc_tax"] == Decimal("9.9900")


def test_a_bad_order_is_parsed_as_far_as_possible_never_raising() -> None:
    order = parse_order(
        _order(date_modified="yesterday", total_inc_tax="abc", consignments=[{"shipping": "oops", "email": "x"}])
    )
    assert order["date_modified"] == "yesterday"
    assert order["total_inc_tax"] == "abc"
    assert order["date_created"] == datetime(2018, 1, 10, 21, 5, 30, tzinfo=UTC)
    # Not even a dict: handed on untouched, for the transform to reject.
    assert parse_order("garbage") == "garbage"
    assert (
        parse_order({"consignments": {"shipping": [None, {"line_items": "x"}]}})["consignments"]["shipping"][0] is None
    )


def test_legacy_array_consignments_are_parsed_too() -> None:
    order = parse_order(
        _order(consignments=[{"shipping": [{"base_cost": 5, "line_items": [{"total_tax": "0.5200"}]}]}])
    )
    assert order["consignments"][0]["shipping"][0]["line_items"][0]["total_tax"] == Decimal("0.5200")


def test_a_customer_gets_its_dates_parsed() -> None:
    customer = parse_customer(
        {
            "id": 1,
            "date_created": "2021-07-28T19:00:38Z",
            "date_modified": "bad",
            "addresses": [{"postal_code": "43215"}],
            "attributes": [{"date_created": "2021-07-28T19:00:38Z", "attribute_value": "1.50"}],
        }
    )
    assert customer["date_created"] == datetime(2021, 7, 28, 19, 0, 38, tzinfo=UTC)
    assert customer["date_modified"] == "bad"
    assert customer["addresses"] == [{"postal_code": "43215"}]
    assert customer["attributes"][0] == {
        "date_created": datetime(2021, 7, 28, 19, 0, 38, tzinfo=UTC),
        "attribute_value": "1.50",
    }


def test_filter_values_are_utc_whole_seconds() -> None:
    moment = datetime(2024, 5, 14, 5, 34, 0, 999_999, tzinfo=timezone(timedelta(hours=-4)))
    assert format_rfc2822(moment) == "Tue, 14 May 2024 09:34:00 +0000"
    assert format_iso8601(moment) == "2024-05-14T09:34:00"
    # What the v2 API writes parses back to the same instant.
    assert parse_rfc2822(format_rfc2822(moment)) == moment.replace(microsecond=0)


@pytest.mark.parametrize("parse", [parse_decimal, amount_parser()], ids=["plain", "a page's"])
def test_repeated_and_padded_amounts_parse_alike(parse: Callable[[Any], Any]) -> None:
    """A page's parser remembers amounts by their text: every copy still parses, a padded one too,
    and a bad one comes back as the very object given."""
    assert [parse(text) for text in ("5.0000", "5.0000", " 5.0000 ")] == [Decimal("5.0000")] * 3
    assert parse("   ") is None and parse(Decimal("1.5")) == Decimal("1.5") and parse(2) == Decimal(2)
    bad = "".join(["not ", "money"])  # a fresh object, equal to no remembered one's identity
    assert parse(bad) is bad
    again = "".join(["not ", "money"])
    assert parse(again) is again


def test_a_page_s_parser_shares_one_decimal_per_amount_text() -> None:
    parse = amount_parser()
    assert parse("".join(["5.", "0000"])) is parse("5.0000")
