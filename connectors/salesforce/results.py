"""One result per record, whichever API wrote it, and the frame the loader returns.

sObject Collections answer a JSON SaveResult per record (in request order); Bulk API 2.0 answers
CSV files of successful and failed rows (in no particular order) whose ``sf__Error`` reads
``CODE:message:fields --``. Both become :class:`RowResult`, and :func:`to_frame` lays them out
as :data:`connectors.base.RESULT_COLUMNS`:

``external_id`` the record's key as given (the Id for updates), ``salesforce_id`` the record id
when known, ``created`` whether the call created it, ``success``, ``error_code``/``message`` of
the first error (further errors appended to ``message``), ``fields`` the fields named by the
errors, comma-separated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from connectors.base import RESULT_COLUMNS


@dataclass(frozen=True)
class RowResult:
    """What Salesforce said about one record."""

    success: bool
    salesforce_id: str | None = None
    created: bool = False
    error_code: str | None = None
    message: str | None = None
    fields: str | None = None

    @classmethod
    def failure(cls, error_code: str, message: str, fields: str | None = None) -> RowResult:
        return cls(False, error_code=error_code, message=message, fields=fields)


def from_save_result(item: Mapping[str, Any]) -> RowResult:
    """A SaveResult/UpsertResult of sObject Collections (``statusCode`` errors)."""
    errors = [e for e in item.get("errors") or [] if isinstance(e, Mapping)]
    if item.get("success"):
        return RowResult(True, item.get("id"), bool(item.get("created", False)))
    if not errors:
        return RowResult(False, item.get("id"), error_code="UNKNOWN_ERROR", message="no error reported")
    first = errors[0]
    message = str(first.get("message") or "")
    for extra in errors[1:]:
        message += f"; {extra.get('statusCode') or extra.get('errorCode')}: {extra.get('message')}"
    fields = sorted({str(f) for e in errors for f in e.get("fields") or []})
    return RowResult(
        False,
        item.get("id") or None,
        error_code=str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_ERROR"),
        message=message,
        fields=",".join(fields) or None,
    )


def from_bulk_error(salesforce_id: str, text: str) -> RowResult:
    """A failed Bulk 2.0 row: ``sf__Error`` is ``CODE:message:field1,field2 --``."""
    body = text.strip().removesuffix("--").strip()
    code, _, rest = body.partition(":")
    message, sep, fields = rest.rpartition(":")
    if not sep:  # no field part
        message, fields = rest, ""
    return RowResult(
        False, salesforce_id or None, error_code=code or "UNKNOWN_ERROR", message=message, fields=fields or None
    )


def to_frame(keys: Sequence[Any], results: Sequence[RowResult | None], index: pd.Index) -> pd.DataFrame:
    """The result frame: one row per record (input order and index), :data:`RESULT_COLUMNS`.

    A record without a result (``None``: never answered) is absent — only used for partial
    results of an interrupted load.
    """
    rows = [
        (key, r.salesforce_id, r.created, r.success, r.error_code, r.message, r.fields)
        for key, r in zip(keys, results, strict=True)
        if r is not None
    ]
    kept = [i for i, r in enumerate(results) if r is not None]
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS, index=index[kept], dtype=object)
    return frame.astype({"created": bool, "success": bool})
