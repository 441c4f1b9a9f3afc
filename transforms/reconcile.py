"""The set-code reconciliation: flag eCommerce orders a CSR must fix, as Salesforce writes.

:func:`reconcile` is pure (no I/O, no clock: ``today`` is a parameter; inputs untouched) and
deterministic. The reconcile flow reads three frames, calls it, and applies the writes of the
:class:`ReconcileResult`; applying them and calling it again on what Salesforce then holds gives
no write at all (status values and Tasks are compared with what is stored, so a rerun is a
no-op). The rules themselves, their codes and messages are in :mod:`transforms.reconcile_rules`.

Inputs (names of Salesforce fields come from :mod:`transforms.mapping`, defaults shown):

``sf_orders``: the Salesforce eCommerce orders to check, as ``CrmSink.query`` flattens them;
    :func:`order_query_fields` lists what to SELECT: ``Id``, ``OwnerId``,
    ``BigCommerce_Order_Id__c``, ``ASTEA_Key_Direct_Billing__c``, ``Paid__c``,
    ``Reconcile_Status__c``, ``Suggested_Set_Code__c``, ``Payment_Status__c``,
    ``BillToContact.LastName``, ``Account.Name``, ``Account.ASTEA_Key__c``,
    ``Account.Repair_Account_Terms__c``. ``Id``, the order key, the set code and ``Paid__c``
    are required when there are rows (a frame without them would flag every order wrongly);
    every other column may be absent (a relationship column is absent when no row has the
    parent) and any value may be missing. Rows without an ``Id`` or an order key are ignored;
    of two rows with one order key the first by ``Id`` is used. ``Paid__c`` is ticked when it
    is True, 1 or the text ``true``; anything else (missing included) is unticked.
    Read the orders of the window *and* those whose key is one of the store window's orders:
    a store order whose Salesforce order was left out is reported ``MISSING_IN_SALESFORCE``.
``store_orders``: the BigCommerce orders of the same window, as
    :func:`transforms.frames.orders_frame` returns them (or the extractor's list of order
    dicts, flattened here by that function). Columns used: ``id`` (the order number; rows
    without one are ignored; of duplicates the latest ``date_modified`` wins), ``payment_status``,
    ``billing_last_name``, ``date_created``. An empty ``DataFrame()`` means "no store orders".
``open_tasks``: the reconciliation Tasks (:func:`task_query_fields`: ``Id``,
    ``Reconcile_Key__c``, ``Status``, ``Subject``, ``Description``, ``IsClosed``), at least the
    open ones whose key starts with ``reconcile:``; closed ones may be included (they are
    reopened rather than created, which the upsert by key does either way). A Task is closed
    when ``IsClosed`` says so, or, without that column, when its Status is ``Completed``.
    Keys not starting with ``reconcile:`` are ignored.

Decisions:

* The buyer's last name is the store order's billing last name, else the Bill-To Contact's.
  The suggested set code shown in messages is built from it by
  :func:`transforms.set_code.suggest_set_codes` (as the sync suggests it), else the order's
  stored ``Suggested_Set_Code__c``.
* The payment status is the store's, else the order's ``Payment_Status__c`` (the sync's copy),
  so an order outside the store window is still checked against rule R11.
* Only orders of ``sf_orders`` are judged: a Task whose order was not read (outside the
  window) is left alone, never closed.
* A Task is owned by the order's owner when that is a User (Id prefix ``005``), otherwise (the
  eCommerce orders queue, prefix ``00G``) by ``task_fallback_owner``; Tasks cannot be owned by
  queues. The owner, the order (``WhatId``) and the due date are CREATE_ONLY in the mapping, so
  a reopened Task keeps its former owner and due date.
* A Task still open whose subject or description changed is updated keeping its Status (a CSR's
  ``In Progress`` is not reset); a new or reopened Task starts ``Not Started``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from transforms.fields import fit, output_columns
from transforms.frames import orders_frame
from transforms.mapping import MAPPING, ObjectMap, SalesforceMapping
from transforms.orders import ORDER_NAME_PREFIX
from transforms.reconcile_rules import (
    CODES,
    Finding,
    OrderFacts,
    Rules,
    check_order,
    missing_in_salesforce,
)
from transforms.set_code import suggest_set_codes
from transforms.text import TEXT, clean_scalar, coalesce, truncate_scalar

__all__ = [
    "CODES",
    "FLAG_COLUMNS",
    "OK",
    "REPORT_COLUMNS",
    "OrderFields",
    "ReconcileResult",
    "TaskFields",
    "order_query_fields",
    "reconcile",
    "task_key",
    "task_query_fields",
]

#: ``Reconcile_Status__c`` of an order without findings.
OK = "OK"
#: Length of ``Reconcile_Status__c`` (deployments/salesforce).
STATUS_LIMIT = 255
#: Every reconciliation Task's key starts with this, then the order key.
TASK_KEY_PREFIX = "reconcile:"
#: Status of a new or reopened Task, and of a Task closed because its order is clean.
NEW_TASK_STATUS, CLOSED_TASK_STATUS = "Not Started", "Completed"
#: Prefix of User ids (a Task's owner must be a User, never a queue, prefix ``00G``).
USER_PREFIX = "005"

#: Columns of :attr:`ReconcileResult.flags`.
FLAG_COLUMNS: tuple[str, ...] = (
    "order_key", "salesforce_id", "owner_id", "task_owner_id", "codes", "message", "link_path",
)  # fmt: skip
#: Columns of :attr:`ReconcileResult.report`.
REPORT_COLUMNS: tuple[str, ...] = (
    "order_key", "salesforce_id", "placed", "account_name", "last_name", "set_code", "suggested_set_code",
    "account_astea_key", "terms", "payment_status", "paid", "owner_id", "codes", "message", "link_path",
    "task_action",
)  # fmt: skip
#: ``task_action`` values of the report: what happens to the order's Task.
CREATE, REOPEN, UPDATE, UNCHANGED = "create", "reopen", "update", "unchanged"


def task_key(order_key: str) -> str:
    """The ``Reconcile_Key__c`` of an order's Task: ``reconcile:<order key>``."""
    return f"{TASK_KEY_PREFIX}{order_key}"


