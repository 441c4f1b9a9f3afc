"""Reading field values the way Salesforce does: JSON bodies (REST) and CSV cells (Bulk 2.0).

Both readers turn a client's record into a :class:`RowInput` — canonical field names mapped to
typed values, :class:`ExtRef` for parents named by external id — which the write engine
(:mod:`sandbox.org.records`) validates and stores. What differs is how a bad value fails:

* REST deserialises the body before any DML, so a value of the wrong type fails the *request*
  (400 ``JSON_PARSER_ERROR``; an unknown field, 400 ``INVALID_FIELD``);
* Bulk 2.0 converts cell by cell, so a bad cell fails only its row
  (``INVALID_TYPE_ON_FIELD_IN_RECORD``); an unknown column fails the whole job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sandbox.org.errors import ApiError, RecordError
from sandbox.org.schema import FieldDef, ObjectDef, OrgSchema
from sandbox.org.storage import SF_DATETIME, id_suffix

_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|GMT[+-]\d{2}:?\d{2})?$"
)

# Real labels of the standard fields whose label is not their split API name.
_STANDARD_LABELS = {
    "Id": "{object} ID",
    "IsDeleted": "Deleted",
    "IsClosed": "Closed",
    "IsActive": "Active",
    "WhatId": "Related To ID",
    "WhoId": "Name ID",
    "EffectiveDate": "Order Start Date",
    "ActivityDate": "Due Date Only",
    "PoNumber": "PO Number",
    "StatusCode": "Status Category",
    "TotalAmount": "Order Amount",
    "BillToContactId": "Bill To Contact ID",
    "ShipToContactId": "Ship To Contact ID",
    "LastName": "Last Name",
    "FirstName": "First Name",
}
_OBJECT_LABELS = {("Account", "Name"): "Account Name", ("Contact", "Name"): "Full Name",
                  ("Account", "Type"): "Account Type", ("Order", "Type"): "Order Type",
                  ("Order", "Name"): "Order Name", ("Group", "Name"): "Name"}  # fmt: skip


def field_label(obj: ObjectDef, f: FieldDef) -> str:
    """The label Salesforce shows (and quotes in error messages) for a field."""
    if f.label:
        return f.label
    special = _OBJECT_LABELS.get((obj.name, f.name)) or _STANDARD_LABELS.get(f.name)
    if special:
        return special.format(object=obj.label)
    name = f.name
    suffix = ""
    if f.type == "reference" and name.endswith("Id"):
        name, suffix = name[:-2], " ID"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name) + suffix


def to_18(value: str) -> str:
    """A 15- or 18-character id in its canonical 18-character form."""
    base = value[:15]
    return base + id_suffix(base)


def parse_id(value: Any) -> str | None:
    """The canonical id for ``value``, or None when it is not a well-formed Salesforce id."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    return to_18(value)


@dataclass(frozen=True)
class ExtRef:
    """A parent named by external id (``"Account": {"Ext__c": "A-1"}`` or column ``Account.Ext__c``)."""

    field: FieldDef  # the reference field on the child (AccountId)
    target: ObjectDef
    target_field: FieldDef
    value: str


@dataclass
class RowInput:
    """One record as read from a request: field name → typed value, plus errors met reading it."""

    values: dict[str, Any]
    errors: list[RecordError] = field(default_factory=list)


class BadValue(Exception):
    """A value that cannot become the field's type; ``java_type`` names it as Salesforce does."""

    def __init__(self, java_type: str) -> None:
        super().__init__(java_type)
        self.java_type = java_type


_JAVA_TYPES = {"boolean": "boolean", "date": "date", "datetime": "datetime", "currency": "double",
               "double": "double", "int": "int"}  # fmt: skip


def _parse_date(text: str) -> str:
    m = _DATE_RE.match(text)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    # A datetime is accepted for a date field; the date part is kept.
    return _parse_datetime(text)[:10]


