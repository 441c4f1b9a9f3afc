"""Rows of refused adoptions, and every row naming them as parent, leave the window's load."""

from __future__ import annotations

import pandas as pd

from transforms.holdback import held_keys, held_rows, held_sources
from transforms.mapping import MAPPING

ACCOUNT_REF = "Account.BigCommerce_Account_Key__c"
CONTACT_REF = "BillToContact.BigCommerce_Contact_Key__c"


def test_held_keys_name_the_refused_records_by_our_key() -> None:
    adoptions = pd.DataFrame({"sobject": ["Account", "Contact"], "salesforce_id": ["001A", "003C"],
                              "key": ["co:acme", "c@x.com"]})  # fmt: skip
    assert held_keys(adoptions, ["003C"]) == {"Contact": {"c@x.com"}}


def test_a_held_account_holds_its_rows_and_the_new_rows_naming_it() -> None:
    held = {"Account": {"CO:ACME"}}  # external ids compare case-insensitively
    accounts = pd.DataFrame({"BigCommerce_Account_Key__c": ["co:acme", "co:beta"]})
    assert held_rows(accounts, MAPPING.account, held).tolist() == [True, False]
    # An existing Contact carries no parent reference (it is set once): it is updated as ever.
    contacts = pd.DataFrame({"BigCommerce_Contact_Key__c": ["a@x.com", "b@x.com", "c@x.com"],
                             ACCOUNT_REF: ["co:acme", None, "co:beta"]})  # fmt: skip
    assert held_rows(contacts, MAPPING.contact, held).tolist() == [True, False, False]


def test_orders_are_held_by_either_parent() -> None:
    orders = pd.DataFrame({"BigCommerce_Order_Id__c": ["1", "2", "3"], ACCOUNT_REF: ["co:acme", "co:beta", None],
                           CONTACT_REF: ["a@x.com", "b@x.com", "c@x.com"]})  # fmt: skip
    held = {"Account": {"co:acme"}, "Contact": {"c@x.com"}}
    assert held_rows(orders, MAPPING.order, held).tolist() == [True, False, True]
    assert not held_rows(orders, MAPPING.order, {}).any()


def test_held_sources_are_the_orders_and_registered_customers_to_fetch_again() -> None:
    held = {
        "Order": pd.DataFrame({"BigCommerce_Order_Id__c": ["12", "11", "12"]}),
        "Contact": pd.DataFrame({"BigCommerce_Customer_Id__c": ["7", None]}),
    }
    assert held_sources(held) == {"orders": ["11", "12"], "customers": ["7"]}
    assert held_sources({}) == {"orders": [], "customers": []}