def _target(objmap: ObjectMap, source: str, default: str) -> str:
    """The Salesforce field of ``objmap`` that reads frame column ``source``."""
    return next((f.target for f in objmap.fields if f.source == source), default)


def _relationship(mapping: SalesforceMapping, parent: str, default: str) -> str:
    return next((p.relationship for p in mapping.order.parents if p.parent == parent), default)


@dataclass(frozen=True)
class OrderFields:
    """The flattened column names of :func:`reconcile`'s ``sf_orders``, from the mapping."""

    id: str
    owner: str
    key: str
    set_code: str
    paid: str
    status: str
    suggested: str
    payment_status: str
    contact_last_name: str
    account_name: str
    account_key: str
    account_terms: str

    @classmethod
    def of(cls, mapping: SalesforceMapping) -> OrderFields:
        """The names ``mapping`` gives."""
        account = _relationship(mapping, mapping.account.sobject, "Account")
        contact = _relationship(mapping, mapping.contact.sobject, "BillToContact")
        return cls(
            id="Id",
            owner=_target(mapping.order, "owner_id", "OwnerId"),
            key=mapping.order.external_id,
            set_code=mapping.reads["order_set_code"],
            paid=mapping.reads["order_paid"],
            status=mapping.reads["order_status_flag"],
            suggested=_target(mapping.order, "suggested_set_code", "Suggested_Set_Code__c"),
            payment_status=_target(mapping.order, "payment_status", "Payment_Status__c"),
            contact_last_name=f"{contact}.{_target(mapping.contact, 'last_name', 'LastName')}",
            account_name=f"{account}.{_target(mapping.account, 'account_name', 'Name')}",
            account_key=f"{account}.{mapping.reads['account_astea_key']}",
            account_terms=f"{account}.{mapping.reads['account_terms']}",
        )

    @property
    def required(self) -> tuple[str, ...]:
        """Columns ``sf_orders`` must have when it has rows."""
        return (self.id, self.key, self.set_code, self.paid)


