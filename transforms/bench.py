"""Throughput of :func:`transforms.pipeline.transform` on one core: ``python -m transforms.bench``.

Builds the input of about ``--orders`` orders from the sandbox generator (a base store of
``--base`` orders with its customers and org, in the extractor's shape, then copied with new
ids and emails until big enough: Faker is too slow to generate 100k orders quickly) and
reports orders per second of ``transform`` (best of ``--repeat`` runs), and separately of
flattening the records with :mod:`transforms.frames`. Not a test: nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from transforms.frames import customers_frame, orders_frame
from transforms.matching import ExistingRecords
from transforms.pipeline import transform

QUEUE_ID = "00G000000000001AAA"
_STATUS = {2: "Shipped", 7: "Awaiting Payment", 9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
           1: "Pending"}  # fmt: skip


def _order_input(order: dict[str, Any], copy: int, id_step: int) -> dict[str, Any]:
    """A generator order as the extractor yields it (Decimals, inline consignments), copy ``copy``."""
    o = dict(order)
    for key, value in order.items():
        if isinstance(value, str) and key.startswith(("total_", "subtotal_")):
            o[key] = Decimal(value)
    o["id"] = order["id"] + copy * id_step
    if o["customer_id"]:
        o["customer_id"] = order["customer_id"] + copy * id_step
    o["status"] = _STATUS.get(order["status_id"], "Awaiting Fulfillment")
    billing = dict(order["billing_address"])
    if copy:
        billing["email"] = f"c{copy}.{billing['email']}"
    o["billing_address"] = billing
    o["consignments"] = {"shipping": [{**a, "line_items": []} for a in o.pop("shipping_addresses")]}
    o.pop("products", None)
    return o


def _customer_input(customer: dict[str, Any], copy: int, id_step: int) -> dict[str, Any]:
    return {
        **customer,
        "id": customer["id"] + copy * id_step,
        "email": f"c{copy}.{customer['email']}" if copy else customer["email"],
    }


def build_input(orders: int, base: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], ExistingRecords]:
    """Customer and order records and existing org records for about ``orders`` orders."""
    from sandbox.generator import generate  # the sandbox is only needed to benchmark

    data = generate(orders=base, as_of=datetime(2026, 11, 23, tzinfo=UTC))
    copies = max(1, -(-orders // len(data.orders)))
    id_step = 10 ** len(str(max(o["id"] for o in data.orders) + len(data.customers)))
    order_records = [_order_input(o, c, id_step) for c in range(copies) for o in data.orders][:orders]
    for i in range(0, len(order_records), 100):  # one order in a hundred is broken: rejects cost too
        broken = order_records[i]
        broken["billing_address"] = {**broken["billing_address"], "email": "not-an-email"}
    customer_records = [_customer_input(cu, c, id_step) for c in range(copies) for cu in data.customers]
    users = [f"005{i:015d}" for i in range(len(data.users))]
    accounts = pd.DataFrame(
        [
            {"Id": f"001{i:015d}", "Name": a["Name"], "BigCommerce_Account_Key__c": None, "OwnerId": users[0],
             "Assigned_CSR__c": users[a["_assigned_csr"]] if "_assigned_csr" in a else None,
             "CreatedDate": f"2025-01-01T00:00:{i % 60:02d}.000+0000"}
            for i, a in enumerate(data.accounts)
        ]
    )  # fmt: skip
    contacts = pd.DataFrame(
        [
            {"Id": f"003{i:015d}", "Email": c["Email"], "AccountId": f"001{c['_account']:015d}",
             "BigCommerce_Contact_Key__c": None, "CreatedDate": "2025-01-01T00:00:00.000+0000"}
            for i, c in enumerate(data.contacts)
        ]
    )  # fmt: skip
    return customer_records, order_records, ExistingRecords(accounts=accounts, contacts=contacts)


def _best(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall-clock and best CPU seconds of ``repeat`` runs, and the last result.

    CPU time (``time.process_time``) is the fairer figure on a shared machine: other processes
    stretch the wall clock, not the work done.
    """
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def _report(label: str, n: int, wall: float, cpu: float) -> None:
    print(f"{label:10s} wall {wall:6.3f}s {n / wall:9,.0f} orders/s   cpu {cpu:6.3f}s {n / cpu:9,.0f} orders/s")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=10_000, help="orders generated with Faker before copying")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    customer_records, order_records, existing = build_input(args.orders, args.base)
    print(f"input: {len(order_records)} orders, {len(customer_records)} customers, "
          f"{len(existing.accounts)} org accounts ({time.perf_counter() - start:.1f}s to build)")  # fmt: skip

    flat_wall, flat_cpu, (customers, orders) = _best(
        lambda: (customers_frame(customer_records), orders_frame(order_records)), args.repeat
    )
    run_wall, run_cpu, result = _best(lambda: transform(customers, orders, existing, QUEUE_ID), args.repeat)
    n = len(order_records)
    _report("frames", n, flat_wall, flat_cpu)
    _report("transform", n, run_wall, run_cpu)
    _report("together", n, flat_wall + run_wall, flat_cpu + run_cpu)
    print(f"output: {len(result.orders)} orders, {len(result.contacts)} contacts, {len(result.accounts)} accounts, "
          f"{len(result.adoptions)} adoptions, {len(result.rejects)} rejects; balance {result.balance()}")  # fmt: skip


if __name__ == "__main__":
    main()
