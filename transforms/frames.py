"""The input contract: extracted BigCommerce records, flattened into typed frames.

The extractor yields lists of dicts, one per API record, as the APIs return them except that
the connector has already parsed what it could:

**v3 customers** (``GET /v3/customers?include=addresses``)
    ``id`` (int), ``email``, ``first_name``, ``last_name``, ``company``, ``phone``,
    ``customer_group_id`` (int; 0 = no group), ``date_created``, ``date_modified`` (aware UTC
    :class:`~datetime.datetime`), ``addresses``: a list of dicts with ``first_name``,
    ``last_name``, ``company``, ``address1``, ``address2``, ``city``, ``state_or_province``,
    ``postal_code``, ``country``, ``country_code``, ``phone``.

**v2 orders** (``GET /v2/orders?include=consignments&consignment_structure=object``)
    ``id`` (int), ``customer_id`` (int; 0 = guest), ``date_created``, ``date_modified`` (aware
    UTC datetimes), ``status_id`` (int), ``status`` (its name), ``payment_status``,
    ``total_inc_tax`` (:class:`~decimal.Decimal`), ``currency_code``, ``billing_address`` (a dict:
    ``first_name``, ``last_name``, ``company``, ``street_1``, ``street_2``, ``city``, ``state``,
    ``zip``, ``country``, ``country_iso2``, ``phone``, ``email``) and ``consignments``
    (``{"shipping": [{first_name, last_name, company, street_1, street_2, city, state, zip,
    country, country_iso2, phone, email, line_items}, ...], ...}``; the legacy array structure,
    a one-element list around that dict, is accepted too, and so is a ``shipping_addresses``
    list of the same address dicts when consignments were not inlined).

Any key may be missing or hold None, ``''`` or whitespace (all mean "not given"). Where the
connector could not parse a date or an amount it left the original value, usually a string
(``"not a date"``, ``"abc"``); naive datetimes are left too (their zone is unknown). Those
are not guessed at here: they are reported by the validation as ``invalid_date`` and
``invalid_amount``. Of several shipping consignments the first is the order's shipping
address; of several customer addresses the first is the customer's address.

A batch's customers should include the record of every registered customer whose order is in
the batch (the extractor can fetch them with ``id:in``), even when the customer itself did not
change: an order whose billing address has no company then takes the company of its
customer's record (rule R2: "entered at checkout or on the customer record"), and the account
its customer group. Without the record, the billing address alone identifies the buyer.

:func:`customers_frame` and :func:`orders_frame` turn the lists into one row per record and
one column per field (their column lists are :data:`CUSTOMER_COLUMNS` and
:data:`ORDER_COLUMNS`). Text columns are pandas ``str``, cleaned by
:func:`transforms.text.clean_scalar` (HTML entities, whitespace and control characters; NaN
when missing or blank): cleaning while flattening costs a dict look-up per value. Ids are
``Int64``, dates ``datetime64[us, UTC]``, amounts Decimal objects. A parsed field ``f`` also
gets ``f_unparsed``: the original value as text where it was given but could not be used,
missing elsewhere. ``record`` keeps each source dict, for the payload of a reject.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from transforms.text import TEXT, clean_scalar

Record = Mapping[str, Any]
#: The dtype of every date column (one resolution, so frames concatenate without casts).
DATETIME = "datetime64[us, UTC]"

# Frame column -> key in the v3 customer dict.
_CUSTOMER_TEXT = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "company": "company",
    "phone": "phone",
    "customer_group_id": "customer_group_id",
}
# Frame column -> key in a v3 customer address.
_CUSTOMER_ADDRESS = {
    "address_company": "company",
    "address_street_1": "address1",
    "address_street_2": "address2",
    "address_city": "city",
    "address_state": "state_or_province",
    "address_postal_code": "postal_code",
    "address_country": "country",
    "address_country_code": "country_code",
    "address_phone": "phone",
}
_ORDER_TEXT = {"status": "status", "payment_status": "payment_status", "currency_code": "currency_code"}
# Suffix -> key in a v2 billing address or shipping consignment.
_V2_ADDRESS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "company": "company",
    "street_1": "street_1",
    "street_2": "street_2",
    "city": "city",
    "state": "state",
    "zip": "zip",
    "country": "country",
    "country_iso2": "country_iso2",
    "phone": "phone",
    "email": "email",
}
_SHIPPING_FIELDS = ("street_1", "street_2", "city", "state", "zip", "country", "country_iso2")


def _parsed(name: str) -> list[str]:
    return [name, f"{name}_unparsed"]


CUSTOMER_COLUMNS: tuple[str, ...] = (
    *_parsed("id"),
    *_CUSTOMER_TEXT,
    *_parsed("date_created"),
    *_parsed("date_modified"),
    *_CUSTOMER_ADDRESS,
    "record",
)
ORDER_COLUMNS: tuple[str, ...] = (
    *_parsed("id"),
    *_parsed("customer_id"),
    *_parsed("date_created"),
    *_parsed("date_modified"),
    "status_id",
    *_ORDER_TEXT,
    *_parsed("total_inc_tax"),
    "has_billing_address",
    *(f"billing_{f}" for f in _V2_ADDRESS),
    *(f"shipping_{f}" for f in _SHIPPING_FIELDS),
    "record",
)


def customers_frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per v3 customer record (see the module docstring for the columns)."""
    rows = _as_list(records)
    columns: dict[str, pd.Series] = {}
    columns.update(_ids(rows, "id"))
    for column, key in _CUSTOMER_TEXT.items():
        columns[column] = _text([r.get(key) for r in rows])
    columns.update(_dates(rows, "date_created"))
    columns.update(_dates(rows, "date_modified"))
    addresses = [_first_dict(r.get("addresses")) for r in rows]
    for column, key in _CUSTOMER_ADDRESS.items():
        columns[column] = _text([a.get(key) for a in addresses])
    columns["record"] = _objects(rows)
    return pd.DataFrame(columns, columns=list(CUSTOMER_COLUMNS))


