"""The set-code reconciliation (rules R9-R11): flags, status write-back and Tasks, idempotent."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.org.schema import TASK_STATUSES
from tests.transforms.factories import order
from transforms.fields import output_columns
from transforms.frames import orders_frame
from transforms.mapping import MAPPING
from transforms.payloads import payload_frame
from transforms.reconcile import (
    FLAG_COLUMNS,
    REPORT_COLUMNS,
    ReconcileResult,
    order_query_fields,
    reconcile,
    task_query_fields,
)

TODAY = date(2026, 11, 24)
FALLBACK = "005000000000FALLBK"
CSR = "005000000000CSRDAN"
QUEUE = "00G000000000QUEUE"
TASK_COLUMNS = ["Id", "Reconcile_Key__c", "Status", "Subject", "Description", "IsClosed", "OwnerId", "WhatId",
                "ActivityDate", "Priority"]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def sf_order(key: str = "1001", **fields: Any) -> dict[str, Any]:
    """A Salesforce Order as the flow's query flattens it (Garth Markey's, seed 000, by default)."""
    row = {
        "Id": f"801{key:0>15}", "OwnerId": QUEUE, "BigCommerce_Order_Id__c": key,
        "ASTEA_Key_Direct_Billing__c": None, "Paid__c": False, "Reconcile_Status__c": None,
        "Suggested_Set_Code__c": "109337-Markey", "Payment_Status__c": "authorized",
        "BillToContact.LastName": "Markey", "Account.Name": "Markey Metals", "Account.ASTEA_Key__c": None,
        "Account.Repair_Account_Terms__c": "Pre-Pay",
    }  # fmt: skip
    row.update(fields)
    return row


def sefton(key: str = "420", **fields: Any) -> dict[str, Any]:
    """Eric Sefton's order 420 (seed 001) once the CSR did steps 8-12."""
    base = {
        "ASTEA_Key_Direct_Billing__c": "109337 Sefton", "Paid__c": True, "OwnerId": CSR,
        "Suggested_Set_Code__c": "109337-Sefton", "Payment_Status__c": "captured",
        "BillToContact.LastName": "Sefton", "Account.Name": "Sefton Services, Inc.",
        "Account.ASTEA_Key__c": "109337 Sefton",
    }  # fmt: skip
    return sf_order(key, **{**base, **fields})


def store(*orders: dict[str, Any]) -> pd.DataFrame:
    """The store window's orders, flattened as the sync flattens them."""
    return orders_frame(list(orders))


def store_order(key: str = "1001", last_name: str = "Markey", payment_status: str = "authorized") -> dict[str, Any]:
    """A v2 order record (seed 000's buyer with another last name when asked)."""
    return order(int(key), payment_status=payment_status, billing={"last_name": last_name})


def run(
    sf: list[dict[str, Any]] | pd.DataFrame,
    shop: pd.DataFrame | None = None,
    tasks: pd.DataFrame | None = None,
    **kwargs: Any,
) -> ReconcileResult:
    frame = sf if isinstance(sf, pd.DataFrame) else pd.DataFrame(sf)
    return reconcile(frame, shop if shop is not None else pd.DataFrame(), tasks, task_fallback_owner=FALLBACK,
                     today=TODAY, **kwargs)  # fmt: skip


def codes(result: ReconcileResult, key: str = "1001") -> str | None:
    """The codes of order ``key`` in the report (None when it is not flagged)."""
    found = result.report[result.report["order_key"] == key]
    return None if found.empty else found.iloc[0]["codes"]


def no_tasks() -> pd.DataFrame:
    return pd.DataFrame(columns=TASK_COLUMNS)


