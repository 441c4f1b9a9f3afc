"""The sandbox store's data: customer groups, customers and orders in one SQLite file.

:class:`StoreDB` is shared by three kinds of users, each with its own instance on the same
file: the store server (which reads on every request and never caches a row, so it sees what
others write), the data generator / CLI (bulk inserts) and tests (inserts and edits).

Layout: each record is one row whose ``doc`` column holds the complete record as JSON (the
single source of truth, built by :mod:`sandbox.store.records`); the other columns are copies
of the fields the API filters and sorts on, written from the doc by one function per table and
indexed. An order's products, shipping addresses and coupons live in JSON columns of their own
so that listing orders never parses them. Dates are integer epoch seconds (UTC), which makes
range filters and sorts exact at second precision.

Connections: one per thread (WAL journal, ``busy_timeout``), so the server's worker threads
read concurrently while another process writes. Writes run in ``BEGIN IMMEDIATE`` transactions,
which also makes id assignment safe across processes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from sandbox.store.formats import from_epoch
from sandbox.store.records import (
    BILLING_ADDRESS_DEFAULTS,
    ORDER_CHILDREN,
    ORDER_DEFAULTS,
    Record,
    complete_customer,
    complete_group,
    complete_order,
    normalize_customer,
    normalize_group,
    normalize_order,
)

FIRST_ORDER_ID = 100  # a new BigCommerce store numbers its orders from 100
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS customer_groups (
    id INTEGER PRIMARY KEY,
    doc TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL COLLATE NOCASE,
    first_name TEXT NOT NULL COLLATE NOCASE,
    last_name TEXT NOT NULL COLLATE NOCASE,
    company TEXT NOT NULL COLLATE NOCASE,
    customer_group_id INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    date_modified INTEGER NOT NULL,
    doc TEXT NOT NULL
);
-- BigCommerce refuses a second customer with the same email.
CREATE UNIQUE INDEX IF NOT EXISTS customers_email ON customers (email);
CREATE INDEX IF NOT EXISTS customers_date_created ON customers (date_created, id);
CREATE INDEX IF NOT EXISTS customers_date_modified ON customers (date_modified, id);
CREATE INDEX IF NOT EXISTS customers_last_name ON customers (last_name, id);
CREATE INDEX IF NOT EXISTS customers_company ON customers (company);
CREATE INDEX IF NOT EXISTS customers_group ON customers (customer_group_id);

CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    email TEXT NOT NULL COLLATE NOCASE,       -- billing_address.email: a guest's identity
    status_id INTEGER NOT NULL,
    payment_status TEXT NOT NULL,
    capture_due INTEGER,                      -- when a 'capture pending' payment settles
    date_created INTEGER NOT NULL,
    date_modified INTEGER NOT NULL,
    total_inc_tax REAL NOT NULL,              -- min_total/max_total only; doc keeps the string
    cart_id TEXT NOT NULL,
    payment_method TEXT NOT NULL COLLATE NOCASE,
    channel_id INTEGER NOT NULL,
    external_order_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    products TEXT NOT NULL,
    shipping_addresses TEXT NOT NULL,
    coupons TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_date_created ON orders (date_created, id);
CREATE INDEX IF NOT EXISTS orders_date_modified ON orders (date_modified, id);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id, id);
CREATE INDEX IF NOT EXISTS orders_email ON orders (email);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status_id, id);
CREATE INDEX IF NOT EXISTS orders_capture_due ON orders (capture_due) WHERE capture_due IS NOT NULL;
"""

_ORDER_COLUMNS = (
    "id", "customer_id", "email", "status_id", "payment_status", "capture_due", "date_created",
    "date_modified", "total_inc_tax", "cart_id", "payment_method", "channel_id", "external_order_id",
    "doc", "products", "shipping_addresses", "coupons",
)  # fmt: skip
_CUSTOMER_COLUMNS = (
    "id", "email", "first_name", "last_name", "company", "customer_group_id", "date_created",
    "date_modified", "doc",
)  # fmt: skip
_DATE_FIELDS = ("date_created", "date_modified", "date_shipped")

