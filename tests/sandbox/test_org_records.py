"""The org's write engine used directly through :class:`OrgDB` (what the data generator does)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sandbox.org.errors import ApiError
from sandbox.org.records import OrgDB, OrgWriteError


@pytest.fixture
def db(tmp_path: Path) -> Iterator[OrgDB]:
    org = OrgDB(tmp_path / "org.sqlite", username="etl@ats.example")
    yield org
    org.close()


def test_seed_has_the_integration_user_and_the_queues(db: OrgDB, tmp_path: Path) -> None:
    user = db.get("User", db.user_id)
    assert user is not None
    assert (user["Username"], user["Name"], user["IsActive"]) == ("etl@ats.example", "Integration User", True)
    queues = db.query("SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue'")
    assert [q["DeveloperName"] for q in queues] == ["eCommerce_Orders"]
    assert (
        db.query(f"SELECT SobjectType FROM QueueSobject WHERE QueueId = '{queues[0]['Id']}'")[0]["SobjectType"]
        == "Order"
    )
    reopened = OrgDB(tmp_path / "org.sqlite")  # seeding happens once; the seeded user is remembered
    assert reopened.user_id == db.user_id
    assert reopened.count("Group") == 1
    assert reopened.count("User") == 1
    reopened.close()


def test_insert_upsert_update_get_count(db: OrgDB) -> None:
    [account] = db.insert("Account", [{"Name": "Markey Metals", "BigCommerce_Account_Key__c": "markey metals"}])
    ids = db.upsert(
        "Contact",
        "BigCommerce_Contact_Key__c",
        [
            {"LastName": "Markey", "FirstName": "Jo", "BigCommerce_Contact_Key__c": "jo@markey.example",
             "Account": {"BigCommerce_Account_Key__c": "MARKEY METALS"}},
        ],
    )  # fmt: skip
    contact = db.get("Contact", ids[0])
    assert contact is not None
    assert (contact["Name"], contact["AccountId"], contact["OwnerId"]) == ("Jo Markey", account, db.user_id)
    assert db.upsert("Contact", "BigCommerce_Contact_Key__c", [{"BigCommerce_Contact_Key__c": "JO@markey.example",
                                                                "Title": "Owner"}]) == ids  # fmt: skip
    [order] = db.insert(
        "Order",
        [{"AccountId": account, "EffectiveDate": date(2024, 5, 1), "Status": "Draft", "BigCommerce_Order_Id__c": "420",
          "BigCommerce_Date_Modified__c": datetime(2024, 5, 1, 12, 30, tzinfo=UTC), "BigCommerce_Total__c": 99.5}],
    )  # fmt: skip
    stored = db.get("Order", order)
    assert stored is not None
    assert (stored["OrderNumber"], stored["EffectiveDate"], stored["BigCommerce_Date_Modified__c"]) == (
        "00000100", "2024-05-01", "2024-05-01T12:30:00.000+0000"
    )  # fmt: skip
    db.update("Order", order, {"Paid__c": True})
    assert db.get("Order", order)["Paid__c"] is True  # type: ignore[index]
    assert (db.count("Account"), db.count("Contact"), db.count("Order")) == (1, 1, 1)

    db.delete("Contact", ids)
    assert db.get("Contact", ids[0]) is None
    assert db.get("Contact", ids[0], include_deleted=True)["IsDeleted"] is True  # type: ignore[index]
    # A deleted record's unique value can be taken by a new record (the recycle bin gives way).
    db.insert("Contact", [{"LastName": "Again", "BigCommerce_Contact_Key__c": "jo@markey.example"}])
    assert db.count("Contact") == 1


def test_failures_raise_and_write_nothing(db: OrgDB) -> None:
    with pytest.raises(OrgWriteError) as info:
        db.insert("Account", [{"Name": "Fine"}, {"Phone": "1"}, {"Name": "y" * 256}])
    text = str(info.value)
    assert "2 record(s) failed" in text
    assert "record 1: REQUIRED_FIELD_MISSING: Required fields are missing: [Name]" in text
    assert "record 2: STRING_TOO_LONG" in text
    assert db.count("Account") == 0
    with pytest.raises(ApiError, match="No such column 'Nope' on sobject of type Account"):
        db.insert("Account", [{"Name": "A", "Nope": 1}])
    results = db.write("insert", "Account", [{"Name": "Fine"}, {"Phone": "1"}])
    assert [r.success for r in results] == [True, False]
    assert db.count("Account") == 1


def test_reset_keeps_the_seed(db: OrgDB) -> None:
    db.insert("Account", [{"Name": "Gone soon"}])
    db.reset()
    assert db.count("Account") == 0
    assert db.count("User") == 1
    assert db.count("Group") == 1


def test_bulk_sized_upsert_is_fast(db: OrgDB) -> None:
    records = [{"Name": f"Account {i}", "BigCommerce_Account_Key__c": f"k{i}", "Phone": "555", "Type": "Other"}
               for i in range(20_000)]  # fmt: skip
    started = time.monotonic()
    db.upsert("Account", "BigCommerce_Account_Key__c", records)
    db.upsert("Account", "BigCommerce_Account_Key__c", records)
    # 20k creates then 20k updates: a few seconds even on a slow machine (100k in ~5 s here).
    assert time.monotonic() - started < 20
    assert db.count("Account") == 20_000
