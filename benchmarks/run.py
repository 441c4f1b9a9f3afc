"""``store-sync bench``: the sandbox, a generated store, the measured child run, and the report.

:func:`run_benchmark` makes a temporary sandbox home, generates a store of ``orders`` orders
(customers in proportion, a third of orders by guests: :func:`sandbox.generator.generate`) and
an org that knows some of its buyers, starts both services in a thread of this process (free
ports, the configured latency on every request, the BigCommerce rate limit), then runs
:mod:`benchmarks.pipeline` in a child process pointed at it, and compares what it measured with
:mod:`benchmarks.model`. :func:`write_reports` writes ``bench-<N>.json`` and ``bench-<N>.md``
(ratios first); :func:`print_table` shows them on the terminal. Nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.model import (
    BULK_CALLS_PER_JOB,
    FIXED_SALESFORCE_CALLS,
    MATCHED_OBJECTS,
    bigcommerce_min_calls,
    rate_limited_floor,
    salesforce_min_reads,
    salesforce_write_calls,
    time_floor,
)

REPO = Path(__file__).resolve().parents[1]
TARGETS = {
    "calls_vs_minimum": "calls ≤ 1.1 × minimum",
    "per_record_calls": "≥ 100× fewer calls than the per-record path",
    "wall_vs_floor": "wall ≤ 1.3 × floor (at 10k)",
    "idle": "idle incremental: ≤ 2 BigCommerce calls, 0 Salesforce writes",
    "transform": "transform ≥ 50k orders/s on one core",
    "memory": "peak memory at 100k ≤ at 10k + 50 MB",
}
SF_READ_KINDS = ("query", "query_more")


def classify_salesforce(endpoint: str) -> str:
    """The kind of a sandbox org endpoint: login, query, query_more, collections, bulk, per_record, other."""
    method, _, path = endpoint.partition(" ")
    if "/Soap/" in path or "/oauth2/" in path:
        return "login"
    if path.endswith("/query") or path.endswith("/queryAll"):
        return "query"
    if "/query/" in path or "/queryAll/" in path:
        return "query_more"
    if "/composite/sobjects" in path:
        return "collections"
    if "/jobs/ingest" in path:
        return "bulk"
    if "/sobjects/{sobject}/{field}/" in path and method == "PATCH":
        return "per_record"
    if path.endswith("/limits"):
        return "limits"
    return "other"


def by_kind(calls: dict[str, int]) -> dict[str, int]:
    """Salesforce endpoint counts summed by :func:`classify_salesforce`."""
    kinds: dict[str, int] = {}
    for endpoint, n in calls.items():
        kind = classify_salesforce(endpoint)
        kinds[kind] = kinds.get(kind, 0) + n
    return kinds


def bigcommerce_by_endpoint(calls: dict[str, int]) -> dict[str, int]:
    """``GET /stores/{store_hash}/v2/orders`` → ``v2/orders``."""
    return {endpoint.split("/stores/{store_hash}/", 1)[-1]: n for endpoint, n in calls.items()}


def salesforce_writes(calls: dict[str, int]) -> int:
    """Requests that change the org (everything but login, queries, describes and limits)."""
    kinds = by_kind(calls)
    return sum(kinds.get(k, 0) for k in ("collections", "bulk", "per_record"))


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def analyse(
    measured: dict[str, Any],
    *,
    orders: int,
    latency_ms: float,
    quota: int,
    window_ms: int,
    bulk_threshold: int = 2000,
    org_rows: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Minimums, floors, ratios and target verdicts from the child's measurements.

    ``org_rows``: records per object in the org before the backfill (for the fewest reads).
    """
    latency, window = latency_ms / 1000, window_ms / 1000
    back = measured["backfill"]
    extracted = back["summary"]["extracted"]
    bc_calls = bigcommerce_by_endpoint(back["calls"].get("bigcommerce", {}))
    sf_calls = back["calls"].get("salesforce", {})
    sf_kinds = by_kind(sf_calls)
    bc_min = bigcommerce_min_calls(extracted["customers"], extracted["orders"])

    # Salesforce: fixed calls, the reads our batches need, and writes (one load per object at the minimum).
    reads = back["expected"]["reads"]
    totals: dict[tuple[str, str], int] = {}
    for operation, sobject, n in back["expected"]["write_sizes"]:
        totals[(operation, sobject)] = totals.get((operation, sobject), 0) + n
    writes_min = {f"{op} {obj}": salesforce_write_calls(n, bulk_threshold) for (op, obj), n in totals.items()}
    sf_min = {**FIXED_SALESFORCE_CALLS, **salesforce_min_reads(org_rows or {}), **writes_min}
    written = back["expected"]["writes"]
    sf_formula = sum(FIXED_SALESFORCE_CALLS.values()) + reads["query"] + reads["query_more"] + written["collections"]
    sf_formula += written["bulk"]
    bc_total, sf_total = sum(bc_calls.values()), sum(sf_calls.values())
    bc_min_total, sf_min_total = sum(bc_min.values()), sum(sf_min.values())

    wall = measured.get("open_seconds", 0) + back["seconds"]
    floor = time_floor(bc_min_total, sf_min_total, latency, quota, window)
    floor_actual = time_floor(bc_total, sf_total, latency, quota, window)

    out: dict[str, Any] = {
        "orders": extracted["orders"],
        "customers": extracted["customers"],
        "orders_asked": orders,
        "config": {
            "latency_ms": latency_ms,
            "rate_limit": f"{quota} per {window:g} s",
            "bulk_threshold": bulk_threshold,
        },
        "backfill": {
            "wall_seconds": round(wall, 3),
            "calls": {"bigcommerce": bc_calls, "salesforce": sf_calls, "salesforce_by_kind": sf_kinds},
            "totals": {"bigcommerce": bc_total, "salesforce": sf_total},
            "minimum": {
                "bigcommerce": bc_min,
                "salesforce": sf_min,
                "totals": {"bigcommerce": bc_min_total, "salesforce": sf_min_total},
            },
            "formula": {
                "bigcommerce": bc_min_total,
                "salesforce": sf_formula,
                "salesforce_reads": reads,
                "salesforce_writes": written,
            },
            "floor_seconds": {
                "bigcommerce": round(floor.bigcommerce, 3),
                "salesforce": round(floor.salesforce, 3),
                "total": round(floor.total, 3),
                "of_calls_sent": round(floor_actual.total, 3),
            },
            "stages": back["stages"],
            "loaded": back["sent"],
            "rejected": back["summary"]["rejected"],
            "adopted": back["summary"]["adopted"],
        },
        "idle": {
            "seconds": measured["idle"]["seconds"],
            "bigcommerce_calls": sum(measured["idle"]["calls"].get("bigcommerce", {}).values()),
            "salesforce_calls": sum(measured["idle"]["calls"].get("salesforce", {}).values()),
            "salesforce_writes": salesforce_writes(measured["idle"]["calls"].get("salesforce", {})),
            "calls": measured["idle"]["calls"],
        },
        "memory": {
            "peak_rss_mb": measured["peak_rss_mb"],
            "after_imports_mb": measured["rss_after_imports_mb"],
            "backfill_peak_rss_mb": back["peak_rss_mb"],
        },
    }
    # Where the wall time went: the pipeline's own CPU (every thread of the process, Prefect's
    # included), the latency the sandbox injects, the sandbox's own service time (measured by the
    # sandbox: it shares the two cores), and the client's deliberate sleeps (between Bulk polls;
    # retries). The parts overlap where requests run ahead in threads while the pipeline works:
    # then they add up to more than the wall time, and the excess is shown as overlapped.
    cpu = back.get("process_cpu_seconds", sum(stage["cpu_seconds"] for stage in back["stages"].values()))
    calls = bc_total + sf_total
    service = back.get("service_seconds", {})
    service_total = sum(service.values())
    slept = back.get("client_sleep_seconds", 0.0)
    rate_waits = max(0.0, floor_actual.bigcommerce - bc_total * latency)
    rest = wall - cpu - calls * latency - rate_waits - service_total - slept
    out["backfill"]["wall_breakdown"] = {
        "pipeline_cpu_seconds": round(cpu, 3),
        "injected_latency_seconds": round(calls * latency, 3),
        "rate_limit_waits_seconds": round(rate_waits, 3),
        "sandbox_service_seconds": {k: round(v, 3) for k, v in service.items()},
        "client_sleep_seconds": round(slept, 3),
        "unexplained_seconds": round(max(rest, 0.0), 3),
        "overlapped_seconds": round(max(-rest, 0.0), 3),
    }
    ratios: dict[str, Any] = {
        "calls_vs_minimum": _ratio(bc_total + sf_total, bc_min_total + sf_min_total),
        "bigcommerce_calls_vs_minimum": _ratio(bc_total, bc_min_total),
        "salesforce_calls_vs_minimum": _ratio(sf_total, sf_min_total),
        "wall_vs_floor": _ratio(wall, floor.total),
    }
    per = measured.get("per_record")
    if per:
        out["per_record"] = _per_record(per, extracted, back["sent"], latency, quota, window)
        ratios["per_record_calls_vs_ours"] = _ratio(out["per_record"]["calls_at_n"], bc_total + sf_total)
        ratios["per_record_wall_vs_ours"] = _ratio(out["per_record"]["seconds_at_n"], wall)
    out["ratios"] = ratios
    transform = back["stages"]["transform"]
    transform_rate = transform["records"] / transform["cpu_seconds"] if transform["cpu_seconds"] else None
    out["transform_orders_per_cpu_second"] = round(transform_rate, 1) if transform_rate else None
    out["targets"] = {
        "calls_vs_minimum": _verdict(ratios["calls_vs_minimum"], lambda r: r <= 1.1),
        "per_record_calls": _verdict(ratios.get("per_record_calls_vs_ours"), lambda r: r >= 100),
        "wall_vs_floor": _verdict(
            ratios["wall_vs_floor"],
            lambda r: r <= 1.3,
            note=None if extracted["orders"] >= 10_000 else "the target is set at 10k",
        ),
        "idle": _verdict(
            out["idle"]["bigcommerce_calls"],
            lambda n: n <= 2 and out["idle"]["salesforce_writes"] == 0,
            shown=f"{out['idle']['bigcommerce_calls']} BC calls, {out['idle']['salesforce_writes']} SF writes",
        ),
        "transform": _verdict(transform_rate, lambda r: r >= 50_000, shown=transform_rate and round(transform_rate)),
    }
    return out