@dataclass(frozen=True)
class TaskFields:
    """The column names of :func:`reconcile`'s ``open_tasks``, from the mapping."""

    id: str
    key: str
    status: str
    subject: str
    description: str
    is_closed: str = "IsClosed"

    @classmethod
    def of(cls, mapping: SalesforceMapping) -> TaskFields:
        """The names ``mapping`` gives."""
        task = mapping.task
        return cls(
            id="Id",
            key=task.external_id,
            status=_target(task, "status", "Status"),
            subject=_target(task, "subject", "Subject"),
            description=_target(task, "description", "Description"),
        )


def order_query_fields(mapping: SalesforceMapping = MAPPING) -> list[str]:
    """The fields to SELECT from Order for ``sf_orders`` (parents as ``Account.Name``)."""
    f = OrderFields.of(mapping)
    return [f.id, f.owner, f.key, f.set_code, f.paid, f.status, f.suggested, f.payment_status,
            f.contact_last_name, f.account_name, f.account_key, f.account_terms]  # fmt: skip


def task_query_fields(mapping: SalesforceMapping = MAPPING) -> list[str]:
    """The fields to SELECT from Task for ``open_tasks``."""
    f = TaskFields.of(mapping)
    return [f.id, f.key, f.status, f.subject, f.description, f.is_closed]


@dataclass(frozen=True)
class ReconcileResult:
    """What the reconciliation found, and the writes that bring Salesforce in step.

    ``flags`` (:data:`FLAG_COLUMNS`): one row per flagged Salesforce order: ``order_key``,
    ``salesforce_id`` (the Order Id), ``owner_id`` (the order's OwnerId as read),
    ``task_owner_id`` (the owner a new Task gets), ``codes`` (``; ``-joined, in
    :data:`transforms.reconcile_rules.CODES` order), ``message`` (one sentence group per code,
    saying what to do), ``link_path`` (``/lightning/r/Order/<Id>/view``; prefix the org's URL).

    ``status_updates``: ``Id`` and the order status field (``Reconcile_Status__c``): ``OK``, or
    the codes joined by ``; `` (at most 255 characters); only rows whose stored value differs.
    Ready for ``CrmSink.update("Order", ...)``.

    ``task_upserts``: the mapping's Task columns (:func:`transforms.fields.output_columns`:
    ``task_key``, ``subject``, ``description``, ``status``, ``owner_id``, ``order_id``,
    ``due_date`` (a :class:`datetime.date`)), lengths cut as the mapping allows; for flagged
    orders whose Task is missing, closed, or open with another subject or description. Upsert
    by ``Reconcile_Key__c`` through :func:`transforms.payloads.payload_frame`.

    ``task_closes``: the same columns, ``task_key`` and ``status`` ``Completed`` only (the rest
    empty, so nothing else is sent): open Tasks of checked orders that are no longer flagged.
    (Send them without the load ledger's "unchanged" shortcut, or a Task a CSR closed by hand
    and flagged again would not be reopened.)

    ``report`` (:data:`REPORT_COLUMNS`): one row per flagged order including
    ``MISSING_IN_SALESFORCE`` ones (no ``salesforce_id``), text only, for a CSV file or a table
    artifact: the ``flags`` columns but ``task_owner_id``, the values the rules looked at (``placed``: the store's
    creation date ``YYYY-MM-DD``; ``paid``: ``true``/``false``), and ``task_action``
    (``create``, ``reopen``, ``update``, ``unchanged``; empty without a Salesforce order).
    """

    flags: pd.DataFrame
    status_updates: pd.DataFrame
    task_upserts: pd.DataFrame
    task_closes: pd.DataFrame
    report: pd.DataFrame
    orders_checked: int = 0

    @property
    def writes(self) -> int:
        """How many records the flow has to write (0 on a rerun)."""
        return len(self.status_updates) + len(self.task_upserts) + len(self.task_closes)

    def summary(self) -> dict[str, int]:
        """Counts for logs and the flow's artifact: orders checked, flagged, per code, writes."""
        counts = {"orders_checked": self.orders_checked, "flagged": len(self.flags)}
        codes = self.report["codes"].str.split("; ").explode().value_counts()
        counts.update({code: int(codes.get(code, 0)) for code in CODES})
        counts.update(
            status_updates=len(self.status_updates),
            task_upserts=len(self.task_upserts),
            task_closes=len(self.task_closes),
        )
        return counts


