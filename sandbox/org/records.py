"""The sandbox org's write engine and :class:`OrgDB`, its records in SQLite.

One engine (:class:`WriteEngine`) performs every insert, update, upsert and delete — single
REST calls, sObject Collections, Bulk 2.0 jobs, and the data generator through :class:`OrgDB` —
so all of them enforce the same rules with Salesforce's own error codes and messages: field
permissions, required fields, lengths, restricted picklists, e-mail format, numeric ranges,
references and parents named by external id, unique fields, the Order lifecycle (created as
Draft; activation is an update of Status alone), and computed fields (Contact/User ``Name``,
Task ``IsClosed``, Order ``OrderNumber``/``StatusCode``/``ActivatedDate``).

Work is batch-shaped so that 100k records take seconds: lookups are ``IN`` queries per batch,
writes are ``executemany`` in one transaction, and nothing is cached in memory — other
processes writing the same SQLite file (the data generator) are seen at once.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sandbox.org.errors import ROLLED_BACK, ApiError, RecordError
from sandbox.org.schema import FieldDef, ObjectDef, OrgSchema, load_schema, queues_from_metadata
from sandbox.org.storage import create_tables, format_datetime, from_db, next_ids, quote, to_db
from sandbox.org.values import ExtRef, JsonRecordReader, RowInput, field_label, is_id_lookup, parse_id

Operation = Literal["insert", "update", "upsert", "delete"]
LockFault = Callable[[], bool]

DEFAULT_USERNAME = "integration@ats-store.sandbox"
ORDER_NUMBER_START = 100
_CHUNK = 500  # values per IN (...) lookup, well under SQLite's parameter limit
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
# Columns the engine's rules read from a record being updated (beyond those the update sets).
_RULE_COLUMNS = {
    "Contact": ("FirstName", "LastName"),
    "User": ("FirstName", "LastName"),
    "Order": ("Status", "StatusCode", "AccountId"),
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PERMISSION_HINT = (
    "Please check the security settings of this field and verify that it is read/write for your profile "
    "or permission set."
)


def fold(f: FieldDef, value: Any) -> str:
    """The comparison key of a value of ``f``: ASCII-lowercased unless case-sensitive, as SQLite NOCASE."""
    text = value if type(value) is str else str(value)
    return text if f.case_sensitive else text.translate(_ASCII_LOWER)


@dataclass
class RowResult:
    """The outcome of one record: Salesforce's SaveResult/UpsertResult."""

    id: str | None
    success: bool
    errors: list[RecordError] = field(default_factory=list)
    created: bool = False


class OrgWriteError(ValueError):
    """Raised by :class:`OrgDB` helpers when records fail; lists every failure."""

    def __init__(self, object_name: str, operation: str, results: list[RowResult]) -> None:
        self.results = results
        failures = [(i, r) for i, r in enumerate(results) if not r.success and r.errors != [ROLLED_BACK]]
        lines = [
            f"  record {i}: " + "; ".join(f"{e.status_code}: {e.message}" for e in r.errors) for i, r in failures[:20]
        ]
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        super().__init__(f"{operation} of {object_name}: {len(failures)} record(s) failed\n" + "\n".join(lines) + more)


def select_in(conn: sqlite3.Connection, sql: str, values: Iterable[Any], *, collate: str = "") -> list[tuple[Any, ...]]:
    """Plain tuples of ``sql`` (with one ``{in_}`` placeholder) for all ``values``, in chunks."""
    unique = list(dict.fromkeys(values))
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        cursor = conn.cursor()
        cursor.row_factory = None  # tuples: several times faster than sqlite3.Row for big batches
        found.extend(cursor.execute(sql.format(in_=f"{collate} IN ({','.join('?' * len(chunk))})"), chunk))
    return found


@dataclass
class _Row:
    """Working state of one record inside the engine."""

    values: dict[str, Any]
    errors: list[RecordError]
    id: str | None = None
    existing: dict[str, Any] | None = None
    created: bool = False
    changes: dict[str, Any] = field(default_factory=dict)
    trusted_refs: set[str] = field(default_factory=set)  # reference fields resolved from external ids
    purge: list[str] = field(default_factory=list)  # deleted records holding a unique value we take

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _ObjectRules:
    """What the engine needs of an object, computed once per schema object."""

    by_name: dict[str, FieldDef]  # canonical name → field
    columns: list[str]
    defaults: list[tuple[FieldDef, Any]]
    required: list[FieldDef]
    unique: list[FieldDef]
    not_createable: frozenset[str]
    not_updateable: frozenset[str]
    text: frozenset[str]  # text-like, non-reference fields
    references: frozenset[str]
    has_owner: bool
    person_name: bool  # Name computed from FirstName/LastName