def _verdict(value: Any, ok: Callable[[Any], bool], *, shown: Any = None, note: str | None = None) -> dict[str, Any]:
    """``{"value", "met"}`` (``met`` None when nothing was measured), ``shown`` instead of ``value`` if given."""
    verdict = {"value": value if shown is None else shown, "met": None if value is None else bool(ok(value))}
    if note:
        verdict["note"] = note
    return verdict


def _per_record(
    per: dict[str, Any], extracted: dict[str, int], sent: dict[str, int], latency: float, quota: int, window: float
) -> dict[str, Any]:
    """The per-record path's calls and time measured on the sample, and extrapolated to the run's N."""
    bc_sample = sum(per["extract_calls"].get("bigcommerce", {}).values())
    sf_sample = sum(per["load_calls"].get("salesforce", {}).values())
    n_orders, n_customers = extracted["orders"], extracted["customers"]
    pages = bigcommerce_min_calls(n_customers, n_orders)
    bc_at_n = sum(pages.values()) + 3 * n_orders  # paging, then products, shipping addresses, coupons per order
    sf_at_n = sum(sent.values())  # one upsert per record written
    bc_per_call = per["extract_seconds"] / bc_sample if bc_sample else latency
    sf_per_call = per["load_seconds"] / sf_sample if sf_sample else latency
    bc_seconds = max(
        rate_limited_floor(bc_at_n, latency, quota, window), bc_at_n * min(bc_per_call, latency * 1.5 or bc_per_call)
    )
    return {
        "sample_orders": per["orders"],
        "sample_records": per["records"],
        "sample_calls": {"bigcommerce": bc_sample, "salesforce": sf_sample},
        "sample_seconds": {"bigcommerce": per["extract_seconds"], "salesforce": per["load_seconds"]},
        "bigcommerce_calls_per_order": _ratio(bc_sample - 1, per["orders"]),
        "calls_at_n": bc_at_n + sf_at_n,
        "calls_at_n_by_system": {"bigcommerce": bc_at_n, "salesforce": sf_at_n},
        "seconds_at_n": round(bc_seconds + sf_at_n * sf_per_call, 1),
    }


