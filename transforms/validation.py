"""Validation: which customers and orders can become Salesforce records, and why not the rest.

Each check is a boolean column over all rows at once (:class:`Check`); :func:`split` keeps the
rows no check fails and turns the others into *rejects*, one per source record: its first
failing check (in the order listed in :data:`REASON_CODES`) gives the ``reason_code``, and the
``message`` lists every problem found, each saying what to fix. Nothing is dropped silently:
per entity, input records = accepted records + rejects.

Rejects (:data:`REJECT_COLUMNS`): ``entity`` ("customer" or "order"), ``source_id`` (the
BigCommerce id as text, as given when it is not a number, missing when absent),
``reason_code``, ``message``, ``payload`` (the source record as JSON, dates ISO 8601,
amounts as strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from transforms.fields import strict_limits
from transforms.mapping import ObjectMap
from transforms.people import CUSTOMER
from transforms.text import TEXT, longer_than, map_unique

INVALID_ID = "invalid_id"
DUPLICATE_RECORD = "duplicate_record"
MISSING_BILLING_ADDRESS = "missing_billing_address"
MISSING_EMAIL = "missing_email"
MISSING_FIRST_NAME = "missing_first_name"
MISSING_LAST_NAME = "missing_last_name"
MISSING_STREET = "missing_street"
MISSING_CITY = "missing_city"
MISSING_STATE = "missing_state"
MISSING_POSTAL_CODE = "missing_postal_code"
INVALID_EMAIL = "invalid_email"
INVALID_DATE = "invalid_date"
INVALID_AMOUNT = "invalid_amount"
FIELD_TOO_LONG = "field_too_long"

#: Every reason code, in the order checks run (the first failing one names the reject).
REASON_CODES: tuple[str, ...] = (
    INVALID_ID, DUPLICATE_RECORD, MISSING_BILLING_ADDRESS, MISSING_EMAIL, MISSING_FIRST_NAME, MISSING_LAST_NAME,
    MISSING_STREET, MISSING_CITY, MISSING_STATE, MISSING_POSTAL_CODE, INVALID_EMAIL, INVALID_DATE, INVALID_AMOUNT,
    FIELD_TOO_LONG,
)  # fmt: skip
REJECT_COLUMNS: tuple[str, ...] = ("entity", "source_id", "reason_code", "message", "payload")

# R1: a checkout needs first name, last name, address, city, state, zip and email (company and
# phone are optional), guest or not; a customer record needs the person and the email.
ORDER_REQUIRED: dict[str, str] = {
    "email": MISSING_EMAIL,
    "first_name": MISSING_FIRST_NAME,
    "last_name": MISSING_LAST_NAME,
    "street": MISSING_STREET,
    "city": MISSING_CITY,
    "state": MISSING_STATE,
    "postal_code": MISSING_POSTAL_CODE,
}
CUSTOMER_REQUIRED: dict[str, str] = {k: ORDER_REQUIRED[k] for k in ("email", "first_name", "last_name")}

# An approximation of the addresses Salesforce's Email fields accept: an ASCII local part of
# at most 64 characters, atoms separated by single dots, "@", dot-separated host labels of at
# most 63 characters and a top-level domain of 2-63 letters (or an IDN one, "xn--...").
_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)


def is_email(value: str) -> bool:
    """True when ``value`` looks like an address Salesforce accepts."""
    return _EMAIL.fullmatch(value) is not None


Explain = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Check:
    """One rule over all rows: ``failing`` marks the rows breaking it; ``explain`` words the
    problem for just those rows (so messages cost nothing when all is well)."""

    code: str
    failing: pd.Series
    explain: Explain


# -- wording -----------------------------------------------------------------------------------

_WHAT = {CUSTOMER: "customer record", "order": "order's billing address"}


def _quoted(values: pd.Series) -> pd.Series:
    return "'" + values.astype(TEXT) + "'"


def _const(text: str) -> Explain:
    return lambda rows: pd.Series(text, index=rows.index, dtype=TEXT)


# -- checks --------------------------------------------------------------------------------------


def _id_check(entity: str, rows: pd.DataFrame) -> Check:
    def explain(bad: pd.DataFrame) -> pd.Series:
        given = bad["source_id_unparsed"]
        text = f"the {entity} id " + _quoted(given) + " is not a whole number: the extract is corrupt, re-extract it"
        return text.fillna(f"the {entity} has no id: the extract is corrupt, re-extract it")

    return Check(INVALID_ID, rows["source_id"].isna() | ~(rows["source_id"] > 0).fillna(False), explain)


def _required_checks(entity: str, rows: pd.DataFrame, required: dict[str, str], applies: pd.Series) -> list[Check]:
    where = _WHAT[entity]
    return [
        Check(code, rows[column].isna() & applies, _const(f"{column} is missing: enter it in the {where}"))
        for column, code in required.items()
    ]


def _email_check(entity: str, rows: pd.DataFrame) -> Check:
    valid = map_unique(rows["email"], is_email, dtype=bool, missing=True)

    def explain(bad: pd.DataFrame) -> pd.Series:
        return (
            "email "
            + _quoted(bad["email"])
            + f" is not an address Salesforce accepts: correct it in the {_WHAT[entity]}"
        )

    return Check(INVALID_EMAIL, ~valid, explain)


def _date_checks(rows: pd.DataFrame, required: str) -> list[Check]:
    """Dates the connector could not parse, and the one date a record cannot do without."""
    checks = []
    for column in ("date_created", "date_modified"):
        unparsed = rows[f"{column}_unparsed"]

        def explain(bad: pd.DataFrame, column: str = column) -> pd.Series:
            given = bad[f"{column}_unparsed"]
            return (
                column + " " + _quoted(given) + " is not a date with a time zone: fix the extract or the connector"
            ).fillna(f"{column} is missing: fix the extract")

        failing = unparsed.notna()
        if column == required:
            failing = failing | rows["seen_at"].isna()
        checks.append(Check(INVALID_DATE, failing, explain))
    return checks


#: The largest total BigCommerce_Total__c (Currency, precision 16, scale 2) can hold, plus a cent.
TOTAL_LIMIT = Decimal(10) ** 14


def _amount_problem(value: Any) -> str:
    if not isinstance(value, Decimal):
        return "is missing"
    if not value.is_finite():
        return f"'{value}' is not a finite amount"
    if value < 0:
        return f"{value} is negative: a refund or a data error; check the order in the store"
    return f"{value} is too large for an order total; check the order in the store"


def _amount_check(rows: pd.DataFrame) -> Check:
    """The order total must be a Decimal from 0 up to what Salesforce's currency field holds.

    A negative total is suspicious (BigCommerce refunds do not make an order's total negative)
    and is rejected rather than loaded.
    """
    totals = rows["total"].to_numpy(dtype=object)
    fine = [v.__class__ is Decimal and v.is_finite() and 0 <= v < TOTAL_LIMIT for v in totals]
    unparsed = rows["total_unparsed"]
    failing = ~pd.Series(fine, index=rows.index, dtype=bool) | unparsed.notna()

    def explain(bad: pd.DataFrame) -> pd.Series:
        given = "total_inc_tax " + _quoted(unparsed[bad.index]) + " is not an amount: fix the extract or the connector"
        problems = pd.Series([_amount_problem(v) for v in bad["total"]], index=bad.index, dtype=TEXT)
        return given.fillna("total_inc_tax " + problems)

    return Check(INVALID_AMOUNT, failing, explain)


def _customer_id_check(rows: pd.DataFrame) -> Check:
    def explain(bad: pd.DataFrame) -> pd.Series:
        return "customer_id " + _quoted(bad["customer_id_unparsed"]) + " is not a whole number: fix the extract"

    return Check(INVALID_ID, rows["customer_id_unparsed"].notna(), explain)


def _length_checks(entity: str, rows: pd.DataFrame, objects: Iterable[ObjectMap]) -> list[Check]:
    checks = []
    for column, limit in strict_limits(objects).items():
        if column not in rows.columns or rows[column].dtype != TEXT:
            continue

        def explain(bad: pd.DataFrame, column: str = column, limit: Any = limit) -> pd.Series:
            lengths = map_unique(bad[column], lambda v: len(v.encode("utf-16-le")) // 2, dtype="int64", missing=0)
            return (
                f"{column} is "
                + lengths.astype(TEXT)
                + f" characters long but {limit.field} holds {limit.length}: shorten it in the {_WHAT[entity]}"
            )

        checks.append(Check(FIELD_TOO_LONG, longer_than(rows[column], limit.length), explain))
    return checks


def customer_checks(rows: pd.DataFrame, objects: Sequence[ObjectMap]) -> list[Check]:
    """Checks of customer buyer rows (:func:`transforms.people.customer_rows`)."""
    everyone = pd.Series(True, index=rows.index)
    return [
        _id_check(CUSTOMER, rows),
        *_required_checks(CUSTOMER, rows, CUSTOMER_REQUIRED, everyone),
        _email_check(CUSTOMER, rows),
        *_date_checks(rows, required="date_modified"),
        *_length_checks(CUSTOMER, rows, objects),
    ]


def order_checks(rows: pd.DataFrame, objects: Sequence[ObjectMap]) -> list[Check]:
    """Checks of order buyer rows (:func:`transforms.people.order_rows`)."""
    has_billing = rows["has_billing_address"]
    return [
        _id_check("order", rows),
        _customer_id_check(rows),
        Check(MISSING_BILLING_ADDRESS, ~has_billing, _const("the order has no billing address: fix the extract")),
        *_required_checks("order", rows, ORDER_REQUIRED, has_billing),
        _email_check("order", rows),
        *_date_checks(rows, required="date_created"),
        _amount_check(rows),
        *_length_checks("order", rows, objects),
    ]


# -- rejects -------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return str(value)


def payload(record: Any) -> str:
    """A source record as JSON text: keys sorted, dates ISO 8601, Decimals as strings."""
    try:
        return json.dumps(record, default=_json_default, ensure_ascii=False, sort_keys=True)
    except TypeError:  # keys of mixed types cannot be sorted
        return json.dumps(record, default=_json_default, ensure_ascii=False)


def _source_ids(rows: pd.DataFrame) -> pd.Series:
    return rows["source_id"].astype("string").astype(TEXT).fillna(rows["source_id_unparsed"])


def rejects_frame(entity: str, rows: pd.DataFrame, codes: pd.Series, messages: pd.Series) -> pd.DataFrame:
    """Reject rows for ``rows`` (a subset), given their reason codes and messages."""
    return pd.DataFrame(
        {
            "entity": pd.Series(entity, index=rows.index, dtype=TEXT),
            "source_id": _source_ids(rows),
            "reason_code": codes.astype(TEXT),
            "message": messages.astype(TEXT),
            "payload": pd.Series([payload(r) for r in rows["record"]], index=rows.index, dtype=TEXT),
        },
        columns=list(REJECT_COLUMNS),
    )


def split(entity: str, rows: pd.DataFrame, checks: Iterable[Check]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rows`` that pass every check, and one reject per row that fails any."""
    codes = pd.Series(pd.NA, index=rows.index, dtype=TEXT)
    messages: list[pd.Series] = []
    for check in checks:
        failing = check.failing.fillna(True).astype(bool)
        if not failing.any():
            continue
        codes = codes.where(codes.notna() | ~failing, check.code)  # the first failing check names it
        messages.append(check.explain(rows[failing]))
    rejected = codes.notna()
    if not rejected.any():
        return rows, rejects_frame(entity, rows.iloc[:0], codes.iloc[:0], codes.iloc[:0])
    bad = rows[rejected]
    columns = [m.reindex(bad.index).to_numpy(dtype=object) for m in messages]  # NaN where that check passed
    joined = ["; ".join(m for m in row if isinstance(m, str)) for row in zip(*columns, strict=True)]
    return rows[~rejected], rejects_frame(entity, bad, codes[rejected], pd.Series(joined, index=bad.index))


def deduplicate(entity: str, rows: pd.DataFrame, freshness: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per id: the copy with the latest ``freshness`` date (then the greatest payload,
    so the choice never depends on row order); the other copies become ``duplicate_record``."""
    ids = rows["source_id"]
    repeated = ids.notna() & ids.duplicated(keep=False)
    if not repeated.any():
        return rows, rejects_frame(entity, rows.iloc[:0], ids.iloc[:0], ids.iloc[:0])
    copies = rows[repeated].assign(_payload=[payload(r) for r in rows.loc[repeated, "record"]])
    ranked = copies.sort_values(["source_id", freshness, "_payload"], ascending=False, na_position="last")
    losers = ranked[ranked["source_id"].duplicated(keep="first")]
    kept = ranked.drop_duplicates("source_id", keep="first")
    counts = copies.groupby("source_id")["source_id"].size()
    message = (
        f"{entity} "
        + losers["source_id"].astype("string").astype(TEXT)
        + " appears "
        + losers["source_id"].map(counts).astype("string").astype(TEXT)
        + " times in this batch; the copy modified last, dated "
        + losers["source_id"].map(kept.set_index("source_id")[freshness]).astype(TEXT)
        + ", was used"
    )
    codes = pd.Series(DUPLICATE_RECORD, index=losers.index, dtype=TEXT)
    return rows.drop(index=losers.index), rejects_frame(entity, losers, codes, message)