SortDirection = str  # "asc" | "desc"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _order_row(order: Record, capture_due: int | None = None) -> tuple[Any, ...]:
    """The orders row of a normalized order (index columns copied from it)."""
    view = {**ORDER_DEFAULTS, **order}
    email = order["billing_address"].get("email", BILLING_ADDRESS_DEFAULTS["email"])
    doc = {k: v for k, v in order.items() if k not in ORDER_CHILDREN}
    return (
        view["id"], view["customer_id"], email, view["status_id"], view["payment_status"], capture_due,
        view["date_created"], view["date_modified"], float(view["total_inc_tax"]), view["cart_id"] or "",
        view["payment_method"] or "", view["channel_id"], view["external_order_id"] or "", _dumps(doc),
        _dumps(order["products"]), _dumps(order["shipping_addresses"]), _dumps(order["coupons"]),
    )  # fmt: skip


def _customer_row(customer: Record) -> tuple[Any, ...]:
    """The customers row of a normalized customer."""
    view = complete_customer(customer)
    return (
        view["id"], view["email"], view["first_name"], view["last_name"], view["company"],
        view["customer_group_id"], view["date_created"], view["date_modified"], _dumps(customer),
    )  # fmt: skip


def _loads(text: str) -> Any:
    """A stored document: orjson reads it in half the time; :mod:`json`, which wrote it, reads
    the few that orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _order_from_row(row: Sequence[str], shared: bool = False) -> Record:
    """The complete order in a (doc[, products, shipping_addresses, coupons]) row (``shared``:
    a read-only view, see :func:`~sandbox.store.records.complete_order`)."""
    order = _loads(row[0])
    with_children = len(row) > 1
    if with_children:
        for key, value in zip(ORDER_CHILDREN, row[1:], strict=True):
            order[key] = _loads(value)
    return complete_order(order, with_children, shared)


def _public(record: Record) -> Record:
    """A stored record as callers see it: epoch seconds become aware UTC datetimes."""
    out = dict(record)
    for key in _DATE_FIELDS:
        if isinstance(out.get(key), int):
            out[key] = from_epoch(out[key])
    if "attributes" in out:
        out["attributes"] = [_public(a) for a in out["attributes"]]
    return out


def _now() -> int:
    return int(time.time())


# -- query objects ---------------------------------------------------------------------------


@dataclass
class OrderFilter:
    """The v2 ``/orders`` filters, already parsed; None means "not filtered". Bounds are inclusive."""

    min_id: int | None = None
    max_id: int | None = None
    customer_id: int | None = None
    email: str | None = None
    status_id: int | None = None
    min_date_created: int | None = None
    max_date_created: int | None = None
    min_date_modified: int | None = None
    max_date_modified: int | None = None
    min_total: float | None = None
    max_total: float | None = None
    cart_id: str | None = None
    payment_method: str | None = None
    channel_id: int | None = None
    external_order_id: str | None = None

    _SQL: ClassVar[dict[str, str]] = {
        "min_id": "id >= ?", "max_id": "id <= ?", "customer_id": "customer_id = ?", "email": "email = ?",
        "status_id": "status_id = ?", "min_date_created": "date_created >= ?",
        "max_date_created": "date_created <= ?", "min_date_modified": "date_modified >= ?",
        "max_date_modified": "date_modified <= ?", "min_total": "total_inc_tax >= ?",
        "max_total": "total_inc_tax <= ?", "cart_id": "cart_id = ?", "payment_method": "payment_method = ?",
        "channel_id": "channel_id = ?", "external_order_id": "external_order_id = ?",
    }  # fmt: skip

    def where(self) -> tuple[str, list[Any]]:
        """The SQL ``WHERE`` clause (or '') and its parameters."""
        clauses = [(self._SQL[f.name], getattr(self, f.name)) for f in fields(self)]
        return _where((sql, [value]) for sql, value in clauses if value is not None)


@dataclass
class CustomerFilter:
    """The v3 ``/customers`` filters, already parsed; date bounds are inclusive epoch seconds."""

    ids: list[int] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    companies: list[str] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # exact "first last"
    name_like: list[str] = field(default_factory=list)  # substrings of "first last"
    min_date_created: int | None = None
    max_date_created: int | None = None
    min_date_modified: int | None = None
    max_date_modified: int | None = None
    after_id: int | None = None  # cursor paging
    before_id: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The SQL ``WHERE`` clause (or '') and its parameters."""
        parts: list[tuple[str, list[Any]]] = []
        for column, values in (
            ("id", self.ids),
            ("email", self.emails),
            ("company", self.companies),
            ("customer_group_id", self.group_ids),
        ):
            if values:
                parts.append((f"{column} IN ({','.join('?' * len(values))})", list(values)))
        if self.names:
            placeholders = ",".join("?" * len(self.names))
            parts.append((f"(first_name || ' ' || last_name) COLLATE NOCASE IN ({placeholders})", list(self.names)))
        if self.name_like:
            likes = " OR ".join(["(first_name || ' ' || last_name) LIKE ? ESCAPE '\\'"] * len(self.name_like))
            parts.append((f"({likes})", [f"%{_escape_like(n)}%" for n in self.name_like]))
        for value, sql in (
            (self.min_date_created, "date_created >= ?"),
            (self.max_date_created, "date_created <= ?"),
            (self.min_date_modified, "date_modified >= ?"),
            (self.max_date_modified, "date_modified <= ?"),
            (self.after_id, "id > ?"),
            (self.before_id, "id < ?"),
        ):
            if value is not None:
                parts.append((sql, [value]))
        return _where(parts)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(parts: Iterable[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    sql: list[str] = []
    params: list[Any] = []
    for fragment, values in parts:
        sql.append(fragment)
        params.extend(values)
    return (" WHERE " + " AND ".join(sql) if sql else ""), params


def _order_by(column: str, direction: SortDirection) -> str:
    # Ties are broken by id ascending whatever the direction, so page boundaries are stable.
    if column == "id":
        return f" ORDER BY id {direction.upper()}"
    return f" ORDER BY {column} {direction.upper()}, id ASC"


# -- the database ----------------------------------------------------------------------------


class StoreDB:
    """Customer groups, customers and orders of the sandbox store, in the SQLite file ``path``.

    Records go in as the v2 order / v3 customer / v2 customer group shapes (nested lists in
    full, dates as aware datetimes, epoch seconds or ISO/RFC 2822 strings, money as numbers or
    strings); anything left out gets the value a real store would show. Records come out with
    dates as aware UTC datetimes.
    """

    ORDER_SORTS = frozenset({"id", "customer_id", "date_created", "date_modified", "status_id", "channel_id"})
    CUSTOMER_SORTS = frozenset({"id", "date_created", "date_modified", "last_name"})

    def __init__(self, path: Path | str) -> None:
        """Open (and create if needed) the store database at ``path``."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._conn.executescript(_SCHEMA)

    # -- connections and transactions

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this instance opened (from any thread)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def _take_ids(self, conn: sqlite3.Connection, sequence: str, count: int, above: int = 0) -> int:
        """Reserve ``count`` consecutive ids of a child sequence, all above ``above``; returns the first."""
        row = conn.execute("SELECT value FROM sequences WHERE name = ?", (sequence,)).fetchone()
        first = max(row[0] if row else 1, above + 1)
        conn.execute(
            "INSERT INTO sequences (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (sequence, first + count),
        )
        return first

    @staticmethod
    def _assign(items: list[Record], first: int) -> int:
        """Give an id to each item lacking one, from ``first`` on; returns the next free id."""
        for item in items:
            if item.get("id") is None:
                item["id"] = first
                first += 1
        return first

    def _with_child_ids(self, conn: sqlite3.Connection, parents: list[Record], children: dict[str, str]) -> None:
        """Copy each parent's child lists and give the new children ids from their sequences."""
        for key, sequence in children.items():
            lists = [[dict(child) for child in parent.get(key) or []] for parent in parents]
            missing = sum(1 for items in lists for child in items if child.get("id") is None)
            # Ids given by the caller are kept; new ones must not collide with them.
            given = max((child["id"] for items in lists for child in items if child.get("id") is not None), default=0)
            next_id = self._take_ids(conn, sequence, missing, above=given)
            for parent, items in zip(parents, lists, strict=True):
                next_id = self._assign(items, next_id)
                parent[key] = items

    # -- customer groups

    def insert_customer_groups(self, groups: Sequence[Record]) -> list[int]:
        """Add v2 customer groups (``name`` required; id assigned when missing); returns their ids."""
        now = _now()
        with self._write() as conn:
            next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM customer_groups").fetchone()[0]
            records = []
            for given in groups:
                record = {"date_created": now, "date_modified": now, **given}
                if record.get("id") is None:
                    record["id"], next_id = next_id, next_id + 1
                records.append(normalize_group(record))
            conn.executemany(
                "INSERT INTO customer_groups (id, doc) VALUES (?, ?)", [(g["id"], _dumps(g)) for g in records]
            )
        return [g["id"] for g in records]

    def list_customer_groups(self) -> list[Record]:
        """Every customer group, by id (dates in epoch seconds, as the renderers take them)."""
        rows = self._conn.execute("SELECT doc FROM customer_groups ORDER BY id").fetchall()
        return [complete_group(_loads(doc)) for (doc,) in rows]

    # -- customers

    def insert_customers(self, customers: Sequence[Record]) -> list[int]:
        """Add v3 customers (``email`` required, unique) with their ``addresses``; returns their ids.

        Ids of customers, addresses and attributes are assigned when missing; ``date_created`` and
        ``date_modified`` default to now.
        """
        now = _now()
        with self._write() as conn:
            next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM customers").fetchone()[0]
            drafts = [{"date_created": now, "date_modified": now, **c} for c in customers]
            self._assign(drafts, next_id)
            self._with_child_ids(conn, drafts, {"addresses": "customer_address", "attributes": "customer_attribute"})
            records = [normalize_customer(d) for d in drafts]
            placeholders = ",".join("?" * len(_CUSTOMER_COLUMNS))
            conn.executemany(
                f"INSERT INTO customers ({','.join(_CUSTOMER_COLUMNS)}) VALUES ({placeholders})",
                [_customer_row(c) for c in records],
            )
        return [c["id"] for c in records]

    def get_customer(self, customer_id: int) -> Record | None:
        """The customer with its addresses, attributes and form fields, or None."""
        record = self._customer(self._conn, customer_id)
        return None if record is None else _public(record)

    def _customer(self, conn: sqlite3.Connection, customer_id: int) -> Record | None:
        row = conn.execute("SELECT doc FROM customers WHERE id = ?", (customer_id,)).fetchone()
        return None if row is None else complete_customer(_loads(row[0]))

    def update_customer(self, customer_id: int, **fields: Any) -> Record:
        """Change fields of a customer (``addresses`` replaces the whole list); returns it.

        ``date_modified`` becomes now unless given. Raises KeyError for an unknown id.
        """
        with self._write() as conn:
            record = self._customer(conn, customer_id)
            if record is None:
                raise KeyError(f"no customer {customer_id}")
            record.update(fields)
            if "date_modified" not in fields:
                record["date_modified"] = _now()
            self._with_child_ids(conn, [record], {"addresses": "customer_address", "attributes": "customer_attribute"})
            record = normalize_customer(record)
            sets = ",".join(f"{c} = ?" for c in _CUSTOMER_COLUMNS[1:])
            conn.execute(f"UPDATE customers SET {sets} WHERE id = ?", (*_customer_row(record)[1:], customer_id))
        return _public(complete_customer(record))

    def count_customers(self) -> int:
        """How many customers the store has."""
        return self._conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]

    def list_customers(
        self, flt: CustomerFilter, sort: tuple[str, SortDirection], offset: int, limit: int
    ) -> tuple[list[Record], int]:
        """One page of customers matching ``flt`` (stored form) and how many match in all."""
        column, direction = sort
        if column not in self.CUSTOMER_SORTS:
            raise ValueError(f"cannot sort customers by {column!r}")
        where, params = flt.where()
        conn = self._conn
        # Both reads in one transaction, so the total and the page agree.
        conn.execute("BEGIN")
        try:
            total = conn.execute(f"SELECT COUNT(*) FROM customers{where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT doc FROM customers{where}{_order_by(column, direction)} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return [complete_customer(_loads(doc)) for (doc,) in rows], total

    # -- orders

    def next_order_id(self) -> int:
        """The id the next inserted order gets when it has none (100 in an empty store)."""
        return self._next_order_id(self._conn)

    @staticmethod
    def _next_order_id(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT COALESCE(MAX(id) + 1, ?) FROM orders", (FIRST_ORDER_ID,)).fetchone()[0]

    def insert_orders(self, orders: Sequence[Record]) -> list[int]:
        """Add v2 orders, each with ``billing_address`` and full ``products``/``shipping_addresses``
        (and optionally ``coupons``) lists; returns their ids.

        Ids (orders from 100, line items, addresses) are assigned when missing; dates default to
        now; totals, item counts and status names are derived when absent. A product without
        ``order_address_id`` ships to the order's first shipping address.
        """
        now = _now()
        with self._write() as conn:
            drafts = [{"date_created": now, "date_modified": now, **o} for o in orders]
            self._assign(drafts, self._next_order_id(conn))
            self._with_child_ids(
                conn,
                drafts,
                {"shipping_addresses": "order_address", "products": "order_product", "coupons": "order_coupon"},
            )
            records = [normalize_order(d) for d in drafts]
            placeholders = ",".join("?" * len(_ORDER_COLUMNS))
            conn.executemany(
                f"INSERT INTO orders ({','.join(_ORDER_COLUMNS)}) VALUES ({placeholders})",
                [_order_row(o) for o in records],
            )
        return [o["id"] for o in records]

    def _order(self, conn: sqlite3.Connection, order_id: int) -> Record | None:
        row = conn.execute(
            "SELECT doc, products, shipping_addresses, coupons FROM orders WHERE id = ?", (order_id,)
        ).fetchone()
        return None if row is None else _order_from_row(row)

    def get_order(self, order_id: int) -> Record | None:
        """The order with its products, shipping addresses and coupons, or None."""
        record = self._order(self._conn, order_id)
        return None if record is None else _public(record)

    def order_record(self, order_id: int) -> Record | None:
        """The stored form of an order (dates in epoch seconds), children included, or None."""
        return self._order(self._conn, order_id)

    def _rewrite_order(self, conn: sqlite3.Connection, order: Record, capture_due: int | None = None) -> Record:
        record = normalize_order(order)
        sets = ",".join(f"{c} = ?" for c in _ORDER_COLUMNS[1:])
        conn.execute(f"UPDATE orders SET {sets} WHERE id = ?", (*_order_row(record, capture_due)[1:], record["id"]))
        return record

    def _modify_order(self, order_id: int, change: Callable[[sqlite3.Connection, Record], int | None]) -> Record:
        """Apply ``change`` (which returns the capture due time, if any) to an order and save it."""
        with self._write() as conn:
            order = self._order(conn, order_id)
            if order is None:
                raise KeyError(f"no order {order_id}")
            capture_due = change(conn, order)
            record = self._rewrite_order(conn, order, capture_due)
        return _public(complete_order(record))

    def update_order(self, order_id: int, **fields: Any) -> Record:
        """Change fields of an order (a child list replaces the whole list); returns it.

        ``date_modified`` becomes now unless given. Raises KeyError for an unknown id.
        """

        def change(conn: sqlite3.Connection, order: Record) -> None:
            order.update(fields)
            if "date_modified" not in fields:
                order["date_modified"] = _now()
            self._with_child_ids(
                conn,
                [order],
                {"shipping_addresses": "order_address", "products": "order_product", "coupons": "order_coupon"},
            )

        return self._modify_order(order_id, change)

    def capture_payment(self, order_id: int, when: datetime | None = None) -> Record:
        """Mark the order's payment captured (as a CSR does in the control panel); returns it."""
        return self.update_order(
            order_id, payment_status="captured", date_modified=when if when is not None else _now()
        )

    def request_capture(self, order_id: int, settle_at: int) -> Record:
        """What the capture API does: ``capture pending`` now, ``captured`` at ``settle_at``.

        Raises KeyError for an unknown order and ValueError when the payment is not authorized.
        """

        def change(_: sqlite3.Connection, order: Record) -> int:
            if order["payment_status"] != "authorized":
                raise ValueError(f"payment is {order['payment_status'] or 'absent'}, not authorized")
            order["payment_status"] = "capture pending"
            order["date_modified"] = _now()
            return settle_at

        return self._modify_order(order_id, change)

    def settle_captures(self, now: int | None = None, force: bool = False) -> int:
        """Settle pending captures that are due: payment ``captured``, ``date_modified`` the due time.

        ``force`` settles every pending capture at once (dated now). Cheap when nothing is due: a
        read on a partial index, no write lock. Returns how many orders were settled.
        """
        now = _now() if now is None else now
        condition = "capture_due IS NOT NULL" if force else "capture_due <= ?"
        params = () if force else (now,)
        if self._conn.execute(f"SELECT 1 FROM orders WHERE {condition} LIMIT 1", params).fetchone() is None:
            return 0
        with self._write() as conn:
            due = conn.execute(f"SELECT id, capture_due FROM orders WHERE {condition}", params).fetchall()
            for order_id, capture_due in due:
                order = self._order(conn, order_id)
                assert order is not None
                if order["payment_status"] == "capture pending":
                    order["payment_status"] = "captured"
                    order["date_modified"] = max(now if force else capture_due, order["date_modified"])
                self._rewrite_order(conn, order)
        return len(due)

    def count_orders(self) -> int:
        """How many orders the store has."""
        return self._conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]

    def list_orders(
        self,
        flt: OrderFilter,
        sort: tuple[str, SortDirection],
        offset: int,
        limit: int,
        children: bool = False,
        read_only: bool = False,
    ) -> list[Record]:
        """One page of orders matching ``flt`` (stored form); ``children`` adds products and
        addresses. ``read_only`` orders share their default lists and dicts (to be rendered and
        dropped, never changed: copies for every line item were a tenth of serving a page)."""
        column, direction = sort
        if column not in self.ORDER_SORTS:
            raise ValueError(f"cannot sort orders by {column!r}")
        where, params = flt.where()
        columns = "doc, products, shipping_addresses, coupons" if children else "doc"
        rows = self._conn.execute(
            f"SELECT {columns} FROM orders{where}{_order_by(column, direction)} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [_order_from_row(row, read_only) for row in rows]

    def count_orders_by_status(self, flt: OrderFilter) -> dict[int, int]:
        """How many orders matching ``flt`` are in each status (statuses without orders omitted)."""
        where, params = flt.where()
        rows = self._conn.execute(f"SELECT status_id, COUNT(*) FROM orders{where} GROUP BY status_id", params)
        return dict(rows.fetchall())

    # -- everything

    def reset(self) -> None:
        """Delete every record (and restart the id sequences)."""
        with self._write() as conn:
            for table in ("orders", "customers", "customer_groups", "sequences"):
                conn.execute(f"DELETE FROM {table}")