# -- running it ------------------------------------------------------------------------------------


def run_benchmark(
    orders: int = 1000,
    *,
    latency_ms: float = 100,
    rate_limit_quota: int = 150,
    rate_limit_window_ms: int = 30_000,
    per_record_orders: int = 200,
    seed: int = 7,
    profile: bool = False,
    keep_home: Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Run the whole benchmark once and return the report data (see the module docstring).

    ``keep_home`` keeps the sandbox there instead of a temporary folder; ``log`` gets progress lines.
    """
    from sandbox.config import SandboxConfig, SandboxCredentials
    from sandbox.faults import FaultSettings
    from sandbox.generator import generate, load
    from sandbox.server import SandboxServer

    home = keep_home or Path(tempfile.mkdtemp(prefix="ats-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    try:
        config = SandboxConfig(
            home=home,
            store_port=0,
            org_port=0,
            rate_limit_quota=rate_limit_quota,
            rate_limit_window_ms=rate_limit_window_ms,
            store_faults=FaultSettings(latency_ms=latency_ms),
            org_faults=FaultSettings(latency_ms=latency_ms),
        )
        creds = SandboxCredentials.load_or_create(config)
        as_of = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        started = time.perf_counter()
        data = generate(orders=orders, seed=seed, as_of=as_of)
        generated = time.perf_counter() - started
        load(data, config.store_db, config.org_db, creds.sf_username)
        org_rows = _org_rows(config.org_db)
        log(
            f"generated {len(data.orders)} orders, {len(data.customers)} customers, {len(data.accounts)} org "
            f"accounts in {generated:.1f} s (loaded in {time.perf_counter() - started - generated:.1f} s)"
        )
        del data
        server = SandboxServer(config).start_in_thread()
        try:
            measured = _run_child(home, as_of, per_record_orders, profile, log)
        finally:
            server.stop()
        result = analyse(
            measured,
            orders=orders,
            latency_ms=latency_ms,
            quota=rate_limit_quota,
            window_ms=rate_limit_window_ms,
            org_rows=org_rows,
        )
        result = {"ratios": result.pop("ratios"), "targets": result.pop("targets"), **result}
        result["generate_seconds"] = round(generated, 1)
        result["measured"] = measured
        return result
    finally:
        if keep_home is None:
            shutil.rmtree(home, ignore_errors=True)


def _org_rows(org_db: Path) -> dict[str, int]:
    """Records per matched object in the sandbox org's database (read directly: no API call)."""
    conn = sqlite3.connect(f"file:{org_db}?mode=ro", uri=True)
    try:
        return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}" WHERE IsDeleted = 0').fetchone()[0]  # noqa: S608
                for name in MATCHED_OBJECTS}  # fmt: skip
    finally:
        conn.close()


