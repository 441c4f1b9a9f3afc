"""``store-sync``: the command line of ats-store-sync.

``sync``, ``backfill`` and ``reconcile`` run the flows once, here (with the flows' parameters);
``serve`` runs them on their schedules with a local Prefect server and UI; ``doctor`` checks
everything they need. ``demo`` is the README's first command: the sandbox, a sync and a
reconcile, and where to look next. ``sandbox ...`` manages the local store and org.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flows.serving import CLI_PREFECT_DEFAULTS
from sandbox import cli as sandbox_cli
from sandbox.generator import SEED_GUEST_EMAIL, SEED_ORDER_SEFTON
from sandbox.store.db import OrderFilter, StoreDB

# Before any flow starts Prefect's temporary server (a child that reads its settings from the
# environment); a setting the user made stands.
for _name, _value in CLI_PREFECT_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

app = typer.Typer(help="Keep Salesforce in step with the ATS Store (BigCommerce).", no_args_is_help=True)
app.add_typer(sandbox_cli.app, name="sandbox")
deployments_app = typer.Typer(help="Deployment definitions.", no_args_is_help=True)
app.add_typer(deployments_app, name="deployments")
console = Console()


class EntitiesChoice(StrEnum):
    """Which store records a run reads."""

    all = "all"
    customers = "customers"
    orders = "orders"


EntitiesOption = Annotated[EntitiesChoice, typer.Option(help="which store records to read")]
NEXT_STEPS = """
Next:
  store-sync sandbox simulate && store-sync sync      new store activity, incremental sync
  store-sync sandbox soql "SELECT Subject, Owner.Name FROM Task WHERE IsClosed = false"
  store-sync serve                                    schedules and the Prefect UI (http://127.0.0.1:4200)
  store-sync sandbox stop
"""
HomeOption = Annotated[Path, typer.Option("--home", envvar="SANDBOX_HOME", help="sandbox folder")]


def _print_result(title: str, data: dict) -> None:
    from rich.markdown import Markdown

    from flows.summary import summary_markdown

    console.print(Markdown(summary_markdown(title, data)))


@app.command()
def sync(
    dry_run: Annotated[bool, typer.Option(help="report what would be written; write nothing")] = False,
    entities: EntitiesOption = EntitiesChoice.all,
) -> None:
    """Run the sync flow once: store changes since the last run into Salesforce."""
    from flows.sync import sync as sync_flow

    _print_result("Sync", sync_flow(dry_run=dry_run, entities=entities.value))


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(help="first moment (UTC unless an offset is given)")],
    end: Annotated[datetime, typer.Option(help="end of the range, exclusive")],
    chunk_hours: Annotated[int, typer.Option(help="hours per chunk; a rerun skips finished chunks")] = 24,
    dry_run: Annotated[bool, typer.Option(help="report what would be written; write nothing")] = False,
    entities: EntitiesOption = EntitiesChoice.all,
) -> None:
    """Run a backfill over a date range (never moves the live watermark)."""
    from datetime import UTC

    from flows.backfill import backfill as backfill_flow

    start, end = (d if d.tzinfo else d.replace(tzinfo=UTC) for d in (start, end))
    data = backfill_flow(start=start, end=end, chunk_hours=chunk_hours, dry_run=dry_run, entities=entities.value)
    _print_result("Backfill", data)


@app.command()
def reconcile(
    window_days: Annotated[int, typer.Option(help="days of orders to check")] = 30,
    write_back: Annotated[bool, typer.Option(help="write flags and Tasks into Salesforce")] = True,
) -> None:
    """Run the set-code reconciliation once and list the flagged orders."""
    from flows.reconcile import reconcile_orders

    data = reconcile_orders(window_days=window_days, write_back=write_back)
    console.print(f"checked {data['checked']} orders, flagged {data['flagged']}: {data['codes']}")
    console.print(f"written: {data['written'] or 'nothing (write_back off)'}; report: {data['report']}")
    _print_flags(Path(data["report"]))


def _print_flags(report: Path, limit: int = 15) -> None:
    import pandas as pd

    flags = pd.read_csv(report, dtype=str).fillna("")
    table = Table(title=f"flagged orders ({len(flags)}; all in {report})")
    for column in ("order_key", "account_name", "last_name", "set_code", "codes"):
        table.add_column(column)
    for row in flags.head(limit).itertuples():
        table.add_row(row.order_key, row.account_name, row.last_name, row.set_code, row.codes)
    console.print(table)


@app.command()
def doctor() -> None:
    """Check settings, the store, the org (fields, picklists, queue) and the state store."""
    from flows.doctor import diagnose

    checks = diagnose()
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        console.print(f"{mark} {check.name}: {check.detail}")
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command()
def serve(
    api_url: Annotated[str, typer.Option(envvar="PREFECT_API_URL", help="Prefect API to serve against")] = (
        "http://127.0.0.1:4200/api"
    ),
) -> None:
    """Serve the three deployments on their schedules (starts a local Prefect server and UI if none answers)."""
    from flows.serving import serve_deployments

    serve_deployments(api_url)


@deployments_app.command("render")
def render(check: Annotated[bool, typer.Option(help="fail if prefect.yaml is out of date")] = False) -> None:
    """Write deployments/prefect.yaml from deployments/schedules.py."""
    from deployments.schedules import PREFECT_YAML, render_prefect_yaml

    text = render_prefect_yaml()
    if check:
        if PREFECT_YAML.read_text() != text:
            console.print("[red]deployments/prefect.yaml is out of date[/]: run `store-sync deployments render`")
            raise typer.Exit(1)
        return
    PREFECT_YAML.write_text(text)
    console.print(f"wrote {PREFECT_YAML}")


@app.command()
def demo(
    home: HomeOption = Path(".sandbox"),
    orders: Annotated[int, typer.Option(help="orders to generate in a new sandbox")] = 300,
    show_only: Annotated[bool, typer.Option(help="start and show the sandbox; run no flow")] = False,
) -> None:
    """Start the sandbox (seeded on first use), run sync and reconcile on it, and show the result."""
    sandbox_cli.start(home=home, orders=orders)
    config = sandbox_cli.load_config(home)
    console.rule("the two seed scenarios in the store: guest Garth Markey, registered Eric Sefton")
    store = StoreDB(config.store_db)
    garth = store.list_orders(OrderFilter(email=SEED_GUEST_EMAIL), ("id", "asc"), 0, 1)
    sandbox_cli.print_orders(store, [row["id"] for row in garth] + [SEED_ORDER_SEFTON])
    if show_only:
        return
    os.environ["ATS_TARGET"] = "sandbox"
    os.environ["ATS_SANDBOX_HOME"] = str(home)
    os.environ.setdefault("ATS_STATE_URL", f"sqlite:///{home.resolve() / 'state.sqlite'}")
    console.rule("sync: store → Salesforce (the first run takes a while: Prefect starts)")
    sync(dry_run=False, entities=EntitiesChoice.all)
    console.rule("Salesforce now: the seed orders")
    from sandbox.org.records import OrgDB

    org = OrgDB(config.org_db)
    sandbox_cli.print_records(
        org.query(
            "SELECT BigCommerce_Order_Id__c, OrderNumber, Status, Stage__c, Owner.Name, Account.Name, "
            "BillToContact.Name, Suggested_Set_Code__c FROM Order WHERE BillToContact.LastName IN ('Markey', 'Sefton')"
        )
    )
    console.rule("reconcile: orders a CSR must fix")
    reconcile(window_days=90, write_back=True)
    console.print(NEXT_STEPS + f"(pipeline state: {json.dumps(os.environ['ATS_STATE_URL'])}; README.md has the rest)")


@app.command()
def bench(
    orders: Annotated[int, typer.Option(help="orders in the generated store (1000, 10000, 100000)")] = 1000,
    latency_ms: Annotated[float, typer.Option(help="latency the sandbox adds to every request")] = 100,
    rate_limit_quota: Annotated[int, typer.Option(help="BigCommerce requests per window")] = 150,
    rate_limit_window_ms: Annotated[int, typer.Option(help="BigCommerce rate-limit window")] = 30_000,
    per_record_orders: Annotated[int, typer.Option(help="orders of the per-record comparison (0: skip)")] = 200,
    profile: Annotated[bool, typer.Option(help="cProfile the backfill into the report")] = False,
    out: Annotated[Path, typer.Option(help="folder of bench-<N>.json and .md")] = Path("reports"),
) -> None:
    """Benchmark a full backfill and an idle sync against a fresh sandbox (calls, time, memory)."""
    from benchmarks.run import print_table, run_benchmark, write_reports

    result = run_benchmark(orders, latency_ms=latency_ms, rate_limit_quota=rate_limit_quota,
                           rate_limit_window_ms=rate_limit_window_ms, per_record_orders=per_record_orders,
                           profile=profile, log=console.print)  # fmt: skip
    paths = write_reports(result, out)
    print_table(result)
    console.print(f"reports: {paths[0]} {paths[1]}")


if __name__ == "__main__":
    app()
