"""The write loop shared by ``upsert`` and ``update``: check keys, pick the API, retry rows.

1. Keys are checked before anything is sent. A record without a key is refused
   (``MISSING_KEY``): an upsert without an external id would create an unkeyed duplicate, and
   the loader never inserts. Records sharing a key (external ids compared case-insensitively, as
   Salesforce matches them; Ids by their 15-character form) are all refused
   (``DUPLICATE_EXTERNAL_ID``): Salesforce would fail both in a collection, or apply them in an
   unknown order in a Bulk job, and picking one silently could keep a stale version. The caller
   dedupes; the frame says which keys collided.
2. Up to ``bulk_threshold`` records go by sObject Collections (:mod:`.collections`), more by
   Bulk API 2.0 (:mod:`.bulk`).
3. Records that failed with a transient row error (``UNABLE_TO_LOCK_ROW``, unprocessed by Bulk)
   are sent again — only those — for up to ``row_attempts`` rounds with growing waits (a
   retry round picks its API by its own size, so a few locked rows of a Bulk job go by REST).

The answer has one row per input record, in input order and with the input's index; nothing is
raised for a record Salesforce refused. When the API budget runs out the load stops before the
next write and :class:`ApiBudgetExhausted` carries the results obtained so far.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Literal

import pandas as pd

from connectors.salesforce import bulk, collections
from connectors.salesforce.errors import ApiBudgetExhausted
from connectors.salesforce.results import RowResult, to_frame
from connectors.salesforce.retry import TRANSIENT_ROW_ERRORS
from connectors.salesforce.values import Payload, is_clear, is_missing

if TYPE_CHECKING:
    from connectors.salesforce.client import SalesforceClient

log = logging.getLogger("connectors.salesforce")

Operation = Literal["upsert", "update"]


def _match_key(operation: Operation, text: str) -> str:
    """How Salesforce tells two keys apart (external ids ignore case; Ids are case-safe 15/18)."""
    return text[:15] if operation == "update" else text.lower()


def _checked_positions(operation: Operation, payload: Payload, results: list[RowResult | None]) -> list[int]:
    """Positions of records with a usable, unique key; refusals written to ``results``."""
    field = payload.key_field
    usable: list[int] = []
    for i in range(len(payload.rows)):
        key = payload.key(i)
        if is_missing(key) or is_clear(key):
            results[i] = RowResult.failure("MISSING_KEY", f"no {field} value: not sent", field)
        else:
            usable.append(i)
    seen = Counter(_match_key(operation, payload.key_text(i)) for i in usable)
    unique: list[int] = []
    for i in usable:
        count = seen[_match_key(operation, payload.key_text(i))]
        if count > 1:
            results[i] = RowResult.failure(
                "DUPLICATE_EXTERNAL_ID",
                f"{field} {payload.key_text(i)!r} appears {count} times in this load: none of them was sent",
                field,
            )
        else:
            unique.append(i)
    return unique


def _transient(result: RowResult | None) -> bool:
    return result is not None and result.error_code in TRANSIENT_ROW_ERRORS


def write(
    client: SalesforceClient, operation: Operation, sobject: str, key_field: str, records: pd.DataFrame
) -> pd.DataFrame:
    """Upsert (by ``key_field``, an external id) or update (by ``Id``) ``records``; the result frame."""
    payload = Payload(sobject, records, key_field)
    keys = [payload.key(i) for i in range(len(payload.rows))]
    results: list[RowResult | None] = [None] * len(payload.rows)
    pending = _checked_positions(operation, payload, results)
    policy = client.retry
    try:
        for round_number in range(1, policy.row_attempts + 1):
            if round_number > 1:
                wait = policy.row_wait(round_number)
                codes = Counter(r.error_code for r in (results[i] for i in pending) if r is not None)
                log.warning(
                    "%s %s: sending %d record(s) again after %s (round %d of %d, in %.1f s)",
                    operation, sobject, len(pending), dict(codes), round_number, policy.row_attempts, wait,
                )  # fmt: skip
                client.sleep(wait)
            api = bulk if len(pending) > client.settings.bulk_threshold else collections
            api.send(client, operation, payload, pending, results)
            pending = [i for i in pending if _transient(results[i])]
            if not pending:
                break
        if pending:
            log.warning(
                "%s %s: %d record(s) still failing with transient errors after %d rounds; reported as failed",
                operation, sobject, len(pending), policy.row_attempts,
            )  # fmt: skip
    except ApiBudgetExhausted as exc:
        exc.results = to_frame(keys, results, records.index)
        raise
    return to_frame(keys, results, records.index)
