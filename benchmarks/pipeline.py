"""The measured part of the benchmark, run in a child process: ``python -m benchmarks.pipeline SPEC OUT``.

Against a running sandbox (``ATS_TARGET=sandbox``; :mod:`benchmarks.run` starts it), it

1. opens the flow's :class:`~flows.steps.Resources` (:func:`flows.resources.open_resources`);
2. runs a full backfill into the empty org over the whole history: :func:`flows.steps.sync_window`
   itself inside a Prefect flow run (its tasks report to Prefect as in production), each stage
   timed through its ``stage`` hook: extract, transform, diff, load;
3. runs an idle incremental window (nothing changed since the backfill);
4. runs the per-record path peers use on a sample: Singer-like extraction (one request per
   order for each of products, shipping addresses and coupons, on top of paging) and
   hotglue-like loading (one REST upsert by external id per record).

Calls are read from the sandbox's own counters (its admin API, which is not counted) before and
after each phase; the Salesforce client's matching reads and writes are also logged, so that
the number each *should* take can be computed independently (:mod:`benchmarks.model`). Peak
memory is this process's peak RSS (``VmHWM``): the pipeline's alone, the sandbox and the data
generator live in the parent.
"""

from __future__ import annotations

import cProfile
import io
import json
import math
import pstats
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from prefect import flow

from benchmarks.model import QUERY_PAGE_ROWS, salesforce_write_calls
from connectors.base import Window
from connectors.loader import Loader, LoadReport
from connectors.salesforce.query import in_queries
from connectors.salesforce.values import Payload
from flows.steps import Entity, Resources, WindowSummary, sync_window
from transforms.mapping import ObjectMap

FIRST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
STAGES = ("extract", "flatten", "transform", "diff", "load")
#: The sub-resources a per-record (Singer-like) extractor reads, one request per order each.
PER_ORDER_SUBRESOURCES = ("products", "shipping_addresses", "coupons")


def _status_mb(field: str) -> float | None:
    """A memory field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``) in MB; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's ``VmHWM`` (``/proc/self/status``), not ``ru_maxrss``: the latter is carried across
    ``execve`` from the parent's address space, so a child started by a parent holding a large
    generated store would report the parent's peak (it did: 1.5 GB "after imports" at 100k).
    """
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux, bytes on macOS


def rss_mb() -> float:
    """Resident memory of this process now, in MB (``VmRSS``; 0 where /proc has none)."""
    return _status_mb("VmRSS") or 0.0


# -- sandbox counters ------------------------------------------------------------------------------


