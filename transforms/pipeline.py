"""The transform: extracted customers and orders in, Salesforce-ready frames out.

:func:`transform` is pure (no I/O, no clock, inputs untouched) and deterministic: the same
records in any row order give the same frames, each sorted by its key. Steps:

1. buyer rows from customer records and orders (:mod:`transforms.people`);
2. one row per id (:func:`transforms.validation.deduplicate`), then validation: failing
   records become rejects (:mod:`transforms.validation`);
3. identity: contact and account keys and names (:mod:`transforms.identity`), an order
   without a company taking its registered customer's;
4. one Contact per person, one Account per company or person (:mod:`transforms.contacts`,
   :mod:`transforms.accounts`);
5. matching with Salesforce's records and adoptions (:mod:`transforms.matching`);
6. orders with their owner (:mod:`transforms.routing`) and suggested set code
   (:mod:`transforms.set_code`);
7. every frame cut to the mapping's columns and lengths (:mod:`transforms.fields`).

Accounting, per entity: each order is in ``orders`` or in ``rejects`` (exactly once); each
customer record is accepted (it then feeds exactly one Contact and one Account, possibly shared
with other records) or in ``rejects``. A rejected order feeds no Contact or Account; its
customer record, if valid, still does. :meth:`TransformResult.balance` states the counts.

The mapping's defaults and ownership (rules R4, R5, R6, R12) are applied by the loader from
:mod:`transforms.mapping`; nothing here repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from transforms.accounts import build_accounts, default_guest_group
from transforms.contacts import build_contacts
from transforms.fields import fit
from transforms.frames import CUSTOMER_COLUMNS, ORDER_COLUMNS
from transforms.identity import IDENTITY_COLUMNS, assign_accounts
from transforms.mapping import MAPPING, SalesforceMapping
from transforms.matching import ExistingRecords, match
from transforms.orders import build_orders
from transforms.people import CUSTOMER, ORDER, PERSON_COLUMNS, customer_rows, order_rows, with_customer_company
from transforms.routing import route_orders
from transforms.validation import customer_checks, deduplicate, order_checks, split

__all__ = ["ExistingRecords", "TransformResult", "transform"]


@dataclass(frozen=True)
class TransformResult:
    """The frames for the loader, and the counts that prove nothing was lost.

    ``accounts``, ``contacts``, ``orders``: columns per :func:`transforms.fields.output_columns`
    of the mapping's Account, Contact and Order; ``adoptions``: see
    :data:`transforms.matching.ADOPTION_COLUMNS`; ``rejects``: see
    :data:`transforms.validation.REJECT_COLUMNS`.
    """

    accounts: pd.DataFrame
    contacts: pd.DataFrame
    orders: pd.DataFrame
    adoptions: pd.DataFrame
    rejects: pd.DataFrame
    customers_in: int
    customers_accepted: int
    orders_in: int

    def balance(self) -> dict[str, dict[str, int]]:
        """Per entity: records in, accepted, rejected (in = accepted + rejected always holds)."""
        rejected = self.rejects["entity"].value_counts()
        return {
            CUSTOMER: {
                "in": self.customers_in,
                "accepted": self.customers_accepted,
                "rejected": int(rejected.get(CUSTOMER, 0)),
            },
            ORDER: {"in": self.orders_in, "accepted": len(self.orders), "rejected": int(rejected.get(ORDER, 0))},
        }


def _require(frame: pd.DataFrame, columns: tuple[str, ...], made_by: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns {missing}: build the frame with transforms.frames.{made_by}")


def transform(
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    existing: ExistingRecords,
    queue_id: str,
    mapping: SalesforceMapping = MAPPING,
) -> TransformResult:
    """Salesforce Accounts, Contacts and Orders for a batch of BigCommerce customers and orders.

    ``customers`` and ``orders`` come from :func:`transforms.frames.customers_frame` and
    :func:`transforms.frames.orders_frame`; ``existing`` holds what Salesforce already has;
    ``queue_id`` is the Id of the queue that owns orders of accounts without an assigned CSR.
    """
    _require(customers, CUSTOMER_COLUMNS, "customers_frame")
    _require(orders, ORDER_COLUMNS, "orders_frame")

    customer_people, customer_dups = deduplicate(CUSTOMER, customer_rows(customers.reset_index(drop=True)), "seen_at")
    customer_ok, customer_rejects = split(
        CUSTOMER, customer_people, customer_checks(customer_people, (mapping.account, mapping.contact))
    )
    order_people, order_dups = deduplicate(ORDER, order_rows(orders.reset_index(drop=True)), "date_modified")
    order_ok, order_rejects = split(
        ORDER, order_people, order_checks(order_people, (mapping.account, mapping.contact, mapping.order))
    )

    customer_ok = assign_accounts(customer_ok)
    order_ok = assign_accounts(with_customer_company(order_ok, customer_ok))
    buyer_columns = [*PERSON_COLUMNS, *IDENTITY_COLUMNS]
    people = pd.concat([customer_ok[buyer_columns], order_ok[buyer_columns]], ignore_index=True)
    contacts = build_contacts(people)
    accounts = build_accounts(people)
    matches = match(accounts["account_key"], accounts["account_name"], contacts["contact_key"], existing, mapping)
    accounts = default_guest_group(accounts, matches.accounts.index)
    owners = route_orders(order_ok["account_key"], matches.accounts, queue_id)
    order_frame = build_orders(order_ok, owners, mapping)

    rejects = pd.concat([customer_dups, customer_rejects, order_dups, order_rejects], ignore_index=True)
    rejects = rejects.sort_values(["entity", "source_id", "payload"], kind="stable", na_position="last")
    return TransformResult(
        accounts=fit(accounts, mapping.account),
        contacts=fit(contacts, mapping.contact),
        orders=fit(order_frame, mapping.order),
        adoptions=matches.adoptions,
        rejects=rejects.reset_index(drop=True),
        customers_in=len(customers),
        customers_accepted=len(customer_ok),
        orders_in=len(orders),
    )
