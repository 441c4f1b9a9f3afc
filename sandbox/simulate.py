"""Store activity between two runs, so incremental syncs have work (``store-sync sandbox simulate``).

New orders (from returning registered customers and from new guests), new registered customers,
changed addresses and payments a CSR captures, all stamped "now" as the store would.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from sandbox.generator import Builder, Person, make_customer, make_order
from sandbox.store.db import CustomerFilter, OrderFilter, StoreDB

AWAITING_FULFILLMENT = 11  # the status of freshly paid-by-card, not yet captured orders


def _person_of(customer: dict) -> Person:
    address = (customer.get("addresses") or [{}])[0]
    return Person(
        first=customer["first_name"], last=customer["last_name"], email=customer["email"],
        company=customer.get("company") or "", phone=customer.get("phone") or "",
        street=address.get("address1", ""), city=address.get("city", ""),
        state=address.get("state_or_province", ""), zip=address.get("postal_code", ""),
        customer_id=customer["id"], group_id=customer.get("customer_group_id") or 0,
    )  # fmt: skip


def simulate_activity(
    store_db: Path,
    orders: int = 5,
    customers: int = 2,
    address_changes: int = 2,
    captures: int = 2,
    seed: int | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Apply the activity to the store; returns what was done."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    seed = seed if seed is not None else int(now.timestamp())
    store = StoreDB(store_db)
    builder = Builder(seed, now, days=0)
    rng = random.Random(seed)
    known_ids = list(range(1, store.count_customers() + 1))
    new_people = [_new_person(store, builder, rng.choice(["", "Brightline Tooling LLC", "Harbor Fluid Power"]))
                  for _ in range(customers)]  # fmt: skip
    new_customers = [{k: v for k, v in make_customer(p, now).items() if k != "id"} for p in new_people]
    new_ids = store.insert_customers(new_customers) if new_customers else []
    known_ids += new_ids

    order_rows = []
    next_id = store.next_order_id()
    for i in range(orders):
        if known_ids and i % 2 == 0:
            buyer = _person_of(store.get_customer(rng.choice(known_ids)) or {})
        else:
            buyer = builder.person(rng.choice(["", "Northgate Machining", "Markey Metals"]))
        order = make_order(builder, next_id + i, buyer, now)
        order.update(date_modified=now, status_id=AWAITING_FULFILLMENT, payment_status="authorized")
        order_rows.append(order)
    if order_rows:
        store.insert_orders(order_rows)

    moved = 0
    for customer_id in rng.sample(known_ids, min(address_changes, len(known_ids))):
        customer = store.get_customer(customer_id)
        if customer is None:
            continue
        fresh = builder.person(customer.get("company") or "")
        address = {**(customer.get("addresses") or [{}])[0], "address1": fresh.street, "city": fresh.city,
                   "state_or_province": fresh.state, "postal_code": fresh.zip}  # fmt: skip
        address.pop("id", None)
        store.update_customer(customer_id, addresses=[address], date_modified=now)
        moved += 1

    authorized = [
        o["id"]
        for o in store.list_orders(OrderFilter(status_id=AWAITING_FULFILLMENT), ("id", "asc"), 0, 10_000)
        if o.get("payment_status") == "authorized" and o["id"] not in {r["id"] for r in order_rows}
    ]
    captured = rng.sample(authorized, min(captures, len(authorized)))
    for order_id in captured:
        store.capture_payment(order_id, when=now)
    return {"new orders": len(order_rows), "new customers": len(new_ids), "address changes": moved,
            "captured payments": len(captured)}  # fmt: skip


def _new_person(store: StoreDB, builder: Builder, company: str) -> Person:
    """A person whose email no customer of the store has yet (registration requires that)."""
    while True:
        person = builder.person(company)
        taken, _ = store.list_customers(CustomerFilter(emails=[person.email]), ("date_created", "asc"), 0, 1)
        if not taken:
            return person
