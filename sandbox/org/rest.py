"""The REST API of the sandbox org, under ``/services/data/vXX.X/``.

Resources, with the real paths, status codes and body shapes:

* ``GET /services/data/`` (versions, no session needed) and ``GET vXX.X/`` (resources);
* ``limits/``; ``sobjects/`` (describeGlobal); ``sobjects/X/`` (GET basic info, POST create);
  ``sobjects/X/describe/``;
* ``sobjects/X/{id}`` GET (``?fields=``) / PATCH (204) / DELETE (204, soft delete);
* ``sobjects/X/{field}/{value}`` GET by external id / PATCH upsert (201 created, 200 updated
  from API 46.0 on, 204 before, 300 when several match, ``?updateOnly=true``) / DELETE;
* ``composite/sobjects`` POST (create), PATCH (update), DELETE (``?ids=``), and
  ``composite/sobjects/X/{field}`` PATCH (upsert) and GET (``?ids=&fields=``): up to 200
  records, results in request order, ``allOrNone``;
* ``query/`` and ``queryAll/`` with ``nextRecordsUrl`` paging (``Sforce-Query-Options:
  batchSize=N``), cursors kept 15 minutes.

Every write goes through the one write engine (:class:`~sandbox.org.records.WriteEngine`).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.http import json_response
from sandbox.org.describe import describe_global, describe_object, global_entry
from sandbox.org.errors import ROLLED_BACK, ApiError, RecordError, RecordErrors, not_found
from sandbox.org.gate import API_USAGE, MAX_VERSION, MIN_VERSION, Org, api, json_body
from sandbox.org.records import RowResult, WriteBatch, record_from_row, select_in
from sandbox.org.schema import FieldDef, ObjectDef
from sandbox.org.storage import quote, salesforce_id
from sandbox.org.values import is_id_lookup, parse_id

COLLECTION_LIMIT = 200
CURSOR_TTL_SECONDS = 15 * 60
MAX_OPEN_CURSORS = 1000
_BATCH_SIZE_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def release_label(version: int) -> str:
    """``59`` → ``Winter '24`` (three releases a year since Winter '11 = 20.0)."""
    i = version - 20
    return f"{('Winter', 'Spring', 'Summer')[i % 3]} '{11 + i // 3:02d}"


def record_url(version: str, obj: ObjectDef, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{obj.name}/{record_id}"


def with_attributes(version: str, obj: ObjectDef, record: dict[str, Any]) -> dict[str, Any]:
    """A record as REST returns it: ``attributes`` first."""
    return {"attributes": {"type": obj.name, "url": record_url(version, obj, record["Id"])}, **record}


# ---------------------------------------------------------------------------------------------
# query cursors
# ---------------------------------------------------------------------------------------------


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    total_size: int
    batch_size: int
    include_deleted: bool
    expires_at: float


class QueryCursors:
    """Open query locators (``01g…``): the rest of a result, kept in memory for 15 minutes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._sequence = secrets.randbelow(10**6)

    def open(self, records: list[dict[str, Any]], total_size: int, batch_size: int, include_deleted: bool) -> str:
        with self._lock:
            self._purge()
            self._sequence += 1
            locator = salesforce_id("01g", self._sequence)
            self._cursors[locator] = _Cursor(
                records, total_size, batch_size, include_deleted, time.monotonic() + CURSOR_TTL_SECONDS
            )
            while len(self._cursors) > MAX_OPEN_CURSORS:
                self._cursors.popitem(last=False)  # the oldest locator goes first, as in the real org
            return locator

    def get(self, locator: str) -> _Cursor | None:
        with self._lock:
            self._purge()
            return self._cursors.get(locator)

    def _purge(self) -> None:
        now = time.monotonic()
        for key in [k for k, c in self._cursors.items() if c.expires_at <= now]:
            del self._cursors[key]


