"""``store-sync sandbox ...``: run, seed, change and inspect the local store and org.

The sandbox runs as a background process (``start``/``stop``/``status``); seeding, simulating
and inspection work on its SQLite files directly, whether it is running or not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from connectors.http import make_session
from sandbox import generator
from sandbox.config import SandboxConfig
from sandbox.daemon import config_path
from sandbox.faults import GENERIC_KINDS, FaultSettings
from sandbox.server import SandboxInfo
from sandbox.store.db import StoreDB

app = typer.Typer(help="The local BigCommerce store and Salesforce org (HTTPS on loopback).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)  # messages that must not mix with output meant for a shell (``env``)

HomeOption = Annotated[Path, typer.Option("--home", envvar="SANDBOX_HOME", help="sandbox folder")]
DEFAULT_HOME = Path(".sandbox")
STORE_FAULTS = {*GENERIC_KINDS, "rate_limit", "throttle"}
ORG_FAULTS = {*GENERIC_KINDS, "lock_row", "session_expired", "request_limit"}


def load_config(home: Path) -> SandboxConfig:
    path = config_path(home)
    if path.exists():
        return SandboxConfig.model_validate_json(path.read_text())
    return SandboxConfig(home=home)


def running_info(home: Path) -> SandboxInfo | None:
    """Info of the sandbox running from ``home``, or None (a stale state file is removed)."""
    config = SandboxConfig(home=home)
    info = SandboxInfo.read(config)
    if info is None:
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        config.state_path.unlink(missing_ok=True)
        return None
    return info


def _admin_get(info: SandboxInfo, base: str, path: str) -> Any:
    session = make_session(info.ca_path)
    return session.get(f"{base}/__sandbox/{path}", timeout=10).json()


def _is_empty(config: SandboxConfig) -> bool:
    return not config.store_db.exists() or StoreDB(config.store_db).count_orders() == 0


def _parse_faults(values: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    store: dict[str, float] = {}
    org: dict[str, float] = {}
    for item in values:
        service, _, rest = item.partition(":") if ":" in item.split("=")[0] else ("", "", item)
        kind, _, rate = rest.partition("=")
        targets = {"store": [store], "org": [org], "": [store, org]}.get(service)
        if targets is None or not rate:
            raise typer.BadParameter(f"{item!r}: expected [store:|org:]KIND=RATE")
        for target in targets:
            allowed = STORE_FAULTS if target is store else ORG_FAULTS
            if kind in allowed:
                target[kind] = float(rate)
            elif service:
                raise typer.BadParameter(f"{kind!r} is not a {service} fault; choose from {sorted(allowed)}")
    return store, org


@app.command()
def start(
    home: HomeOption = DEFAULT_HOME,
    store_port: Annotated[int, typer.Option(help="0 picks a free port")] = 9443,
    org_port: Annotated[int, typer.Option(help="0 picks a free port")] = 9444,
    latency_ms: Annotated[float, typer.Option(help="added to every request")] = 0,
    rate_limit_quota: Annotated[int, typer.Option(help="BigCommerce requests per window")] = 150,
    rate_limit_window_ms: Annotated[int, typer.Option()] = 30_000,
    session_lifetime_seconds: Annotated[int, typer.Option()] = 7200,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="[store:|org:]KIND=RATE, e.g. store:rate_limit=0.05 org:lock_row=0.01 reset=0.01"),
    ] = None,
    fault_seed: Annotated[int, typer.Option()] = 0,
    seed: Annotated[bool, typer.Option(help="seed an empty sandbox with generated data")] = True,
    orders: Annotated[int, typer.Option(help="orders to generate when seeding")] = 300,
) -> None:
    """Start the sandbox in the background (seeding it first if empty) and print how to reach it."""
    if (info := running_info(home)) is not None:
        console.print(f"[yellow]already running[/] (pid {info.pid})")
        _print_info(info)
        return
    store_rates, org_rates = _parse_faults(fault or [])
    config = SandboxConfig(
        home=home, store_port=store_port, org_port=org_port,
        rate_limit_quota=rate_limit_quota, rate_limit_window_ms=rate_limit_window_ms,
        session_lifetime_seconds=session_lifetime_seconds,
        store_faults=FaultSettings(latency_ms=latency_ms, seed=fault_seed, rates=store_rates),
        org_faults=FaultSettings(latency_ms=latency_ms, seed=fault_seed, rates=org_rates),
    )  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    config_path(home).write_text(config.model_dump_json(indent=2))
    if seed and _is_empty(config):
        with console.status(f"generating a store of {orders} orders and its org ..."):
            summary = generator.seed(config, orders)
        console.print("seeded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    log = (home / "sandbox.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "sandbox.daemon", str(home)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while (info := SandboxInfo.read(config)) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            console.print(f"[red]the sandbox did not start[/]; see {home / 'sandbox.log'}")
            raise typer.Exit(1)
        time.sleep(0.1)
    _print_info(info)


def _print_info(info: SandboxInfo) -> None:
    creds = json.loads(Path(info.credentials_path).read_text())
    table = Table(show_header=False, box=None)
    table.add_row("BigCommerce store", info.store_url)
    table.add_row("Salesforce org", f"{info.org_url}  (login URL and instance URL)")
    table.add_row("Salesforce user", creds["sf_username"])
    table.add_row("CA certificate", info.ca_path)
    table.add_row("secrets", f"{info.credentials_path}  (access token, password, security token, client secret)")
    table.add_row("JWT private key", info.jwt_key_path)
    console.print(table)
    console.print("[dim]`store-sync sandbox env` prints them as environment variables for the pipeline[/]")


@app.command()
def stop(home: HomeOption = DEFAULT_HOME) -> None:
    """Stop the background sandbox."""
    info = running_info(home)
    if info is None:
        console.print("not running")
        return
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while running_info(home) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    console.print("stopped")


@app.command()
def status(home: HomeOption = DEFAULT_HOME) -> None:
    """Whether the sandbox runs, what it holds, and the requests it has counted."""
    info = running_info(home)
    console.print(f"sandbox: {'[green]running[/] (pid ' + str(info.pid) + ')' if info else '[yellow]stopped[/]'}")
    if info:
        _print_info(info)
    print_holdings(load_config(home))
    if info:
        for name, base in (("store", info.store_base), ("org", info.org_url)):
            counts = _admin_get(info, base, "counters")
            console.print(f"{name} requests: {counts['total']}")


def print_holdings(config: SandboxConfig) -> None:
    from sandbox.org.records import OrgDB

    if not config.store_db.exists():
        console.print("no data yet (`store-sync sandbox seed`)")
        return
    store = StoreDB(config.store_db)
    org = OrgDB(config.org_db)
    table = Table(title="what the sandbox holds")
    table.add_column("system")
    table.add_column("records", justify="right")
    table.add_row("store customers", str(store.count_customers()))
    table.add_row("store orders", str(store.count_orders()))
    for obj in ("Account", "Contact", "Order", "Task", "User"):
        table.add_row(f"org {obj}", str(org.count(obj)))
    console.print(table)


@app.command()
def reset(home: HomeOption = DEFAULT_HOME) -> None:
    """Delete the store's and org's data (certificates and secrets are kept). Stops the sandbox first."""
    if running_info(home):
        stop(home)
    config = SandboxConfig(home=home)
    for path in (config.store_db, config.org_db):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    console.print("sandbox data deleted")


@app.command()
def seed(
    home: HomeOption = DEFAULT_HOME,
    orders: Annotated[int, typer.Option(help="orders to generate")] = 300,
    random_seed: Annotated[int, typer.Option("--seed", help="generator seed")] = 20261123,
) -> None:
    """Fill an empty sandbox with a generated store and org."""
    config = load_config(home)
    if not _is_empty(config):
        console.print("[red]the sandbox already holds data[/]; `store-sync sandbox reset` first")
        raise typer.Exit(1)
    summary = generator.seed(config, orders, random_seed)
    console.print("seeded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))


@app.command()
def simulate(
    home: HomeOption = DEFAULT_HOME,
    orders: Annotated[int, typer.Option(help="new orders")] = 5,
    customers: Annotated[int, typer.Option(help="new registered customers")] = 2,
    address_changes: Annotated[int, typer.Option(help="customers whose address changes")] = 2,
    captures: Annotated[int, typer.Option(help="orders whose payment a CSR captures")] = 2,
    random_seed: Annotated[int | None, typer.Option("--seed")] = None,
) -> None:
    """Store activity since the last run: new orders and customers, changed addresses, captured payments."""
    from sandbox.simulate import simulate_activity

    config = load_config(home)
    if _is_empty(config):
        console.print("[red]the sandbox is empty[/]; `store-sync sandbox seed` first")
        raise typer.Exit(1)
    done = simulate_activity(config.store_db, orders, customers, address_changes, captures, seed=random_seed)
    console.print(", ".join(f"{k}: {v}" for k, v in done.items()))


@app.command()
def counters(home: HomeOption = DEFAULT_HOME, reset_after: bool = False) -> None:
    """Requests counted per endpoint by the running sandbox."""
    info = running_info(home)
    if info is None:
        console.print("[red]not running[/]")
        raise typer.Exit(1)
    session = make_session(info.ca_path)
    for name, base in (("store", info.store_base), ("org", info.org_url)):
        data = session.get(f"{base}/__sandbox/counters", timeout=10).json()
        table = Table(title=f"{name}: {data['total']} requests")
        table.add_column("endpoint")
        table.add_column("requests", justify="right")
        for endpoint, n in data["endpoints"].items():
            table.add_row(endpoint, str(n))
        console.print(table)
        if reset_after:
            session.post(f"{base}/__sandbox/counters/reset", timeout=10)


@app.command()
def soql(query: str, home: HomeOption = DEFAULT_HOME) -> None:
    """Run a SOQL query against the sandbox org's data and print the records."""
    from sandbox.org.records import OrgDB
    from sandbox.org.soql import SoqlError

    try:
        records = OrgDB(load_config(home).org_db).query(query)
    except SoqlError as exc:
        console.print(f"[red]{exc.error_code}[/]: {exc.message}")
        raise typer.Exit(1) from exc
    print_records(records)


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def print_records(records: list[dict[str, Any]]) -> None:
    rows = [_flatten(r) for r in records]
    table = Table(title=f"{len(rows)} records")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


