"""Sync against an org CSRs already work in: matching, routing, and CSR edits that must survive."""

from __future__ import annotations

import functools

import pytest

import connectors.org_index
from connectors.salesforce.query import in_queries
from flows.sync import sync
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from sandbox.store.db import OrderFilter, StoreDB


def test_known_buyers_are_tied_to_existing_records_and_routed_to_their_csr(seeded: SandboxServer) -> None:
    db = OrgDB(seeded.config.org_db)
    before = db.query("SELECT Id, Email, AccountId FROM Contact")
    sync()
    after = db.query("SELECT Id, Email, AccountId, BigCommerce_Contact_Key__c FROM Contact")
    by_email: dict[str, list[dict]] = {}
    for contact in after:
        by_email.setdefault(contact["Email"].lower(), []).append(contact)
    assert all(len(found) == 1 for found in by_email.values()), "a buyer became two Contacts"
    ordered = {o["billing_address"]["email"].lower() for o in _store_orders(seeded)}
    adopted = [c for c in before if c["Email"].lower() in ordered]
    assert adopted, "the seeded org should know some buyers"
    for contact in adopted:
        (now,) = by_email[contact["Email"].lower()]
        assert now["Id"] == contact["Id"] and now["BigCommerce_Contact_Key__c"] == contact["Email"].lower()

    routed = db.query("SELECT OwnerId, Account.Assigned_CSR__c FROM Order WHERE Account.Assigned_CSR__c != null")
    assert routed, "some orders belong to accounts with an assigned CSR"
    assert all(o["OwnerId"] == o["Account"]["Assigned_CSR__c"] for o in routed)
    queue = db.query("SELECT Id FROM Group WHERE DeveloperName = 'eCommerce_Orders'")[0]["Id"]
    unassigned = db.query("SELECT OwnerId FROM Order WHERE Account.Assigned_CSR__c = null")
    assert unassigned and all(o["OwnerId"] == queue for o in unassigned)


