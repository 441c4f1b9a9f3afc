"""Payload frames follow the mapping: create-only values only for new records, never CSR fields."""

from __future__ import annotations

import pandas as pd

from transforms.mapping import MAPPING, Policy
from transforms.payloads import is_new, ledger_view, payload_frame

ORDERS = pd.DataFrame({
    "order_key": ["420", "421"], "account_key": ["co:sefton services", "co:markey metals"],
    "contact_key": ["eric.sefton@seftonservices.com", "garth.markey@markeymetals.com"],
    "order_date": ["2026-11-23", "2026-11-23"], "order_name": ["ATS Store order 420", "ATS Store order 421"],
    "street": ["77 Commerce Dr", "4410 Industrial Pkwy"], "city": ["Columbus", "Cleveland"], "state": ["Ohio"] * 2,
    "postal_code": ["43215", "44135"], "country": ["United States"] * 2, "ship_street": ["x"] * 2,
    "ship_city": ["y"] * 2, "ship_state": ["z"] * 2, "ship_postal_code": ["1"] * 2, "ship_country": ["US"] * 2,
    "total": ["155.24", "2236.64"], "store_status": ["Shipped", "Awaiting Fulfillment"],
    "date_modified": ["2026-11-23T10:00:00Z"] * 2, "payment_status": ["captured", "authorized"],
    "suggested_set_code": ["109337-Sefton", "109337-Markey"], "owner_id": ["00G5g0000000001AAA"] * 2,
})  # fmt: skip


def test_new_records_get_create_only_defaults_existing_ones_never() -> None:
    payloads = payload_frame(ORDERS, MAPPING.order, existing={"420"})
    new = payloads.set_index("BigCommerce_Order_Id__c").loc["421"]
    old = payloads.set_index("BigCommerce_Order_Id__c").loc["420"]
    assert (new["Status"], new["Stage__c"], new["OwnerId"]) == ("Draft", "Order Accepted", "00G5g0000000001AAA")
    assert new["Account.BigCommerce_Account_Key__c"] == "co:markey metals"
    for column in ("Status", "Stage__c", "OwnerId", "Name", "Account.BigCommerce_Account_Key__c"):
        assert pd.isna(old[column]), column
    assert old["Suggested_Set_Code__c"] == "109337-Sefton" and old["Payment_Status__c"] == "captured"


def test_csr_owned_fields_are_never_in_a_payload() -> None:
    payloads = payload_frame(ORDERS, MAPPING.order, existing=set())
    never = {f.target for f in MAPPING.order.fields if f.policy is Policy.NEVER}
    assert never == {"ASTEA_Job_Number__c", "ASTEA_Key_Direct_Billing__c", "Paid__c", "Reconcile_Status__c"}
    assert never.isdisjoint(payloads.columns)


def test_ledger_view_is_the_same_for_a_record_created_or_updated() -> None:
    as_new = ledger_view(payload_frame(ORDERS, MAPPING.order, existing=set()), MAPPING.order)
    as_old = ledger_view(payload_frame(ORDERS, MAPPING.order, existing={"420", "421"}), MAPPING.order)
    pd.testing.assert_frame_equal(as_new, as_old)
    assert "Status" not in as_new.columns and "Suggested_Set_Code__c" in as_new.columns


def test_is_new() -> None:
    payloads = payload_frame(ORDERS, MAPPING.order, existing={"420"})
    assert is_new(payloads, MAPPING.order, {"420"}).tolist() == [False, True]


def test_account_defaults_rule_r4() -> None:
    accounts = pd.DataFrame({
        "account_key": ["co:markey metals"], "account_name": ["Markey Metals"], "phone": [None], "street": ["a"],
        "city": ["b"], "state": ["c"], "postal_code": ["d"], "country": ["e"], "customer_group": ["0"],
    })  # fmt: skip
    row = payload_frame(accounts, MAPPING.account, existing=set()).iloc[0]
    assert (row["Repair_Account_Status__c"], row["Repair_Account_Terms__c"]) == ("None", "Pre-Pay")
    assert row["Name"] == "Markey Metals" and row["eCommerce_Customer_Group__c"] == "0"
    again = payload_frame(accounts, MAPPING.account, existing={"co:markey metals"}).iloc[0]
    assert pd.isna(again["Repair_Account_Terms__c"]) and pd.isna(again["Name"])