# -- reading the inputs --------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


class _Cleaned(dict[Any, str | None]):
    """Cleaned text by value, each distinct value cleaned once (columns repeat a lot)."""

    def __missing__(self, value: Any) -> str | None:
        text = None if _missing(value) else clean_scalar(value if isinstance(value, str) else str(value))
        self[value] = text
        return text


def _text_values(frame: pd.DataFrame, column: str) -> list[str | None]:
    """``frame[column]`` as cleaned text (numbers by their text; None when missing or absent)."""
    if column not in frame.columns:
        return [None] * len(frame)
    cleaned = _Cleaned()
    try:
        return [cleaned[v] for v in frame[column]]
    except TypeError:  # an unhashable value: clean each one
        return [_Cleaned().__missing__(v) for v in frame[column]]


def _key_scalar(value: Any) -> str | None:
    """An order number as text: ``420``, ``"420"``, ``420.0`` and ``" 420 "`` are all ``"420"``."""
    if _missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real) and float(value).is_integer():
        return str(int(value))
    return clean_scalar(str(value))


def _key_values(frame: pd.DataFrame, column: str) -> list[str | None]:
    if column not in frame.columns:
        return [None] * len(frame)
    return [_key_scalar(v) for v in frame[column]]


def _ticked(value: Any) -> bool:
    """A checkbox value: True, 1 or the text ``true`` (any case) is ticked; the rest is not."""
    if _missing(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    try:
        return bool(value == 1)
    except (TypeError, ValueError):
        return False


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent and len(frame):
        raise ValueError(f"{name} lacks the columns {absent}: query them (see transforms.reconcile)")


def _salesforce_orders(frame: pd.DataFrame, f: OrderFields) -> pd.DataFrame:
    """One row per order key: short column names, text cleaned, ``paid`` a bool."""
    _require(frame, f.required, "sf_orders")
    columns = {
        "order_key": _key_values(frame, f.key),
        "salesforce_id": _text_values(frame, f.id),
        "owner_id": _text_values(frame, f.owner),
        "set_code": _text_values(frame, f.set_code),
        "stored_status": _text_values(frame, f.status),
        "stored_suggestion": _text_values(frame, f.suggested),
        "sf_payment_status": _text_values(frame, f.payment_status),
        "contact_last_name": _text_values(frame, f.contact_last_name),
        "account_name": _text_values(frame, f.account_name),
        "account_astea_key": _text_values(frame, f.account_key),
        "terms": _text_values(frame, f.account_terms),
    }
    orders = pd.DataFrame(columns, dtype=TEXT, index=pd.RangeIndex(len(frame)))
    paid = [_ticked(v) for v in frame[f.paid]] if f.paid in frame.columns else [False] * len(frame)
    orders["paid"] = pd.array(paid, dtype=bool)
    orders = orders.dropna(subset=["order_key", "salesforce_id"])
    orders = orders.sort_values("salesforce_id", kind="stable").drop_duplicates("order_key")
    return orders.reset_index(drop=True)


def _placed(frame: pd.DataFrame) -> list[str | None]:
    if "date_created" not in frame.columns:
        return [None] * len(frame)
    created = frame["date_created"]
    if isinstance(created.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(created.dtype):
        return [None if _missing(v) else v for v in created.dt.strftime("%Y-%m-%d")]
    return _text_values(frame, "date_created")


def _store_orders(given: pd.DataFrame | Iterable[Mapping[str, Any]] | None) -> pd.DataFrame:
    """One row per store order number: ``order_key``, ``payment_status``, ``last_name``, ``placed``."""
    if given is None:
        frame = pd.DataFrame()
    elif isinstance(given, pd.DataFrame):
        frame = given
    else:
        frame = orders_frame(given)
    _require(frame, ["id"], "store_orders")
    columns = {
        "order_key": _key_values(frame, "id"),
        "payment_status": _text_values(frame, "payment_status"),
        "last_name": _text_values(frame, "billing_last_name"),
        "placed": _placed(frame),
    }
    store = pd.DataFrame(columns, dtype=TEXT, index=pd.RangeIndex(len(frame)))
    if "date_modified" in frame.columns:  # of two versions of one order (pages overlap) the latest wins
        modified = pd.to_datetime(frame["date_modified"], utc=True, errors="coerce").to_numpy()
        store = store.assign(_modified=modified).sort_values("_modified", kind="stable", na_position="first")
        store = store.drop(columns="_modified")
    store = store.dropna(subset=["order_key"]).drop_duplicates("order_key", keep="last")
    return store.reset_index(drop=True)


@dataclass(frozen=True)
class _Task:
    """An existing reconciliation Task, as far as the comparison needs it."""

    key: str
    status: str | None
    subject: str | None
    description: str | None
    closed: bool


def _tasks(frame: pd.DataFrame | None, f: TaskFields) -> dict[str, _Task]:
    """Reconciliation Tasks by order key (an open one wins when a key repeats)."""
    frame = frame if frame is not None else pd.DataFrame()
    _require(frame, [f.key], "open_tasks")
    n = len(frame)
    statuses = _text_values(frame, f.status)
    is_closed = list(frame[f.is_closed]) if f.is_closed in frame.columns else [None] * n
    descriptions = list(frame[f.description]) if f.description in frame.columns else [None] * n
    found: dict[str, _Task] = {}
    rows = zip(
        _text_values(frame, f.key), statuses, _text_values(frame, f.subject), descriptions, is_closed, strict=True
    )
    for key, status, subject, description, closed_flag in rows:
        if key is None or not key.lower().startswith(TASK_KEY_PREFIX):
            continue
        closed = status == CLOSED_TASK_STATUS if _missing(closed_flag) else _ticked(closed_flag)
        text = None if _missing(description) else str(description)
        task = _Task(key, status, subject, text, closed)
        order_key = key[len(TASK_KEY_PREFIX) :].strip()
        if order_key not in found or (found[order_key].closed and not closed):
            found[order_key] = task
    return found


def _same_text(stored: Any, wanted: Any) -> bool:
    """Equal once line endings and surrounding whitespace are ignored (Salesforce may trim)."""
    a = "" if _missing(stored) else str(stored).replace("\r\n", "\n").strip()
    b = "" if _missing(wanted) else str(wanted).replace("\r\n", "\n").strip()
    return a == b


# -- the reconciliation ---------------------------------------------------------------------------


def _natural(keys: pd.Series) -> list[int]:
    """Positions of ``keys`` in order: order numbers by value, then other keys by text."""

    def rank(key: str) -> tuple[int, int, str]:
        return (0, int(key), "") if key.isascii() and key.isdigit() else (1, 0, key)

    values = list(keys)
    return sorted(range(len(values)), key=lambda i: rank(values[i]))


def _subject(order_key: str, findings: list[Finding]) -> str:
    return f"Check {ORDER_NAME_PREFIX}{order_key}: {'; '.join(f.label for f in findings)}"


def _description(codes: str, findings: list[Finding]) -> str:
    lines = [f"- {f.message}" for f in findings]
    lines += [
        "",
        f"Flags: {codes}. This task is completed automatically once the reconciliation finds the order clean.",
    ]
    return "\n".join(lines)


def _frame(rows: list[dict[str, Any]], columns: Iterable[str], text: Iterable[str]) -> pd.DataFrame:
    """A frame of ``rows`` with exactly ``columns``; those in ``text`` are text (None -> missing)."""
    texts = set(text)
    data = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        if c in texts:
            data[c] = pd.array(values, dtype=TEXT)
        else:
            data[c] = np.empty(len(values), dtype=object)
            data[c][:] = values
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, missing values as None."""
    return [{k: None if _missing(v) else v for k, v in row.items()} for row in frame.to_dict("records")]


def reconcile(
    sf_orders: pd.DataFrame,
    store_orders: pd.DataFrame | Iterable[Mapping[str, Any]] | None,
    open_tasks: pd.DataFrame | None,
    *,
    task_fallback_owner: str,
    today: date,
    mapping: SalesforceMapping = MAPPING,
) -> ReconcileResult:
    """Check every order of ``sf_orders`` (rules R9-R11 of :mod:`transforms.reconcile_rules`) and
    every store order for its Salesforce order; return the findings and the writes.

    ``task_fallback_owner``: the User (``005...``) who gets the Task of an order owned by a
    queue; ``today``: the due date of new Tasks. The inputs are described in the module
    docstring, the outputs in :class:`ReconcileResult`.
    """
    fallback = clean_scalar(task_fallback_owner) if isinstance(task_fallback_owner, str) else None
    if fallback is None or not fallback.startswith(USER_PREFIX):
        raise ValueError(f"task_fallback_owner must be a User id (005...), not {task_fallback_owner!r}")
    of = OrderFields.of(mapping)
    prepay = mapping.account.field(mapping.reads["account_terms"]).default or "Pre-Pay"
    rules = Rules(customer_number=mapping.astea_customer_number, prepay=str(prepay))

    orders = _salesforce_orders(sf_orders if sf_orders is not None else pd.DataFrame(), of)
    store = _store_orders(store_orders)
    tasks = _tasks(open_tasks, TaskFields.of(mapping))

    orders = orders.merge(store, on="order_key", how="left")
    orders = orders.assign(last_name=coalesce(orders["last_name"], orders["contact_last_name"]))
    suggested = coalesce(suggest_set_codes(orders["last_name"], mapping).astype(TEXT), orders["stored_suggestion"])
    orders = orders.assign(
        suggested_set_code=suggested,
        payment_status=coalesce(orders["payment_status"], orders["sf_payment_status"]),
    )
    orders = orders.iloc[_natural(orders["order_key"])].reset_index(drop=True)

    status_rows: list[dict[str, Any]] = []
    flag_rows: list[dict[str, Any]] = []
    report_rows: list[dict[str, Any]] = []
    task_rows: list[dict[str, Any]] = []
    clean_keys: list[str] = []
    for row in _records(orders):
        facts = OrderFacts(
            order_key=row["order_key"],
            set_code=row["set_code"],
            last_name=row["last_name"],
            suggested_set_code=row["suggested_set_code"],
            account_name=row["account_name"],
            account_astea_key=row["account_astea_key"],
            terms=row["terms"],
            payment_status=row["payment_status"],
            paid=bool(row["paid"]),
        )
        findings = check_order(facts, rules)
        codes = "; ".join(f.code for f in findings)
        status = truncate_scalar(codes, STATUS_LIMIT) if findings else OK
        if row["stored_status"] != status:
            status_rows.append({of.id: row["salesforce_id"], of.status: status})
        if not findings:
            clean_keys.append(row["order_key"])
            continue
        owner = row["owner_id"]
        task_owner = owner if owner and owner.startswith(USER_PREFIX) else fallback
        message = " ".join(f.message for f in findings)
        link = f"/lightning/r/{mapping.order.sobject}/{row['salesforce_id']}/view"
        flag_rows.append(
            {"order_key": row["order_key"], "salesforce_id": row["salesforce_id"], "owner_id": owner,
             "task_owner_id": task_owner, "codes": codes, "message": message, "link_path": link}
        )  # fmt: skip
        report_rows.append(
            {**row, "paid": "true" if row["paid"] else "false", "codes": codes, "message": message,
             "link_path": link}
        )  # fmt: skip
        task_rows.append(
            {"task_key": task_key(row["order_key"]), "subject": _subject(row["order_key"], findings),
             "description": _description(codes, findings), "status": NEW_TASK_STATUS, "owner_id": task_owner,
             "order_id": row["salesforce_id"], "due_date": today}
        )  # fmt: skip

    task_columns = output_columns(mapping.task)
    task_text = [c for c in task_columns if c != "due_date"]
    wanted = fit(_frame(task_rows, task_columns, task_text), mapping.task)
    upserts, actions = _task_changes(wanted, [r["order_key"] for r in flag_rows], tasks)
    for report_row in report_rows:
        report_row["task_action"] = actions[report_row["order_key"]]

    known = set(orders["order_key"]) | set(_known_keys(sf_orders, of))
    for row in _records(store[~store["order_key"].isin(list(known))]):
        placed = row["placed"]
        finding = missing_in_salesforce(row["order_key"], placed)
        report_rows.append(
            {"order_key": row["order_key"], "placed": placed, "last_name": row["last_name"],
             "payment_status": row["payment_status"], "codes": finding.code, "message": finding.message}
        )  # fmt: skip

    closes = [
        {"task_key": tasks[k].key, "status": CLOSED_TASK_STATUS}
        for k in clean_keys
        if k in tasks and not tasks[k].closed
    ]

    report = _frame(report_rows, REPORT_COLUMNS, REPORT_COLUMNS)
    report = report.iloc[_natural(report["order_key"])].reset_index(drop=True)
    return ReconcileResult(
        flags=_frame(flag_rows, FLAG_COLUMNS, FLAG_COLUMNS),
        status_updates=_frame(status_rows, (of.id, of.status), (of.id, of.status)),
        task_upserts=upserts,
        task_closes=_frame(closes, task_columns, task_text),
        report=report,
        orders_checked=len(orders),
    )


def _known_keys(sf_orders: pd.DataFrame | None, of: OrderFields) -> list[str]:
    """Every order key Salesforce returned, rows without an Id included (they exist there)."""
    if sf_orders is None or of.key not in sf_orders.columns:
        return []
    return [k for k in _key_values(sf_orders, of.key) if k is not None]


def _task_changes(
    wanted: pd.DataFrame, order_keys: list[str], tasks: dict[str, _Task]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The Task rows to upsert, and the ``task_action`` of each flagged order."""
    keep: list[bool] = []
    statuses: list[str] = []
    actions: dict[str, str] = {}
    for order_key, subject, description in zip(order_keys, wanted["subject"], wanted["description"], strict=True):
        status = NEW_TASK_STATUS
        current = tasks.get(order_key)
        if current is None:
            action = CREATE
        elif current.closed:
            action = REOPEN
        else:
            same = _same_text(current.subject, subject) and _same_text(current.description, description)
            action = UNCHANGED if same else UPDATE
            status = current.status or NEW_TASK_STATUS
        actions[order_key] = action
        keep.append(action != UNCHANGED)
        statuses.append(status)
    upserts = wanted.assign(status=pd.array(statuses, dtype=TEXT))
    return upserts.loc[pd.array(keep, dtype=bool)].reset_index(drop=True), actions