class WriteEngine:
    """Validates and writes records of one object; call inside a transaction of ``conn``."""

    def __init__(self, conn: sqlite3.Connection, schema: OrgSchema, user_id: str | None) -> None:
        self.conn = conn
        self.schema = schema
        self.user_id = user_id
        self._rules: dict[str, _ObjectRules] = {}

    def rules(self, obj: ObjectDef) -> _ObjectRules:
        """The object's precomputed rules."""
        found = self._rules.get(obj.name)
        if found is None:
            fields = list(obj.fields.values())
            found = _ObjectRules(
                by_name={f.name: f for f in fields},
                columns=[f.name for f in fields],
                defaults=[(f, to_db(f, f.default)) for f in fields if f.default is not None],
                required=[f for f in fields if f.required],
                unique=[f for f in fields if f.unique],
                not_createable=frozenset(f.name for f in fields if not f.createable),
                not_updateable=frozenset(f.name for f in fields if not f.updateable),
                text=frozenset(f.name for f in fields if f.is_text and f.type != "reference"),
                references=frozenset(f.name for f in fields if f.type == "reference"),
                has_owner=obj.field("OwnerId") is not None,
                person_name=obj.name in ("Contact", "User"),
            )
            self._rules[obj.name] = found
        return found

    # -----------------------------------------------------------------------------------------
    # entry point
    # -----------------------------------------------------------------------------------------

    def run(
        self,
        operation: Operation,
        obj: ObjectDef,
        inputs: Sequence[RowInput],
        *,
        external_id_field: FieldDef | None = None,
        all_or_none: bool = False,
        lock_fault: LockFault | None = None,
    ) -> list[RowResult]:
        """Perform ``operation`` on ``inputs``; one result per input, in order."""
        now = format_datetime(datetime.now(UTC))
        rows = [_Row(dict(r.values), list(r.errors)) for r in inputs]
        if operation == "insert":
            for row in rows:
                row.created = True
                if "Id" in row.values:
                    row.errors.append(
                        RecordError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
                    )
        elif operation in ("update", "delete"):
            self._target_by_id(obj, rows, operation)
        else:
            if external_id_field is None:
                raise ValueError("upsert needs an external id field")
            self._target_by_external_id(obj, rows, external_id_field)
        if operation != "delete":
            self._resolve_parents(rows)
            for row in rows:
                if row.ok:
                    self._validate(obj, row, now)
            self._check_references(obj, rows)
            self._check_unique(obj, rows, external_id_field if operation == "upsert" else None)
        self._assign_ids(obj, rows)
        if lock_fault is not None:
            for row in rows:
                if row.ok and lock_fault():
                    row.errors.append(
                        RecordError(
                            "UNABLE_TO_LOCK_ROW",
                            f"unable to obtain exclusive access to this record or 1 records: {self._lock_id(row)}",
                        )
                    )
        if all_or_none and any(not row.ok for row in rows):
            return [RowResult(None, False, row.errors or [ROLLED_BACK]) for row in rows]
        self._write(obj, operation, rows, now)
        # A failed insert has no record: the id reserved for it is not reported.
        return [
            RowResult(row.id, True, [], row.created)
            if row.ok
            else RowResult(row.id if row.existing is not None else None, False, row.errors)
            for row in rows
        ]

    # -----------------------------------------------------------------------------------------
    # finding the records to change
    # -----------------------------------------------------------------------------------------

    def _fetch(self, obj: ObjectDef, rows: list[_Row]) -> dict[str, dict[str, Any]]:
        """Current values of the records ``rows`` change: the columns they touch and the rules read."""
        wanted = dict.fromkeys(["Id", "IsDeleted", *_RULE_COLUMNS.get(obj.name, ())])
        for row in rows:
            wanted.update(dict.fromkeys(row.values))
        columns = list(wanted)
        sql = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(obj.name)} WHERE Id {{in_}}"
        return {r[0]: dict(zip(columns, r, strict=True)) for r in select_in(self.conn, sql, (row.id for row in rows))}

    def _target_by_id(self, obj: ObjectDef, rows: list[_Row], operation: str) -> None:
        id_field = obj.fields["id"]
        for row in rows:
            raw = row.values.pop("Id", None)
            if raw is None:
                verb = "a delete" if operation == "delete" else "an update"
                row.errors.append(RecordError("MISSING_ARGUMENT", f"Id not specified in {verb} call", ["Id"]))
                continue
            rid = parse_id(raw)
            if rid is None or rid[:3] != obj.key_prefix:
                row.errors.append(
                    RecordError(
                        "MALFORMED_ID", f"{field_label(obj, id_field)}: id value of incorrect type: {raw}", ["Id"]
                    )
                )
                continue
            row.id = rid
        self._attach_existing(obj, [r for r in rows if r.id])

    def _attach_existing(self, obj: ObjectDef, rows: list[_Row]) -> None:
        existing = self._fetch(obj, [r for r in rows if r.id])
        for row in rows:
            current = existing.get(row.id or "")
            if current is None:
                row.errors.append(RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
            elif current["IsDeleted"]:
                row.errors.append(RecordError("ENTITY_IS_DELETED", "entity is deleted"))
            else:
                row.existing = current

    def _target_by_external_id(self, obj: ObjectDef, rows: list[_Row], ext: FieldDef) -> None:
        if ext.name == "Id":
            # Upsert on Id: rows without one are inserted, the others must exist.
            with_id = []
            for row in rows:
                if row.values.get("Id") is None:
                    row.created = True
                    row.values.pop("Id", None)
                else:
                    with_id.append(row)
            self._target_by_id(obj, with_id, "update")
            return
        groups: dict[str, list[_Row]] = defaultdict(list)
        for row in rows:
            value = row.values.get(ext.name)
            if value is None or value == "":
                row.errors.append(RecordError("MISSING_ARGUMENT", f"{ext.name} not specified", [ext.name]))
                continue
            groups[fold(ext, value)].append(row)
        matches: dict[str, list[str]] = defaultdict(list)
        column = quote(ext.name)
        sql = f"SELECT Id, {column} AS v FROM {quote(obj.name)} WHERE IsDeleted = 0 AND {column} {{in_}}"
        collate = "COLLATE BINARY" if ext.case_sensitive else ""
        for rid, value in select_in(self.conn, sql, groups, collate=collate):
            matches[fold(ext, value)].append(rid)
        to_update: list[_Row] = []
        for key, members in groups.items():
            if len(members) > 1:
                for row in members:
                    row.errors.append(
                        RecordError(
                            "DUPLICATE_EXTERNAL_ID",
                            f"Duplicate external id specified: {row.values[ext.name]}",
                            [ext.name],
                        )
                    )
                continue
            row = members[0]
            found = matches.get(key, [])
            if not found:
                row.created = True
            elif len(found) == 1:
                row.id = found[0]
                to_update.append(row)
            else:
                row.errors.append(
                    RecordError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"more than one record found for external id field: [{', '.join(found)}]",
                        [ext.name],
                    )
                )
        self._attach_existing(obj, to_update)

    # -----------------------------------------------------------------------------------------
    # parents named by external id
    # -----------------------------------------------------------------------------------------

    def _resolve_parents(self, rows: list[_Row]) -> None:
        wanted: dict[tuple[str, str], list[tuple[_Row, str, ExtRef]]] = defaultdict(list)
        for row in rows:
            if not row.ok:
                continue
            for name, value in row.values.items():
                if isinstance(value, ExtRef):
                    wanted[(value.target.name, value.target_field.name)].append((row, name, value))
        for (_, _), refs in wanted.items():
            target, tf = refs[0][2].target, refs[0][2].target_field
            found: dict[str, list[str]] = defaultdict(list)
            if tf.name == "Id":
                ids = [i for _, _, ref in refs if (i := parse_id(ref.value))]
                sql = f"SELECT Id AS v, Id FROM {quote(target.name)} WHERE IsDeleted = 0 AND Id {{in_}}"
                for value, rid in select_in(self.conn, sql, ids):
                    found[fold(tf, value)].append(rid)
            else:
                sql = (
                    f"SELECT Id, {quote(tf.name)} AS v FROM {quote(target.name)} "
                    f"WHERE IsDeleted = 0 AND {quote(tf.name)} {{in_}}"
                )
                collate = "COLLATE BINARY" if tf.case_sensitive else ""
                for rid, value in select_in(self.conn, sql, (ref.value for _, _, ref in refs), collate=collate):
                    found[fold(tf, value)].append(rid)
            for row, name, ref in refs:
                key = fold(tf, parse_id(ref.value) or ref.value) if tf.name == "Id" else fold(tf, ref.value)
                ids = found.get(key, [])
                if len(ids) == 1:
                    row.values[name] = ids[0]
                    row.trusted_refs.add(name)
                elif not ids:
                    row.errors.append(
                        RecordError(
                            "INVALID_FIELD",
                            f"Foreign key external ID: {ref.value} not found for field {tf.name} "
                            f"in entity {target.name}",
                        )
                    )
                else:
                    row.errors.append(
                        RecordError(
                            "INVALID_FIELD",
                            f"Foreign key external ID: {ref.value} for field {tf.name} in entity {target.name} "
                            "matches multiple records",
                        )
                    )

    # -----------------------------------------------------------------------------------------
    # per-record validation
    # -----------------------------------------------------------------------------------------

    def _validate(self, obj: ObjectDef, row: _Row, now: str) -> None:
        inserting = row.existing is None
        rules = self.rules(obj)
        by_name = rules.by_name
        locked = rules.not_createable if inserting else rules.not_updateable
        forbidden = [name for name in row.values if name in locked]
        if forbidden:
            row.errors.append(
                RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {', '.join(forbidden)}. {_PERMISSION_HINT}",
                    forbidden,
                )
            )
            return
        changes = row.changes
        errors = row.errors
        text = rules.text
        cleared: list[FieldDef] = []
        for name, value in row.values.items():
            f = by_name[name]
            if name in text:
                if value == "":
                    value = None  # Salesforce stores an empty text value as null
                elif value is not None and len(value) <= f.length and f.type == "string":
                    changes[name] = value  # the common case, nothing more to check
                    continue
            if value is None:
                if f.type == "boolean":
                    changes[name] = 0  # a checkbox cannot be null
                else:
                    changes[name] = None
                    cleared.append(f)
                continue
            if f.type == "reference" and name not in row.trusted_refs:
                rid = parse_id(value)
                error = self._check_reference(obj, f, value, rid)
                value = rid
            else:
                error = self._check_value(obj, f, value)
            if error is not None:
                errors.append(error)
                continue
            changes[name] = to_db(f, value)
        if inserting:
            for f, default in rules.defaults:
                changes.setdefault(f.name, default)
            if rules.has_owner and changes.get("OwnerId") is None:
                changes["OwnerId"] = self.user_id
            # A field given a bad value was given: its own error says so, not "missing".
            missing = [f.name for f in rules.required if changes.get(f.name) is None and f.name not in row.values]
            missing += [f.name for f in cleared if f.required]
        else:
            missing = [f.name for f in cleared if f.required]
        if missing:
            errors.append(
                RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
            )
        if errors:
            return
        self._computed(obj, row, now)
        if inserting:
            changes.update(IsDeleted=0, CreatedDate=now, CreatedById=self.user_id)
        changes.update(LastModifiedDate=now, LastModifiedById=self.user_id, SystemModstamp=now)

    def _check_reference(self, obj: ObjectDef, f: FieldDef, value: Any, rid: str | None) -> RecordError | None:
        """Format and target type of an id given for a reference field (existence is checked in batch)."""
        label = field_label(obj, f)
        if rid is None:
            return RecordError("MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [f.name])
        targets = [self.schema.object(t) for t in f.reference_to]
        if not any(t is not None and t.key_prefix == rid[:3] for t in targets):
            return RecordError("FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", [f.name])
        return None

    def _check_value(self, obj: ObjectDef, f: FieldDef, value: Any) -> RecordError | None:
        """Length, picklist, e-mail and numeric range checks of a non-null value."""
        kind = f.type
        if f.is_text:
            if f.length and len(value) > f.length:
                return RecordError(
                    "STRING_TOO_LONG",
                    f"{field_label(obj, f)}: data value too large: {value} (max length={f.length})",
                    [f.name],
                )
            if kind == "picklist" and f.restricted and value not in f.picklist:
                return RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field_label(obj, f)}: bad value for restricted picklist field: {value}",
                    [f.name],
                )
            if kind == "email" and not _EMAIL_RE.match(value):
                return RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{field_label(obj, f)}: invalid email address: {value}", [f.name]
                )
            return None
        if kind in ("currency", "double", "int"):
            digits = (f.precision or 18) - f.scale
            if abs(value) >= 10**digits:
                return RecordError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{field_label(obj, f)}: value outside of valid range on numeric field: {value}",
                    [f.name],
                )
        return None

    def _computed(self, obj: ObjectDef, row: _Row, now: str) -> None:
        """Fields the org derives from others, and the Order lifecycle rules."""
        changes = row.changes
        current = row.existing or {}

        def after(name: str) -> Any:
            return changes[name] if name in changes else current.get(name)

        if self.rules(obj).person_name and (row.existing is None or {"FirstName", "LastName"} & changes.keys()):
            changes["Name"] = " ".join(p for p in (after("FirstName"), after("LastName")) if p)
        if obj.name == "Task" and "Status" in changes:
            changes["IsClosed"] = 1 if changes["Status"] == "Completed" else 0
        if obj.name == "Order":
            self._order_rules(row, now)

    def _order_rules(self, row: _Row, now: str) -> None:
        changes = row.changes
        if row.existing is None:
            if changes.get("Status") != "Draft":
                row.errors.append(
                    RecordError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "You can't create an order with an activated status. Create the order as Draft, then "
                        "activate it.",
                        ["Status"],
                    )
                )
                return
            changes["StatusCode"] = "Draft"
            return
        old = row.existing
        was_active = old.get("StatusCode") == "Activated"
        new_status = changes.get("Status", old.get("Status"))
        if was_active and "AccountId" in changes and changes["AccountId"] != old.get("AccountId"):
            row.errors.append(
                RecordError(
                    "FIELD_INTEGRITY_EXCEPTION", "You can't change the account on an activated order.", ["AccountId"]
                )
            )
            return
        if not was_active and new_status == "Activated":
            others = [k for k, v in changes.items() if k != "Status" and v != old.get(k)]
            if others:
                row.errors.append(
                    RecordError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "You can't activate an order and change other fields in the same update. Activate the "
                        "order in a separate update.",
                        others,
                    )
                )
                return
            changes.update(StatusCode="Activated", ActivatedDate=now)
        elif was_active and new_status != "Activated":
            changes.update(StatusCode="Draft", ActivatedDate=None)

    # -----------------------------------------------------------------------------------------
    # checks needing the database, batched
    # -----------------------------------------------------------------------------------------

    def _check_references(self, obj: ObjectDef, rows: list[_Row]) -> None:
        """Reference fields given as ids must name an existing, undeleted record."""
        by_prefix: dict[str, list[tuple[_Row, str]]] = defaultdict(list)
        references = self.rules(obj).references
        for row in rows:
            if not row.ok:
                continue
            for name in row.values:
                if name in references and name not in row.trusted_refs and (rid := row.changes.get(name)):
                    by_prefix[rid[:3]].append((row, name))
        for prefix, refs in by_prefix.items():
            target = self.schema.by_prefix(prefix)
            if target is None:
                continue
            sql = f"SELECT Id, IsDeleted FROM {quote(target.name)} WHERE Id {{in_}}"
            state = dict(select_in(self.conn, sql, (row.changes[n] for row, n in refs)))
            for row, name in refs:
                deleted = state.get(row.changes[name])
                if deleted is None:
                    row.errors.append(RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]))
                elif deleted:
                    row.errors.append(RecordError("ENTITY_IS_DELETED", "entity is deleted", [name]))

    def _check_unique(self, obj: ObjectDef, rows: list[_Row], matched_on: FieldDef | None) -> None:
        """Unique fields: no two records may share a value (case-insensitively unless case-sensitive)."""
        for f in self.rules(obj).unique:
            claims: dict[str, _Row] = {}
            for row in rows:
                value = row.changes.get(f.name) if row.ok else None
                if value is None or (f is matched_on and row.existing is not None):
                    continue  # an upserted record found by this very value already owns it
                key = fold(f, value)
                if key in claims and claims[key] is not row:
                    row.errors.append(
                        RecordError(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {f.name} duplicates value on record with id: <unknown>",
                        )
                    )
                    continue
                claims[key] = row
            if not claims:
                continue
            collate = "COLLATE BINARY" if f.case_sensitive else ""
            sql = f"SELECT Id, IsDeleted, {quote(f.name)} AS v FROM {quote(obj.name)} WHERE {quote(f.name)} {{in_}}"
            for rid, deleted, value in select_in(
                self.conn, sql, (row.changes[f.name] for row in claims.values()), collate=collate
            ):
                row = claims.get(fold(f, value))
                if row is None or rid == row.id:
                    continue
                if deleted:
                    # A deleted record keeps its value; the recycle bin makes way for the new owner.
                    row.purge.append(rid)
                else:
                    row.errors.append(
                        RecordError(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {f.name} duplicates value on record with id: {rid}",
                        )
                    )

    # -----------------------------------------------------------------------------------------
    # writing
    # -----------------------------------------------------------------------------------------

    def _assign_ids(self, obj: ObjectDef, rows: list[_Row]) -> None:
        new = [row for row in rows if row.ok and row.existing is None and row.created]
        if not new:
            return
        for row, rid in zip(new, next_ids(self.conn, obj, len(new)), strict=True):
            row.id = rid

    @staticmethod
    def _lock_id(row: _Row) -> str:
        if row.existing is not None or not row.changes:
            return row.id or ""
        # Inserting locks the parents: name the first one, as the real error does.
        parent = next((v for k, v in row.changes.items() if k.endswith("Id") and k != "OwnerId" and v), None)
        return parent or row.id or ""

    def _write(self, obj: ObjectDef, operation: Operation, rows: list[_Row], now: str) -> None:
        table = quote(obj.name)
        good = [row for row in rows if row.ok]
        purge = [rid for row in good for rid in row.purge]
        if purge:
            self.conn.executemany(f"DELETE FROM {table} WHERE Id = ?", [(rid,) for rid in purge])
        if operation == "delete":
            self.conn.executemany(
                f"UPDATE {table} SET IsDeleted = 1, LastModifiedDate = ?, LastModifiedById = ?, "
                "SystemModstamp = ? WHERE Id = ?",
                [(now, self.user_id, now, row.id) for row in good],
            )
            return
        inserts = [row for row in good if row.existing is None]
        if inserts:
            if obj.name == "Order":
                self._order_numbers(inserts)
            columns = self.rules(obj).columns
            for row in inserts:
                row.changes["Id"] = row.id
            self.conn.executemany(
                f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [tuple(map(row.changes.get, columns)) for row in inserts],
            )
        updates: dict[tuple[str, ...], list[_Row]] = defaultdict(list)
        for row in good:
            if row.existing is not None:
                updates[tuple(sorted(row.changes))].append(row)
        for columns_set, members in updates.items():
            assignments = ", ".join(f"{quote(c)} = ?" for c in columns_set)
            self.conn.executemany(
                f"UPDATE {table} SET {assignments} WHERE Id = ?",
                [(*(row.changes[c] for c in columns_set), row.id) for row in members],
            )

    def _order_numbers(self, rows: list[_Row]) -> None:
        key = "autonumber:Order.OrderNumber"
        current = self.conn.execute("SELECT value FROM _sequence WHERE prefix = ?", (key,)).fetchone()
        start = current[0] + 1 if current else ORDER_NUMBER_START
        self.conn.execute(
            "INSERT INTO _sequence (prefix, value) VALUES (?, ?) "
            "ON CONFLICT(prefix) DO UPDATE SET value = excluded.value",
            (key, start + len(rows) - 1),
        )
        for n, row in enumerate(rows, start):
            row.changes["OrderNumber"] = f"{n:08d}"