def orders_frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per v2 order record (see the module docstring for the columns)."""
    rows = _as_list(records)
    columns: dict[str, pd.Series] = {}
    columns.update(_ids(rows, "id"))
    columns.update(_ids(rows, "customer_id", missing=0))
    columns.update(_dates(rows, "date_created"))
    columns.update(_dates(rows, "date_modified"))
    columns["status_id"] = _ids(rows, "status_id")["status_id"]
    for column, key in _ORDER_TEXT.items():
        columns[column] = _text([r.get(key) for r in rows])
    columns.update(_amounts(rows, "total_inc_tax"))
    billing_given = [r.get("billing_address") for r in rows]
    billing = [b if _is_dict(b) else _EMPTY for b in billing_given]
    columns["has_billing_address"] = pd.Series([b is not _EMPTY for b in billing], dtype=bool)
    for suffix, key in _V2_ADDRESS.items():
        columns[f"billing_{suffix}"] = _text([b.get(key) for b in billing])
    shipping = [_shipping_address(r) for r in rows]
    for suffix in _SHIPPING_FIELDS:
        columns[f"shipping_{suffix}"] = _text([s.get(suffix) for s in shipping])
    columns["record"] = _objects(rows)
    return pd.DataFrame(columns, columns=list(ORDER_COLUMNS))


# -- helpers -----------------------------------------------------------------------------------

_EMPTY: Mapping[str, Any] = {}


def _as_list(records: Iterable[Record]) -> list[Record]:
    rows = list(records)
    for i, row in enumerate(rows):
        if not _is_dict(row):
            raise TypeError(f"record {i} is a {type(row).__name__}, not a dict")
    return rows


def _objects(values: Sequence[Any]) -> pd.Series:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return pd.Series(array, dtype=object)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _raw_text(values: list[Any]) -> pd.Series:
    """Strings as given (numbers and other scalars as their text); None stays missing."""
    return pd.Series([v if v is None or isinstance(v, str) else str(v) for v in values], dtype=TEXT)


class _Cleaned(dict[Any, str | None]):
    """Cleaned text by raw value, each distinct value cleaned once (columns repeat a lot)."""

    def __missing__(self, value: Any) -> str | None:
        text = clean_scalar(value if isinstance(value, str) else str(value))
        self[value] = text
        return text


def _text(values: list[Any]) -> pd.Series:
    """Text cleaned by :func:`transforms.text.clean_scalar` (numbers and other scalars as their
    text; None and blanks missing)."""
    cleaned = _Cleaned({None: None})
    try:
        out = [cleaned[v] for v in values]
    except TypeError:  # an unhashable value (a list or dict where text belongs): as its text
        out = [None if v is None else clean_scalar(v if isinstance(v, str) else str(v)) for v in values]
    return pd.Series(out, dtype=TEXT)


def _as_given(value: Any) -> str:
    if isinstance(value, str):
        return value
    return value.isoformat() if isinstance(value, date) else repr(value)


def _unparsed(values: list[Any], ok: list[bool]) -> pd.Series:
    if all(ok):
        return pd.Series([None] * len(values), dtype=TEXT)
    return _raw_text([None if good or _blank(v) else _as_given(v) for v, good in zip(values, ok, strict=True)])


def _is_dict(value: Any) -> bool:
    # dict first: the abstract Mapping check is slow, and JSON gives dicts.
    return isinstance(value, dict) or (value is not None and isinstance(value, Mapping))


def _is_list(value: Any) -> bool:
    return isinstance(value, list) or (
        value is not None and isinstance(value, Sequence) and not isinstance(value, str | bytes)
    )


def _first_dict(value: Any) -> Mapping[str, Any]:
    if _is_list(value) and value and _is_dict(value[0]):
        return value[0]
    return _EMPTY


def _shipping_address(record: Record) -> Mapping[str, Any]:
    consignments = record.get("consignments")
    if _is_list(consignments):
        consignments = consignments[0] if consignments else None  # legacy array structure
    if _is_dict(consignments):
        found = _first_dict(consignments.get("shipping"))
        if found:
            return found
    return _first_dict(record.get("shipping_addresses"))


def _id(value: Any, missing: int | None) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        return int(value)
    return missing if _blank(value) else None


def _ids(rows: list[Record], key: str, missing: int | None = None) -> dict[str, pd.Series]:
    """Integer ids: ints and digit strings are used; anything else given is unparsed."""
    values = [r.get(key) for r in rows]
    parsed = [v if v.__class__ is int else _id(v, missing) for v in values]
    ok = [p is not None or _blank(v) for p, v in zip(parsed, values, strict=True)]
    return {key: pd.Series(parsed, dtype="Int64"), f"{key}_unparsed": _unparsed(values, ok)}


def _dates(rows: list[Record], key: str) -> dict[str, pd.Series]:
    """Aware datetimes are used (as UTC); strings, naive datetimes and the rest are unparsed."""
    values = [r.get(key) for r in rows]
    ok = [isinstance(v, datetime) and v.utcoffset() is not None for v in values]
    usable = _objects([v if good else None for v, good in zip(values, ok, strict=True)])
    parsed = pd.to_datetime(usable, utc=True).astype(DATETIME)
    return {
        key: parsed,
        f"{key}_unparsed": _unparsed(values, [good or _blank(v) for v, good in zip(values, ok, strict=True)]),
    }


def _number(value: Any) -> Decimal | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(repr(value))
    return None


def _amounts(rows: list[Record], key: str) -> dict[str, pd.Series]:
    """Decimals are used (ints and floats too, floats by their shortest repr); the rest is unparsed."""
    values = [r.get(key) for r in rows]
    parsed = [v if isinstance(v, Decimal) else _number(v) for v in values]
    ok = [p is not None or _blank(v) for p, v in zip(parsed, values, strict=True)]
    return {key: _objects(parsed), f"{key}_unparsed": _unparsed(values, ok)}
