"""The sync flow end to end on the sandbox, under the Prefect test harness."""

from __future__ import annotations

import pytest

from flows.sync import sync
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer


def org(server: SandboxServer) -> OrgDB:
    return OrgDB(server.config.org_db)


def test_seed_scenarios_reach_salesforce_and_a_second_run_writes_nothing(seeded: SandboxServer) -> None:
    first = sync()
    assert first["extracted"]["orders"] == 60
    db = org(seeded)
    queue = db.query("SELECT Id FROM Group WHERE DeveloperName = 'eCommerce_Orders'")[0]["Id"]

    # Seed 000: guest Garth Markey of Markey Metals.
    garth = db.query(
        "SELECT Name, Owner.Name, OwnerId, Status, Stage__c, Suggested_Set_Code__c, ASTEA_Key_Direct_Billing__c, "
        "Account.Name, Account.Repair_Account_Status__c, Account.Repair_Account_Terms__c, BillToContact.FirstName "
        "FROM Order WHERE BillToContact.LastName = 'Markey'"
    )
    assert len(garth) == 1
    order = garth[0]
    assert order["Account"]["Name"] == "Markey Metals"
    assert order["BillToContact"]["FirstName"] == "Garth"
    assert order["OwnerId"] == queue
    assert order["Suggested_Set_Code__c"] == "109337-Markey"
    assert order["ASTEA_Key_Direct_Billing__c"] is None
    assert (order["Account"]["Repair_Account_Status__c"], order["Account"]["Repair_Account_Terms__c"]) == (
        "None",
        "Pre-Pay",
    )

    # Seed 001: Eric Sefton, eCommerce order 420 in its own external id.
    eric = db.query(
        "SELECT OrderNumber, Status, Stage__c, Account.Name FROM Order WHERE BigCommerce_Order_Id__c = '420'"
    )[0]
    assert eric["OrderNumber"] != "420"
    assert (eric["Status"], eric["Stage__c"]) == ("Draft", "Order Accepted")
    assert eric["Account"]["Name"] == "Sefton Services, Inc."

    assert db.count("Order") == 60
    contacts = db.count("Contact")
    second = sync()
    assert second["extracted"]["orders"] == 0 or all(r["created"] + r["updated"] == 0 for r in second["loads"].values())
    assert db.count("Order") == 60 and db.count("Contact") == contacts
    writes = {k: v for k, v in second["api_calls"]["salesforce"].items() if k.startswith(("collections", "bulk"))}
    assert not writes, writes


def test_dry_run_writes_nothing(seeded: SandboxServer) -> None:
    result = sync(dry_run=True)
    assert result["loads"]["Order"]["created"] == 60
    assert org(seeded).count("Order") == 0
    assert result["watermark_after"] == {}


@pytest.mark.parametrize("entities", ["customers"])
def test_entities_parameter_limits_what_is_read(seeded: SandboxServer, entities: str) -> None:
    result = sync(entities=entities)
    assert result["extracted"]["orders"] == 0 and result["extracted"]["customers"] > 0
    assert org(seeded).count("Order") == 0
