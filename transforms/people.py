"""Buyers: the person behind each customer record and each order, in one shape.

A registered customer's own record (v3) and the billing address of every order (v2) both say
who a buyer is: name, email, company, phone and address. :func:`customer_rows` and
:func:`order_rows` turn the frames of :mod:`transforms.frames` into rows with the same
*person* columns (:data:`PERSON_COLUMNS`), so that every later rule (validation, identity,
contacts, accounts) is written once for both. Each row also keeps what validation needs to
explain a reject (``*_unparsed``, ``record``).

``seen_at`` is when the buyer last typed these details: a customer's ``date_modified`` (its
``date_created`` when absent), an order's ``date_created``. An order's ``date_modified``
moves when the order is shipped or paid, not when the buyer changes anything, so it does not
count as fresher buyer data: a payment captured on an old order today moves its
``date_modified`` but not the billing address typed back then, so ranking by it would let that
old address win over a newer order's.

Contacts and Accounts take different values from different rows (the freshest row, the freshest
row with a phone, with a street...), so each *group* of values chosen together travels with the
``seen_at`` of the row that supplied it, in a moment column named after the group
(:func:`moment_column`: ``phone_at``, ``address_at``...). The loader compares each with the
moment of the values Salesforce already holds for that group (:mod:`connectors.loader`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from transforms.frames import DATETIME
from transforms.text import TEXT, coalesce, join_lines

CUSTOMER = "customer"
ORDER = "order"

#: Columns every buyer row has, whichever record it comes from.
PERSON_COLUMNS: tuple[str, ...] = (
    "source",  # CUSTOMER or ORDER
    "source_id",  # the customer or order id (Int64)
    "seen_at",
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "customer_id",  # registered customer id as text; missing for guests
    "customer_group",  # customer group id as text; missing when not known
)
ADDRESS_COLUMNS: tuple[str, ...] = ("street", "city", "state", "postal_code", "country")
#: The group of the address columns (taken whole from one row) and of the freshest row's values.
ADDRESS, FRESHEST = "address", "seen"
# BigCommerce's order statuses by id, for the rare order whose ``status`` name is missing.
_STATUS_NAMES = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded", 5: "Cancelled",
    6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup", 9: "Awaiting Shipment", 10: "Completed",
    11: "Awaiting Fulfillment", 12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}  # fmt: skip


def with_customer_company(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Order rows whose billing address has no company take their registered customer's (rule R2:
    the company "entered at checkout or on the customer record"), when that record is in
    ``customers`` (accepted customer rows). A company typed at checkout is kept as typed."""
    companies = customers.dropna(subset=["company"]).set_index("customer_id")["company"]
    inherited = orders["customer_id"].map(companies).astype(TEXT)
    return orders.assign(company=orders["company"].fillna(inherited))


def _id_text(ids: pd.Series) -> pd.Series:
    return ids.astype("string").astype(TEXT)


def customer_rows(customers: pd.DataFrame) -> pd.DataFrame:
    """One buyer row per customer record (input: :func:`transforms.frames.customers_frame`)."""
    return pd.DataFrame(
        {
            "source": pd.Series(CUSTOMER, index=customers.index, dtype=TEXT),
            "source_id": customers["id"],
            "seen_at": customers["date_modified"].fillna(customers["date_created"]),
            "email": customers["email"],
            "first_name": customers["first_name"],
            "last_name": customers["last_name"],
            "company": coalesce(customers["company"], customers["address_company"]),
            "phone": coalesce(customers["phone"], customers["address_phone"]),
            "street": join_lines(customers["address_street_1"], customers["address_street_2"]),
            "city": customers["address_city"],
            "state": customers["address_state"],
            "postal_code": customers["address_postal_code"],
            "country": coalesce(customers["address_country"], customers["address_country_code"]),
            "customer_id": _id_text(customers["id"]),
            "customer_group": customers["customer_group_id"],
            "source_id_unparsed": customers["id_unparsed"],
            "date_created_unparsed": customers["date_created_unparsed"],
            "date_modified_unparsed": customers["date_modified_unparsed"],
            "record": customers["record"],
        },
        index=customers.index,
    )


def order_rows(orders: pd.DataFrame) -> pd.DataFrame:
    """One buyer row per order, from its billing address, with the order's own columns.

    Input: :func:`transforms.frames.orders_frame`. ``customer_id`` 0 (a guest) becomes missing.
    """
    registered = orders["customer_id"].where(orders["customer_id"] > 0)
    status_names = orders["status_id"].map(_STATUS_NAMES).astype(TEXT)
    created = orders["date_created"]
    return pd.DataFrame(
        {
            "source": pd.Series(ORDER, index=orders.index, dtype=TEXT),
            "source_id": orders["id"],
            "seen_at": created,
            "email": orders["billing_email"],
            "first_name": orders["billing_first_name"],
            "last_name": orders["billing_last_name"],
            "company": orders["billing_company"],
            "phone": orders["billing_phone"],
            "street": join_lines(orders["billing_street_1"], orders["billing_street_2"]),
            "city": orders["billing_city"],
            "state": orders["billing_state"],
            "postal_code": orders["billing_zip"],
            "country": coalesce(orders["billing_country"], orders["billing_country_iso2"]),
            "customer_id": _id_text(registered),
            "customer_group": pd.Series(pd.NA, index=orders.index, dtype=TEXT),
            "order_date": created,
            "date_modified": orders["date_modified"].fillna(created).astype(DATETIME),
            "total": orders["total_inc_tax"],
            "store_status": coalesce(orders["status"], status_names),
            "payment_status": orders["payment_status"],
            "ship_street": join_lines(orders["shipping_street_1"], orders["shipping_street_2"]),
            "ship_city": orders["shipping_city"],
            "ship_state": orders["shipping_state"],
            "ship_postal_code": orders["shipping_zip"],
            "ship_country": coalesce(orders["shipping_country"], orders["shipping_country_iso2"]),
            "has_billing_address": orders["has_billing_address"],
            "source_id_unparsed": orders["id_unparsed"],
            "customer_id_unparsed": orders["customer_id_unparsed"],
            "date_created_unparsed": orders["date_created_unparsed"],
            "date_modified_unparsed": orders["date_modified_unparsed"],
            "total_unparsed": orders["total_inc_tax_unparsed"],
            "record": orders["record"],
        },
        index=orders.index,
    )