class SandboxCounters:
    """Request counts of both sandbox services, read through their admin API (never counted)."""

    def __init__(self, home: Path) -> None:
        from connectors.http import make_session
        from sandbox.config import SandboxConfig
        from sandbox.server import SandboxInfo

        info = SandboxInfo.read(SandboxConfig(home=home))
        if info is None:
            raise RuntimeError(f"no sandbox runs from {home}")
        self._bases = {"bigcommerce": info.store_base, "salesforce": info.org_url}
        self._session = make_session(Path(info.ca_path))

    def _read(self) -> dict[str, dict[str, Any]]:
        out = {}
        for system, base in self._bases.items():
            response = self._session.get(f"{base}/__sandbox/counters", timeout=30)
            response.raise_for_status()
            out[system] = response.json()
        return out

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Counts per system and endpoint (``GET /stores/{store_hash}/v2/orders``)."""
        return {system: dict(data["endpoints"]) for system, data in self._read().items()}

    def service_seconds(self) -> dict[str, float]:
        """Seconds each service has spent answering so far, beyond the latency it injects."""
        return {system: sum(data.get("seconds", {}).values()) for system, data in self._read().items()}

    @staticmethod
    def delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        """``after − before``, per system, endpoints with no new request left out."""
        return {
            system: {
                k: n - before.get(system, {}).get(k, 0)
                for k, n in counts.items()
                if n - before.get(system, {}).get(k, 0)
            }
            for system, counts in after.items()
        }


# -- what the Salesforce client was asked to do ------------------------------------------------------


@dataclass
class CallLog:
    """The Salesforce client's reads and writes during a phase, to compute the calls each should take."""

    in_lists: list[tuple[str, list[Any], dict[str, Any]]] = field(default_factory=list)
    statements: list[Any] = field(default_factory=list)  # (inside query_in, rows) pairs
    writes: list[tuple[str, str, int]] = field(default_factory=list)  # (operation, sobject, rows)
    failures: list[int] = field(default_factory=list)  # records each write reported failed
    slept: float = 0.0  # seconds the client slept (Bulk polls, row retries)
    _inside_in: bool = False

    def attach(self, crm: Any) -> None:
        """Wrap ``query_records``, ``query_sized``, ``query_in``, ``upsert`` and ``update`` of the client instance."""
        query_records, query_in, upsert, update = crm.query_records, crm.query_in, crm.upsert, crm.update
        query_sized = crm.query_sized

        def logged_sized(soql: str) -> tuple[int, Iterator[dict[str, Any]]]:
            total, records = query_sized(soql)
            # One statement; the rows it reads are logged as its iterator is read on (never: one page).
            entry = [False, 0]
            self.statements.append(entry)

            def counted() -> Iterator[dict[str, Any]]:
                for record in records:
                    entry[1] += 1
                    yield record

            return total, counted()

        def logged_records(soql: str) -> Iterator[dict[str, Any]]:
            rows, inside = 0, self._inside_in
            for record in query_records(soql):
                rows += 1
                yield record
            self.statements.append((inside, rows))

        def logged_in(template: str, values: Any, **params: Any) -> pd.DataFrame:
            values = list(values)
            self.in_lists.append((template, values, params))
            self._inside_in = True
            try:
                return query_in(template, values, **params)
            finally:
                self._inside_in = False

        def logged_write(operation: str, call: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
            def write(sobject: str, *args: Any) -> pd.DataFrame:
                self.writes.append((operation, sobject, len(args[-1])))
                result = call(sobject, *args)
                self.failures.append(int((~result["success"].astype(bool)).sum()))
                return result

            return write

        crm.query_records, crm.query_in, crm.query_sized = logged_records, logged_in, logged_sized
        sleep = crm.sleep

        def logged_sleep(seconds: float) -> None:
            self.slept += seconds
            sleep(seconds)

        crm.sleep = logged_sleep
        crm.upsert, crm.update = logged_write("upsert", upsert), logged_write("update", update)

    def reset(self) -> None:
        """Forget what was logged (a new phase)."""
        self.in_lists.clear()
        self.slept = 0.0
        self.statements.clear()
        self.writes.clear()
        self.failures.clear()

    def expected_reads(self) -> dict[str, int]:
        """``query`` and ``query_more`` calls the logged reads take by the formula of :mod:`benchmarks.model`.

        ``query``: per ``IN`` list, the statements :func:`in_queries` splits it into (URL limit),
        plus each other statement once; ``query_more``: one per further 2,000 rows a statement
        returned (a read abandoned after its first page returned at most 2,000).
        """
        in_statements = sum(len(in_queries(t, v, **p)) for t, v, p in self.in_lists)
        direct = sum(1 for inside, _ in self.statements if not inside)
        more = sum(max(0, math.ceil(rows / QUERY_PAGE_ROWS) - 1) for _, rows in self.statements)
        return {"query": in_statements + direct, "query_more": more}

    def expected_writes(self, bulk_threshold: int, bulk_polls: int) -> dict[str, int]:
        """Write calls by the formula: collections ``ceil(n / 200)``, or a Bulk job above the threshold
        (plus its failed results when a record failed)."""
        collections = sum(salesforce_write_calls(n, bulk_threshold) for _, _, n in self.writes if n <= bulk_threshold)
        jobs = sum(1 for _, _, n in self.writes if n > bulk_threshold)
        sized = zip(self.writes, self.failures, strict=True)
        failed_jobs = sum(1 for (_, _, n), failed in sized if n > bulk_threshold and failed)
        bulk = jobs * (salesforce_write_calls(bulk_threshold + 1, bulk_threshold) - 1) + (bulk_polls if jobs else 0)
        bulk += failed_jobs
        return {"collections": collections, "bulk": bulk, "bulk_jobs": jobs}


# -- the timed sync window ---------------------------------------------------------------------------


class Stopwatch:
    """Seconds (wall, and CPU of this thread) per stage, and the highest resident memory sampled
    while each ran (every :attr:`SAMPLE_SECONDS` by a thread: where a window's memory peaks)."""

    SAMPLE_SECONDS = 0.05

    def __init__(self) -> None:
        self.wall: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.cpu: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.peak_rss: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._current: str | None = None
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.SAMPLE_SECONDS):
            current = self._current
            if current is not None:
                self.peak_rss[current] = max(self.peak_rss[current], rss_mb())

    def close(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._sampler.join()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time of the ``with`` block to ``name``."""
        wall, cpu = time.perf_counter(), time.thread_time()
        outer, self._current = self._current, name
        try:
            yield
        finally:
            self._current = outer
            self.peak_rss[name] = max(self.peak_rss[name], rss_mb())
            self.wall[name] += time.perf_counter() - wall
            self.cpu[name] += time.thread_time() - cpu

    def move(self, seconds: tuple[float, float], source: str, target: str) -> None:
        """Account ``(wall, cpu)`` seconds measured inside ``source`` to ``target`` instead."""
        for book, s in zip((self.wall, self.cpu), seconds, strict=True):
            book[source] -= s
            book[target] += s


class TimedLoader(Loader):
    """The flow's :class:`Loader`, with the sending (upserts and ledger writes) timed apart.

    Keeps a sample of the payloads it sends per object, for the per-record comparison.
    """

    def __init__(self, *args: Any, sample: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.send_seconds = (0.0, 0.0)
        self.sample = sample
        self.samples: dict[str, tuple[ObjectMap, pd.DataFrame]] = {}

    def _send(self, send: pd.DataFrame, objmap: ObjectMap, *rest: Any) -> LoadReport:
        # ``rest``: whatever else the loader passes on (hashes, moments, the report), untouched.
        if self.sample and not send.empty:
            have = self.samples.get(objmap.sobject, (objmap, send.iloc[:0]))[1]
            if len(have) < self.sample:
                self.samples[objmap.sobject] = (objmap, pd.concat([have, send.iloc[: self.sample - len(have)]]))
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return super()._send(send, objmap, *rest)
        finally:
            w, c = self.send_seconds
            self.send_seconds = (w + time.perf_counter() - wall, c + time.thread_time() - cpu)


@dataclass
class WindowRun:
    """What one timed window did."""

    summary: WindowSummary
    watch: Stopwatch
    wall: float
    sent: dict[str, int]
    loader: TimedLoader


def timed_window(res: Resources, windows: dict[Entity, Window], run_id: str, *, sample: int = 0) -> WindowRun:
    """:func:`flows.steps.sync_window` itself (not a dry run), its stages timed by its ``stage`` hook.

    extract: reading the store's pages; flatten: the records into frames (:mod:`transforms.frames`);
    transform: :func:`transforms.pipeline.transform` (the pure function the target is set for);
    diff: reading what the org holds, existence checks, ledger hashes and dead-letter bookkeeping;
    load: stamping adopted records and the upserts with their ledger writes (timed inside the loader
    and moved out of diff, where the loading step as a whole is accounted).
    """
    watch = Stopwatch()
    loader = TimedLoader(res.crm, res.state, run_id, sample=sample, index=res.index)
    started = time.perf_counter()
    try:
        summary = sync_window(res, windows, run_id, dry_run=False, stage=watch.stage, loader=loader)
    finally:
        watch.close()
    watch.move(loader.send_seconds, "diff", "load")
    sent = {name: r.created + r.updated + r.failed for name, r in summary.loads.items()}
    return WindowRun(summary, watch, time.perf_counter() - started, sent, loader)


# -- the per-record path ---------------------------------------------------------------------------


def per_record_extract(res: Resources, orders: int) -> tuple[int, float]:
    """Singer-like: a page of orders, then one request per order for each sub-resource.

    Returns (orders read, seconds).
    """
    client = res.store.client  # type: ignore[attr-defined]
    started = time.perf_counter()
    page = client.get("v2/orders", {"limit": 250, "page": 1, "sort": "id:asc"}) or []
    ids = [o["id"] for o in page][:orders]
    for order_id in ids:
        for sub in PER_ORDER_SUBRESOURCES:
            client.get(f"v2/orders/{order_id}/{sub}", {"limit": 250}, endpoint=f"v2/orders/{{id}}/{sub}")
    return len(ids), time.perf_counter() - started


def per_record_load(res: Resources, samples: dict[str, tuple[ObjectMap, pd.DataFrame]]) -> tuple[int, float]:
    """hotglue-like: one ``PATCH sobjects/{Object}/{ExternalId}/{value}`` per record of the sample.

    The payloads are the very ones the backfill sent (same values: the org ends as it was).
    Returns (records sent, seconds).
    """
    crm = res.crm
    started, sent = time.perf_counter(), 0
    for sobject in ("Account", "Contact", "Order"):
        if sobject not in samples:
            continue
        objmap, frame = samples[sobject]
        payload = Payload(sobject, frame, objmap.external_id)
        for i in range(len(payload.rows)):
            body = payload.rest_record(i)
            body.pop("attributes", None)
            key = body.pop(objmap.external_id)
            path = f"sobjects/{sobject}/{objmap.external_id}/{quote(str(key), safe='')}"
            crm.rest("per_record", path, method="PATCH", body=body)  # type: ignore[attr-defined]
            sent += 1
    return sent, time.perf_counter() - started


# -- the whole measured run ----------------------------------------------------------------------------


def _phase(
    counters: SandboxCounters, run: Callable[[], Any], before: dict[str, dict[str, int]] | None = None
) -> tuple[Any, dict[str, dict[str, int]], float]:
    before = before if before is not None else counters.snapshot()
    started = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - started
    return value, SandboxCounters.delta(before, counters.snapshot()), seconds


def _stages(window: WindowRun) -> dict[str, Any]:
    extracted = window.summary.extracted
    records = {
        "extract": extracted["customers"] + extracted["orders"],
        "flatten": extracted["customers"] + extracted["orders"],
        "transform": extracted["orders"],
        "diff": extracted["orders"],
        "load": sum(window.sent.values()),
    }
    return {
        name: {
            "records": records[name],
            "seconds": round(window.watch.wall[name], 4),
            "cpu_seconds": round(window.watch.cpu[name], 4),
            "records_per_second": round(records[name] / window.watch.wall[name], 1)
            if window.watch.wall[name]
            else None,
            "peak_rss_mb": round(window.watch.peak_rss[name], 1),
        }
        for name in STAGES
    }


def _profile_text(profiler: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


@flow(name="benchmark-warm-up")
def _prefect_ready() -> None:
    """Nothing: running it starts Prefect's API before anything is timed (it takes 20 s or more)."""


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run every phase against the sandbox the environment points at; the measurements as plain data.

    ``spec``: ``home`` (sandbox folder), ``as_of`` (ISO moment the data ends), ``per_record_orders``,
    ``profile`` (cProfile the backfill).
    """
    from connectors.settings import Settings
    from flows.resources import open_resources

    _prefect_ready()  # the tasks of sync_window report to Prefect like in a flow run
    baseline_rss = peak_rss_mb()
    counters = SandboxCounters(Path(spec["home"]))
    settings = Settings()
    as_of = datetime.fromisoformat(spec["as_of"])
    out: dict[str, Any] = {"rss_after_imports_mb": round(baseline_rss, 1)}
    log = CallLog()
    opened = counters.snapshot()  # the backfill's calls include opening the resources (login, lookups)
    opening = time.perf_counter()
    with open_resources(settings) as res:
        out["open_seconds"] = round(time.perf_counter() - opening, 3)
        log.attach(res.crm)
        run_id = res.state.start_run("backfill", {"benchmark": True})
        backfill_windows: dict[Entity, Window] = {
            "customers": Window(FIRST_MOMENT, as_of),
            "orders": Window(FIRST_MOMENT, as_of),
        }
        profiler = cProfile.Profile() if spec.get("profile") else None
        bulk_polls_before = res.crm.api_calls().get("bulk_poll", 0)

        def backfill() -> WindowRun:
            if profiler:
                profiler.enable()
            try:
                return timed_window(res, backfill_windows, run_id, sample=spec["per_record_orders"])
            finally:
                if profiler:
                    profiler.disable()

        service_before = counters.service_seconds()
        cpu_before = time.process_time()  # every thread's: the streams read ahead in their own
        window, calls, seconds = _phase(counters, flow(name="benchmark-backfill")(backfill), opened)
        process_cpu = time.process_time() - cpu_before
        service = {k: round(v - service_before.get(k, 0.0), 3) for k, v in counters.service_seconds().items()}
        polls = res.crm.api_calls().get("bulk_poll", 0) - bulk_polls_before
        out["backfill"] = {
            "seconds": round(seconds, 3),
            "process_cpu_seconds": round(process_cpu, 3),
            "summary": window.summary.as_dict(),
            "sent": window.sent,
            "stages": _stages(window),
            "calls": calls,
            "client_calls": res.api_calls(),
            "service_seconds": service,
            "client_sleep_seconds": round(log.slept, 3),
            "expected": {
                "reads": log.expected_reads(),
                "writes": log.expected_writes(settings.sf.bulk_threshold, polls),
                "write_sizes": [list(w) for w in log.writes],
                "bulk_polls": polls,
            },
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        if profiler:
            out["backfill"]["profile"] = _profile_text(profiler)
        res.state.finish_run(run_id, "succeeded", counts=window.summary.as_dict(), api_calls=res.api_calls())

        # An idle incremental run: the window after the data ends, up to now minus the lag.
        log.reset()
        end = max(as_of + timedelta(seconds=1), datetime.now(UTC) - timedelta(seconds=settings.bc.window_lag_seconds))
        idle_windows: dict[Entity, Window] = {
            "customers": Window(as_of + timedelta(seconds=1), end),
            "orders": Window(as_of + timedelta(seconds=1), end),
        }
        idle_id = res.state.start_run("sync", {"benchmark": True})
        idle_flow = flow(name="benchmark-idle")(lambda: timed_window(res, idle_windows, idle_id))
        idle, calls, seconds = _phase(counters, idle_flow)
        res.state.finish_run(idle_id, "succeeded", counts=idle.summary.as_dict(), api_calls=res.api_calls())
        out["idle"] = {
            "seconds": round(seconds, 3),
            "summary": idle.summary.as_dict(),
            "calls": calls,
            "expected": {"reads": log.expected_reads(), "writes": log.expected_writes(settings.sf.bulk_threshold, 0)},
        }

        # The per-record path on a sample.
        sample = int(spec["per_record_orders"])
        if sample:
            (read, extract_s), bc_calls, _ = _phase(counters, lambda: per_record_extract(res, sample))
            (sent, load_s), sf_calls, _ = _phase(counters, lambda: per_record_load(res, window.loader.samples))
            out["per_record"] = {
                "orders": read,
                "extract_seconds": round(extract_s, 3),
                "extract_calls": bc_calls,
                "records": sent,
                "load_seconds": round(load_s, 3),
                "load_calls": sf_calls,
                "records_by_object": {k: len(f) for k, (_, f) in window.loader.samples.items()},
            }
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.pipeline SPEC.json OUT.json``."""
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    Path(args[1]).write_text(json.dumps(run(spec), indent=2, default=str))


if __name__ == "__main__":
    main()