# ---------------------------------------------------------------------------------------------
# OrgDB
# ---------------------------------------------------------------------------------------------


@dataclass
class WriteBatch:
    """One object's share of a write: what :meth:`OrgDB.write_batches` takes."""

    operation: Operation
    object_name: str
    records: Sequence[dict[str, Any] | RowInput]
    external_id_field: str | None = None


class _RolledBack(Exception):
    def __init__(self, results: list[list[RowResult]]) -> None:
        super().__init__("all or none")
        self.results = results


class OrgDB:
    """The org's records in one SQLite file, with the API's validation (thread-safe).

    Opening a file creates the tables and seeds the org's fixed records on first use: the
    integration user (``username``, the login user) and the queues of the metadata, as Group
    rows of Type ``Queue`` with their QueueSobject rows. Without ``username`` the OrgDB acts as
    the integration user the file was first seeded with (``integration@ats-store.sandbox`` for a
    new file); records it creates are owned by and attributed to that user.

    The server keeps no rows in memory, so writes through another OrgDB on the same file (the
    data generator, tests) are visible to API clients at once.
    """

    def __init__(self, path: Path, schema: OrgSchema | None = None, *, username: str | None = None) -> None:
        self.path = Path(path)
        self.schema = schema or load_schema()
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        # Index pages of 100k-record batches must stay in memory, or inserts thrash the disk.
        self.conn.execute("PRAGMA cache_size=-131072")
        with self.transaction() as conn:
            create_tables(conn, self.schema)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _org_usage (day TEXT NOT NULL, name TEXT NOT NULL, "
                "count INTEGER NOT NULL, PRIMARY KEY (day, name))"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS _org_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            # Without a username, act as the org's integration user from its first seed.
            seeded = conn.execute("SELECT value FROM _org_meta WHERE key = 'integration_username'").fetchone()
        self.username: str = username or (seeded[0] if seeded else DEFAULT_USERNAME)
        self.user_id: str = self._seed()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction (rolled back on error)."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads (serialised with writes of this process)."""
        with self._lock:
            yield self.conn

    def object(self, name: str) -> ObjectDef:
        """The object named ``name`` (any case); KeyError if the org has none."""
        obj = self.schema.object(name)
        if obj is None:
            raise KeyError(f"sObject type '{name}' is not supported")
        return obj

    # -- writes ---------------------------------------------------------------------------------

    def write(
        self,
        operation: Operation,
        object_name: str,
        records: Sequence[dict[str, Any] | RowInput],
        *,
        external_id_field: str | None = None,
        all_or_none: bool = False,
        lock_fault: LockFault | None = None,
    ) -> list[RowResult]:
        """Run the write engine: one :class:`RowResult` per record, in order.

        ``records`` are JSON-style dicts (as in a REST body; Python dates and datetimes work
        too; ``{"Account": {"Ext__c": "x"}}`` names a parent by external id) or already-read
        :class:`RowInput`. Request-level problems (unknown field, bad type) raise
        :class:`~sandbox.org.errors.ApiError`.
        """
        batch = WriteBatch(operation, object_name, records, external_id_field)
        return self.write_batches([batch], all_or_none=all_or_none, lock_fault=lock_fault)[0]

    def write_batches(
        self, batches: Sequence[WriteBatch], *, all_or_none: bool = False, lock_fault: LockFault | None = None
    ) -> list[list[RowResult]]:
        """Several writes in one transaction (sObject Collections of mixed types); results per batch.

        With ``all_or_none``, one failure anywhere rolls everything back: failed records keep
        their errors, the others get ``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
        """
        prepared = []
        for batch in batches:
            obj = self.object(batch.object_name)
            reader = JsonRecordReader(self.schema, obj)
            inputs = [r if isinstance(r, RowInput) else reader.read(r) for r in batch.records]
            ext = None
            if batch.operation == "upsert":
                ext = obj.field(batch.external_id_field or "")
                if ext is None or not is_id_lookup(obj, ext):
                    raise ApiError(
                        404,
                        "NOT_FOUND",
                        f"Provided external ID field does not exist or is not accessible: {batch.external_id_field}",
                    )
            prepared.append((batch.operation, obj, inputs, ext))
        # One batch can stop before writing anything; several need a rollback of what was written.
        engine_all_or_none = all_or_none and len(prepared) == 1
        try:
            with self.transaction() as conn:
                engine = WriteEngine(conn, self.schema, self.user_id)
                results = [
                    engine.run(
                        op, obj, inputs, external_id_field=ext, all_or_none=engine_all_or_none, lock_fault=lock_fault
                    )
                    for op, obj, inputs, ext in prepared
                ]
                if all_or_none and any(not r.success for rs in results for r in rs):
                    raise _RolledBack(results)
        except _RolledBack as rolled:
            return [
                [RowResult(None, False, r.errors if not r.success else [ROLLED_BACK]) for r in rs]
                for rs in rolled.results
            ]
        return results

    def _checked(self, operation: Operation, object_name: str, results: list[RowResult]) -> list[str]:
        if any(not r.success for r in results):
            raise OrgWriteError(object_name, operation, results)
        return [r.id or "" for r in results]

    def insert(self, object_name: str, records: Sequence[dict[str, Any]]) -> list[str]:
        """Create records (all or none); their new ids, in order. Raises :class:`OrgWriteError`."""
        return self._checked("insert", object_name, self.write("insert", object_name, records, all_or_none=True))

    def upsert(self, object_name: str, external_id_field: str, records: Sequence[dict[str, Any]]) -> list[str]:
        """Create or update records matched on ``external_id_field`` (all or none); their ids."""
        results = self.write("upsert", object_name, records, external_id_field=external_id_field, all_or_none=True)
        return self._checked("upsert", object_name, results)

    def update(self, object_name: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change fields of one record (``None`` clears). Raises :class:`OrgWriteError`."""
        self._checked("update", object_name, self.write("update", object_name, [{**fields, "Id": record_id}]))

    def delete(self, object_name: str, record_ids: Sequence[str]) -> None:
        """Soft-delete records (``IsDeleted`` set; still visible to queryAll)."""
        records = [{"Id": rid} for rid in record_ids]
        self._checked("delete", object_name, self.write("delete", object_name, records, all_or_none=True))

    # -- reads ----------------------------------------------------------------------------------

    def get(self, object_name: str, record_id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        """One record as the REST API shows its fields (no ``attributes``), or None."""
        obj = self.object(object_name)
        rid = parse_id(record_id)
        if rid is None:
            return None
        with self.reading() as conn:
            row = conn.execute(f"SELECT * FROM {quote(obj.name)} WHERE Id = ?", (rid,)).fetchone()
        if row is None or (row["IsDeleted"] and not include_deleted):
            return None
        return record_from_row(obj, row)

    def count(self, object_name: str, *, include_deleted: bool = False) -> int:
        """How many records of the object exist (not deleted, unless asked)."""
        obj = self.object(object_name)
        where = "" if include_deleted else " WHERE IsDeleted = 0"
        with self.reading() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {quote(obj.name)}{where}").fetchone()[0])

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """All records of a SOQL query, REST-shaped (``attributes`` included)."""
        from sandbox.org.soql import run_query

        with self.reading() as conn:
            return run_query(conn, self.schema, soql, include_deleted=include_deleted).records

    def reset(self) -> None:
        """Delete every record and id sequence, then seed the fixed records again (usage counters stay)."""
        with self.transaction() as conn:
            for obj in self.schema.objects.values():
                conn.execute(f"DELETE FROM {quote(obj.name)}")
            conn.execute("DELETE FROM _sequence")
        self.user_id = self._seed()

    # -- API usage ------------------------------------------------------------------------------

    @staticmethod
    def _today() -> str:
        return datetime.now(UTC).date().isoformat()

    def add_usage(self, name: str, n: int = 1, *, limit: int | None = None) -> tuple[int, bool]:
        """Count ``n`` uses of ``name`` today unless that would pass ``limit``: (count now, counted?)."""
        day = self._today()
        with self.transaction() as conn:
            row = conn.execute("SELECT count FROM _org_usage WHERE day = ? AND name = ?", (day, name)).fetchone()
            current = row[0] if row else 0
            if limit is not None and current + n > limit:
                return current, False
            conn.execute(
                "INSERT INTO _org_usage (day, name, count) VALUES (?, ?, ?) "
                "ON CONFLICT(day, name) DO UPDATE SET count = excluded.count",
                (day, name, current + n),
            )
            return current + n, True

    def usage(self, name: str) -> int:
        """Today's count of ``name``."""
        with self.reading() as conn:
            row = conn.execute(
                "SELECT count FROM _org_usage WHERE day = ? AND name = ?", (self._today(), name)
            ).fetchone()
        return int(row[0]) if row else 0

    def set_usage(self, name: str, count: int) -> None:
        """Set today's count of ``name`` (admin/testing)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO _org_usage (day, name, count) VALUES (?, ?, ?) "
                "ON CONFLICT(day, name) DO UPDATE SET count = excluded.count",
                (self._today(), name, count),
            )

    # -- seed -----------------------------------------------------------------------------------

    def _seed(self) -> str:
        """Create the integration user and the queues if missing; the user's id."""
        with self.transaction() as conn:
            engine = WriteEngine(conn, self.schema, None)
            row = conn.execute('SELECT Id FROM "User" WHERE Username = ?', (self.username,)).fetchone()
            if row is None:
                local = self.username.split("@")[0]
                user = {
                    "Username": self.username,
                    "FirstName": "Integration",
                    "LastName": "User",
                    "Email": self.username if "@" in self.username else f"{local}@example.com",
                    "Alias": "integ",
                }
                result = engine.run(
                    "insert", self.object("User"), [JsonRecordReader(self.schema, self.object("User")).read(user)]
                )[0]
                if not result.success:
                    raise OrgWriteError("User", "seed", [result])
                user_id = result.id or ""
                conn.execute(
                    'UPDATE "User" SET CreatedById = ?, LastModifiedById = ? WHERE Id = ?', (user_id, user_id, user_id)
                )
            else:
                user_id = row[0]
            conn.execute(
                "INSERT OR IGNORE INTO _org_meta (key, value) VALUES ('integration_username', ?)", (self.username,)
            )
            engine.user_id = user_id
            group, queue_sobject = self.object("Group"), self.object("QueueSobject")
            for queue in queues_from_metadata():
                found = conn.execute(
                    "SELECT Id FROM \"Group\" WHERE Type = 'Queue' AND DeveloperName = ?", (queue["DeveloperName"],)
                ).fetchone()
                if found is not None:
                    continue
                values = {"Name": queue["Name"], "DeveloperName": queue["DeveloperName"], "Type": "Queue"}
                result = engine.run("insert", group, [RowInput(values)])[0]
                rows = [RowInput({"QueueId": result.id, "SobjectType": t}) for t in queue["SobjectTypes"]]
                engine.run("insert", queue_sobject, rows)
        return user_id


def record_from_row(
    obj: ObjectDef, row: sqlite3.Row | dict[str, Any], fields: Sequence[FieldDef] | None = None
) -> dict[str, Any]:
    """A stored row as REST JSON values (``fields`` in order; all fields by default)."""
    return {f.name: from_db(f, row[f.name]) for f in (fields or obj.fields.values())}
