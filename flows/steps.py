"""One window of sync, batch by batch: the code path shared by the sync and backfill flows.

For each batch of extracted pages: flatten, read what the org already holds, transform, and plan
the loads of Accounts, Contacts and Orders (the loader spools what is to be sent). At the
window's end, :func:`write_window` stamps our keys on adopted records and writes each object
once, in that order (children name their parents by external id), keeping the ledger and dead
letters. Tasks work on whole batches (thousands of records), never one task per record.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pandas as pd
from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from connectors.base import CrmSink, StoreSource, Window
from connectors.key_set import KeySet
from connectors.loader import Loader, LoadReport
from connectors.lookups import Claims, read_existing
from connectors.org_index import OrgIndex
from flows.memory import collections_between_batches, release_free_memory
from flows.window_keep import WindowAdoptions, WindowCustomers
from state import FailedRecord, StateStore
from transforms.frames import customers_frame, orders_frame
from transforms.holdback import held_keys, held_sources
from transforms.mapping import ObjectMap, SalesforceMapping
from transforms.people import CUSTOMER
from transforms.pipeline import TransformResult, transform

Entity = Literal["customers", "orders"]
ENTITIES: tuple[Entity, ...] = ("customers", "orders")
#: Orders transformed together. Memory grows with a batch (a 10,000-order batch peaked about 330 MB
#: above the interpreter's imports, ``store-sync bench``); the writes do not: they are the
#: window's (:func:`write_window`), so a batch costs only its reads of what changed in the org.
ORDERS_PER_BATCH = 10_000
#: The window's customers without an order go out with its last batch if there are at most this
#: many, else in batches of their own (of up to :data:`ORDERS_PER_BATCH`): a tenth of a store's
#: customers have no order in a backfill, and all of them made the last batch of the 100k
#: benchmark the largest (its peak 9 MB above the batch before it).
REST_WITH_LAST = ORDERS_PER_BATCH // 10


@dataclass
class Resources:
    """The connections a flow works with, opened once per flow run."""

    store: StoreSource
    crm: CrmSink
    state: StateStore
    mapping: SalesforceMapping
    queue_id: str
    integration_user_id: str  # owns Tasks of orders a queue owns (a queue cannot own a Task)
    instance_url: str  # for record links in artifacts
    index: OrgIndex = field(init=False)  # the run's reads by value (kept across batches)

    def __post_init__(self) -> None:
        self.index = OrgIndex(self.crm, self.integration_user_id)

    def api_calls(self) -> dict[str, dict[str, int]]:
        """Requests sent so far, per system and endpoint."""
        return {"bigcommerce": self.store.api_calls(), "salesforce": self.crm.api_calls()}


@dataclass
class WindowSummary:
    """Counts of one window (or several, added up)."""

    extracted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENTITIES, 0))
    rejected: dict[str, int] = field(default_factory=dict)  # reason code -> records
    adopted: int = 0
    loads: dict[str, LoadReport] = field(default_factory=dict)

    def add_load(self, report: LoadReport) -> None:
        """Add a load report to its object's."""
        self.loads.setdefault(report.sobject, LoadReport(report.sobject)).add(report)

    def add(self, other: WindowSummary) -> None:
        """Add another summary (backfill chunks)."""
        for entity, n in other.extracted.items():
            self.extracted[entity] = self.extracted.get(entity, 0) + n
        for reason, n in other.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        self.adopted += other.adopted
        for report in other.loads.values():
            self.add_load(report)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for artifacts, run history and the CLI."""
        return {
            "extracted": self.extracted,
            "rejected": self.rejected,
            "adopted": self.adopted,
            "loads": {name: vars(report) for name, report in self.loads.items()},
        }


#: Dead-lettered records fetched again per run (one call per order: bounded).
RETRIES_PER_RUN = 200


def retried_records(res: Resources, entity: Entity) -> list[dict]:
    """The current source records of ``entity`` rejected by earlier runs' transforms.

    Fetched again each run: a record fixed in the store, or one a newer pipeline accepts, then
    loads and its dead letter resolves.
    """
    return fetch_retried(res, entity, retried_ids(res, entity))


def retried_ids(res: Resources, entity: Entity) -> list[int]:
    """The ids of the ``entity`` records earlier runs' transforms rejected (at most :data:`RETRIES_PER_RUN`)."""
    return [int(letter.external_id) for letter in res.state.open_dead_letters(entity, stage="transform")
            if letter.external_id.isdigit()][:RETRIES_PER_RUN]  # fmt: skip