def apply(result: ReconcileResult, sf: pd.DataFrame, tasks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What Salesforce holds once the flow applied ``result`` (Tasks through the loader's payloads:
    empty values are not sent, create-only values only on create)."""
    sf = sf.copy()
    for _, update in result.status_updates.iterrows():
        sf.loc[sf["Id"] == update["Id"], "Reconcile_Status__c"] = update["Reconcile_Status__c"]
    tasks = tasks.copy().astype(object)
    for frame in (result.task_upserts, result.task_closes):
        keys = set(tasks["Reconcile_Key__c"].str.lower())
        existing = [k for k in frame["task_key"] if k.lower() in keys]
        for payload in payload_frame(frame, MAPPING.task, existing).to_dict("records"):
            sent = {k: v for k, v in payload.items() if not pd.isna(v)}
            key = sent.pop("Reconcile_Key__c")
            where = tasks["Reconcile_Key__c"].str.lower() == key.lower()
            if not where.any():
                new = {"Id": f"00T{len(tasks):015d}", "Reconcile_Key__c": key, "Status": "Not Started"}
                tasks = pd.concat([tasks, pd.DataFrame([new], dtype=object)], ignore_index=True)
                where = tasks["Reconcile_Key__c"] == key
            for field, value in sent.items():
                tasks.loc[where, field] = value
            tasks.loc[where, "IsClosed"] = tasks.loc[where, "Status"] == "Completed"
    return sf, tasks


def assert_no_writes(result: ReconcileResult) -> None:
    assert result.status_updates.empty, result.status_updates
    assert result.task_upserts.empty, result.task_upserts
    assert result.task_closes.empty, result.task_closes
    assert result.writes == 0


# -- the seed scenarios ---------------------------------------------------------------------------


def test_seed_000_missing_set_code_opens_a_task_then_clears_once_the_csr_types_it() -> None:
    """Guest Garth Markey's order sits in the queue without a set code (R9), then a CSR types it."""
    sf = pd.DataFrame([sf_order("1001")])
    shop = store(store_order("1001"))
    first = run(sf, shop, no_tasks())

    flag = first.flags.iloc[0]
    assert list(first.flags.columns) == list(FLAG_COLUMNS)
    assert (flag["order_key"], flag["codes"], flag["owner_id"]) == ("1001", "SET_CODE_MISSING", QUEUE)
    assert flag["task_owner_id"] == FALLBACK  # the queue cannot own a Task
    assert flag["link_path"] == f"/lightning/r/Order/{sf.loc[0, 'Id']}/view"
    assert "109337-Markey" in flag["message"] and "blank" in flag["message"]
    assert first.status_updates.to_dict("records") == [
        {"Id": sf.loc[0, "Id"], "Reconcile_Status__c": "SET_CODE_MISSING"}
    ]
    assert list(first.task_upserts.columns) == output_columns(MAPPING.task)
    task = first.task_upserts.iloc[0]
    assert task["task_key"] == "reconcile:1001"
    assert (task["status"], task["owner_id"], task["order_id"], task["due_date"]) == (
        "Not Started",
        FALLBACK,
        sf.loc[0, "Id"],
        TODAY,
    )
    assert task["subject"] == "Check ATS Store order 1001: set code missing"
    assert "109337-Markey" in task["description"]
    assert task["status"] in TASK_STATUSES
    assert first.report.iloc[0]["task_action"] == "create"

    sf, tasks = apply(first, sf, no_tasks())
    assert tasks.loc[0, "OwnerId"] == FALLBACK and not tasks.loc[0, "IsClosed"]
    assert_no_writes(run(sf, shop, tasks))  # nothing changed: nothing to write

    sf.loc[0, "ASTEA_Key_Direct_Billing__c"] = "109337-Markey"  # the CSR's step 16
    cleared = run(sf, shop, tasks)
    assert cleared.flags.empty and cleared.report.empty
    assert cleared.status_updates.to_dict("records") == [{"Id": sf.loc[0, "Id"], "Reconcile_Status__c": "OK"}]
    assert cleared.task_upserts.empty
    assert list(cleared.task_closes["task_key"]) == ["reconcile:1001"]
    assert list(cleared.task_closes["status"]) == ["Completed"]
    assert cleared.task_closes.drop(columns=["task_key", "status"]).isna().all().all()  # only Status is sent

    sf, tasks = apply(cleared, sf, tasks)
    assert tasks.loc[0, "Status"] == "Completed" and tasks.loc[0, "Subject"].startswith("Check ATS Store order 1001")
    assert_no_writes(run(sf, shop, tasks))


@pytest.mark.parametrize("set_code", ["109337 Sefton", "109337-Sefton"])
def test_seed_001_order_420_with_set_code_paid_and_pre_pay_is_ok(set_code: str) -> None:
    """Eric Sefton's order 420: both spellings of seed 001 are well-formed."""
    sf = [sefton("420", ASTEA_Key_Direct_Billing__c=set_code)]
    result = run(sf, store(store_order("420", "Sefton", "captured")))
    assert result.flags.empty and result.report.empty
    assert result.status_updates["Reconcile_Status__c"].tolist() == ["OK"]
    assert result.summary()["orders_checked"] == 1


# -- each rule alone -------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", [None, "", "   ", float("nan"), pd.NA, "\t\n"])
def test_blank_set_code_is_missing(blank: Any) -> None:
    result = run([sefton("420", ASTEA_Key_Direct_Billing__c=blank)])
    assert codes(result, "420") == "SET_CODE_MISSING"
    assert "109337-Sefton" in result.flags.iloc[0]["message"]


@pytest.mark.parametrize("set_code", ["Sefton", "109337Sefton", "109337--Sefton", "109338 Sefton"])
def test_set_code_not_under_109337(set_code: str) -> None:
    result = run([sefton("420", ASTEA_Key_Direct_Billing__c=set_code)])
    assert codes(result, "420") == "SET_CODE_NOT_109337"
    message = result.flags.iloc[0]["message"]
    assert set_code.strip() in message and "109337-Sefton" in message


@pytest.mark.parametrize(
    "set_code", ["109337-Sefton", "  109337 sefton  ", "109337 - SEFTON", "109337\tSefton", "109337-Sefton Columbus"]
)
def test_well_formed_set_codes_naming_the_buyer_are_ok(set_code: str) -> None:
    result = run([sefton("420", ASTEA_Key_Direct_Billing__c=set_code)], store(store_order("420", "Sefton", "captured")))
    assert result.flags.empty, result.flags["message"].tolist()


@pytest.mark.parametrize("set_code", ["109337-Markey", "109337-Seftons", "109337-Eric Sefton", "109337-Sef"])
def test_set_code_naming_someone_else(set_code: str) -> None:
    result = run([sefton("420", ASTEA_Key_Direct_Billing__c=set_code)], store(store_order("420", "Sefton", "captured")))
    assert codes(result, "420") == "SET_CODE_NAME_MISMATCH"
    assert "'Sefton'" in result.flags.iloc[0]["message"] and "109337-Sefton" in result.flags.iloc[0]["message"]


@pytest.mark.parametrize(
    ("last_name", "set_code"),
    [("O'Brien", "109337-OBrien"), ("Van der Berg", "109337-VanderBerg"), ("Smith-Jones", "109337 Smith Jones"),
     ("Müller", "109337-Mueller"), ("Núñez", "109337-NUNEZ")],
)  # fmt: skip
def test_names_compare_without_case_accents_spaces_apostrophes_or_hyphens(last_name: str, set_code: str) -> None:
    sf = [sf_order("1001", ASTEA_Key_Direct_Billing__c=set_code, **{"BillToContact.LastName": None})]
    result = run(sf, store(store_order("1001", last_name)))
    assert result.flags.empty, result.flags["message"].tolist()


def test_the_store_last_name_wins_over_the_contact_and_the_contact_serves_without_store_order() -> None:
    sf = [sf_order("1001", ASTEA_Key_Direct_Billing__c="109337-Markey", **{"BillToContact.LastName": "Other"})]
    assert run(sf, store(store_order("1001", "Markey"))).flags.empty
    mismatch = run(sf, store(store_order("1001", "Sefton")))
    assert codes(mismatch) == "SET_CODE_NAME_MISMATCH" and "109337-Sefton" in mismatch.flags.iloc[0]["message"]
    assert codes(run(sf)) == "SET_CODE_NAME_MISMATCH"  # no store order: the Bill-To Contact's "Other"
    unknown = [sf_order("1001", ASTEA_Key_Direct_Billing__c="109337-Whoever", **{"BillToContact.LastName": None})]
    assert run(unknown).flags.empty  # no last name known: the name is not checked


@pytest.mark.parametrize(
    ("account_key", "set_code", "terms", "flagged"),
    [("109337 Sefton", "109337 Sefton", "Pay by PO", True),
     ("109337", "109337 Sefton", "Pay by PO", True),
     (None, "109337 Sefton", "Pay by PO", True),  # the account has no key yet: the order's set code
     ("204511", "109337 Sefton", "Pay by PO", False),  # the account has its own ASTEA number
     ("1093370-Sefton", "109337 Sefton", "Pay by PO", False),
     ("109337 Sefton", "109337 Sefton", "Pre-Pay", False),
     ("109337 Sefton", "109337 Sefton", " pre-pay ", False),
     ("109337 Sefton", "109337 Sefton", None, False),  # blank terms grant no terms
     (None, None, "Pay by PO", False)],
)  # fmt: skip
def test_terms_other_than_pre_pay_under_109337(
    account_key: str | None, set_code: str | None, terms: str | None, flagged: bool
) -> None:
    row = sefton("420", ASTEA_Key_Direct_Billing__c=set_code,
                 **{"Account.ASTEA_Key__c": account_key, "Account.Repair_Account_Terms__c": terms})  # fmt: skip
    result = run([row])
    found = codes(result, "420") or ""
    assert ("TERMS_NOT_PREPAY" in found) is flagged
    if flagged:
        message = result.flags.iloc[0]["message"]
        assert "Sefton Services, Inc." in message and "Pay by PO" in message and "Pre-Pay" in message


@pytest.mark.parametrize(
    ("payment_status", "paid", "flagged"),
    [("captured", False, True), ("captured", None, True), ("captured", "false", True), ("Captured", 0, True),
     ("paid", False, True), ("partially refunded", False, True), ("captured", True, False),
     ("captured", "true", False), ("captured", 1, False), ("authorized", False, False),
     ("capture pending", False, False), ("pending", False, False), ("refunded", False, False),
     ("void", False, False), (None, False, False)],
)  # fmt: skip
def test_captured_payment_with_paid_unticked(payment_status: str | None, paid: Any, flagged: bool) -> None:
    row = sefton("420", Paid__c=paid, Payment_Status__c=None)
    shop = store(order(420, payment_status=payment_status or "", billing={"last_name": "Sefton"}))
    result = run([row], shop)
    assert (codes(result, "420") == "PAID_UNTICKED") is flagged
    if flagged:
        assert "tick Paid" in result.flags.iloc[0]["message"]


def test_payment_status_falls_back_to_the_orders_copy_outside_the_store_window() -> None:
    assert codes(run([sefton("420", Paid__c=False, Payment_Status__c="captured")]), "420") == "PAID_UNTICKED"
    shop = store(order(420, payment_status="authorized", billing={"last_name": "Sefton"}))
    assert run([sefton("420", Paid__c=False, Payment_Status__c="captured")], shop).flags.empty  # the store is fresher


def test_store_order_without_salesforce_order_is_reported_without_task() -> None:
    shop = store(store_order("1001"), store_order("1002"), store_order("1003"))
    sf = [sefton("1001", **{"BillToContact.LastName": "Markey", "ASTEA_Key_Direct_Billing__c": "109337-Markey",
                            "Account.ASTEA_Key__c": None})]  # fmt: skip
    sf.append({**sf_order("1003"), "Id": None})  # in Salesforce, though its Id was not read: not missing
    result = run(sf, shop)
    assert result.flags.empty and result.task_upserts.empty
    assert list(result.report.columns) == list(REPORT_COLUMNS)
    missing = result.report.set_index("order_key").loc["1002"]
    assert missing["codes"] == "MISSING_IN_SALESFORCE"
    assert pd.isna(missing["salesforce_id"]) and pd.isna(missing["task_action"]) and pd.isna(missing["link_path"])
    assert missing["placed"] == "2026-11-23" and "1002" in missing["message"]
    assert result.summary()["MISSING_IN_SALESFORCE"] == 1
    assert result.status_updates["Reconcile_Status__c"].tolist() == ["OK"]


# -- combinations, owners, Tasks -------------------------------------------------------------------


def test_several_findings_on_one_order() -> None:
    row = sf_order("1001", OwnerId=CSR, **{"Account.ASTEA_Key__c": "109337-Markey",
                                           "Account.Repair_Account_Terms__c": "Pay by PO"})  # fmt: skip
    result = run([row], store(store_order("1001", payment_status="captured")))
    assert codes(result) == "SET_CODE_MISSING; TERMS_NOT_PREPAY; PAID_UNTICKED"
    assert result.status_updates["Reconcile_Status__c"].tolist() == [
        "SET_CODE_MISSING; TERMS_NOT_PREPAY; PAID_UNTICKED"
    ]
    task = result.task_upserts.iloc[0]
    assert task["owner_id"] == CSR  # the CSR owning the order gets the Task
    assert task["subject"] == (
        "Check ATS Store order 1001: set code missing; terms not Pre-Pay; payment captured, Paid not ticked"
    )
    assert task["description"].count("\n- ") == 2
    assert result.summary()["flagged"] == 1 and result.summary()["PAID_UNTICKED"] == 1


def test_set_code_codes_exclude_each_other() -> None:
    for set_code in (None, "Markey", "109337-Sefton"):
        found = codes(run([sf_order("1001", ASTEA_Key_Direct_Billing__c=set_code)], store(store_order("1001"))))
        assert found is not None and found.count("SET_CODE_") == 1


def test_a_closed_task_is_reopened_when_the_problem_comes_back() -> None:
    sf = pd.DataFrame([sf_order("1001", ASTEA_Key_Direct_Billing__c="109337-Markey")])
    shop = store(store_order("1001"))
    first = run(sf, shop, no_tasks())
    sf, tasks = apply(first, sf, no_tasks())
    sf.loc[0, "ASTEA_Key_Direct_Billing__c"] = None  # opened: a flag and a Task
    opened = run(sf, shop, tasks)
    sf, tasks = apply(opened, sf, tasks)
    sf.loc[0, "ASTEA_Key_Direct_Billing__c"] = "109337-Markey"  # fixed: the Task is closed
    sf, tasks = apply(run(sf, shop, tasks), sf, tasks)
    assert tasks.loc[0, "Status"] == "Completed"

    sf.loc[0, "ASTEA_Key_Direct_Billing__c"] = "  "  # the problem comes back
    again = run(sf, shop, tasks)
    assert again.report.iloc[0]["task_action"] == "reopen"
    assert again.task_upserts[["task_key", "status"]].to_dict("records") == [
        {"task_key": "reconcile:1001", "status": "Not Started"}
    ]
    sf, tasks = apply(again, sf, tasks)
    assert len(tasks) == 1 and tasks.loc[0, "Status"] == "Not Started" and not tasks.loc[0, "IsClosed"]
    assert_no_writes(run(sf, shop, tasks))


def test_closed_tasks_without_is_closed_column_are_recognised_by_status() -> None:
    tasks = pd.DataFrame([{"Id": "00T1", "Reconcile_Key__c": "reconcile:1001", "Status": "Completed"}])
    result = run([sf_order("1001")], store(store_order("1001")), tasks)
    assert result.report.iloc[0]["task_action"] == "reopen"
    clean = run([sf_order("1001", ASTEA_Key_Direct_Billing__c="109337-Markey")], store(store_order("1001")), tasks)
    assert clean.task_closes.empty  # already closed


def test_an_open_task_with_other_text_is_updated_keeping_the_csrs_status() -> None:
    tasks = pd.DataFrame([{"Id": "00T1", "Reconcile_Key__c": "RECONCILE:1001", "Status": "In Progress",
                           "Subject": "old", "Description": "old", "IsClosed": False}])  # fmt: skip
    result = run([sf_order("1001")], store(store_order("1001")), tasks)
    assert result.report.iloc[0]["task_action"] == "update"
    assert result.task_upserts[["task_key", "status"]].to_dict("records") == [
        {"task_key": "reconcile:1001", "status": "In Progress"}
    ]


def test_tasks_of_orders_not_read_or_not_ours_are_left_alone() -> None:
    tasks = pd.DataFrame([
        {"Id": "00T1", "Reconcile_Key__c": "reconcile:999", "Status": "Not Started", "IsClosed": False},
        {"Id": "00T2", "Reconcile_Key__c": "other:1001", "Status": "Not Started", "IsClosed": False},
        {"Id": "00T3", "Reconcile_Key__c": None, "Status": "Not Started", "IsClosed": False},
    ])  # fmt: skip
    result = run([sf_order("1001", ASTEA_Key_Direct_Billing__c="109337-Markey")], store(store_order("1001")), tasks)
    assert result.task_closes.empty and result.task_upserts.empty


def test_task_subject_and_description_are_compared_as_salesforce_stores_them() -> None:
    first = run([sf_order("1001")], store(store_order("1001")))
    task = first.task_upserts.iloc[0]
    stored = pd.DataFrame([{"Id": "00T1", "Reconcile_Key__c": "reconcile:1001", "Status": "Not Started",
                            "Subject": task["subject"] + " ", "Description": task["description"].replace("\n", "\r\n"),
                            "IsClosed": "false"}])  # fmt: skip
    again = run([sf_order("1001")], store(store_order("1001")), stored)
    assert again.task_upserts.empty and again.report.iloc[0]["task_action"] == "unchanged"


def test_the_fallback_owner_must_be_a_user() -> None:
    with pytest.raises(ValueError, match="User"):
        reconcile(pd.DataFrame(), pd.DataFrame(), None, task_fallback_owner=QUEUE, today=TODAY)
    with pytest.raises(ValueError, match="User"):
        reconcile(pd.DataFrame(), pd.DataFrame(), None, task_fallback_owner="  ", today=TODAY)


# -- inputs ----------------------------------------------------------------------------------------


def test_empty_inputs_give_empty_results_with_columns() -> None:
    result = reconcile(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), task_fallback_owner=FALLBACK, today=TODAY)
    assert result.writes == 0 and result.report.empty and result.flags.empty
    assert list(result.report.columns) == list(REPORT_COLUMNS)
    assert list(result.task_upserts.columns) == list(result.task_closes.columns) == output_columns(MAPPING.task)
    assert list(result.status_updates.columns) == ["Id", "Reconcile_Status__c"]
    assert result.summary()["orders_checked"] == 0


