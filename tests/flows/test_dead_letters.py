"""Bad input loses nothing: rejected records are dead-lettered with a reason and retried until they load."""

from __future__ import annotations

import pandas as pd
import pytest
from simple_salesforce.format import format_soql

from connectors.settings import Settings
from flows.sync import sync
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB
from state import StateStore


def test_a_broken_order_is_dead_lettered_then_loads_once_fixed(
    seeded: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATS_BC_WINDOW_LAG_SECONDS", "0")
    store = StoreDB(seeded.config.store_db)
    broken = store.get_order(100)
    assert broken is not None
    billing = {**broken["billing_address"], "email": "not-an-email"}
    store.update_order(100, billing_address=billing)

    first = sync()
    assert first["rejected"] == {"invalid_email": 1}
    db = OrgDB(seeded.config.org_db)
    assert db.query("SELECT Id FROM Order WHERE BigCommerce_Order_Id__c = '100'") == []
    with StateStore.open(Settings().state_url) as state:
        (letter,) = state.open_dead_letters("orders")
        assert (letter.external_id, letter.reason, letter.stage) == ("100", "invalid_email", "transform")
        assert "not-an-email" in letter.payload

    # Fixed in the store without its date_modified moving: only the retry of dead letters finds it.
    fixed = store.get_order(100)
    store.update_order(100, billing_address={**billing, "email": "fixed@example.com"},
                       date_modified=fixed["date_modified"])  # fmt: skip
    second = sync()
    assert second["rejected"] == {}
    assert len(db.query("SELECT Id FROM Order WHERE BigCommerce_Order_Id__c = '100'")) == 1
    with StateStore.open(Settings().state_url) as state:
        assert state.open_dead_letters("orders") == []


def test_records_the_org_refused_are_sent_again_by_the_next_run(seeded: SandboxServer) -> None:
    from sandbox.faults import FaultSettings, ScriptedFault

    # Every Order row stays locked through all of the connector's retry rounds.
    seeded.org.faults.add_script([ScriptedFault(kind="lock_row", path="composite/sobjects/Order", count=10_000)])
    first = sync()
    assert first["loads"]["Order"]["failed"] == 60 and first["loads"]["Order"]["errors"] == {"UNABLE_TO_LOCK_ROW": 60}
    db = OrgDB(seeded.config.org_db)
    assert db.count("Order") == 0 and db.count("Account") > 0
    with StateStore.open(Settings().state_url) as state:
        assert len(state.open_dead_letters("Order", stage="load")) == 60
        assert state.get_watermark("orders") is not None  # the window is done: the letters carry the rest

    seeded.org.faults.configure(FaultSettings())
    second = sync()
    assert second["extracted"]["orders"] == 0  # nothing new in the store ...
    assert db.count("Order") == 60  # ... yet every refused order is now loaded, once
    with StateStore.open(Settings().state_url) as state:
        assert state.open_dead_letters("Order", stage="load") == []
    third = sync()
    assert third["loads"]["Order"]["created"] == 0 and db.count("Order") == 60


def test_a_refused_adoption_creates_no_second_record_and_is_retried(
    seeded: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Salesforce refuses to stamp our key on one CSR Account: an upsert by that key would make a
    second Account of the buyer, so its rows wait, its orders are dead-lettered, and the next run
    adopts it."""
    from connectors.salesforce.client import SalesforceClient

    db = OrgDB(seeded.config.org_db)
    before = {a["Id"]: a["Name"] for a in db.query("SELECT Id, Name FROM Account")}
    refused: list[str] = []
    real_update = SalesforceClient.update

    def update(self: SalesforceClient, sobject: str, records: pd.DataFrame) -> pd.DataFrame:
        results = real_update(self, sobject, records)
        if sobject == "Account" and not refused:
            refused.extend([str(results["external_id"].iloc[0]), str(records.iloc[0, 1])])  # as if a rule said no
            results.loc[results.index[0], ["success", "error_code", "message"]] = [
                False, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Terms need a signed form"]  # fmt: skip
            db.update("Account", refused[0], {"BigCommerce_Account_Key__c": None})  # the stamp did not land
        return results

    monkeypatch.setattr(SalesforceClient, "update", update)
    sync()
    assert refused, "the seeded org should hold Accounts to adopt"
    key = refused[1]
    assert db.query(format_soql("SELECT Id FROM Account WHERE BigCommerce_Account_Key__c = {}", key)) == [], (
        "the refused Account's buyer got a second Account"
    )
    with StateStore.open(Settings().state_url) as state:
        letters = state.open_dead_letters("orders", stage="transform")
    assert letters and {letter.reason for letter in letters} == {"ADOPTION_REFUSED"}
    assert all("FIELD_CUSTOM_VALIDATION_EXCEPTION" in letter.message for letter in letters)
    held = [letter.external_id for letter in letters]
    assert db.query(format_soql("SELECT Id FROM Order WHERE BigCommerce_Order_Id__c IN {}", held)) == []

    monkeypatch.setattr(SalesforceClient, "update", real_update)
    sync()
    (account,) = db.query(format_soql("SELECT Id, Name FROM Account WHERE BigCommerce_Account_Key__c = {}", key))
    assert account == {**account, "Id": refused[0], "Name": before[refused[0]]}, "the next run adopted it"
    for order_id in held:
        (order,) = db.query(f"SELECT AccountId FROM Order WHERE BigCommerce_Order_Id__c = '{order_id}'")
        assert order["AccountId"] == refused[0]
    with StateStore.open(Settings().state_url) as state:
        assert state.open_dead_letters("orders", stage="transform") == []