def fetch_retried(res: Resources, entity: Entity, ids: list[int]) -> list[dict]:
    """The current store records of ``ids`` (one call per page of ids)."""
    if not ids:
        return []
    fetch = res.store.customers_by_id if entity == "customers" else res.store.orders_by_id
    return [record for page in fetch(ids) for record in page]


@dataclass
class Batch:
    """One batch of records to transform and load together.

    ``customers`` holds the batch's own customer records (the window's, each with the first
    batch holding one of its orders) and, after them, the records of the registered customers
    whose orders are in the batch but whose record is not (``context``: their ids). The
    transform needs those for rule R2's company and the customer group; they were counted, and
    their rejects recorded, with the batch they belong to (or, unchanged and outside the
    window, not at all).
    """

    customers: list[dict]
    orders: list[dict]
    context: set[str] = field(default_factory=set)

    @property
    def extracted_customers(self) -> int:
        """Customer records this batch extracted (context records not counted)."""
        return len(self.customers) - len(self.context)


def batches(res: Resources, windows: dict[Entity, Window], *, retry: bool = True) -> Iterator[Batch]:
    """The window's records in batches of about :data:`ORDERS_PER_BATCH` orders.

    Each window customer goes out once as the batch's own record, with the first batch holding
    one of its orders (those without an order go with the last batch, or after it in batches of
    their own: :data:`REST_WITH_LAST`), so memory stays that of one batch however large the
    window. Every batch also carries, as context (:class:`Batch`), the records its registered
    orders need that went out before or lie outside the window (fetched by id: one call per page
    of ids). Dead-lettered records being retried join the window's.
    """
    window = WindowCustomers()
    stop = threading.Event()
    with closing(window), ThreadPoolExecutor(max_workers=1, thread_name_prefix="customers") as pool:
        # The customers are read in a thread while the orders' pages arrive here: the two
        # streams' requests overlap each other's waits and our parsing. A batch is cut only once
        # every window customer is in (else its orders' customers would be fetched by id again).
        context = contextvars.copy_context()  # the thread's logs belong to this run
        # The state store is read here, in the run's own thread; the thread only talks to the store.
        retried = retried_ids(res, "customers") if retry and "customers" in windows else []
        customers = pool.submit(context.run, _read_window_customers, res, windows, retried, window, stop)
        try:
            yield from _order_batches(res, windows, retry, window, customers)
        finally:
            stop.set()  # a consumer that stops early stops the customers' reading too


def _read_window_customers(
    res: Resources, windows: dict[Entity, Window], retried: list[int], window: WindowCustomers, stop: threading.Event
) -> None:
    """Fill ``window`` with the window's customer records (and those of the ``retried`` ids)."""
    if "customers" not in windows:
        return
    window.add(fetch_retried(res, "customers", retried))
    for customer_page in res.store.customers(windows["customers"]):
        window.add(customer_page)
        if stop.is_set():
            return


def _order_batches(
    res: Resources, windows: dict[Entity, Window], retry: bool, window: WindowCustomers, customers: Future[None]
) -> Iterator[Batch]:
    pages = iter(res.store.orders(windows["orders"]) if "orders" in windows else ())
    orders: list[dict] = retried_records(res, "orders") if retry and "orders" in windows else []
    page = next(pages, None)
    sent_any = False
    while page is not None:
        orders.extend(page)
        page = next(pages, None)  # read ahead: a full batch is the last one if no page follows
        if len(orders) >= ORDERS_PER_BATCH and page is not None:
            customers.result()  # raises what the customers' reading raised
            yield _batch(res, window, _drain(orders), last=False)
            sent_any = True
    customers.result()
    last = [_batch(res, window, _drain(orders), last=True)]
    if last[0].orders or last[0].customers or not sent_any:
        yield last.pop()  # not held here while it is worked on (as _drain)
    while window.unsent():
        yield Batch(window.rest(most=ORDERS_PER_BATCH), [])