def test_relationship_columns_and_optional_fields_may_be_absent() -> None:
    bare = [{"Id": "801A", "BigCommerce_Order_Id__c": "1001", "ASTEA_Key_Direct_Billing__c": "109337-Markey",
             "Paid__c": None}]  # fmt: skip
    result = run(bare, store(store_order("1001", payment_status="captured")))
    assert codes(result) == "PAID_UNTICKED"
    assert result.flags.iloc[0]["task_owner_id"] == FALLBACK and pd.isna(result.flags.iloc[0]["owner_id"])
    assert result.status_updates["Reconcile_Status__c"].tolist() == ["PAID_UNTICKED"]
    nothing_known = [{**bare[0], "ASTEA_Key_Direct_Billing__c": "109337-Anyone"}]
    assert run(nothing_known).flags.empty  # no last name, no payment status, no account: nothing to flag


def test_nan_everywhere_is_missing() -> None:
    row = {column: float("nan") for column in order_query_fields()}
    row.update(Id="801A", BigCommerce_Order_Id__c=1001.0)
    result = run([row], store(store_order("1001")))
    assert codes(result) == "SET_CODE_MISSING"  # and the order number 1001.0 met the store's 1001


@pytest.mark.parametrize("column", ["Id", "BigCommerce_Order_Id__c", "ASTEA_Key_Direct_Billing__c", "Paid__c"])
def test_required_columns_are_checked(column: str) -> None:
    row = sf_order("1001")
    del row[column]
    with pytest.raises(ValueError, match=column):
        run([row])
    assert run(pd.DataFrame(columns=[c for c in sf_order() if c != column])).writes == 0  # no rows: fine


