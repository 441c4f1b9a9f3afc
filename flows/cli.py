"""``store-sync``: the command line of ats-store-sync.

``store-sync demo`` is the README's first command: it brings the built-in sandbox up and shows
what the pipeline works on. ``store-sync sandbox ...`` manages that sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sandbox import cli as sandbox_cli
from sandbox.generator import SEED_GUEST_EMAIL, SEED_ORDER_SEFTON
from sandbox.store.db import OrderFilter, StoreDB

app = typer.Typer(help="Keep Salesforce in step with the ATS Store (BigCommerce).", no_args_is_help=True)
app.add_typer(sandbox_cli.app, name="sandbox")
console = Console()


@app.command()
def demo(
    home: Annotated[Path, typer.Option("--home", envvar="SANDBOX_HOME", help="sandbox folder")] = Path(".sandbox"),
    orders: Annotated[int, typer.Option(help="orders to generate in a new sandbox")] = 300,
) -> None:
    """Start the sandbox (seeded on first use) and show what the store and org hold."""
    sandbox_cli.start(home=home, orders=orders)
    from sandbox.org.records import OrgDB

    config = sandbox_cli.load_config(home)
    sandbox_cli.print_holdings(config)
    console.rule("the two seed scenarios in the store: guest Garth Markey, registered Eric Sefton")
    store = StoreDB(config.store_db)
    garth = store.list_orders(OrderFilter(email=SEED_GUEST_EMAIL), ("id", "asc"), 0, 1)
    sandbox_cli.print_orders(store, [row["id"] for row in garth] + [SEED_ORDER_SEFTON])
    console.rule("the org: CSR users, the eCommerce queue, accounts with an assigned CSR")
    org = OrgDB(config.org_db)
    sandbox_cli.print_records(org.query("SELECT Name, Username FROM User ORDER BY Name"))
    sandbox_cli.print_records(org.query("SELECT Name, DeveloperName, Type FROM Group WHERE Type = 'Queue'"))
    sandbox_cli.print_records(
        org.query(
            "SELECT Name, Assigned_CSR__r.Name, Repair_Account_Terms__c FROM Account "
            "WHERE Assigned_CSR__c != null ORDER BY Name LIMIT 5"
        )
    )
    console.print(
        "\nThe sandbox keeps running in the background. Next:\n"
        "  store-sync sandbox status      what it holds and the requests it counted\n"
        "  store-sync sandbox simulate    new orders, customers, addresses and payments\n"
        "  store-sync sandbox soql 'SELECT Name FROM Account LIMIT 5'\n"
        "  store-sync sandbox stop\n"
        "(the pipeline's sync, backfill and reconcile flows come next; see README.md)"
    )


if __name__ == "__main__":
    app()