def _drain(records: list[dict]) -> list[dict]:
    """The records of ``records``, which is left empty. A batch's records must not stay alive in
    the generator's frame while the batch is worked on: the run drops each batch and returns its
    memory before asking for the next, and records still held here would not be freed by that."""
    taken = records[:]
    records.clear()
    return taken


def _key(record: dict) -> object:
    """A record's id, or its identity when it has none (kept, so the transform rejects it by name)."""
    key = record.get("id")
    return key if key is not None else id(record)


def _batch(res: Resources, window: WindowCustomers, order_records: list[dict], *, last: bool) -> Batch:
    """A :class:`Batch` of ``order_records`` with its customers: the window's going out for the
    first time (and, in the ``last`` batch, all the window's left if they are few:
    :data:`REST_WITH_LAST`), and the others as context."""
    orders = _unique(order_records)
    needed = sorted(
        {o.get("customer_id") for o in orders if isinstance(o.get("customer_id"), int) and o["customer_id"] > 0}
    )
    own, context = window.take(needed)
    if last and window.unsent() <= REST_WITH_LAST:
        own += window.rest()
    missing = window.missing(needed)
    if missing:
        context += [record for page in res.store.customers_by_id(missing) for record in page]
    return Batch(own + context, orders, {str(_key(r)) for r in context})


def _unique(records: list[dict]) -> list[dict]:
    """One record per id, the last seen (a retried record is superseded by the window's copy).

    Records without an id are all kept: the transform rejects them with a reason, never silently.
    """
    return list({_key(record): record for record in records}.values())


