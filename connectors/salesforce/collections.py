"""sObject Collections writes: up to 200 records per call, ``allOrNone`` false.

* upsert: ``PATCH composite/sobjects/{Object}/{ExternalIdField}``;
* update: ``PATCH composite/sobjects`` with ``attributes.type`` and ``Id`` in each record.

simple-salesforce has no helper for these; they go through ``Salesforce.restful`` like every
other JSON call (:meth:`SalesforceClient.rest`), with the body serialised by
:func:`connectors.salesforce.values.json_text` (exact decimals). The answer lists one
SaveResult per record, in request order, which is the order of the records we built, so each
result goes to the record (and key) it was sent for.

A 400 for a whole call (e.g. ``JSON_PARSER_ERROR``: a value of the wrong type somewhere in the
200) becomes a failed result for each record of that call, and the load goes on with the next
call: one bad record does not stop the run, and nothing is raised away unreported.

Up to ``collection_lanes`` calls are in flight at once (each waits mostly on the round trip;
Salesforce limits concurrent requests only when they run longer than 20 s). Calls at once can
meet on a parent record's lock; the rows that fail so (``UNABLE_TO_LOCK_ROW``) are sent again
by the write loop. A call that raises (the API budget spent, an error that is not a 400) stops
the calls not yet started; those already answered keep their results, and the first error is
raised once the calls in flight are back.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import MutableSequence, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

from connectors.base import chunks
from connectors.salesforce.errors import SalesforceCallError
from connectors.salesforce.results import RowResult, from_save_result
from connectors.salesforce.values import Payload

if TYPE_CHECKING:
    from connectors.salesforce.client import SalesforceClient

COLLECTION_SIZE = 200


def send(
    client: SalesforceClient, operation: Literal["upsert", "update"], payload: Payload,
    positions: Sequence[int], results: MutableSequence[RowResult | None],
) -> None:  # fmt: skip
    """Write the rows at ``positions``, filling ``results`` call by call (so a stop keeps them)."""
    if operation == "upsert":
        path = f"composite/sobjects/{payload.sobject}/{payload.key_field}"
    else:
        path = "composite/sobjects"
    calls = list(chunks(positions, COLLECTION_SIZE))
    lanes = min(client.settings.collection_lanes, len(calls))
    if lanes <= 1:
        for chunk in calls:
            _call(client, path, payload, chunk, results)
        return
    stop, lock = threading.Event(), threading.Lock()
    in_flight = 0

    def lane(chunk: Sequence[int]) -> None:
        nonlocal in_flight
        try:
            with lock:  # calls not answered yet count against the budget: it stops where it would
                if stop.is_set():
                    return
                client.check_budget(in_flight)
                in_flight += 1
            try:
                _call(client, path, payload, chunk, results, checked=True)
            finally:
                with lock:
                    in_flight -= 1
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="collections") as pool:
        # Each call in its own copy of the context: its logs belong to this run.
        futures = [pool.submit(contextvars.copy_context().run, lane, chunk) for chunk in calls]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]


def _call(
    client: SalesforceClient, path: str, payload: Payload, chunk: Sequence[int],
    results: MutableSequence[RowResult | None], *, checked: bool = False,
) -> None:  # fmt: skip
    """One call of up to :data:`COLLECTION_SIZE` records, its results written to ``results``
    (``checked``: the budget was checked for it already)."""
    if not checked:
        client.check_budget()
    body = {"allOrNone": False, "records": [payload.rest_record(i) for i in chunk]}
    try:
        answer = client.rest("collections", path, method="PATCH", body=body)
    except SalesforceCallError as exc:
        if exc.status != 400:
            raise
        refused = RowResult.failure(
            exc.error_code or "MALFORMED_REQUEST",
            f"Salesforce refused the whole call of {len(chunk)} records: {exc.detail}",
        )
        for i in chunk:
            results[i] = refused
        return
    if not isinstance(answer, list) or len(answer) != len(chunk):
        raise SalesforceCallError(
            "collections", f"expected {len(chunk)} results, got {type(answer).__name__} of {len(answer or [])}"
        )
    for i, item in zip(chunk, answer, strict=True):
        results[i] = from_save_result(item)