def _parse_datetime(text: str) -> str:
    m = _DATETIME_RE.match(text.strip())
    if not m:
        m_date = _DATE_RE.match(text.strip())
        if not m_date:
            raise ValueError(text)
        return datetime(int(m_date[1]), int(m_date[2]), int(m_date[3]), tzinfo=UTC).strftime(SF_DATETIME)
    year, month, day, hour, minute = (int(m[i]) for i in range(1, 6))
    second = int(m[6] or 0)
    micro = int((m[7] or "0").ljust(6, "0")[:6])
    tz = UTC
    if m[8] and m[8] != "Z":
        offset = m[8].removeprefix("GMT").replace(":", "")
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def coerce(f: FieldDef, value: Any, *, from_csv: bool = False) -> Any:
    """``value`` (JSON or Python, or a CSV cell) as the field's stored type; raises :class:`BadValue`."""
    if value is None:
        return None
    kind = f.type
    try:
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("true", "false") or (from_csv and lowered in ("1", "0")):
                    return lowered in ("true", "1")
            raise ValueError(value)
        if kind in ("currency", "double", "int"):
            if isinstance(value, bool | dict | list):
                raise ValueError(value)
            number = float(value) if isinstance(value, str) else value
            if not isinstance(number, int | float) or number != number:  # NaN
                raise ValueError(value)
            if kind == "int":
                if isinstance(number, float) and not number.is_integer():
                    raise ValueError(value)
                return int(number)
            return float(number)
        if kind == "date":
            if isinstance(value, datetime):
                return value.astimezone(UTC).date().isoformat() if value.tzinfo else value.date().isoformat()
            if isinstance(value, date):
                return value.isoformat()
            if not isinstance(value, str):
                raise ValueError(value)
            return _parse_date(value.strip())
        if kind == "datetime":
            if isinstance(value, datetime):
                aware = value if value.tzinfo else value.replace(tzinfo=UTC)
                return _parse_datetime(aware.isoformat())
            if isinstance(value, date):
                return _parse_datetime(value.isoformat())
            if not isinstance(value, str):
                raise ValueError(value)
            return _parse_datetime(value)
    except (ValueError, OverflowError, TypeError) as exc:
        raise BadValue(_JAVA_TYPES[kind]) from exc
    # Text-like types: Salesforce's deserialiser turns JSON numbers and booleans into text.
    if isinstance(value, dict | list):
        raise BadValue("string")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _json_token(value: Any) -> str:
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    return "VALUE_STRING"


def json_parser_error(java_type: str, value: Any) -> ApiError:
    """The 400 Salesforce answers when a JSON value cannot be deserialised into a field's type."""
    shown = "{" if isinstance(value, dict) else "[" if isinstance(value, list) else value
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {java_type} from {_json_token(value)} value {shown} "
        "or request may be missing a required field",
    )


def no_such_column(obj: ObjectDef, name: str) -> ApiError:
    """The 400 for a field the object does not have."""
    return ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")


def _ext_ref_field(schema: OrgSchema, ref: FieldDef, target_name: str | None, ext_name: str) -> ExtRef | str:
    """The :class:`ExtRef` template for ``ref`` by ``ext_name``, or an error message."""
    targets = ref.reference_to
    if target_name is None:
        if len(targets) != 1:
            return f"Polymorphic foreign key reference {ref.relationship_name} requires an sObject type"
        target_name = targets[0]
    if target_name.lower() not in (t.lower() for t in targets):
        return f"Invalid sObject type {target_name} for foreign key {ref.relationship_name}"
    target = schema.object(target_name)
    if target is None:
        return f"sObject type '{target_name}' is not supported."
    tf = target.field(ext_name)
    if tf is None:
        return f"No such column '{ext_name}' on sobject of type {target.name}"
    if not (tf.external_id or tf.name == "Id" or is_id_lookup(target, tf)):
        return f"Field name provided, {tf.name} is not an External ID or indexed field for {target.name}"
    return ExtRef(ref, target, tf, "")


def is_id_lookup(obj: ObjectDef, f: FieldDef) -> bool:
    """Whether upsert and parent references may match on ``f`` (describe's ``idLookup``)."""
    return f.name == "Id" or f.external_id or (obj.name, f.name) in (("Contact", "Email"), ("User", "Username"))