def _run_child(home: Path, as_of: datetime, per_record_orders: int, profile: bool, log: Any) -> dict[str, Any]:
    spec = {"home": str(home), "as_of": as_of.isoformat(), "per_record_orders": per_record_orders, "profile": profile}
    spec_path, out_path = home / "bench-spec.json", home / "bench-out.json"
    spec_path.write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATS_", "SANDBOX_"))}
    env |= {
        "ATS_TARGET": "sandbox",
        "ATS_SANDBOX_HOME": str(home),
        "ATS_STATE_URL": f"sqlite:///{home / 'state.sqlite'}",
        "PYTHONPATH": str(REPO),
    }
    log("running the pipeline (backfill, idle incremental, per-record sample) in a child process")
    subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "benchmarks.pipeline", str(spec_path), str(out_path)],
        cwd=home,
        env=env,
        check=True,
    )
    return json.loads(out_path.read_text())


# -- reporting ----------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3g}" if value < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(result: dict[str, Any]) -> str:
    """The report as Markdown: ratios and targets first, then calls, floors, stages and memory."""
    back, ratios = result["backfill"], result["ratios"]
    lines = [
        f"# Benchmark: backfill of {result['orders']:,} orders ({result['customers']:,} customers)",
        "",
        f"Latency {result['config']['latency_ms']:g} ms per request, BigCommerce rate limit "
        f"{result['config']['rate_limit']}, Bulk API above {result['config']['bulk_threshold']:,} records.",
        "",
        "## Ratios",
        "",
        "| ratio | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in ratios.items()]
    lines += ["", "## Targets", "", "| target | value | met |", "|---|---|---|"]
    for key, verdict in result["targets"].items():
        met = {True: "yes", False: "**no**", None: "n/a"}[verdict["met"]]
        note = f" ({verdict['note']})" if verdict.get("note") else ""
        lines.append(f"| {TARGETS[key]} | {_fmt(verdict['value'])} | {met}{note} |")
    memory = result["memory"]
    lines += ["", "## API calls (backfill)", "", "| system | endpoint | calls | minimum |", "|---|---|---|---|"]
    for endpoint, n in back["calls"]["bigcommerce"].items():
        lines.append(f"| BigCommerce | {endpoint} | {n} | {back['minimum']['bigcommerce'].get(endpoint, 0)} |")
    for endpoint, n in back["calls"]["salesforce"].items():
        lines.append(f"| Salesforce | {endpoint} | {n} | |")
    lines += [
        "",
        "Salesforce minimum, itemised: " + ", ".join(f"{k} {v}" for k, v in back["minimum"]["salesforce"].items()),
        "",
        f"Totals: BigCommerce {back['totals']['bigcommerce']} (minimum {back['minimum']['totals']['bigcommerce']}), "
        f"Salesforce {back['totals']['salesforce']} (minimum {back['minimum']['totals']['salesforce']}, "
        f"formula for our batches {back['formula']['salesforce']}).",
        "",
        f"Bulk API 2.0 jobs need {BULK_CALLS_PER_JOB} calls at least (create, upload, close, poll, successful "
        "results; failed results only when a record failed).",
        "",
        "## Time",
        "",
        f"Wall {back['wall_seconds']:.1f} s; floor {back['floor_seconds']['total']:.1f} s "
        f"(BigCommerce {back['floor_seconds']['bigcommerce']:.1f} s, "
        f"Salesforce {back['floor_seconds']['salesforce']:.1f} s; "
        f"floor of the calls actually sent {back['floor_seconds']['of_calls_sent']:.1f} s).",
        "",
        "| stage | records | wall s | cpu s | records/s | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for name, stage in back["stages"].items():
        lines.append(
            f"| {name} | {stage['records']:,} | {stage['seconds']:.2f} | {stage['cpu_seconds']:.2f} | "
            f"{_fmt(stage['records_per_second'])} | {stage.get('peak_rss_mb', 0):.0f} |"
        )
    breakdown = back["wall_breakdown"]
    lines += [
        "",
        f"Of the wall time: pipeline CPU {breakdown['pipeline_cpu_seconds']:.1f} s (ours); injected latency "
        f"{breakdown['injected_latency_seconds']:.1f} s; "
        f"rate-limit waits {breakdown['rate_limit_waits_seconds']:.1f} s; "
        "the sandbox's own service time "
        + ", ".join(f"{k} {v:.1f} s" for k, v in breakdown["sandbox_service_seconds"].items())
        + f" (it shares the cores); the client's sleeps between Bulk polls and retries "
        f"{breakdown['client_sleep_seconds']:.1f} s; unexplained {breakdown['unexplained_seconds']:.1f} s "
        "(network, TLS, Prefect's task bookkeeping)"
        + (
            f"; {breakdown['overlapped_seconds']:.1f} s of these parts ran at the same time as others "
            "(requests read ahead in threads while the pipeline worked)."
            if breakdown.get("overlapped_seconds")
            else "."
        ),
    ]
    idle = result["idle"]
    lines += [
        "",
        "## Idle incremental run",
        "",
        f"{idle['bigcommerce_calls']} BigCommerce calls, {idle['salesforce_calls']} Salesforce calls "
        f"({idle['salesforce_writes']} writes), {idle['seconds']:.2f} s.",
        "",
    ]
    per = result.get("per_record")
    if per:
        lines += [
            "## Per-record path (Singer-like extraction, hotglue-like loading)",
            "",
            f"Sample: {per['sample_orders']} orders ({per['sample_calls']['bigcommerce']} BigCommerce calls, "
            f"{per['bigcommerce_calls_per_order']} per order, in {per['sample_seconds']['bigcommerce']:.1f} s), "
            f"{per['sample_records']} records upserted one by one ({per['sample_calls']['salesforce']} calls, "
            f"{per['sample_seconds']['salesforce']:.1f} s).",
            "",
            f"At {result['orders']:,} orders: {per['calls_at_n']:,} calls "
            f"(BigCommerce {per['calls_at_n_by_system']['bigcommerce']:,}, Salesforce "
            f"{per['calls_at_n_by_system']['salesforce']:,}), at least {per['seconds_at_n']:,.0f} s.",
            "",
        ]
    lines += [
        "## Memory",
        "",
        f"Peak RSS of the pipeline process {memory['peak_rss_mb']:.0f} MB "
        f"({memory['after_imports_mb']:.0f} MB after imports; the sandbox and the generator run in the parent).",
        "",
    ]
    if result.get("notes"):
        lines += ["## Notes", "", *[f"- {note}" for note in result["notes"]], ""]
    if result.get("measured", {}).get("backfill", {}).get("profile"):
        lines += [
            "## Profile of the backfill (cProfile, cumulative)",
            "",
            "```",
            result["measured"]["backfill"]["profile"].strip(),
            "```",
            "",
        ]
    return "\n".join(lines)


def write_reports(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``bench-<N>.json`` and ``bench-<N>.md`` in ``out_dir``; the Markdown compares memory with the
    next smaller report found there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = result["orders_asked"]
    previous = None
    smaller = sorted(
        (int(p.stem.split("-")[1]), p)
        for p in out_dir.glob("bench-*.json")
        if p.stem.split("-")[1].isdigit() and int(p.stem.split("-")[1]) < n
    )
    if smaller:
        previous = json.loads(smaller[-1][1].read_text())
        result["memory"]["compared_with"] = {
            "orders": previous["orders"],
            "peak_rss_mb": previous["memory"]["peak_rss_mb"],
        }
        grow = result["memory"]["peak_rss_mb"] - previous["memory"]["peak_rss_mb"]
        verdict = {"value": f"+{grow:.0f} MB vs {previous['orders']:,}", "met": grow <= 50}
        if not (n >= 100_000 and previous["orders"] >= 10_000):
            verdict |= {"met": None, "note": "the target compares 100k with 10k"}
        result["targets"]["memory"] = verdict
    json_path, md_path = out_dir / f"bench-{n}.json", out_dir / f"bench-{n}.md"
    json_path.write_text(json.dumps(result, indent=2, default=str))
    md_path.write_text(markdown(result))
    return json_path, md_path


def print_table(result: dict[str, Any]) -> None:
    """The ratios, targets and stages as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"bench: {result['orders']:,} orders, {result['customers']:,} customers")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in result["ratios"].items():
        table.add_row(name, _fmt(value))
    back = result["backfill"]
    table.add_row(
        "calls BigCommerce (minimum)", f"{back['totals']['bigcommerce']} ({back['minimum']['totals']['bigcommerce']})"
    )
    table.add_row(
        "calls Salesforce (minimum)", f"{back['totals']['salesforce']} ({back['minimum']['totals']['salesforce']})"
    )
    table.add_row("wall s (floor)", f"{back['wall_seconds']:.1f} ({back['floor_seconds']['total']:.1f})")
    for name, stage in back["stages"].items():
        table.add_row(f"{name} records/s", _fmt(stage["records_per_second"]))
    table.add_row(
        "idle: BC calls / SF writes", f"{result['idle']['bigcommerce_calls']} / {result['idle']['salesforce_writes']}"
    )
    table.add_row("peak RSS MB", f"{result['memory']['peak_rss_mb']:.0f}")
    console.print(table)
    targets = Table(title="targets (reported, not tested)")
    targets.add_column("target")
    targets.add_column("value", justify="right")
    targets.add_column("met")
    for key, verdict in result["targets"].items():
        targets.add_row(
            TARGETS[key], _fmt(verdict["value"]), {True: "[green]yes", False: "[red]no", None: "n/a"}[verdict["met"]]
        )
    console.print(targets)
