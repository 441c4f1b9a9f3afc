"""Bulk API 2.0 ingest jobs, driven call by call so that a session can expire in the middle.

simple-salesforce's ``bulk2`` runs a whole job inside one method and never logs in again, so a
session expiring while the job runs loses the job's results. Here each step is its own call
through :meth:`SalesforceClient._invoke` (which logs in again on ``INVALID_SESSION_ID`` and
retries the same step), and the job id is kept: after a new login the same job is polled and
its results read; nothing is submitted twice. Per job, exactly:

1. ``POST jobs/ingest`` — create (``bulk_create``), after the API budget check;
2. ``PUT jobs/ingest/{id}/batches`` — upload the CSV (``bulk_upload``);
3. ``PATCH jobs/ingest/{id}`` ``UploadComplete`` — close (``bulk_close``);
4. ``GET jobs/ingest/{id}`` until ``JobComplete`` — poll (``bulk_poll``), for at most
   ``bulk_timeout_seconds`` (then the job is aborted and :class:`BulkJobError` raised). When
   to poll is paced by what the org has shown (:class:`Pace`): the first poll comes when the
   job should be done at the rows-per-second the client's earlier jobs were processed at
   (their ``totalProcessingTime``), or after ``bulk_poll_seconds`` (0.5 s) before any job has
   finished; a job still in progress that reports ``numberRecordsProcessed`` is polled again
   when its own rate says it will be done; otherwise the interval doubles (at most 30 s: a slow
   job costs a poll more than a fixed interval's, not one per second);
5. ``GET …/successfulResults`` and, when the job info counts failed records
   (``numberRecordsFailed``), ``GET …/failedResults`` (``bulk_results``, one or two calls).

Results come back in any order: each result row is matched to our record by the key column
it echoes (the external id, or ``Id`` for updates). A record in neither file is reported as
``BULK_NOT_PROCESSED`` (retried by the loader like a lock error). A job larger than 100 MB of
CSV is split into several jobs.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator, MutableSequence, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from connectors.salesforce.errors import BulkJobError, SalesforceCallError
from connectors.salesforce.results import RowResult, from_bulk_error
from connectors.salesforce.values import Payload

if TYPE_CHECKING:
    from connectors.salesforce.client import SalesforceClient

log = logging.getLogger("connectors.salesforce")

MAX_JOB_BYTES = 100 * 1024 * 1024  # Salesforce: 150 MB base64-encoded per job, i.e. ~100 MB of CSV
MAX_POLL_SECONDS = 30.0
CSV_CONTENT_TYPE = "text/csv; charset=UTF-8"
FINAL_STATES = ("JobComplete", "Failed", "Aborted")
CLOSED_STATES = ("UploadComplete", "InProgress", "JobComplete")  # what a job is once closed


def csv_text(*rows: Sequence[str]) -> str:
    """Lines of Bulk 2.0 CSV (comma, LF line endings, quoting as needed)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def split_by_size(
    payload: Payload, positions: Sequence[int], max_bytes: int = MAX_JOB_BYTES
) -> Iterator[tuple[bytes, int]]:
    """UTF-8 CSV documents of at most ``max_bytes`` each (header repeated), covering
    ``positions`` in order, each with the number of records it holds.

    Each is written straight into one buffer as bytes: the upload's own form, held once (a list
    of lines, their join and its encoding would hold it three times over)."""
    header = csv_text(payload.columns).encode()
    document, rows = io.BytesIO(), 0
    document.write(header)
    # One writer for every line (a writer per line was a fifth of building the document).
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for i in positions:
        writer.writerow(payload.csv_row(i))
        line = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        if rows and document.tell() + len(line) > max_bytes:
            yield document.getvalue(), rows
            document, rows = io.BytesIO(), 0
            document.write(header)
        document.write(line)
        rows += 1
    if rows:
        yield document.getvalue(), rows


