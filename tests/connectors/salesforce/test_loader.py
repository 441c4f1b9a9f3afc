"""The loader against the sandbox org: synced buyer values only move forward in source time.

An Account's and a Contact's values carry the moment the buyer typed them (``seen_at``, see
:mod:`transforms.people`); a row older than what the ledger says the record holds is not sent,
whatever batch or run it comes in, and the ledger keeps the moment of what was written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from simple_salesforce.format import format_soql

from connectors.loader import SOURCE_AT, Loader, LoadReport
from connectors.salesforce import SalesforceClient
from state import FailedRecord, StateStore
from state.timeutil import iso
from tests.connectors.salesforce.conftest import OrgAdmin
from tests.transforms.factories import at, order, run
from transforms.mapping import MAPPING
from transforms.pipeline import TransformResult

MakeClient = Callable[..., SalesforceClient]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite") as store:
        yield store


def _batch(tag: str, order_id: int, hours: float, street: str, **fields: Any) -> TransformResult:
    """One order of the test's company and buyer, created ``hours`` after T0, billed to ``street``."""
    billing = {"company": f"Forward {tag}", "email": f"buyer-{tag}@example.com", "street_1": street}
    return run(orders=[order(order_id, hours=hours, billing=billing, **fields)])


def _load(loader: Loader, result: TransformResult) -> tuple[LoadReport, LoadReport]:
    return loader.load(result.accounts, MAPPING.account), loader.load(result.contacts, MAPPING.contact)


def _street(client: SalesforceClient, tag: str) -> str:
    account = client.query(format_soql("SELECT BillingStreet FROM Account WHERE BigCommerce_Account_Key__c = {}",
                                       f"co:forward {tag}"))  # fmt: skip
    return str(account["BillingStreet"].iloc[0])


def _streets(client: SalesforceClient, tag: str) -> tuple[str, str]:
    contact = client.query(format_soql("SELECT MailingStreet FROM Contact WHERE BigCommerce_Contact_Key__c = {}",
                                       f"buyer-{tag}@example.com"))  # fmt: skip
    return _street(client, tag), str(contact["MailingStreet"].iloc[0])


def _counts(report: LoadReport) -> tuple[int, int, int]:
    return report.created, report.updated, report.unchanged


def test_an_older_row_after_a_newer_one_changes_nothing(make_client: MakeClient, state: StateStore, tag: str) -> None:
    client = make_client()
    first = _batch(tag, 2, hours=3, street="New St")
    assert [_counts(r) for r in _load(Loader(client, state, "r1"), first)] == [(1, 0, 0), (1, 0, 0)]
    key = f"co:forward {tag}"
    assert state.source_moments("Account", [key]) == {key: at(3)}

    # An older order, alone in a later batch or run (its payment captured today: date_modified moves).
    late = _batch(tag, 1, hours=1, street="Old St", date_modified=at(50))
    assert [_counts(r) for r in _load(Loader(client, state, "r2"), late)] == [(0, 0, 1), (0, 0, 1)]
    assert _streets(client, tag) == ("New St", "New St")
    assert state.ledger_lookup("Account", [key])[key].run_id == "r1"

    newer = _batch(tag, 3, hours=5, street="Newest St")
    assert [_counts(r) for r in _load(Loader(client, state, "r3"), newer)] == [(0, 1, 0), (0, 1, 0)]
    assert _streets(client, tag) == ("Newest St", "Newest St")
    assert state.source_moments("Account", [key]) == {key: at(5)}


def test_an_unchanged_row_moves_the_moment_forward(make_client: MakeClient, state: StateStore, tag: str) -> None:
    """The same values seen again later: nothing is sent, but an older row may not follow them in."""
    client = make_client()
    _load(Loader(client, state, "r1"), _batch(tag, 1, hours=1, street="Same St"))
    again = _load(Loader(client, state, "r2"), _batch(tag, 3, hours=9, street="Same St"))
    assert [_counts(r) for r in again] == [(0, 0, 1), (0, 0, 1)]
    email = f"buyer-{tag}@example.com"
    assert state.source_moments("Contact", [email]) == {email: at(9)}
    between = _load(Loader(client, state, "r3"), _batch(tag, 2, hours=5, street="Between St"))
    assert [_counts(r) for r in between] == [(0, 0, 1), (0, 0, 1)]
    assert _streets(client, tag) == ("Same St", "Same St")


def test_a_dry_run_moves_no_moment(make_client: MakeClient, state: StateStore, tag: str) -> None:
    client = make_client()
    _load(Loader(client, state, "r1"), _batch(tag, 1, hours=1, street="Same St"))
    dry = _load(Loader(client, state, "r2", dry_run=True), _batch(tag, 3, hours=9, street="Same St"))
    assert [_counts(r) for r in dry] == [(0, 0, 1), (0, 0, 1)]
    key = f"co:forward {tag}"
    assert state.source_moments("Account", [key]) == {key: at(1)}


def test_dead_lettered_payloads_keep_their_moment(
    make_client: MakeClient, state: StateStore, org: OrgAdmin, tag: str
) -> None:
    """A refused row's letter carries its moment (never sent): its retry records it, and a letter
    older than what the record holds by then is resolved without being sent."""
    client = make_client()
    key = f"co:forward {tag}"
    org.script({"kind": "lock_row", "path": "composite/sobjects/Account", "count": 10_000})
    refused = Loader(client, state, "r1").load(_batch(tag, 2, hours=3, street="New St").accounts, MAPPING.account)
    assert refused.failed == 1
    (letter,) = [d for d in state.open_dead_letters("Account", stage="load") if d.external_id == key]
    assert json.loads(letter.payload or "{}")[SOURCE_AT] == iso(at(3))
    org.fault_settings()

    retried = Loader(client, state, "r2").retry_payloads(MAPPING.account)
    assert (retried.created, retried.failed) == (1, 0)
    assert state.source_moments("Account", [key]) == {key: at(3)}

    # A letter older than what the record now holds (kept from before, say) is superseded.
    stale = {"BigCommerce_Account_Key__c": key, "BillingStreet": "Old St", SOURCE_AT: iso(at(1))}
    state.dead_letter([FailedRecord("load", "Account", key, "UNABLE_TO_LOCK_ROW", "", stale)], "r2")
    again = Loader(client, state, "r3").retry_payloads(MAPPING.account)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert [d for d in state.open_dead_letters("Account", stage="load") if d.external_id == key] == []
    assert _street(client, tag) == "New St"


def test_records_the_ledger_has_no_moment_for_are_sent_as_before(
    make_client: MakeClient, state: StateStore, tag: str
) -> None:
    """Ledger rows from before the moment was kept: the next load sends as ever and records it."""
    client = make_client()
    key = f"co:forward {tag}"
    result = _batch(tag, 2, hours=3, street="New St")
    Loader(client, state, "r1").load(result.accounts, MAPPING.account)
    digest = state.ledger_lookup("Account", [key])[key].payload_hash
    with state.engine.begin() as connection:  # as revision 0001 left it
        connection.exec_driver_sql("UPDATE ledger SET source_at = NULL")
    older = _batch(tag, 1, hours=1, street="Old St")
    report = Loader(client, state, "r2").load(older.accounts, MAPPING.account)
    assert (report.updated, report.unchanged) == (1, 0)
    assert state.source_moments("Account", [key]) == {key: at(1)}
    assert state.ledger_lookup("Account", [key])[key].payload_hash != digest
    assert pd.notna(result.accounts["seen_at"]).all()