def run_step(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a step (a Prefect task, or its plain function) with its arguments passed as they are.

    Prefect walks every task argument, element by element, to find futures and record task
    inputs: on a batch of thousands of nested order records that walk took longer than the
    work itself (over 100 s of a 10k-order backfill in the benchmark's profile). ``quote`` tells
    Prefect not to look inside; our steps never receive futures.
    """
    if isinstance(step, Task):
        return step(*(quote(a) for a in args), **{k: quote(v) for k, v in kwargs.items()})
    return step(*args, **kwargs)


#: Wraps a step in a named stage (extract, flatten, transform, diff, load); the benchmark times them.
Stage = Callable[[str], AbstractContextManager[object]]


def untimed(_: str) -> AbstractContextManager[object]:
    """The default :data:`Stage`: nothing measured."""
    return nullcontext()


@task(cache_policy=NO_CACHE)
def transform_batch(
    res: Resources,
    customer_records: list[dict],
    order_records: list[dict],
    stage: Stage = untimed,
    made: KeySet | None = None,
    claimed: Claims | None = None,
) -> TransformResult:
    """Flatten, read the org's matching records, and transform one batch (``made``: keys of the
    Accounts earlier batches of the window will create; ``claimed``: the records they adopt,
    :func:`connectors.lookups.read_existing`)."""
    with stage("flatten"):
        customers, orders = customers_frame(customer_records), orders_frame(order_records)
    with stage("diff"):
        existing = read_existing(res.index, res.state, res.mapping, customers, orders, made, claimed)
    with stage("transform"):
        return transform(customers, orders, existing, res.queue_id, res.mapping)


@task(cache_policy=NO_CACHE)
def record_rejects(res: Resources, result: TransformResult, customer_ids: list[str], run_id: str) -> dict[str, int]:
    """Dead-letter the batch's rejects; resolve the letters of records that now pass."""
    rejects = result.rejects
    res.state.dead_letter(
        (
            FailedRecord("transform", f"{row.entity}s", str(row.source_id), row.reason_code, row.message, row.payload)
            for row in rejects.itertuples()
        ),
        run_id,
    )
    rejected = {(f"{e}s", str(i)) for e, i in zip(rejects["entity"], rejects["source_id"], strict=True)}
    accepted_orders = [k for k in result.orders["order_key"] if ("orders", k) not in rejected]
    accepted_customers = [k for k in customer_ids if ("customers", k) not in rejected]
    res.state.resolve_dead_letters("orders", accepted_orders, run_id, stage="transform")
    res.state.resolve_dead_letters("customers", accepted_customers, run_id, stage="transform")
    return {str(k): int(v) for k, v in rejects["reason_code"].value_counts().items()}


@dataclass
class Adoption:
    """What :func:`adopt` stamped (sObject → our keys) and the Ids Salesforce refused, with why."""

    stamped: dict[str, set[str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # Salesforce Id -> "CODE: message"

    @property
    def count(self) -> int:
        """Records stamped."""
        return sum(len(keys) for keys in self.stamped.values())

    def add(self, other: Adoption) -> None:
        """Add what another adoption stamped and was refused."""
        for sobject, keys in other.stamped.items():
            self.stamped.setdefault(sobject, set()).update(keys)
        self.refused.update(other.refused)


def adopt(res: Resources, adoptions: pd.DataFrame) -> Adoption:
    """Stamp our keys on records CSRs made before the integration, so upserts update them."""
    outcome = Adoption()
    for (sobject, field_name), group in adoptions.groupby(["sobject", "external_id_field"]):
        frame = pd.DataFrame({"Id": group["salesforce_id"], field_name: group["key"]})
        results = res.crm.update(str(sobject), frame)
        ok = results["success"].astype(bool).to_numpy()
        outcome.stamped.setdefault(str(sobject), set()).update(group["key"][ok])
        for sf_id, code, message in zip(
            results["external_id"][~ok], results["error_code"][~ok], results["message"][~ok], strict=True
        ):
            outcome.refused[str(sf_id)] = f"{code}: {message}"
    return outcome


@task(cache_policy=NO_CACHE)
def load_batch(res: Resources, loader: Loader, result: TransformResult) -> list[LoadReport]:
    """Plan the loads of Accounts, Contacts and Orders of one batch (sent now in a dry run's report
    only; otherwise spooled for :func:`write_window`)."""
    frames = (result.accounts, result.contacts, result.orders)
    return [loader.load(frame, objmap) for objmap, frame in zip(_load_order(res.mapping), frames, strict=True)]


def _load_order(mapping: SalesforceMapping) -> tuple[ObjectMap, ObjectMap, ObjectMap]:
    """Accounts, then Contacts, then Orders: children name their parents by external id."""
    return mapping.account, mapping.contact, mapping.order


@task(cache_policy=NO_CACHE)
def write_window(
    res: Resources, loader: Loader, adoptions: list[pd.DataFrame], run_id: str, stage: Stage = untimed
) -> tuple[int, list[LoadReport]]:
    """Write the window: per object (Accounts, Contacts, Orders), stamp its adoptions, then resend
    earlier runs' failures and write its spooled rows, once each (:meth:`Loader.flush`).

    An object's stamps must be in before its upserts (which then find the stamped records), and
    need nothing of the objects before it: so the next object's stamps are sent in a thread while
    this one's rows are written (its Bulk job mostly waits on the org). On a real org the two can
    meet on a parent Account's lock; a row that fails so is sent again (``UNABLE_TO_LOCK_ROW``).
    The rows of refused adoptions and of their children are held back
    (:mod:`transforms.holdback`), and the store records they came from dead-lettered at the
    transform stage, so that the next run fetches them again and retries the adoption.
    Returns the records stamped and the load reports.
    """
    pending = pd.concat(adoptions, ignore_index=True) if adoptions else pd.DataFrame()
    if not pending.empty:
        # A buyer in several batches was proposed by each, alike: stamp each record once.
        pending = pending.drop_duplicates(["sobject", "salesforce_id"]).drop_duplicates(["sobject", "key"])
    by_object = dict(tuple(pending.groupby("sobject"))) if not pending.empty else {}

    def stamp(sobject: str) -> Adoption:
        return adopt(res, by_object[sobject]) if sobject in by_object else Adoption()

    outcome = Adoption()
    reports: list[LoadReport] = []
    held_back: dict[str, pd.DataFrame] = {}
    held: dict[str, set[str]] = {}
    objects = _load_order(res.mapping)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="adopt") as pool:
        ahead: Future[Adoption] | None = None
        for i, objmap in enumerate(objects):
            with stage("load"):
                stamped = ahead.result() if ahead is not None else stamp(objmap.sobject)
            outcome.add(stamped)
            if i + 1 < len(objects):
                ahead = pool.submit(contextvars.copy_context().run, stamp, objects[i + 1].sobject)
            for sobject, keys in (held_keys(pending, stamped.refused) if stamped.refused else {}).items():
                held.setdefault(sobject, set()).update(keys)
            with stage("diff"):
                reports.append(loader.retry_payloads(objmap))
                report, back = loader.flush(objmap, held)
            reports.append(report)
            if not back.empty:
                held_back[objmap.sobject] = back
                held.setdefault(objmap.sobject, set()).update(back[objmap.external_id])
    if held_back:
        refused = pending[pending["salesforce_id"].isin(list(outcome.refused))]
        pairs = zip(refused["sobject"], refused["salesforce_id"], strict=True)
        message = "adoption refused: " + "; ".join(f"{sobject} {i}: {outcome.refused[i]}" for sobject, i in pairs)
        res.state.dead_letter(
            (
                FailedRecord("transform", entity, source_id, "ADOPTION_REFUSED", message[:2000])
                for entity, ids in held_sources(held_back, res.mapping).items()
                for source_id in ids
            ),
            run_id,
        )
    return outcome.count, reports


def sync_window(
    res: Resources,
    windows: dict[Entity, Window],
    run_id: str,
    *,
    dry_run: bool,
    stage: Stage = untimed,
    loader: Loader | None = None,
) -> WindowSummary:
    """Extract, transform and load everything changed in ``windows``; the state's watermarks are untouched.

    ``stage`` and ``loader`` let the benchmark time the steps of this very code path.
    """
    with collections_between_batches():
        return _sync_window(res, windows, run_id, dry_run=dry_run, stage=stage, loader=loader)


def _sync_window(
    res: Resources,
    windows: dict[Entity, Window],
    run_id: str,
    *,
    dry_run: bool,
    stage: Stage,
    loader: Loader | None,
) -> WindowSummary:
    summary = WindowSummary()
    loader = loader or Loader(res.crm, res.state, run_id, dry_run=dry_run, index=res.index)
    loader.defer_writes()
    loader.track_planned_new(res.mapping.account.sobject)  # read_existing's "made"
    adoptions = WindowAdoptions()  # the window's, stamped by write_window before its upserts
    pending = batches(res, windows, retry=not dry_run)
    while True:
        with stage("extract"):
            batch = next(pending, None)
        if batch is None:
            break
        summary.extracted["customers"] += batch.extracted_customers
        summary.extracted["orders"] += len(batch.orders)
        made = loader.planned_new(res.mapping.account.sobject)
        result = run_step(transform_batch, res, batch.customers, batch.orders, stage, made, adoptions.claims)
        if batch.context:  # a context record's rejection belongs to its own batch (or to no run)
            rejects = result.rejects
            context = (rejects["entity"] == CUSTOMER) & rejects["source_id"].astype(str).isin(batch.context)
            result = replace(result, rejects=rejects[~context])
        for reason, n in result.rejects["reason_code"].value_counts().items():
            summary.rejected[str(reason)] = summary.rejected.get(str(reason), 0) + int(n)
        # Adopted records exist (stamped with our key at the window's end, or in a dry run never):
        # their rows are planned as updates, so the create-only values never reach a CSR's record.
        for sobject, group in result.adoptions.groupby("sobject"):
            loader.assume_existing(str(sobject), group["key"])
        adoptions.add(result.adoptions)
        if not dry_run:
            with stage("diff"):
                own_ids = [str(_key(r)) for r in batch.customers if str(_key(r)) not in batch.context]
                run_step(record_rejects, res, result, own_ids, run_id)
        with stage("diff"):
            reports = run_step(load_batch, res, loader, result)
        for report in reports:
            summary.add_load(report)
        # Let this batch go before the next is read: otherwise two batches live at once.
        del batch, result, reports
        release_free_memory()
    if not dry_run:
        stamped, reports = run_step(write_window, res, loader, adoptions.frames(), run_id, stage)
        summary.adopted += stamped
        for report in reports:
            summary.add_load(report)
    return summary