def send(
    client: SalesforceClient, operation: Literal["upsert", "update"], payload: Payload,
    positions: Sequence[int], results: MutableSequence[RowResult | None],
) -> None:  # fmt: skip
    """Write the rows at ``positions`` with one Bulk 2.0 job per 100 MB, filling ``results``."""
    by_key = {payload.key_text(i): i for i in positions}
    done: set[int] = set()
    external_id = payload.key_field if operation == "upsert" else None
    # Of the result files (every column sent, echoed), only these are read: the key and the outcome.
    keep = (payload.key_field, "sf__Id", "sf__Created", "sf__Error")
    for document, rows in split_by_size(payload, positions):
        client.check_budget()
        successful, failed = run_job(client, operation, payload.sobject, external_id, document, rows, keep)
        for row in successful:
            i = by_key.get(row.get(payload.key_field, ""))
            if i is not None:
                results[i] = RowResult(True, row.get("sf__Id") or None, row.get("sf__Created") == "true")
                done.add(i)
        for row in failed:
            i = by_key.get(row.get(payload.key_field, ""))
            if i is not None:
                results[i] = from_bulk_error(row.get("sf__Id", ""), row.get("sf__Error", ""))
                done.add(i)
    for i in positions:
        if i not in done:
            results[i] = RowResult.failure("BULK_NOT_PROCESSED", "the Bulk API 2.0 job reported no result for it")


def run_job(
    client: SalesforceClient, operation: str, sobject: str, external_id_field: str | None, document: bytes,
    rows: int = 0, keep: Sequence[str] | None = None,
) -> tuple[Iterator[dict[str, str]], Iterator[dict[str, str]]]:  # fmt: skip
    """Create, upload, close and wait for one ingest job of ``rows`` records: its (successful
    rows, failed rows), with only the ``keep`` columns (None: all), each file read as its rows are
    taken (:func:`read_results`; the successful first)."""
    spec: dict[str, Any] = {
        "object": sobject,
        "operation": operation,
        "contentType": "CSV",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
    }
    if external_id_field:
        spec["externalIdFieldName"] = external_id_field
    job = client.rest("bulk_create", "jobs/ingest", method="POST", body=spec)
    job_id = str(job["id"])
    log.info("Bulk API 2.0 job %s: %s of %s records (%d bytes)", job_id, operation, sobject, len(document))
    upload_data(client, job_id, document)
    close_job(client, job_id)
    info = wait_for_job(client, job_id, rows)
    if info.get("state") != "JobComplete":
        raise BulkJobError(job_id, str(info.get("state")).lower(), str(info.get("errorMessage") or "no reason given"))
    failures = _count(info, "numberRecordsFailed")
    log.info("Bulk API 2.0 job %s: %d processed, %d failed", job_id, _count(info, "numberRecordsProcessed"), failures)
    successful = read_results(client, job_id, "successfulResults", keep)
    # The job's own count says whether there is anything to read: a clean job costs a call less.
    failed = read_results(client, job_id, "failedResults", keep) if failures else iter(())
    return successful, failed


def _count(info: dict[str, Any], name: str) -> int:
    """A count of the job info; unknown counts as 1 (read the results rather than miss one)."""
    try:
        return int(info[name])
    except (KeyError, TypeError, ValueError):
        return 1


def upload_data(client: SalesforceClient, job_id: str, document: bytes) -> None:
    """Upload the job's CSV (once; a retry finding the data already there goes on)."""
    try:
        client.raw(
            "bulk_upload", "PUT", f"jobs/ingest/{job_id}/batches",
            data=document, headers={"Content-Type": CSV_CONTENT_TYPE, "Accept": "application/json"},
        )  # fmt: skip
    except SalesforceCallError as exc:
        # A retried upload whose first attempt did land: the data is there, go on.
        if not (exc.status == 409 and "already been uploaded" in exc.detail):
            raise


def close_job(client: SalesforceClient, job_id: str) -> None:
    """Mark the upload complete (a retry finding the job already closed goes on)."""
    try:
        client.rest("bulk_close", f"jobs/ingest/{job_id}", method="PATCH", body={"state": "UploadComplete"})
    except SalesforceCallError as exc:
        # A retried close whose first attempt did land: the job is past Open already.
        landed = any(f"Found job in state {state};" in exc.detail for state in CLOSED_STATES)
        if not (exc.status == 409 and landed):
            raise


