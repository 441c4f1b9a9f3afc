"""Python and pandas values as Salesforce wants them: exact JSON for REST, CSV cells for Bulk 2.0.

Three kinds of "value" meet in a payload frame, and they mean the same over both APIs:

* a real value (str, bool, int, float, ``Decimal``, date, datetime) is written;
* a *missing* value (None, NaN, ``pd.NA``, ``pd.NaT``, the empty string) means **leave the field
  unchanged**: the key is omitted from the REST record, the Bulk cell is left empty;
* :data:`CLEAR` means **set the field to null**: ``null`` over REST, ``#N/A`` over Bulk 2.0.

Clearing is never implied by a missing value, because REST would clear on ``null``/``""`` while
Bulk leaves an empty cell alone; the sentinel makes the intent explicit and identical on both.
(Caveat of Bulk 2.0 itself: a text value that is literally ``#N/A`` clears the field there.)
:data:`CLEAR` survives pickling, not JSON: whoever stores payloads as JSON must encode it.

``Decimal`` is written as the number literal it holds (``19.99``, never ``19.989999…``), so the
JSON is built here rather than by ``json.dumps``, which would go through float. Datetimes must
be timezone-aware and are sent in UTC (``2024-05-01T12:00:00.000Z``); dates as ``2024-05-01``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pandas as pd


class _Clear:
    """The type of :data:`CLEAR` (a singleton that survives copying and pickling)."""

    _instance: _Clear | None = None

    def __new__(cls) -> _Clear:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CLEAR"

    def __reduce__(self) -> str:
        return "CLEAR"


#: Put this in a payload cell to set the Salesforce field to null.
CLEAR: Final = _Clear()

#: What Bulk API 2.0 reads as "set to null".
BULK_NULL = "#N/A"


def is_missing(value: Any) -> bool:
    """Whether ``value`` means "leave the field unchanged" (None, NaN, NA, NaT, "")."""
    if type(value) is str:  # most cells: answer before the other checks
        return value == ""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    if isinstance(value, str):
        return value == ""
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    return False


def is_clear(value: Any) -> bool:
    """Whether ``value`` is the :data:`CLEAR` sentinel."""
    return value is CLEAR


def _utc_text(value: dt.datetime) -> str:
    if value.tzinfo is None:
        # A naive datetime is ambiguous (local? UTC?); refusing it beats writing a wrong instant.
        raise ValueError(f"naive datetime {value.isoformat()}: make it timezone-aware before loading")
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot send {value} to Salesforce")
    return format(value, "f")  # plain notation: no exponent, every digit kept


def scalar(value: Any) -> str | bool | int | float | Decimal:
    """A present value as a JSON-able scalar (``Decimal`` kept; dates as ISO text)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        _decimal_text(value)  # validates finiteness
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise ValueError(f"cannot send {value} to Salesforce")
        return float(value)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value).to_pydatetime()  # naive: refused below, like any naive datetime
    if isinstance(value, dt.datetime):  # pd.Timestamp included
        return _utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} to Salesforce")


def json_text(value: Any) -> str:
    """``value`` (dicts, lists, scalars, None, :data:`CLEAR`) as JSON text, decimals exact."""
    if value is None or value is CLEAR:
        return "null"
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{json_text(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    item = scalar(value)
    if isinstance(item, Decimal):
        return _decimal_text(item)
    return json.dumps(item, ensure_ascii=False)


def csv_cell(value: Any) -> str:
    """One Bulk 2.0 CSV cell: "" leaves the field alone, ``#N/A`` clears it."""
    if type(value) is str:  # most cells, and "" is itself: no conversion to look for
        return value if "\r" not in value else _lf(value)
    if value is CLEAR:
        return BULK_NULL
    if is_missing(value):
        return ""
    item = scalar(value)
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, Decimal):
        return _decimal_text(item)
    if isinstance(item, float):
        return repr(item)
    return _lf(str(item))


def _lf(text: str) -> str:
    # Bulk jobs declare LF line endings; a CR inside a value would fail the whole job.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parent_reference(column: str) -> tuple[str, str] | None:
    """``("Account", "Key__c")`` for a parent column ``Account.Key__c``, else None."""
    relationship, dot, field = column.partition(".")
    return (relationship, field) if dot and relationship and field else None


def rest_record(sobject: str, columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """One sObject Collections record: ``attributes.type``, present values, parents nested.

    Missing values are left out (unchanged), :data:`CLEAR` becomes None (``null``), and a
    column ``Account.Key__c`` becomes ``"Account": {"Key__c": value}``.
    """
    record: dict[str, Any] = {"attributes": {"type": sobject}}
    for column, value in zip(columns, values, strict=True):
        if is_missing(value):
            continue
        parent = parent_reference(column)
        if parent is None:
            record[column] = value
        else:
            record.setdefault(parent[0], {})[parent[1]] = value
    return record


def checked_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """``rows`` with each present value in its sendable form (:func:`scalar`: a date as its ISO
    text, numpy scalars unwrapped), refusing what neither API can express the same way, before
    anything is sent.

    :data:`CLEAR` in a parent reference column has no portable meaning (to unlink a parent,
    clear its Id field, e.g. ``AccountId``); values must be serialisable (``ValueError`` or
    ``TypeError`` otherwise, e.g. for naive datetimes). Converted once here, a value is not
    converted again by each API's form of the row (a datetime's text took a tenth of a 10,000-row
    Bulk write, computed twice).
    """
    parents = [i for i, c in enumerate(columns) if parent_reference(c) is not None]
    checked = []
    for row in rows:
        for i in parents:
            if row[i] is CLEAR:
                raise ValueError(
                    f"CLEAR in parent reference column {columns[i]!r}: clear the lookup's Id field instead"
                )
        checked.append(tuple(v if type(v) is str or v is CLEAR or is_missing(v) else scalar(v) for v in row))
    return checked


class Payload:
    """The records of one write: a frame's columns and rows, with the key column named.

    Rows are tuples of the caller's values in their sendable form (:func:`checked_rows`); each
    API turns a row into its own shape only when sending it (:meth:`rest_record`, :meth:`csv_row`).
    """

    def __init__(self, sobject: str, records: pd.DataFrame, key_field: str) -> None:
        self.sobject = sobject
        self.columns = [str(c) for c in records.columns]
        if key_field not in self.columns:
            raise ValueError(f"the {sobject} records have no {key_field} column")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"the {sobject} records repeat a column: {self.columns}")
        self.key_field = key_field
        self.key_index = self.columns.index(key_field)
        self.rows = checked_rows(self.columns, records.itertuples(index=False, name=None))

    def key(self, position: int) -> Any:
        """The key value of row ``position`` as given."""
        return self.rows[position][self.key_index]

    def key_text(self, position: int) -> str:
        """The key as written in a CSV cell (and echoed back in Bulk result files)."""
        return csv_cell(self.key(position))

    def rest_record(self, position: int) -> dict[str, Any]:
        """Row ``position`` as an sObject Collections record."""
        return rest_record(self.sobject, self.columns, self.rows[position])

    def csv_row(self, position: int) -> list[str]:
        """Row ``position`` as Bulk 2.0 CSV cells, in :attr:`columns` order."""
        return [csv_cell(v) for v in self.rows[position]]