def moment_column(group: str) -> str:
    """The name of the column holding the source moment of a group of values (``phone_at``)."""
    return f"{group}_at"


def sorted_factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)`` for text without missing values, several times faster:
    pandas sorts object arrays through a generic path, Python's sort on the uniques is quicker."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    order = np.array(sorted(range(len(uniques)), key=uniques.__getitem__), dtype=np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order]


def freshness_order(rows: pd.DataFrame) -> np.ndarray:
    """Positions of ``rows``, freshest first: by ``seen_at``; on a tie a customer record before
    an order (the customer typed it into their own profile), then the higher id (the later record).

    ``(source, source_id)`` is unique among accepted rows, so the order is total and the same
    whatever order the rows came in: "the latest wins" is deterministic.
    """
    seen = rows["seen_at"].to_numpy(dtype="datetime64[us]").view("int64")
    seen = np.where(seen == np.iinfo(np.int64).min, np.iinfo(np.int64).min + 1, seen)  # NaT: oldest, negatable
    source = (rows["source"].to_numpy(dtype=object) != CUSTOMER).astype(np.int64)
    ids = rows["source_id"].fillna(-1).to_numpy(dtype=np.int64)
    return np.lexsort((-ids, source, -seen))  # the last key is the primary one


@dataclass(frozen=True)
class Groups:
    """Buyer rows grouped by a key, each group read freshest first (:func:`freshness_order`).

    One sort up front (rows by key, then freshness) makes every later question "the freshest
    row of each group, among these" a linear scan.
    """

    keys: pd.Index  # the distinct keys, sorted
    codes: np.ndarray  # each row's position in ``keys``
    by_group: np.ndarray  # row positions sorted by key code, then freshest first

    @classmethod
    def of(cls, rows: pd.DataFrame, key: str) -> Groups:
        """``rows`` grouped by their ``key`` column (which has no missing values)."""
        codes, keys = sorted_factorize(rows[key])
        rank = np.empty(len(rows), dtype=np.int64)
        rank[freshness_order(rows)] = np.arange(len(rows))
        return cls(pd.Index(keys, name=key, dtype=TEXT), codes, np.lexsort((rank, codes)))

    def freshest(self, where: pd.Series | None = None) -> np.ndarray:
        """Per key, the position of its freshest row (among ``where``), or -1 when it has none."""
        rows = self.by_group if where is None else self.by_group[where.to_numpy(dtype=bool)[self.by_group]]
        codes = self.codes[rows]
        starts = np.flatnonzero(np.diff(codes, prepend=-1))  # the first row of each group
        positions = np.full(len(self.keys), -1, dtype=np.int64)
        positions[codes[starts]] = rows[starts]
        return positions

    def take(self, column: pd.Series, positions: np.ndarray) -> pd.Series:
        """``column``'s values at ``positions`` (missing at -1), indexed by key."""
        values = column.to_numpy(dtype=object)  # no copy and no NA scan for str columns
        picked = np.where(positions >= 0, values[positions], None)
        return pd.Series(picked, index=self.keys, dtype=column.dtype if column.dtype == TEXT else object)

    def seen(self, rows: pd.DataFrame, positions: np.ndarray) -> pd.Series:
        """Per key, the ``seen_at`` of the row at ``positions`` (missing at -1): the source moment
        of the values taken from that row, so that the loader never writes them over fresher ones."""
        return pd.Series(rows["seen_at"].array.take(positions, allow_fill=True), index=self.keys)

    def from_freshest(
        self, rows: pd.DataFrame, columns: list[str], where: pd.Series | None = None, group: str = FRESHEST
    ) -> pd.DataFrame:
        """Per key, ``columns`` all from its freshest row (among ``where``): values that belong
        together, with that row's moment as ``moment_column(group)``."""
        positions = self.freshest(where)
        values = {c: self.take(rows[c], positions) for c in columns}
        return pd.DataFrame({**values, moment_column(group): self.seen(rows, positions)}, index=self.keys)

    def latest_given(self, rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """Per key and per column, the freshest value that is not missing, each with the moment
        of its own row as ``moment_column(column)`` (each column is a group of its own)."""
        picked: dict[str, pd.Series] = {}
        for c in columns:
            positions = self.freshest(rows[c].notna())
            picked[c], picked[moment_column(c)] = self.take(rows[c], positions), self.seen(rows, positions)
        return pd.DataFrame(picked, index=self.keys)

    def freshest_address(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Per key, the address columns of its freshest row that has a street, with that row's
        moment as ``address_at``: an address is taken whole, never a street from one source and a
        city from another."""
        return self.from_freshest(rows, list(ADDRESS_COLUMNS), where=rows["street"].notna(), group=ADDRESS)