def test_csr_edits_survive_a_resync_while_store_changes_still_arrive(
    seeded: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the usual lag, a change made a second ago is inside the next run's window.
    monkeypatch.setenv("ATS_BC_WINDOW_LAG_SECONDS", "0")
    sync()
    db = OrgDB(seeded.config.org_db)
    order = db.query("SELECT Id, BigCommerce_Order_Id__c, AccountId FROM Order WHERE Payment_Status__c = 'authorized' "
                     "ORDER BY BigCommerce_Order_Id__c LIMIT 1")[0]  # fmt: skip
    csr = db.query("SELECT Id FROM User WHERE Title = 'CSR' ORDER BY Username LIMIT 1")[0]["Id"]
    edits = {"OwnerId": csr, "ASTEA_Key_Direct_Billing__c": "109337-Edited", "ASTEA_Job_Number__c": "J-77",
             "Paid__c": True, "Name": "ASTEA job J-77"}  # fmt: skip
    db.update("Order", order["Id"], edits)
    account_edits = {"Repair_Account_Status__c": "Active", "Repair_Account_Terms__c": "Pay by PO",
                     "Name": "Renamed by CSR"}  # fmt: skip
    db.update("Account", order["AccountId"], account_edits)

    # The store moves on: the payment of that order is captured.
    StoreDB(seeded.config.store_db).capture_payment(int(order["BigCommerce_Order_Id__c"]))
    sync()
    now = db.get("Order", order["Id"])
    assert {k: now[k] for k in edits} == edits
    assert now["Payment_Status__c"] == "captured"  # pipeline-owned: synced
    account = db.get("Account", order["AccountId"])
    assert {k: account[k] for k in account_edits} == account_edits


@pytest.mark.parametrize("reads", ["probed", "kept whole"])
def test_adopted_records_keep_what_the_csr_typed(
    seeded: SandboxServer, monkeypatch: pytest.MonkeyPatch, reads: str
) -> None:
    """An adopted record is an existing one: its create-only fields (Name, R4's status and terms,
    a Contact's Account) stay as the CSR left them, however the org was read."""
    if reads == "kept whole":
        # IN lists of a few values each: probing looks dear, so the run reads the org whole and
        # keeps that read, as a large backfill does (the read predates the run's own adoptions).
        monkeypatch.setattr(connectors.org_index, "in_queries", functools.partial(in_queries, max_url_bytes=400))
    db = OrgDB(seeded.config.org_db)
    fields = ["Name", "Repair_Account_Status__c", "Repair_Account_Terms__c"]
    accounts = {a["Id"]: a for a in db.query(f"SELECT Id, {', '.join(fields)} FROM Account")}
    contacts = {c["Id"]: c for c in db.query("SELECT Id, AccountId FROM Contact")}
    sync()
    adopted = db.query(f"SELECT Id, {', '.join(fields)} FROM Account WHERE BigCommerce_Account_Key__c != null")
    adopted = [a for a in adopted if a["Id"] in accounts]
    assert adopted, "the seeded org should know some buyers"
    assert [{k: a[k] for k in fields} for a in adopted] == [{k: accounts[a["Id"]][k] for k in fields} for a in adopted]
    moved = [c for c in db.query("SELECT Id, AccountId FROM Contact WHERE BigCommerce_Contact_Key__c != null")
             if c["Id"] in contacts and c["AccountId"] != contacts[c["Id"]]["AccountId"]]  # fmt: skip
    assert moved == []


def _store_orders(server: SandboxServer) -> list[dict]:
    store = StoreDB(server.config.store_db)
    return [store.get_order(row["id"]) for row in store.list_orders(OrderFilter(), ("id", "asc"), 0, 10_000)]


def test_a_csr_record_two_batches_match_by_different_keys_is_adopted_once(
    seeded: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch 1 adopts a CSR's person Account through its Contact; batch 2 finds the same Account by
    its name as a company. Written at the window's end, the first claim holds: the second key gets
    an Account of its own (with its create-only values), and nothing is refused for want of one."""
    import flows.steps as steps

    monkeypatch.setattr(steps, "ORDERS_PER_BATCH", 30)  # the seeded 60 orders: two batches
    monkeypatch.setenv("ATS_BC_PAGE_SIZE", "10")  # (a batch ends where a page does)
    monkeypatch.setenv("ATS_BC_WINDOW_LAG_SECONDS", "0")  # the orders changed below are in the window
    db, store = OrgDB(seeded.config.org_db), StoreDB(seeded.config.store_db)
    (account_id,) = db.insert("Account", [{"Name": "Jolene Quigley", "Repair_Account_Status__c": "Active"}])
    db.insert("Contact", [{"FirstName": "Jolene", "LastName": "Quigley", "Email": "jq@quigley.example",
                           "AccountId": account_id}])  # fmt: skip
    orders = _store_orders(seeded)
    first, last = orders[0], orders[-1]
    # Changed without its date moving: it stays in the first batch; the other moves to the end.
    store.update_order(first["id"], customer_id=0, date_modified=first["date_modified"], billing_address={
        **first["billing_address"], "first_name": "Jolene", "last_name": "Quigley", "company": "",
        "email": "jq@quigley.example"})  # fmt: skip
    store.update_order(last["id"], customer_id=0, billing_address={
        **last["billing_address"], "first_name": "Pat", "last_name": "Ruiz", "company": "Jolene Quigley",
        "email": "pat@ruiz.example"})  # fmt: skip
    result = sync()
    assert all(report["failed"] == 0 for report in result["loads"].values()), result["loads"]
    (adopted,) = db.query(f"SELECT BigCommerce_Account_Key__c, Repair_Account_Status__c FROM Account "
                          f"WHERE Id = '{account_id}'")  # fmt: skip
    assert adopted["BigCommerce_Account_Key__c"] == "email:jq@quigley.example"
    assert adopted["Repair_Account_Status__c"] == "Active"
    (own,) = db.query("SELECT Name, Repair_Account_Status__c FROM Account "
                      "WHERE BigCommerce_Account_Key__c = 'co:jolene quigley'")  # fmt: skip
    assert own == {**own, "Name": "Jolene Quigley", "Repair_Account_Status__c": "None"}