def page(
    cursors: QueryCursors, version: str, cursor_records: list[dict[str, Any]], *, total_size: int,
    offset: int, batch_size: int, include_deleted: bool, locator: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One page of a query result, opening a locator when more remain."""
    end = offset + batch_size
    body: dict[str, Any] = {"totalSize": total_size, "done": end >= len(cursor_records)}
    if not body["done"]:
        if locator is None:
            locator = cursors.open(cursor_records, total_size, batch_size, include_deleted)
        resource = "queryAll" if include_deleted else "query"
        body["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{locator}-{end}"
    body["records"] = cursor_records[offset:end]
    return body


# ---------------------------------------------------------------------------------------------
# routes
# ---------------------------------------------------------------------------------------------


def rest_routes(org: Org) -> list[Route]:
    """The REST endpoints, paths relative to ``/services``."""
    cursors = QueryCursors()
    db = org.db
    schema = org.schema

    def results_or_error(result: RowResult) -> None:
        """Raise the REST error of a failed single-record write."""
        if result.success:
            return
        first = result.errors[0]
        if first.status_code == "INVALID_CROSS_REFERENCE_KEY" and not first.fields:
            raise not_found()
        if first.status_code == "ENTITY_IS_DELETED" and not first.fields:
            raise ApiError(404, "ENTITY_IS_DELETED", first.message, [])
        raise RecordErrors(result.errors)

    # -- discovery ------------------------------------------------------------------------------

    async def versions(request: Request) -> Response:
        return json_response(
            [
                {"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                for v in range(MIN_VERSION, MAX_VERSION + 1)
            ]
        )

    async def resources(request: Request) -> Response:
        base = f"/services/data/v{request.path_params['version']}"
        names = ("composite", "jobs", "limits", "query", "queryAll", "sobjects")
        return json_response({name: f"{base}/{name}" for name in names})

    async def limits(request: Request) -> Response:
        def compute() -> dict[str, Any]:
            used = db.usage(API_USAGE)
            batches = db.usage("bulk_batches")
            records = sum(db.count(o.name, include_deleted=True) for o in schema.objects.values())
            storage_max = 1024
            used_mb = (records * 2 + 1023) // 1024  # Salesforce counts 2 KB per record
            return {
                "ActiveScratchOrgs": {"Max": 3, "Remaining": 3},
                "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
                "DailyApiRequests": {
                    "Max": org.config.daily_api_limit,
                    "Remaining": max(org.config.daily_api_limit - used, 0),
                },
                "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": max(15000 - batches, 0)},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DataStorageMB": {"Max": storage_max, "Remaining": max(storage_max - used_mb, 0)},
                "FileStorageMB": {"Max": 1024, "Remaining": 1024},
                "HourlyODataCallout": {"Max": 10000, "Remaining": 10000},
                "MassEmail": {"Max": 5000, "Remaining": 5000},
                "SingleEmail": {"Max": 5000, "Remaining": 5000},
            }

        return json_response(await run_in_threadpool(compute))

    async def sobjects(request: Request) -> Response:
        return json_response(describe_global(schema, request.path_params["version"]))

    async def sobject_info(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        return json_response({"objectDescribe": global_entry(obj, request.path_params["version"]), "recentItems": []})

    async def describe(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        return json_response(describe_object(schema, obj, request.path_params["version"]))

    # -- single records -----------------------------------------------------------------------

    async def body_record(request: Request, obj: ObjectDef) -> dict[str, Any]:
        data = await json_body(request)
        if not isinstance(data, dict):
            token = "START_ARRAY" if isinstance(data, list) else "VALUE_NULL"
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {obj.name} from {token} value or request may be missing a "
                "required field",
            )
        return data

    async def create(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        data = await body_record(request, obj)
        fault = org.lock_fault(request.method, request.url.path)
        result = (await run_in_threadpool(lambda: db.write("insert", obj.name, [data], lock_fault=fault)))[0]
        results_or_error(result)
        return json_response({"id": result.id, "success": True, "errors": []}, status=201)

    def fields_param(request: Request, obj: ObjectDef) -> list[FieldDef]:
        raw = request.query_params.get("fields")
        if not raw:
            return list(obj.fields.values())
        chosen = []
        for name in (n.strip() for n in raw.split(",") if n.strip()):
            f = obj.field(name)
            if f is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom field, "
                    "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
                    "describe call for the appropriate names.",
                )
            chosen.append(f)
        if not any(f.name == "Id" for f in chosen):
            chosen.insert(0, obj.fields["id"])
        return chosen

    def fetch_row(obj: ObjectDef, record_id: str) -> Any:
        with db.reading() as conn:
            return conn.execute(f"SELECT * FROM {quote(obj.name)} WHERE Id = ?", (record_id,)).fetchone()

    async def get_record(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        version = request.path_params["version"]
        raw_id = request.path_params["record_id"]
        rid = parse_id(raw_id)
        if rid is None or rid[:3] != obj.key_prefix:
            raise not_found(f"Provided external ID field does not exist or is not accessible: {raw_id}")
        fields = fields_param(request, obj)
        row = await run_in_threadpool(fetch_row, obj, rid)
        if row is None:
            raise not_found()
        if row["IsDeleted"]:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return json_response(with_attributes(version, obj, record_from_row(obj, row, fields)))

    async def update_record(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        raw_id = request.path_params["record_id"]
        rid = parse_id(raw_id)
        if rid is None or rid[:3] != obj.key_prefix:
            raise not_found(f"Provided external ID field does not exist or is not accessible: {raw_id}")
        data = await body_record(request, obj)
        data = {k: v for k, v in data.items() if k.lower() != "id"}
        fault = org.lock_fault(request.method, request.url.path)
        record = {**data, "Id": rid}
        result = (await run_in_threadpool(lambda: db.write("update", obj.name, [record], lock_fault=fault)))[0]
        results_or_error(result)
        return Response(status_code=204)

    async def delete_record(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        raw_id = request.path_params["record_id"]
        rid = parse_id(raw_id)
        if rid is None or rid[:3] != obj.key_prefix:
            raise not_found(f"Provided external ID field does not exist or is not accessible: {raw_id}")
        fault = org.lock_fault(request.method, request.url.path)
        result = (await run_in_threadpool(lambda: db.write("delete", obj.name, [{"Id": rid}], lock_fault=fault)))[0]
        results_or_error(result)
        return Response(status_code=204)

    # -- by external id -------------------------------------------------------------------------

    def external_field(obj: ObjectDef, name: str) -> FieldDef:
        f = obj.field(name)
        if f is None or not is_id_lookup(obj, f):
            raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
        return f

    def matching_ids(obj: ObjectDef, f: FieldDef, value: str) -> list[str]:
        collate = "COLLATE BINARY" if f.case_sensitive else ""
        sql = f"SELECT Id FROM {quote(obj.name)} WHERE IsDeleted = 0 AND {quote(f.name)} {{in_}}"
        with db.reading() as conn:
            return [r[0] for r in select_in(conn, sql, [value], collate=collate)]

    def multiple_choices(version: str, obj: ObjectDef, ids: list[str]) -> Response:
        return json_response([record_url(version, obj, rid) for rid in ids], status=300)

    async def get_by_external_id(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        version = request.path_params["version"]
        f = external_field(obj, request.path_params["field"])
        value = request.path_params["value"]
        ids = await run_in_threadpool(matching_ids, obj, f, value)
        if not ids:
            raise not_found()
        if len(ids) > 1:
            return multiple_choices(version, obj, ids)
        fields = fields_param(request, obj)
        row = await run_in_threadpool(fetch_row, obj, ids[0])
        return json_response(with_attributes(version, obj, record_from_row(obj, row, fields)))

    async def upsert_record(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        version = request.path_params["version"]
        f = external_field(obj, request.path_params["field"])
        value = request.path_params["value"]
        data = await body_record(request, obj)
        if any(k.lower() == f.name.lower() for k in data):
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"The external ID field {f.name} is specified in the URL; it cannot also be set in the request body",
            )
        if f.name != "Id":
            ids = await run_in_threadpool(matching_ids, obj, f, value)
            if len(ids) > 1:
                return multiple_choices(version, obj, ids)
            if not ids and request.query_params.get("updateOnly", "").lower() == "true":
                raise not_found()
        fault = org.lock_fault(request.method, request.url.path)
        record = {**data, f.name: value}
        result = (
            await run_in_threadpool(
                lambda: db.write("upsert", obj.name, [record], external_id_field=f.name, lock_fault=fault)
            )
        )[0]
        results_or_error(result)
        body = {"id": result.id, "success": True, "errors": [], "created": result.created}
        if result.created:
            return json_response(body, status=201)
        if float(version) >= 46.0:
            return json_response(body, status=200)
        return Response(status_code=204)

    async def delete_by_external_id(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        version = request.path_params["version"]
        f = external_field(obj, request.path_params["field"])
        ids = await run_in_threadpool(matching_ids, obj, f, request.path_params["value"])
        if not ids:
            raise not_found()
        if len(ids) > 1:
            return multiple_choices(version, obj, ids)
        fault = org.lock_fault(request.method, request.url.path)
        result = (await run_in_threadpool(lambda: db.write("delete", obj.name, [{"Id": ids[0]}], lock_fault=fault)))[0]
        results_or_error(result)
        return Response(status_code=204)

    # -- sObject Collections --------------------------------------------------------------------

    async def collection_body(request: Request) -> tuple[bool, list[dict[str, Any]]]:
        data = await json_body(request)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a records array")
        records = data["records"]
        if len(records) > COLLECTION_LIMIT:
            raise ApiError(
                400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
            )
        if not all(isinstance(r, dict) for r in records):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        return bool(data.get("allOrNone", False)), records

    def record_type(record: dict[str, Any], default: str | None = None) -> str:
        attributes = record.get("attributes")
        name = attributes.get("type") if isinstance(attributes, dict) else None
        if not name and default is None:
            raise ApiError(400, "INVALID_TYPE", "sObject type must be specified in the attributes of each record")
        return str(name or default)

    async def run_collection(
        request: Request, operation: str, records: list[dict[str, Any]], types: list[str], all_or_none: bool,
        external_id_field: str | None = None,
    ) -> list[RowResult]:  # fmt: skip
        # Group by type (a collection may mix objects), keep request order in the answer.
        order: dict[str, list[int]] = {}
        for i, name in enumerate(types):
            order.setdefault(org.object(name).name, []).append(i)
        batches = [
            WriteBatch(operation, name, [records[i] for i in idx], external_id_field)  # type: ignore[arg-type]
            for name, idx in order.items()
        ]
        fault = org.lock_fault(request.method, request.url.path)
        grouped = await run_in_threadpool(lambda: db.write_batches(batches, all_or_none=all_or_none, lock_fault=fault))
        results: list[RowResult] = [RowResult(None, False)] * len(records)
        for idx, batch_results in zip(order.values(), grouped, strict=True):
            for i, result in zip(idx, batch_results, strict=True):
                results[i] = result
        return results

    def save_results(results: list[RowResult], *, upsert: bool = False) -> Response:
        body = []
        for r in results:
            item: dict[str, Any] = {"id": r.id, "success": r.success, "errors": [e.collection() for e in r.errors]}
            if upsert:
                item["created"] = r.created if r.success else False
            body.append(item)
        return json_response(body)

    async def collection_create(request: Request) -> Response:
        all_or_none, records = await collection_body(request)
        types = [record_type(r) for r in records]
        return save_results(await run_collection(request, "insert", records, types, all_or_none))

    async def collection_update(request: Request) -> Response:
        all_or_none, records = await collection_body(request)
        types = [record_type(r) for r in records]
        return save_results(await run_collection(request, "update", records, types, all_or_none))

    async def collection_upsert(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        f = external_field(obj, request.path_params["field"])
        all_or_none, records = await collection_body(request)
        types = [record_type(r, obj.name) for r in records]
        if any(t.lower() != obj.name.lower() for t in types):
            raise ApiError(400, "INVALID_TYPE", f"All records must be of type {obj.name}")
        return save_results(await run_collection(request, "upsert", records, types, all_or_none, f.name), upsert=True)

    async def collection_delete(request: Request) -> Response:
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if not ids:
            raise ApiError(400, "MISSING_ARGUMENT", "Missing parameter: ids")
        if len(ids) > COLLECTION_LIMIT:
            raise ApiError(
                400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
            )
        all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
        types, records, bad = [], [], {}
        for i, raw in enumerate(ids):
            rid = parse_id(raw)
            obj = schema.by_prefix(rid[:3]) if rid else None
            if obj is None:
                bad[i] = RecordError("MALFORMED_ID", f"malformed id {raw}")
                continue
            types.append(obj.name)
            records.append({"Id": rid})
        done = iter(await run_collection(request, "delete", records, types, all_or_none)) if records else iter([])
        results = [RowResult(None, False, [bad[i]]) if i in bad else next(done) for i in range(len(ids))]
        if all_or_none and bad:
            results = [r if not r.success else RowResult(None, False, [ROLLED_BACK]) for r in results]
        return save_results(results)

    async def collection_retrieve(request: Request) -> Response:
        obj = org.object(request.path_params["sobject"])
        version = request.path_params["version"]
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if not request.query_params.get("fields"):
            raise ApiError(400, "MISSING_ARGUMENT", "Missing parameter: fields")
        fields = fields_param(request, obj)

        def load() -> list[Any]:
            canonical = [parse_id(i) for i in ids]
            columns = [f.name for f in obj.fields.values()]
            selected = ", ".join(quote(c) for c in columns)
            sql = f"SELECT {selected} FROM {quote(obj.name)} WHERE IsDeleted = 0 AND Id {{in_}}"
            with db.reading() as conn:
                found = [dict(zip(columns, r, strict=True)) for r in select_in(conn, sql, [c for c in canonical if c])]
            by_id = {r["Id"]: r for r in found}
            return [by_id.get(c or "") for c in canonical]

        rows = await run_in_threadpool(load)
        return json_response(
            [with_attributes(version, obj, record_from_row(obj, r, fields)) if r else None for r in rows]
        )

    # -- queries ----------------------------------------------------------------------------------

    def batch_size(request: Request) -> int:
        default = org.config.query_batch_size
        m = _BATCH_SIZE_RE.search(request.headers.get("sforce-query-options", ""))
        if not m:
            return default
        return max(200, min(int(m.group(1)), default))

    def make_query(include_deleted: bool):  # type: ignore[no-untyped-def]
        async def query(request: Request) -> Response:
            from sandbox.org.soql import SoqlError, run_query

            version = request.path_params["version"]
            soql = request.query_params.get("q")
            if not soql:
                raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")

            def run() -> Any:
                with db.reading() as conn:
                    return run_query(conn, schema, soql, api_version=version, include_deleted=include_deleted)

            try:
                result = await run_in_threadpool(run)
            except SoqlError as error:
                raise ApiError(400, error.error_code, error.message) from None
            return json_response(
                page(
                    cursors,
                    version,
                    result.records,
                    total_size=result.total_size,
                    offset=0,
                    batch_size=batch_size(request),
                    include_deleted=include_deleted,
                )
            )

        async def query_more(request: Request) -> Response:
            version = request.path_params["version"]
            locator, _, offset = request.path_params["locator"].rpartition("-")
            cursor = cursors.get(locator) if offset.isdigit() else None
            if cursor is None or int(offset) > len(cursor.records):
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return json_response(
                page(
                    cursors,
                    version,
                    cursor.records,
                    total_size=cursor.total_size,
                    offset=int(offset),
                    batch_size=cursor.batch_size,
                    include_deleted=cursor.include_deleted,
                    locator=locator,
                )
            )

        return query, query_more

    query, query_more = make_query(False)
    query_all, query_all_more = make_query(True)

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        return Route(path, api(org, handler), methods=methods)

    v = "/data/v{version}"
    return [
        Route("/data", versions, methods=["GET"]),
        route(v, resources, ["GET"]),
        route(f"{v}/limits", limits, ["GET"]),
        route(f"{v}/sobjects", sobjects, ["GET"]),
        route(f"{v}/sobjects/{{sobject}}", sobject_info, ["GET"]),
        route(f"{v}/sobjects/{{sobject}}", create, ["POST"]),
        route(f"{v}/sobjects/{{sobject}}/describe", describe, ["GET"]),
        route(f"{v}/sobjects/{{sobject}}/{{record_id}}", get_record, ["GET"]),
        route(f"{v}/sobjects/{{sobject}}/{{record_id}}", update_record, ["PATCH"]),
        route(f"{v}/sobjects/{{sobject}}/{{record_id}}", delete_record, ["DELETE"]),
        route(f"{v}/sobjects/{{sobject}}/{{field}}/{{value:path}}", get_by_external_id, ["GET"]),
        route(f"{v}/sobjects/{{sobject}}/{{field}}/{{value:path}}", upsert_record, ["PATCH"]),
        route(f"{v}/sobjects/{{sobject}}/{{field}}/{{value:path}}", delete_by_external_id, ["DELETE"]),
        route(f"{v}/composite/sobjects", collection_create, ["POST"]),
        route(f"{v}/composite/sobjects", collection_update, ["PATCH"]),
        route(f"{v}/composite/sobjects", collection_delete, ["DELETE"]),
        route(f"{v}/composite/sobjects/{{sobject}}", collection_retrieve, ["GET"]),
        route(f"{v}/composite/sobjects/{{sobject}}/{{field}}", collection_upsert, ["PATCH"]),
        route(f"{v}/query", query, ["GET"]),
        route(f"{v}/query/{{locator}}", query_more, ["GET"]),
        route(f"{v}/queryAll", query_all, ["GET"]),
        route(f"{v}/queryAll/{{locator}}", query_all_more, ["GET"]),
    ]
