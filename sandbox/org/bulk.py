"""Bulk API 2.0 ingest jobs of the sandbox org, as simple-salesforce's ``bulk2`` drives them.

Endpoints under ``/services/data/vXX.X/jobs/ingest``:

* ``POST`` create a job (``object``, ``operation`` insert/update/upsert/delete,
  ``externalIdFieldName``, ``columnDelimiter``, ``lineEnding``) → 200, job info, state ``Open``;
* ``PUT {id}/batches`` upload the CSV (once) → 201, empty body;
* ``PATCH {id}`` ``{"state": "UploadComplete"}`` or ``"Aborted"`` → 200, job info;
* ``GET {id}`` job info; ``GET`` (all jobs); ``DELETE {id}`` → 204;
* ``GET {id}/successfulResults``, ``failedResults``, ``unprocessedrecords`` → CSV.

After ``UploadComplete`` the job goes ``InProgress`` and an asyncio task processes
``bulk_rows_per_tick`` rows every ~0.1 s through the org's write engine (in a worker thread, so
the event loop stays free), then ``JobComplete`` — or ``Failed`` with the real ``errorMessage``
for a bad header (``InvalidBatch : Field name not found : Foo__c``), a wrong line ending or an
unreadable CSV. CSV semantics are the real ones: an empty cell leaves the field alone, ``#N/A``
clears it, ``Account.Ext__c`` columns name parents by external id. Results are **not** in
upload order (each chunk is shuffled deterministically), as the real API warns.

Jobs live in memory (a restarted sandbox forgets them); like the real org, a job keeps running
when the session that created it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.http import json_response
from sandbox.org.errors import ApiError, RecordError, not_found
from sandbox.org.gate import Org, api, json_body, session_of
from sandbox.org.records import RowResult
from sandbox.org.storage import format_datetime, salesforce_id
from sandbox.org.values import CsvHeaderError, CsvRecordReader, RowInput, is_id_lookup

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = ("LF", "CRLF")
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
INTERNAL_BATCH_ROWS = 10_000  # the real org splits a job into batches of 10,000 records
TICK_SECONDS = 0.1


def _job_state_conflict(job: Job, expected: str) -> ApiError:
    return ApiError(
        409, "INVALIDJOBSTATE", f"InvalidJobState : Found job in state {job.state}; expected state is {expected}"
    )


@dataclass
class Job:
    """One ingest job and its results."""

    id: str
    operation: str
    object: str
    external_id_field: str | None
    line_ending: str
    column_delimiter: str
    api_version: float
    created_by_id: str
    created_date: str
    system_modstamp: str
    state: str = "Open"
    data: bytes | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    next_index: int = 0
    successful: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failed: list[tuple[str, str, list[str]]] = field(default_factory=list)
    error_message: str | None = None
    total_ms: int = 0
    active_ms: int = 0
    task: asyncio.Task[None] | None = None

    def touch(self) -> None:
        self.system_modstamp = format_datetime(datetime.now(UTC))

    def summary(self) -> dict[str, Any]:
        """The job as ``GET jobs/ingest`` lists it."""
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by_id,
            "createdDate": self.created_date,
            "systemModstamp": self.system_modstamp,
            "state": self.state,
        }
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        info.update(
            concurrencyMode="Parallel",
            contentType="CSV",
            apiVersion=self.api_version,
            jobType="V2Ingest",
            lineEnding=self.line_ending,
            columnDelimiter=self.column_delimiter,
        )
        return info

    def info(self) -> dict[str, Any]:
        """``GET jobs/ingest/{id}``: the summary plus progress and timings."""
        info = self.summary()
        if self.state == "Open":
            info["contentUrl"] = f"services/data/v{self.api_version:.1f}/jobs/ingest/{self.id}/batches"
        info.update(
            numberRecordsProcessed=len(self.successful) + len(self.failed),
            numberRecordsFailed=len(self.failed),
            retries=0,
            totalProcessingTime=self.total_ms,
            apiActiveProcessingTime=self.active_ms,
            apexProcessingTime=0,
        )
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


class BulkJobs:
    """The org's ingest jobs and their background processing."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._sequence = 0

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id) or next(
                (j for j in self._jobs.values() if j.id[:15] == job_id[:15] and len(job_id) == 15), None
            )
        if job is None:
            raise not_found()
        return job

    def create(self, body: Any, version: str, user_id: str) -> Job:
        if not isinstance(body, dict):
            raise ApiError(400, "INVALIDJOB", "InvalidJob : The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        if operation == "hardDelete":
            raise ApiError(
                400, "INSUFFICIENTACCESS", "InsufficientAccess : User doesn't have the Bulk API Hard Delete permission"
            )
        obj = self.org.schema.object(str(body.get("object") or ""))
        if obj is None:
            raise ApiError(
                400, "INVALIDENTITY", f"InvalidEntity : Entity '{body.get('object')}' is not supported by the Bulk API."
            )
        if body.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Unsupported content type: {body.get('contentType')}")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid column delimiter: {delimiter}")
        if line_ending not in LINE_ENDINGS:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid line ending: {line_ending}")
        ext_name = body.get("externalIdFieldName")
        ext = None
        if operation == "upsert":
            if not ext_name:
                raise ApiError(
                    400,
                    "INVALIDJOB",
                    f"InvalidJob : External ID was blank for {obj.name}. An External ID must be specified for upsert.",
                )
            ext = obj.field(str(ext_name))
            if ext is None or not is_id_lookup(obj, ext):
                raise ApiError(
                    400,
                    "INVALIDJOB",
                    f"InvalidJob : Field name provided, {ext_name} does not match an External ID, Salesforce Id, "
                    f"or indexed field for {obj.name}",
                )
        now = format_datetime(datetime.now(UTC))
        with self._lock:
            self._sequence += 1
            job = Job(
                id=salesforce_id("750", int(time.time()) % 10**6 * 1000 + self._sequence),
                operation=operation,
                object=obj.name,
                external_id_field=ext.name if ext else None,
                line_ending=line_ending,
                column_delimiter=delimiter,
                api_version=float(version),
                created_by_id=user_id,
                created_date=now,
                system_modstamp=now,
            )
            self._jobs[job.id] = job
        return job

    def upload(self, job: Job, data: bytes) -> None:
        if job.state != "Open":
            raise _job_state_conflict(job, "Open")
        if job.data is not None:
            raise ApiError(
                409,
                "INVALIDJOBSTATE",
                "InvalidJobState : Data has already been uploaded for this job; create a new job",
            )
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(400, "EXCEEDEDQUOTA", "ExceededQuota : The upload exceeds the 150 MB limit of a job")
        job.data = data
        job.touch()

    def set_state(self, job: Job, state: Any) -> None:
        if state == "UploadComplete":
            if job.state != "Open":
                raise _job_state_conflict(job, "Open")
            job.state = "UploadComplete"
            job.touch()
            job.task = asyncio.get_running_loop().create_task(self._process(job))
        elif state == "Aborted":
            if job.state not in ("Open", "UploadComplete", "InProgress"):
                raise _job_state_conflict(job, "Open, UploadComplete or InProgress")
            job.state = "Aborted"
            job.touch()
        else:
            raise ApiError(400, "INVALIDJOBSTATE", f"InvalidJobState : Invalid state: {state}")

    def delete(self, job: Job) -> None:
        if job.state not in ("UploadComplete", "JobComplete", "Aborted", "Failed"):
            raise _job_state_conflict(job, "UploadComplete, JobComplete, Aborted or Failed")
        if job.task is not None:
            job.task.cancel()
        with self._lock:
            self._jobs.pop(job.id, None)

    async def shutdown(self) -> None:
        tasks = [j.task for j in self.all() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- processing -------------------------------------------------------------------------------

    def _parse(self, job: Job) -> None:
        """Read the uploaded CSV, or fail the job the way the real org does."""
        text = (job.data or b"").decode("utf-8-sig", errors="replace")
        if job.line_ending == "LF" and "\r\n" in text:
            raise CsvHeaderError(
                "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
            )
        if job.line_ending == "CRLF" and "\n" in text.replace("\r\n", ""):
            raise CsvHeaderError(
                "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF"
            )
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter]))
        except csv.Error as exc:
            raise CsvHeaderError(f"InvalidBatch : Failed to parse CSV: {exc}") from None
        rows = [r for r in rows if r]  # blank lines carry no record
        if not rows:
            raise CsvHeaderError("InvalidBatch : Records not processed")
        job.header, job.rows = rows[0], rows[1:]
        if job.operation == "delete" and [h.strip().lower() for h in job.header] != ["id"]:
            raise CsvHeaderError("InvalidBatch : The 'delete' batch must contain only ids")

    async def _process(self, job: Job) -> None:
        org = self.org
        started = time.monotonic()
        try:
            await asyncio.sleep(TICK_SECONDS)
            obj = org.object(job.object)
            try:
                await run_in_threadpool(self._parse, job)
                reader = CsvRecordReader(org.schema, obj, job.header)
            except CsvHeaderError as exc:
                job.state, job.error_message = "Failed", str(exc)
                job.touch()
                return
            if job.state == "Aborted":
                return
            job.state = "InProgress"
            job.touch()
            batches = max(1, -(-len(job.rows) // INTERNAL_BATCH_ROWS))
            await run_in_threadpool(org.db.add_usage, "bulk_batches", batches)
            per_tick = org.config.bulk_rows_per_tick
            path = f"/services/data/v{job.api_version:.1f}/jobs/ingest/{job.id}/batches"
            lock_fault = org.lock_fault("PUT", path)
            while job.next_index < len(job.rows):
                if job.state == "Aborted":
                    return
                chunk_start = job.next_index
                chunk = job.rows[chunk_start : chunk_start + per_tick]
                t0 = time.monotonic()
                results = await run_in_threadpool(self._write_chunk, job, reader, chunk, lock_fault)
                job.active_ms += int((time.monotonic() - t0) * 1000)
                self._record(job, chunk_start, chunk, results)
                job.next_index = chunk_start + len(chunk)
                job.total_ms = int((time.monotonic() - started) * 1000)
                job.touch()
                if job.next_index < len(job.rows):
                    await asyncio.sleep(TICK_SECONDS)
            job.state = "JobComplete"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the job fails; the server keeps serving
            job.state, job.error_message = "Failed", f"InternalServerError : {exc}"
        finally:
            job.total_ms = int((time.monotonic() - started) * 1000)
            job.touch()

    def _write_chunk(
        self, job: Job, reader: CsvRecordReader, chunk: list[list[str]], lock_fault: Any
    ) -> list[RowResult]:
        width = len(reader.columns)
        inputs: list[RowInput] = []
        for cells in chunk:
            row = reader.read(cells)
            if len(cells) > width:
                row.errors.append(RecordError("INVALID_FIELD", f"Too many values in row: {len(cells)} > {width}"))
            inputs.append(row)
        return self.org.db.write(
            job.operation,  # type: ignore[arg-type]
            job.object,
            inputs,
            external_id_field=job.external_id_field,
            lock_fault=lock_fault,
        )

    def _record(self, job: Job, start: int, chunk: list[list[str]], results: list[RowResult]) -> None:
        order = list(range(len(chunk)))
        # The real API gives no order guarantee; shuffle so clients cannot rely on one.
        random.Random(f"{job.id}:{start}").shuffle(order)
        id_column = next((i for i, h in enumerate(job.header) if h.strip().lower() == "id"), None)
        for i in order:
            result, cells = results[i], chunk[i]
            if result.success:
                job.successful.append((result.id or "", result.created, cells))
            else:
                given = cells[id_column] if id_column is not None and id_column < len(cells) else ""
                error = " ".join(e.bulk() for e in result.errors[:1]) or "UNKNOWN_EXCEPTION:unknown:--"
                job.failed.append((result.id or given, error, cells))

    # -- results ----------------------------------------------------------------------------------

    @staticmethod
    def _csv(header: list[str], rows: list[list[str]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()

    def results(self, job: Job, kind: str) -> str:
        if kind == "successfulresults":
            return self._csv(
                ["sf__Id", "sf__Created", *job.header],
                [[rid, "true" if created else "false", *cells] for rid, created, cells in job.successful],
            )
        if kind == "failedresults":
            return self._csv(
                ["sf__Id", "sf__Error", *job.header], [[rid, error, *cells] for rid, error, cells in job.failed]
            )
        if not job.header and job.data:
            # Not processed yet (open or aborted before processing): every uploaded row is unprocessed.
            with contextlib.suppress(CsvHeaderError):
                self._parse(job)
        unprocessed = [] if job.state == "JobComplete" else job.rows[job.next_index :]
        return self._csv(job.header, unprocessed)


def bulk_routes(org: Org, jobs: BulkJobs) -> list[Route]:
    """The Bulk 2.0 ingest endpoints, paths relative to ``/services``."""

    async def create(request: Request) -> Response:
        body = await json_body(request)
        job = jobs.create(body, request.path_params["version"], session_of(request).user_id)
        info = job.summary()
        info["contentUrl"] = f"services/data/v{request.path_params['version']}/jobs/ingest/{job.id}/batches"
        return json_response(info)

    async def list_jobs(request: Request) -> Response:
        return json_response({"done": True, "records": [j.summary() for j in jobs.all()], "nextRecordsUrl": None})

    async def get_job(request: Request) -> Response:
        return json_response(jobs.get(request.path_params["job_id"]).info())

    async def patch_job(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
        body = await json_body(request)
        jobs.set_state(job, body.get("state") if isinstance(body, dict) else None)
        return json_response(job.summary())

    async def delete_job(request: Request) -> Response:
        jobs.delete(jobs.get(request.path_params["job_id"]))
        return Response(status_code=204)

    async def upload(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
        jobs.upload(job, await request.body())
        return Response(status_code=201)

    async def results(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
        kind = request.path_params["kind"].lower()
        if kind not in ("successfulresults", "failedresults", "unprocessedrecords"):
            raise not_found()
        text = await run_in_threadpool(jobs.results, job, kind)
        return Response(text, media_type="text/csv", headers={"Content-Type": "text/csv"})

    base = "/data/v{version}/jobs/ingest"
    return [
        Route(base, api(org, create), methods=["POST"]),
        Route(base, api(org, list_jobs), methods=["GET"]),
        Route(f"{base}/{{job_id}}", api(org, get_job), methods=["GET"]),
        Route(f"{base}/{{job_id}}", api(org, patch_job), methods=["PATCH"]),
        Route(f"{base}/{{job_id}}", api(org, delete_job), methods=["DELETE"]),
        Route(f"{base}/{{job_id}}/batches", api(org, upload), methods=["PUT"]),
        Route(f"{base}/{{job_id}}/{{kind}}", api(org, results), methods=["GET"]),
    ]
