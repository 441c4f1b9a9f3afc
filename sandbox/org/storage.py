"""How the sandbox org keeps records in SQLite: one table per sObject, one column per field.

Conventions shared by the SOQL engine and the REST/Bulk endpoints:

* table and column names are the canonical API names, always double-quoted (``"Group"``);
* text columns are ``COLLATE NOCASE`` because SOQL compares strings case-insensitively
  (SQLite folds ASCII only; good enough for a sandbox);
* booleans are 0/1, dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DDTHH:MM:SS.000+0000`` in UTC
  (the REST format, which also sorts correctly as text), numbers REAL/INTEGER;
* unique fields (external ids) have unique indexes, case-insensitive unless the field says so;
* ``Id`` is an 18-character Salesforce id made by :func:`salesforce_id`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Any

from sandbox.org.schema import FieldDef, ObjectDef, OrgSchema

SF_DATETIME = "%Y-%m-%dT%H:%M:%S.000+0000"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ORG_ID = "00D5g000004ATSsEAG"


def quote(name: str) -> str:
    """An SQL identifier, double-quoted (names come from the schema, never from requests)."""
    return '"' + name.replace('"', '""') + '"'


def salesforce_id(key_prefix: str, sequence: int) -> str:
    """An 18-character id: prefix, pod ``5g0``, base-62 sequence, and the case-safe checksum."""
    digits = ""
    n = sequence
    while True:
        n, r = divmod(n, 62)
        digits = _BASE62[r] + digits
        if n == 0:
            break
    base = f"{key_prefix}5g0{digits.rjust(9, '0')}"
    if len(base) != 15:
        raise ValueError(f"sequence {sequence} too large for a 15-character id")
    return base + id_suffix(base)


def id_suffix(base: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    suffix = ""
    for i in range(3):
        chunk = base[i * 5 : i * 5 + 5]
        bits = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def format_datetime(value: datetime) -> str:
    """A datetime in the Salesforce REST format, in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(SF_DATETIME)


def sql_type(f: FieldDef) -> str:
    """The column type of a field."""
    if f.type == "boolean" or f.type == "int":
        return "INTEGER"
    if f.type in ("currency", "double"):
        return "REAL"
    return "TEXT COLLATE NOCASE"


def create_tables(conn: sqlite3.Connection, schema: OrgSchema) -> None:
    """Create every object's table and indexes if missing (and add columns new in the schema)."""
    for obj in schema.objects.values():
        table = quote(obj.name)
        cols = [f"{quote(f.name)} {sql_type(f)}" + (" PRIMARY KEY" if f.name == "Id" else "")
                for f in obj.fields.values()]  # fmt: skip
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})")
        existing = {row[1].lower() for row in conn.execute(f"PRAGMA table_info({table})")}
        for f in obj.fields.values():
            if f.name.lower() not in existing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(f.name)} {sql_type(f)}")
        for f in obj.fields.values():
            index = quote(f"ix_{obj.name}_{f.name}")
            if f.unique:
                collate = "BINARY" if f.case_sensitive else "NOCASE"
                conn.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} ({quote(f.name)} COLLATE {collate})"
                )
            elif f.type == "reference" or f.name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                conn.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({quote(f.name)})")
    conn.execute("CREATE TABLE IF NOT EXISTS _sequence (prefix TEXT PRIMARY KEY, value INTEGER NOT NULL)")


def to_db(f: FieldDef, value: Any) -> Any:
    """A JSON/API value (already validated) as stored in the column."""
    if value is None:
        return None
    if f.type == "boolean":
        return 1 if value else 0
    if f.type == "datetime" and isinstance(value, datetime):
        return format_datetime(value)
    if f.type == "date" and isinstance(value, date):
        return value.isoformat()
    return value


def from_db(f: FieldDef, value: Any) -> Any:
    """A stored value as the REST API shows it in JSON."""
    if value is None:
        return None
    if f.type == "boolean":
        return bool(value)
    if f.type == "int":
        return int(value)
    if f.type in ("currency", "double"):
        return float(value)
    return value


def next_ids(conn: sqlite3.Connection, obj: ObjectDef, count: int) -> list[str]:
    """Reserve ``count`` fresh record ids for ``obj`` (call inside the writing transaction)."""
    row = conn.execute("SELECT value FROM _sequence WHERE prefix = ?", (obj.key_prefix,)).fetchone()
    start = (row[0] if row else 0) + 1
    conn.execute(
        "INSERT INTO _sequence (prefix, value) VALUES (?, ?) ON CONFLICT(prefix) DO UPDATE SET value = excluded.value",
        (obj.key_prefix, start + count - 1),
    )
    return [salesforce_id(obj.key_prefix, n) for n in range(start, start + count)]
