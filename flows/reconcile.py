"""The ``reconcile`` flow: flag eCommerce orders whose ASTEA set code a CSR must fix.

Reads the Salesforce eCommerce orders of the window with their accounts, the matching store
orders, and the reconciliation Tasks; checks them (:mod:`transforms.reconcile`); and, with
``write_back``, writes where the CSR looks: the order's status field, and one open Task per
flagged order (upserted by its key, so a rerun creates no second Task; closed when the flag
clears). Also a keyed table artifact with record links and a CSV report.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from simple_salesforce.format import format_soql

from connectors.base import Window
from connectors.settings import Settings
from flows.resources import open_resources
from flows.steps import Resources
from transforms.payloads import payload_frame
from transforms.reconcile import ReconcileResult, order_query_fields, reconcile, task_query_fields

REPORTS_DIR = Path("reports")


def _read(res: Resources, window_start: datetime, store_keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Salesforce orders to check (window, plus the store window's numbers) and their Tasks."""
    order = res.mapping.order
    fields = ", ".join(order_query_fields(res.mapping))
    in_window = res.crm.query(
        format_soql(
            f"SELECT {fields} FROM {order.sobject} WHERE {order.external_id} != null "  # noqa: S608 (mapping names)
            "AND CreatedDate >= {start}",
            start=window_start,
        )
    )
    known = set(in_window[order.external_id]) if not in_window.empty else set()
    missing = [k for k in store_keys if k not in known]
    extra = res.crm.query_in(f"SELECT {fields} FROM {order.sobject} WHERE {order.external_id} IN {{values}}",  # noqa: S608
                             missing) if missing else pd.DataFrame()  # fmt: skip
    found = [f for f in (in_window, extra) if not f.empty]
    orders = pd.concat(found, ignore_index=True) if found else in_window
    task = res.mapping.task
    # Open Tasks, and those closed within the window (a flag that comes back reopens its Task).
    tasks = res.crm.query(
        format_soql(
            f"SELECT {', '.join(task_query_fields(res.mapping))} FROM {task.sobject} "  # noqa: S608 (mapping names)
            f"WHERE {task.external_id} LIKE 'reconcile:%' AND (IsClosed = false OR LastModifiedDate >= {{start}})",
            start=window_start,
        )
    )
    return orders, tasks


def _write_back(res: Resources, result: ReconcileResult, tasks: pd.DataFrame) -> dict[str, int]:
    written = {"status_updates": 0, "tasks_upserted": 0, "tasks_closed": 0}
    order_sobject = res.mapping.order.sobject
    if not result.status_updates.empty:
        done = res.crm.update(order_sobject, result.status_updates)
        written["status_updates"] = int(done["success"].astype(bool).sum())
    task = res.mapping.task
    existing = set(tasks[task.external_id]) if not tasks.empty else set()
    # Tasks bypass the ledger on purpose: a Task a CSR closed by hand must reopen if the flag returns.
    for frame, counter in ((result.task_upserts, "tasks_upserted"), (result.task_closes, "tasks_closed")):
        if frame.empty:
            continue
        payloads = payload_frame(frame, task, existing)
        done = res.crm.upsert(task.sobject, task.external_id, payloads)
        written[counter] = int(done["success"].astype(bool).sum())
    return written


@flow(name="reconcile", log_prints=False)
def reconcile_orders(window_days: int = 30, write_back: bool = True) -> dict:
    """Check the set codes of recent eCommerce orders and flag what a CSR must fix.

    Args:
        window_days: How many days of orders to check.
        write_back: Write the flags into Salesforce (order status field and Tasks); off, only report.
    """
    logger = get_run_logger()
    settings = Settings()
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=window_days)
    with open_resources(settings) as res:
        store_orders = [o for page in res.store.orders(Window(start, now), field="date_created") for o in page]
        store_keys = sorted({str(o["id"]) for o in store_orders})
        sf_orders, tasks = _read(res, start, store_keys)
        fallback = res.integration_user_id
        result = reconcile(sf_orders, store_orders, tasks, task_fallback_owner=fallback, today=now.date(),
                           mapping=res.mapping)  # fmt: skip
        written = _write_back(res, result, tasks) if write_back else {}
        calls = res.api_calls()
    report = result.report
    path = _write_csv(report, now)
    rows = report.assign(link=[f"{res.instance_url}{p}" if p else "" for p in report["link_path"]])
    create_table_artifact(
        key="reconcile-flags",
        table=rows.drop(columns=["link_path"]).to_dict("records"),
        description=f"Orders to fix ({len(report)}), {start.date()} to {now.date()}",
    )
    data = {"checked": result.orders_checked, "flagged": len(report), "codes": result.summary(),
            "written": written, "report": str(path), "api_calls": calls}  # fmt: skip
    logger.info("reconcile: %s flagged of %s checked; report %s", len(report), result.orders_checked, path)
    return data


def _write_csv(report: pd.DataFrame, now: datetime) -> Path:
    REPORTS_DIR.mkdir(exist_ok=True)
    path = REPORTS_DIR / f"reconcile-{now:%Y%m%dT%H%M%SZ}.csv"
    report.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path
