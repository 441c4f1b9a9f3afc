"""Turn BigCommerce JSON into Python values without losing anything: dates and money.

The two API generations write values differently (see ``sandbox/store/formats.py`` and
``../shared/reference/bigcommerce-api.md``):

* v2 orders: dates in RFC 2822, always UTC (``Wed, 10 Jan 2018 21:05:30 +0000``;
  ``date_shipped`` is ``''`` until the order ships); money as strings with four decimals
  (``"361.9500"``), except the costs inside inline consignments, which are JSON numbers (``5.1``);
* v3 customers: dates in ISO 8601 with ``Z`` (``2021-07-28T19:00:38Z``).

Every date becomes an aware UTC :class:`~datetime.datetime` and every amount a
:class:`~decimal.Decimal`. Bodies are decoded with ``parse_float=Decimal`` so no JSON number ever
passes through a binary float, and money strings are converted by field name (only the fields
the v2 spec documents as amounts: a zip code or a phone number must stay text).

Nothing here raises on a bad value: a value that cannot be parsed is left as the original (the
transforms reject that record with ``invalid_date`` / ``invalid_amount`` and a reason), so one
broken record never stops an extraction. ``''`` and whitespace mean "not given" and become None.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Record = dict[str, Any]

#: Amount fields of a v2 order (strings with four decimals), from ``order_Resp`` in the v2 spec.
ORDER_MONEY = frozenset(
    {
        "subtotal_ex_tax", "subtotal_inc_tax", "subtotal_tax", "base_shipping_cost", "shipping_cost_ex_tax",
        "shipping_cost_inc_tax", "shipping_cost_tax", "base_handling_cost", "handling_cost_ex_tax",
        "handling_cost_inc_tax", "handling_cost_tax", "base_wrapping_cost", "wrapping_cost_ex_tax",
        "wrapping_cost_inc_tax", "wrapping_cost_tax", "total_ex_tax", "total_inc_tax", "total_tax",
        "refunded_amount", "store_credit_amount", "gift_certificate_amount", "discount_amount", "coupon_discount",
        # Exchange rates are not money but are decimal strings too ("1.0000000000").
        "currency_exchange_rate", "store_default_to_transactional_exchange_rate",
    }
)  # fmt: skip
#: Amount (and dimension) fields of a v2 order line item (``orderProducts``).
LINE_ITEM_MONEY = frozenset(
    {
        "base_price", "price_ex_tax", "price_inc_tax", "price_tax", "base_total", "total_ex_tax",
        "total_inc_tax", "total_tax", "weight", "width", "height", "depth", "base_cost_price",
        "cost_price_inc_tax", "cost_price_ex_tax", "cost_price_tax", "refund_amount",
        "base_wrapping_cost", "wrapping_cost_ex_tax", "wrapping_cost_inc_tax", "wrapping_cost_tax",
        "fixed_shipping_cost", "discounted_total_inc_tax",
    }
)  # fmt: skip
#: Cost fields of a shipping consignment (JSON numbers, ``shippingConsignment_Get``).
CONSIGNMENT_MONEY = frozenset(
    {
        "base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax", "base_handling_cost", "handling_cost_ex_tax",
        "handling_cost_inc_tax", "handling_cost_tax",
    }
)  # fmt: skip
ORDER_DATES = frozenset({"date_created", "date_modified", "date_shipped"})
CUSTOMER_DATES = frozenset({"date_created", "date_modified"})

# Plain decimal notation only: Decimal() alone would also take "NaN", "1e3" and "1_000".
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")


def loads(body: bytes | str) -> Any:
    """Decode a JSON body with every non-integer number as an exact :class:`~decimal.Decimal`, and
    the equal string values of its objects as one string.

    Pages are read ahead and a batch holds forty of them, so their size is the pipeline's: a
    page of 250 orders repeats ``"0.0000"``, ``""``, statuses, currencies and countries thousands
    of times, and sharing them takes its decoded size from 4.5 to 2.7 MB for about a quarter
    more decoding time.
    """
    strings: dict[str, str] = {}
    one_of = strings.setdefault

    def shared(values: dict[str, Any]) -> dict[str, Any]:
        for key, value in values.items():
            if type(value) is str:  # the decoder makes plain str only
                values[key] = one_of(value, value)  # the same keys: no resize while iterating
        return values

    return json.loads(body, parse_float=Decimal, object_hook=shared)


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def parse_rfc2822(value: Any) -> Any:
    """A v2 date (``Wed, 10 Jan 2018 21:05:30 +0000``) as an aware UTC datetime.

    ``''`` or whitespace (an unshipped order's ``date_shipped``) gives None; anything else that is
    not an RFC 2822 date is returned unchanged. ``-0000`` ("UTC, source zone unknown") is UTC.
    """
    if not isinstance(value, str):
        return value
    if _blank(value):
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return value
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def parse_iso8601(value: Any) -> Any:
    """A v3 date (``2021-07-28T19:00:38Z``, or with an offset) as an aware UTC datetime.

    ``''`` or whitespace gives None. A value without a zone (or a bare date) is returned
    unchanged, like any other non-date: its instant is unknown, and guessing would move records
    across window bounds.
    """
    if not isinstance(value, str):
        return value
    if _blank(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return value
    return parsed.astimezone(UTC)


def parse_decimal(value: Any) -> Any:
    """An amount (``"361.9500"``, a JSON number already decoded as Decimal, or an int) as a Decimal.

    ``''`` or whitespace gives None; a string that is not plain decimal notation, a bool, or
    anything else is returned unchanged.
    """
    if isinstance(value, str):  # the common case first: v2 sends amounts as strings
        parsed = _decimal_text(str(value))
        return value if parsed is _NOT_DECIMAL else parsed
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


_NOT_DECIMAL = object()
_UNSEEN = object()


def amount_parser() -> Callable[[Any], Any]:
    """:func:`parse_decimal`, remembering each string it parsed: one for a page of records.

    A page repeats its amounts (``"0.0000"``, its prices) across hundreds of line items, and a
    Decimal is immutable, so one can be shared (parsing the orders took half the time without it,
    in the 10k benchmark's profile). Made per page and dropped with it: a cache kept for the run
    (an LRU of 4,096 amounts, before) replaced most of its entries in every batch, order totals
    being seen once, and each new entry, made among the batch's short-lived objects and kept past
    it, held the freed memory around it (:mod:`flows.window_keep`).
    """
    memo: dict[str, Any] = {}

    def parse(value: Any) -> Any:
        if type(value) is not str:
            return parse_decimal(value)
        parsed = memo.get(value, _UNSEEN)
        if parsed is _UNSEEN:
            parsed = memo[value] = _decimal_text(value)
        return value if parsed is _NOT_DECIMAL else parsed

    return parse


def _decimal_text(value: str) -> Any:
    """:func:`parse_decimal` of a string (``_NOT_DECIMAL`` when it is not an amount)."""
    text = value.strip()
    if not text:
        return None
    if not _DECIMAL.fullmatch(text):
        return _NOT_DECIMAL
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return _NOT_DECIMAL


def _convert(record: Any, fields: frozenset[str], parse: Callable[[Any], Any]) -> None:
    """Apply ``parse`` to each of ``fields`` present in ``record`` (if it is a dict), in place."""
    if isinstance(record, dict):
        for name in fields.intersection(record):
            record[name] = parse(record[name])


def _dicts(value: Any) -> list[Record]:
    """The dict items of ``value`` when it is a list (a malformed value yields nothing)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_line_items(items: Any, amounts: Callable[[Any], Any] = parse_decimal) -> None:
    """Convert the amounts of v2 line items (a list of dicts), in place (with ``amounts``: one
    :func:`amount_parser` for a page)."""
    for item in _dicts(items):
        _convert(item, LINE_ITEM_MONEY, amounts)


def _consignment_groups(consignments: Any) -> list[Record]:
    """The consignment objects of an order: ``{...}`` or the legacy ``[{...}]``."""
    if isinstance(consignments, dict):
        return [consignments]
    return _dicts(consignments)


def shipping_consignments(order: Any) -> list[Record]:
    """The shipping consignments of a v2 order (object or legacy array structure; [] if malformed)."""
    groups = _consignment_groups(order.get("consignments")) if isinstance(order, dict) else []
    return [shipping for group in groups for shipping in _dicts(group.get("shipping"))]


def parse_order(order: Any, amounts: Callable[[Any], Any] = parse_decimal) -> Any:
    """A v2 order with its dates, amounts and inline consignments parsed (in place; returned;
    ``amounts`` as :func:`parse_line_items`)."""
    if not isinstance(order, dict):
        return order
    _convert(order, ORDER_DATES, parse_rfc2822)
    _convert(order, ORDER_MONEY, amounts)
    for shipping in shipping_consignments(order):
        _convert(shipping, CONSIGNMENT_MONEY, amounts)
        parse_line_items(shipping.get("line_items"), amounts)
    for group in _consignment_groups(order.get("consignments")):
        email_group = group.get("email")
        gifts = email_group.get("gift_certificates") if isinstance(email_group, dict) else None
        for other in _dicts(group.get("downloads")) + _dicts(gifts):
            parse_line_items(other.get("line_items"), amounts)
    return order


def parse_customer(customer: Any) -> Any:
    """A v3 customer with its dates parsed (its attributes' too, when included); in place, returned."""
    if not isinstance(customer, dict):
        return customer
    _convert(customer, CUSTOMER_DATES, parse_iso8601)
    for attribute in _dicts(customer.get("attributes")):
        _convert(attribute, CUSTOMER_DATES, parse_iso8601)
    return customer


def format_rfc2822(moment: datetime) -> str:
    """A v2 filter value: ``Thu, 20 Apr 2017 11:32:00 +0000`` (UTC, whole seconds)."""
    return email.utils.format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def format_iso8601(moment: datetime) -> str:
    """A v3 filter value in the spec's own form, ``2024-05-14T09:34:00``, in UTC (whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