def test_rows_without_id_or_key_are_ignored_and_duplicates_use_the_first_id() -> None:
    rows = [sf_order("1001", Id=None), sf_order("", Id="801X"), sf_order("1002", Id="801B"),
            sf_order("1002", Id="801A", ASTEA_Key_Direct_Billing__c="109337-Markey")]  # fmt: skip
    result = run(rows, store(store_order("1002")))
    assert result.status_updates.to_dict("records") == [{"Id": "801A", "Reconcile_Status__c": "OK"}]


def test_store_orders_may_be_the_extractors_records_and_inputs_are_untouched() -> None:
    sf = pd.DataFrame([sf_order("1001"), sefton("420")])
    records = [store_order("1001", payment_status="captured"), store_order("420", "Sefton", "captured")]
    tasks = pd.DataFrame([{"Id": "00T1", "Reconcile_Key__c": "reconcile:420", "Status": "Deferred",
                           "IsClosed": False}])  # fmt: skip
    sf_before, tasks_before, shop = sf.copy(), tasks.copy(), store(*records)
    shop_before = shop.copy()
    from_records = run(sf, records, tasks)
    from_frame = run(sf, shop, tasks)
    for name in ("flags", "status_updates", "task_upserts", "task_closes", "report"):
        pd.testing.assert_frame_equal(getattr(from_records, name), getattr(from_frame, name), obj=name)
    pd.testing.assert_frame_equal(sf, sf_before)
    pd.testing.assert_frame_equal(tasks, tasks_before)
    pd.testing.assert_frame_equal(shop.drop(columns="record"), shop_before.drop(columns="record"))
    assert codes(from_frame) == "SET_CODE_MISSING; PAID_UNTICKED"
    assert list(from_frame.task_closes["task_key"]) == ["reconcile:420"]  # open, though Deferred