@dataclass
class Pace:
    """How fast the org has processed this client's Bulk jobs, to poll when a job should be done.

    A poll too early costs a call; one too late, the time in between. Salesforce tells neither
    a job's length nor its queue, but its job info says how long finished jobs took
    (``totalProcessingTime``) and how far a running one is (``numberRecordsProcessed``).
    """

    rows: int = 0
    seconds: float = 0.0
    #: Polls come a little after the expected end (rates vary), never sooner than this.
    margin: float = 1.15
    shortest: float = 0.1

    def learn(self, rows: int, info: dict[str, Any]) -> None:
        """Count a finished job of ``rows`` rows."""
        ms = _number(info, "totalProcessingTime")
        if rows > 0 and ms > 0:
            self.rows, self.seconds = self.rows + rows, self.seconds + ms / 1000

    def first(self, rows: int, default: float, ceiling: float = MAX_POLL_SECONDS) -> float:
        """Seconds from closing a job of ``rows`` rows to its first poll (at most ``ceiling``)."""
        if not self.rows or rows <= 0:
            return default
        return min(ceiling, max(self.shortest, rows * self.seconds / self.rows * self.margin))

    def next(self, rows: int, info: dict[str, Any], waited: float, interval: float, ceiling: float) -> float:
        """Seconds to the next poll of a job still running after ``waited`` seconds (last interval ``interval``)."""
        done = _number(info, "numberRecordsProcessed")
        if 0 < done < rows and waited > 0:
            left = (rows - done) * waited / done
            return min(ceiling, max(self.shortest, left * self.margin))
        return min(interval * 2, ceiling)


def _number(info: dict[str, Any], name: str) -> float:
    try:
        return float(info.get(name) or 0)
    except (TypeError, ValueError):
        return 0.0


def wait_for_job(client: SalesforceClient, job_id: str, rows: int = 0) -> dict[str, Any]:
    """Poll until the job of ``rows`` rows is final; its last info. Aborts it and raises after the timeout."""
    settings = client.settings
    pace: Pace = client.bulk_pace
    closed = time.monotonic()
    deadline = closed + settings.bulk_timeout_seconds
    ceiling = max(settings.bulk_poll_seconds, MAX_POLL_SECONDS)
    interval = pace.first(rows, settings.bulk_poll_seconds, ceiling)
    while True:
        client.sleep(interval)
        info = client.rest("bulk_poll", f"jobs/ingest/{job_id}")
        if info.get("state") in FINAL_STATES:
            pace.learn(rows, info)
            return dict(info)
        if time.monotonic() >= deadline:
            abort_job(client, job_id)
            raise BulkJobError(
                job_id, "timed out", f"still {info.get('state')} after {settings.bulk_timeout_seconds:.0f} s; aborted"
            )
        interval = pace.next(rows, info, time.monotonic() - closed, interval, ceiling)


def abort_job(client: SalesforceClient, job_id: str) -> None:
    """Abort the job, best effort (it may have finished meanwhile)."""
    try:
        client.rest("bulk_close", f"jobs/ingest/{job_id}", method="PATCH", body={"state": "Aborted"})
    except SalesforceCallError as exc:
        log.warning("could not abort Bulk API 2.0 job %s: %s", job_id, exc)


def read_results(
    client: SalesforceClient, job_id: str, kind: str, keep: Sequence[str] | None = None
) -> Iterator[dict[str, str]]:
    """Rows of ``successfulResults`` or ``failedResults`` as dicts keyed by header, with only the
    ``keep`` columns (those the file has; None: every column), read when first asked for.

    A result file echoes every column sent: read whole into dicts, the 50,000 rows of a job took
    several times the memory of the job's own payload. The body is decoded, and each row made,
    as the caller takes it: only the file's bytes are held, never a list of its rows."""
    response = client.raw("bulk_results", "GET", f"jobs/ingest/{job_id}/{kind}", headers={"Accept": "text/csv"})
    # Decode ourselves: without a charset requests would guess ISO-8859-1 for text/csv.
    text = io.TextIOWrapper(io.BytesIO(response.content), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    wanted = [(i, name) for i, name in enumerate(header) if keep is None or name in keep]
    for row in reader:
        if row:
            yield {name: row[i] for i, name in wanted if i < len(row)}
