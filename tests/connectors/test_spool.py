"""The spool gives back what batches planned, and merges a key planned twice as writing the
batches one after the other would have left the record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import connectors.spool as spool_module
from connectors.spool import BATCH, EXISTS, HASH, PayloadSpool, merge_rows
from transforms.mapping import MAPPING

KEY = "BigCommerce_Account_Key__c"


def _at(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC") if text else pd.NaT


def _account(key: str, name: str | None, phone: str | None, phone_at: str | None, street: str | None,
             address_at: str | None, exists: bool = False) -> dict:  # fmt: skip
    status = None if exists else "None"  # a create-only value, planned for a new record only
    return {KEY: key, "Name": name, "Phone": phone, "BillingStreet": street, "Repair_Account_Status__c": status,
            "phone_at": _at(phone_at), "address_at": _at(address_at), EXISTS: exists}  # fmt: skip


def test_spool_keeps_frames_in_order_and_forgets_them_once_taken() -> None:
    spool = PayloadSpool()
    spool.add("Account", pd.DataFrame([_account("co:a", "A", None, None, None, None)]), KEY)
    spool.add("Account", pd.DataFrame(), KEY)  # nothing to keep
    spool.add("Account", pd.DataFrame([_account("co:b", "B", None, None, None, None)]), KEY)
    assert spool.rows("Account") == 2
    (taken,) = spool.slices(MAPPING.account, most=10)
    assert taken[KEY].tolist() == ["co:a", "co:b"] and taken[BATCH].tolist() == [1, 2]
    assert spool.rows("Account") == 0 and list(spool.slices(MAPPING.account, most=10)) == []
    spool.close()


def test_slices_are_even_and_hold_each_key_once() -> None:
    spool = PayloadSpool()
    for batch in range(3):  # keys 0..4 in every batch, 5 new ones each time
        keys = [f"co:{i}" for i in range(5)] + [f"co:{batch}-{i}" for i in range(5)]
        spool.add("Account", pd.DataFrame([_account(k, k.upper(), None, None, None, None) for k in keys]), KEY)
    slices = list(spool.slices(MAPPING.account, most=8))
    assert [len(s) for s in slices] == [7, 7, 6]  # 20 keys, at most 8 a slice: three of about 7
    keys = [k for s in slices for k in s[KEY]]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 20
    merged = pd.concat(slices).set_index(KEY)
    assert merged.loc["co:0", "Name"] == "CO:0" and merged.loc["co:0", BATCH] == 3


def test_a_key_planned_by_two_batches_keeps_its_first_creation_and_its_freshest_groups() -> None:
    spool = PayloadSpool()
    first = _account("co:a", "Acme, Inc.", "555-1", "2026-01-05", "1 Old Rd", "2026-01-01")
    other = _account("co:b", "Beta", "555-9", "2026-01-01", None, None)
    second = _account("co:a", "ACME", "555-0", "2026-01-02", "2 New Rd", "2026-02-01")
    spool.add("Account", pd.DataFrame([first, other]), KEY)
    spool.add("Account", pd.DataFrame([second]), KEY)
    merged = pd.concat(spool.slices(MAPPING.account, most=10)).set_index(KEY)
    assert len(merged) == 2
    row = merged.loc["co:a"]
    # The first batch would have created it: its name. The fresher phone is the first's, the
    # fresher address the second's.
    assert (row["Name"], row["Phone"], row["BillingStreet"]) == ("Acme, Inc.", "555-1", "2 New Rd")
    assert (row["phone_at"], row["address_at"]) == (_at("2026-01-05"), _at("2026-02-01"))
    assert merged.loc["co:b", "Name"] == "Beta"


def test_a_group_without_a_moment_loses_to_one_with_a_moment() -> None:
    frame = pd.DataFrame([_account("co:a", None, "555-1", "2026-01-05", None, None, exists=True),
                          _account("co:a", None, None, None, "9 Elm", "2026-01-03", exists=True)])  # fmt: skip
    frame[BATCH] = [1, 2]
    (row,) = merge_rows(frame, MAPPING.account).to_dict("records")
    assert (row["Phone"], row["BillingStreet"], row[EXISTS]) == ("555-1", "9 Elm", True)


def test_unique_keys_pass_through_untouched() -> None:
    frame = pd.DataFrame([_account("co:a", "A", None, None, None, None), _account("co:b", "B", None, None, None, None)])
    frame[BATCH] = [1, 1]
    assert merge_rows(frame, MAPPING.account) is frame


def test_a_later_row_sending_nothing_for_a_group_leaves_it_as_the_earlier_one_set_it() -> None:
    # A new guest-only Account gets the default group without a moment; a later batch, to which
    # the Account already exists, sends no group at all: the default stays, as sequential writes leave it.
    frame = pd.DataFrame(
        [
            {KEY: "co:a", "eCommerce_Customer_Group__c": "0", "customer_group_at": pd.NaT, EXISTS: False},
            {KEY: "co:a", "eCommerce_Customer_Group__c": None, "customer_group_at": pd.NaT, EXISTS: True},
        ]
    )
    frame[BATCH] = [1, 2]
    (row,) = merge_rows(frame, MAPPING.account).to_dict("records")
    assert (row["eCommerce_Customer_Group__c"], row[EXISTS]) == ("0", False)


def test_keys_whose_hashes_collide_come_back_once_each_and_unmerged(monkeypatch: pytest.MonkeyPatch) -> None:
    # The spool remembers keys by 64-bit hash. A collision can only take a key for a repeated one:
    # its row then goes the merging way, which leaves a key planned once as it is.
    def rows() -> list[pd.DataFrame]:
        spool = PayloadSpool()
        for batch in range(2):
            keys = ["co:shared", f"co:{batch}-a", f"co:{batch}-b"]
            spool.add("Account", pd.DataFrame([_account(k, f"{k}/{batch}", None, None, None, None) for k in keys]), KEY)
        return list(spool.slices(MAPPING.account, most=3))

    def by_key(slices: list[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat(slices).set_index(KEY).sort_index()

    honest = rows()
    monkeypatch.setattr(spool_module, "key_hashes", lambda keys: np.zeros(len(keys), dtype=np.uint64))
    colliding = rows()  # every key hashes alike
    assert [len(s) for s in honest] == [3, 2] and sum(map(len, colliding)) == 5
    pd.testing.assert_frame_equal(by_key(colliding), by_key(honest))
    assert by_key(honest).loc["co:shared", "Name"] == "co:shared/0"  # created by the first batch


def test_a_merged_row_loses_its_batch_hash_and_the_others_keep_theirs() -> None:
    spool = PayloadSpool()
    for batch, keys in enumerate((["co:a", "co:b"], ["co:a"])):
        rows = [{**_account(k, k, None, None, None, None), HASH: f"{k}@{batch}"} for k in keys]
        spool.add("Account", pd.DataFrame(rows), KEY)
    hashes = pd.concat(spool.slices(MAPPING.account, most=10)).set_index(KEY)[HASH]
    assert hashes["co:b"] == "co:b@0" and hashes["co:a"] is None  # made of two batches: computed anew
