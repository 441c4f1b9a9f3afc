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
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
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
    for chunk in chunks(positions, COLLECTION_SIZE):
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
            continue
        if not isinstance(answer, list) or len(answer) != len(chunk):
            raise SalesforceCallError(
                "collections", f"expected {len(chunk)} results, got {type(answer).__name__} of {len(answer or [])}"
            )
        for i, item in zip(chunk, answer, strict=True):
            results[i] = from_save_result(item)