def test_outputs_are_sorted_by_order_number() -> None:
    sf = [sf_order(k) for k in ("1010", "999", "1002")]
    result = run(sf, store(store_order("1001"), store_order("1010")))
    assert result.report["order_key"].tolist() == ["999", "1001", "1002", "1010"]
    assert result.flags["order_key"].tolist() == ["999", "1002", "1010"]
    assert result.task_upserts["task_key"].tolist() == ["reconcile:999", "reconcile:1002", "reconcile:1010"]


def test_query_field_lists_follow_the_mapping() -> None:
    fields = order_query_fields()
    assert {"Id", "OwnerId", "BigCommerce_Order_Id__c", "ASTEA_Key_Direct_Billing__c", "Paid__c",
            "Reconcile_Status__c", "BillToContact.LastName", "Account.Name", "Account.ASTEA_Key__c",
            "Account.Repair_Account_Terms__c"} <= set(fields)  # fmt: skip
    assert task_query_fields() == ["Id", "Reconcile_Key__c", "Status", "Subject", "Description", "IsClosed"]


def test_rules_r9_to_r11_are_cited_once_each_in_the_reconciliation() -> None:
    citation = re.compile(r"#\s*(R\d+)\b")
    found: dict[str, int] = {}
    for path in sorted((ROOT / "transforms").glob("reconcile*.py")):
        for rule in citation.findall(path.read_text(encoding="utf-8")):
            found[rule] = found.get(rule, 0) + 1
    assert found == {"R9": 1, "R10": 1, "R11": 1}