class JsonRecordReader:
    """Reads REST JSON records of one object into :class:`RowInput` (request-level errors raise)."""

    def __init__(self, schema: OrgSchema, obj: ObjectDef) -> None:
        self.schema = schema
        self.obj = obj
        # key as sent → (field, plain text?): one dict lookup per value in the common case.
        self._keys: dict[str, tuple[FieldDef, bool]] = {}

    def _field(self, key: str) -> tuple[FieldDef, bool] | None:
        found = self._keys.get(key)
        if found is None:
            f = self.obj.field(key)
            if f is None:
                return None
            found = self._keys[key] = (f, f.is_text and f.type != "reference")
        return found

    def read(self, data: dict[str, Any]) -> RowInput:
        """One JSON object (its ``attributes`` ignored) as a :class:`RowInput`."""
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key == "attributes":
                continue
            known = self._field(key)
            if known is not None:
                f, plain = known
                if plain and type(raw) is str:
                    values[f.name] = raw
                    continue
                if isinstance(raw, dict | list):
                    raise json_parser_error("string" if f.is_text else _JAVA_TYPES[f.type], raw)
                try:
                    values[f.name] = coerce(f, raw)
                except BadValue as bad:
                    raise json_parser_error(bad.java_type, raw) from None
                continue
            ref = self.obj.relationship(key)
            if ref is None:
                raise no_such_column(self.obj, key)
            values[ref.name] = self._relationship(ref, key, raw)
        return RowInput(values)

    def _relationship(self, ref: FieldDef, key: str, raw: Any) -> ExtRef | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise ApiError(
                400, "INVALID_FIELD", f"The value provided for foreign key reference {key} is not a nested SObject"
            )
        attrs = raw.get("attributes") or {}
        keys = [k for k in raw if k != "attributes"]
        if len(keys) != 1:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"The foreign key reference {key} must specify exactly one External ID or indexed field",
            )
        found = _ext_ref_field(self.schema, ref, attrs.get("type"), keys[0])
        if isinstance(found, str):
            raise ApiError(400, "INVALID_FIELD", found)
        value = raw[keys[0]]
        if isinstance(value, dict | list):
            raise json_parser_error("string", value)
        return ExtRef(ref, found.target, found.target_field, "" if value is None else coerce(found.target_field, value))


class CsvHeaderError(Exception):
    """A Bulk 2.0 header the org rejects; the message is the job's ``errorMessage``."""


class CsvRecordReader:
    """Reads Bulk 2.0 CSV rows of one object (a bad cell fails only its row)."""

    def __init__(self, schema: OrgSchema, obj: ObjectDef, header: list[str]) -> None:
        self.obj = obj
        self.header = header
        self.columns: list[FieldDef | ExtRef] = []
        seen: set[str] = set()
        for name in header:
            column = self._column(schema, name.strip())
            key = (column.field.name if isinstance(column, ExtRef) else column.name).lower()
            if key in seen:
                raise CsvHeaderError(f"InvalidBatch : Duplicate field name: {name}")
            seen.add(key)
            self.columns.append(column)

    def _column(self, schema: OrgSchema, name: str) -> FieldDef | ExtRef:
        f = self.obj.field(name)
        if f is not None:
            return f
        # Relationship columns: ``Account.Ext__c``; a polymorphic one names its target type first,
        # ``ObjectType:RelationshipName.Field`` (``Order:What.BigCommerce_Order_Id__c``).
        if "." in name:
            rel, ext = name.split(".", 1)
            target_name = None
            if ":" in rel:
                target_name, rel = rel.split(":", 1)
            ref = self.obj.relationship(rel)
            if ref is not None:
                found = _ext_ref_field(schema, ref, target_name, ext)
                if isinstance(found, str):
                    raise CsvHeaderError(f"InvalidBatch : {found}")
                return found
        raise CsvHeaderError(f"InvalidBatch : Field name not found : {name}")

    def read(self, cells: list[str]) -> RowInput:
        """One CSV row: empty cells are left out, ``#N/A`` clears the field."""
        values: dict[str, Any] = {}
        errors: list[RecordError] = []
        for column, cell in zip(self.columns, cells, strict=False):
            if cell == "":
                continue
            if isinstance(column, ExtRef):
                values[column.field.name] = (
                    None if cell == "#N/A" else ExtRef(column.field, column.target, column.target_field, cell)
                )
                continue
            if cell == "#N/A":
                values[column.name] = None
                continue
            try:
                values[column.name] = coerce(column, cell, from_csv=True)
            except BadValue:
                errors.append(
                    RecordError(
                        "INVALID_TYPE_ON_FIELD_IN_RECORD",
                        f"{field_label(self.obj, column)}: value not of required type: {cell}",
                        [column.name],
                    )
                )
        return RowInput(values, errors)
