"""Scenario 3, bad input: every hostile record is loaded in normalised form or dead-lettered with a reason.

One sandbox for the module: the corpus (:mod:`tests.reliability.corpus`) is added to a small
seeded store, one sync runs (in a child process, without the Prefect engine), and each case is
then checked on its own (pytest id = case name). Counts balance, and fixing the rejected orders in
the store resolves their dead letters on the next run.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB
from state import StateStore
from tests.reliability.corpus import CASES, SOQL, Case
from tests.reliability.harness import make_sandbox, run_sync, sync_env

GUEST_TEMPLATE_ID = 100  # Garth Markey's guest order in every seeded store


@dataclass
class Corpus:
    """The module's sandbox after the first sync."""

    server: SandboxServer
    env: dict[str, str]
    state_url: str
    ids: dict[str, int]  # case name -> order id
    result: dict[str, Any]


def _set_raw(store_db: Path, order_id: int, fields: dict[str, Any], billing: dict[str, Any] | None) -> None:
    """Write values StoreDB would normalise straight into the stored document (as a broken store would)."""
    conn = sqlite3.connect(store_db, timeout=30)
    try:
        (doc,) = conn.execute("SELECT doc FROM orders WHERE id = ?", (order_id,)).fetchone()
        record = json.loads(doc)
        record.update(fields)
        if billing is not None:
            record["billing_address"] = billing
        conn.execute("UPDATE orders SET doc = ? WHERE id = ?", (json.dumps(record), order_id))
        conn.commit()
    finally:
        conn.close()


def _draft(template: dict[str, Any], i: int, case: Case) -> dict[str, Any]:
    order = copy.deepcopy(template)
    for key in ("id", "date_created", "date_modified", "status", "custom_status"):
        order.pop(key, None)
    for child in ("products", "shipping_addresses", "coupons"):
        for item in order.get(child, []):
            item.pop("id", None)
            item.pop("order_id", None)
            item.pop("order_address_id", None)
    order["customer_id"] = 0
    order["billing_address"].update(
        first_name=f"Case{i}", last_name=f"Buyer{i}", company=f"Corpus Co {i}", email=f"case{i}@corpus.example.com"
    )
    case.change(order)
    return order


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("bad_input")
    server = make_sandbox(root / "sandbox", orders=40)
    store = StoreDB(server.config.store_db)
    template = store.get_order(GUEST_TEMPLATE_ID)
    assert template is not None
    ids: dict[str, int] = {}
    for i, case in enumerate(CASES):
        (order_id,) = store.insert_orders([_draft(template, i, case)])
        ids[case.name] = order_id
        if case.raw or case.raw_billing is not None:
            _set_raw(server.config.store_db, order_id, case.raw, case.raw_billing)
    state_url = f"sqlite:///{root / 'state.sqlite'}"
    env = sync_env(server, state_url)
    code, result, err = run_sync(env)
    assert code == 0 and result is not None, err[-3000:]
    yield Corpus(server, env, state_url, ids, result)
    server.stop()


def _open_letters(state_url: str) -> dict[str, str]:
    with StateStore.open(state_url) as state:
        return {letter.external_id: letter.reason for letter in state.open_dead_letters("orders")}


def _order(org: OrgDB, order_id: int) -> list[dict[str, Any]]:
    return org.query(
        "SELECT Id, BigCommerce_Total__c, EffectiveDate, Suggested_Set_Code__c, Name, "
        "BillToContact.FirstName, BillToContact.LastName, BillToContact.Email, Account.Name "
        f"FROM Order WHERE BigCommerce_Order_Id__c = '{order_id}'"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(corpus: Corpus, case: Case, metrics: Callable[..., None]) -> None:
    order_id = corpus.ids[case.name]
    key = case.source_id(order_id)
    org = OrgDB(corpus.server.config.org_db)
    letters = _open_letters(corpus.state_url)
    found = _order(org, order_id)
    metrics(records=1, lost=int(not found and key not in letters), duplicated=max(0, len(found) - 1))
    if case.expect != "loaded":
        assert found == [], f"rejected order {order_id} reached the org"
        assert letters.get(key) == case.expect
        return
    assert key not in letters, f"dead-lettered: {letters.get(key)}"
    assert len(found) == 1
    (record,) = found
    for fld, value in case.order.items():
        assert record[fld] == value, fld
    for fld, value in case.contact.items():
        assert record["BillToContact"][fld] == value, fld
    for fld, value in case.account.items():
        assert record["Account"][fld] == value, fld


def test_email_differing_only_in_case_is_one_contact(corpus: Corpus, metrics: Callable[..., None]) -> None:
    org = OrgDB(corpus.server.config.org_db)
    contacts = org.query("SELECT Id, Email FROM Contact WHERE Email = 'case.twin@example.com'")
    metrics(records=2, duplicated=max(0, len(contacts) - 1))
    assert len(contacts) == 1


def test_soql_looking_name_matches_only_itself(corpus: Corpus) -> None:
    from simple_salesforce.format import format_soql

    from connectors.salesforce import SalesforceClient
    from connectors.settings import Settings

    settings = Settings(_env_file=None, **{"target": "sandbox", "sandbox_home": corpus.server.config.home})
    with SalesforceClient(settings.sf) as client:
        found = client.query(format_soql("SELECT Id, LastName FROM Contact WHERE LastName = {}", SOQL))
        everyone = client.query("SELECT Id FROM Contact")
    assert list(found["LastName"]) == [SOQL]
    assert len(everyone) > 1


def test_counts_balance(corpus: Corpus, metrics: Callable[..., None]) -> None:
    result = corpus.result
    loads = result["loads"]["Order"]
    with StateStore.open(corpus.state_url) as state:
        rejected_orders = len(state.open_dead_letters("orders", stage="transform"))
        rejected_customers = len(state.open_dead_letters("customers", stage="transform"))
    extracted = result["extracted"]["orders"]
    metrics(records=extracted, notes=f"extracted={extracted} loads={loads} rejected={rejected_orders}")
    assert extracted == loads["created"] + loads["updated"] + loads["unchanged"] + loads["failed"] + rejected_orders
    assert loads["failed"] == 0
    assert sum(result["rejected"].values()) == rejected_orders + rejected_customers


def test_fixed_sources_resolve_their_dead_letters(corpus: Corpus, metrics: Callable[..., None]) -> None:
    """Fix the rejected orders that have a fix; the next run loads each once and resolves its letter.

    The fix moves date_modified, so each fixed order arrives twice in that run (the dead-letter
    retry and the window's page): the duplicate must collapse into one record.
    """
    store = StoreDB(corpus.server.config.store_db)
    fixed = [c for c in CASES if c.fix and c.expect != "loaded"]
    for case in fixed:
        order = store.get_order(corpus.ids[case.name])
        assert order is not None
        store.update_order(corpus.ids[case.name], billing_address={**order["billing_address"], **case.fix})
    code, result, err = run_sync(corpus.env)
    assert code == 0 and result is not None, err[-3000:]
    org = OrgDB(corpus.server.config.org_db)
    letters = _open_letters(corpus.state_url)
    counts = [len(_order(org, corpus.ids[c.name])) for c in fixed]
    metrics(records=len(fixed), lost=counts.count(0), duplicated=sum(max(0, n - 1) for n in counts))
    assert result["rejected"].get("duplicate_record", 0) == 0
    assert counts == [1] * len(fixed)
    assert not {str(corpus.ids[c.name]) for c in fixed} & set(letters)
    still = {c.source_id(corpus.ids[c.name]) for c in CASES if c.expect != "loaded" and not c.fix}
    assert still <= set(letters)