@app.command(name="orders")
def list_orders(
    home: HomeOption = DEFAULT_HOME,
    limit: Annotated[int, typer.Option(help="most recently modified first")] = 15,
) -> None:
    """List the store's most recently modified orders."""
    from sandbox.store.db import OrderFilter

    store = StoreDB(load_config(home).store_db)
    latest = store.list_orders(OrderFilter(), ("date_modified", "desc"), 0, limit)
    print_orders(store, [row["id"] for row in latest])


def print_orders(store: StoreDB, order_ids: list[int]) -> None:
    """A short table of store orders."""
    print_records([
        {"id": o["id"], "modified": o["date_modified"].isoformat(), "customer": o["customer_id"] or "guest",
         "name": f"{o['billing_address']['first_name']} {o['billing_address']['last_name']}",
         "company": o["billing_address"]["company"], "total": o["total_inc_tax"], "payment": o["payment_status"]}
        for o in (store.get_order(i) for i in order_ids) if o
    ])  # fmt: skip


@app.command()
def env(home: HomeOption = DEFAULT_HOME) -> None:
    """Print the pipeline's settings for the running sandbox as shell ``export`` lines (includes secrets)."""
    info = running_info(home)
    if info is None:
        errors.print("[red]not running[/]: `store-sync sandbox start` first")
        raise typer.Exit(1)
    for key, value in sandbox_settings(info).items():
        print(f"export {key}={json.dumps(value)}")


def sandbox_settings(info: SandboxInfo) -> dict[str, str]:
    """The pipeline's environment variables that point it at a running sandbox."""
    creds = json.loads(Path(info.credentials_path).read_text())
    return {
        "ATS_BC_API_URL": info.store_url,
        "ATS_BC_ACCESS_TOKEN": creds["bc_access_token"],
        "ATS_BC_CA_BUNDLE": info.ca_path,
        "ATS_SF_LOGIN_URL": info.org_url,
        "ATS_SF_USERNAME": creds["sf_username"],
        "ATS_SF_PASSWORD": creds["sf_password"],
        "ATS_SF_SECURITY_TOKEN": creds["sf_security_token"],
        "ATS_SF_CA_BUNDLE": info.ca_path,
    }