# -- idempotence -----------------------------------------------------------------------------------

SET_CODES = [None, "", "109337-Sefton", "109337 Sefton", " 109337 - müller ", "109337-OBrien", "Sefton", "109337",
             "109337-Markey", "109337-Sefton Columbus"]  # fmt: skip
LAST_NAMES = ["Sefton", "O'Brien", "Müller", "Markey", None]
PAYMENTS = ["captured", "authorized", "paid", "refunded", "", "partially refunded"]
STATUSES = [None, "OK", "SET_CODE_MISSING", "PAID_UNTICKED", "stale text"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Salesforce orders, store orders and Tasks in any state."""
    keys = draw(st.lists(st.integers(1000, 1011), unique=True, max_size=8))
    sf_keys = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    rows = []
    for key in sf_keys:
        rows.append(sf_order(
            str(key), OwnerId=draw(st.sampled_from([QUEUE, CSR, None])),
            ASTEA_Key_Direct_Billing__c=draw(st.sampled_from(SET_CODES)),
            Paid__c=draw(st.sampled_from([True, False, None, "true"])),
            Reconcile_Status__c=draw(st.sampled_from(STATUSES)),
            Payment_Status__c=draw(st.sampled_from([*PAYMENTS, None])),
            **{"BillToContact.LastName": draw(st.sampled_from(LAST_NAMES)),
               "Account.ASTEA_Key__c": draw(st.sampled_from([None, "109337-Sefton", "204511"])),
               "Account.Repair_Account_Terms__c": draw(st.sampled_from(["Pre-Pay", "Pay by PO", None]))},
        ))  # fmt: skip
    records = [
        order(key, payment_status=draw(st.sampled_from(PAYMENTS)),
              billing={"last_name": draw(st.sampled_from(["Sefton", "O'Brien", "Müller", "Markey"]))})
        for key in keys if draw(st.booleans())
    ]  # fmt: skip
    tasks = [
        {"Id": f"00T{key}", "Reconcile_Key__c": f"reconcile:{key}", "Status": status,
         "Subject": draw(st.sampled_from([None, "old"])), "Description": None, "IsClosed": status == "Completed",
         "OwnerId": CSR, "WhatId": None, "ActivityDate": None, "Priority": "High"}
        for key in keys
        if (status := draw(st.sampled_from([None, *TASK_STATUSES]))) is not None
    ]  # fmt: skip
    return pd.DataFrame(rows), store(*records), pd.DataFrame(tasks, columns=TASK_COLUMNS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.randoms(use_true_random=False))
def test_applying_the_writes_makes_the_next_run_write_nothing(
    world: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], rng: Any
) -> None:
    sf, shop, tasks = world
    first = run(sf, shop, tasks)
    assert first.flags["order_key"].is_unique and first.report["order_key"].is_unique
    assert first.task_upserts["task_key"].isin(first.flags["order_key"].radd("reconcile:")).all()
    assert (first.task_upserts["owner_id"].str.startswith("005")).all()
    assert first.task_upserts["status"].isin(TASK_STATUSES).all()
    assert (first.status_updates["Reconcile_Status__c"].str.len() <= 255).all()
    assert set(first.flags["order_key"]).isdisjoint(first.task_closes["task_key"].str.removeprefix("reconcile:"))

    shuffled = run(sf.sample(frac=1, random_state=rng.randint(0, 99)), shop, tasks.iloc[::-1])
    for name in ("flags", "status_updates", "task_upserts", "task_closes", "report"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(shuffled, name), obj=name)

    sf_after, tasks_after = apply(first, sf, tasks)
    second = run(sf_after, shop, tasks_after)
    assert_no_writes(second)
    pd.testing.assert_frame_equal(first.flags, second.flags)
    assert set(second.report["task_action"].dropna()) <= {"unchanged"}
    open_keys = set(tasks_after.loc[~tasks_after["IsClosed"].astype(bool), "Reconcile_Key__c"])
    assert open_keys >= {f"reconcile:{k}" for k in second.flags["order_key"]}


def test_of_two_versions_of_a_store_order_the_latest_wins() -> None:
    versions = [order(420, hours=2, payment_status="captured", billing={"last_name": "Sefton"}),
                order(420, hours=1, payment_status="authorized", billing={"last_name": "Sefton"})]  # fmt: skip
    versions[0]["date_modified"] = versions[0]["date_modified"].replace(hour=15)
    for shop in (store(*versions), store(*versions[::-1])):
        assert codes(run([sefton("420", Paid__c=False, Payment_Status__c=None)], shop), "420") == "PAID_UNTICKED"
