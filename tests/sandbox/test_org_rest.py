"""The sandbox org's REST API through simple-salesforce: describe, records, upsert, collections, queries.

Each test uses its own external ids (a random tag) on the session's shared sandbox, so tests do
not depend on each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer

pytestmark = pytest.mark.usefixtures("close_connections")


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def org_db(sandbox: SandboxServer) -> Iterator[OrgDB]:
    """Direct access to the running org's records (the same SQLite file)."""
    db = OrgDB(sandbox.config.org_db, username=sandbox.credentials.sf_username)
    yield db
    db.close()


def errors_of(exc: pytest.ExceptionInfo[Any]) -> list[tuple[str, str]]:
    return [(e["errorCode"], e["message"]) for e in exc.value.content]


def new_account(sf: Salesforce, key: str, **fields: Any) -> str:
    return sf.Account.create({"Name": f"Account {key}", "BigCommerce_Account_Key__c": key, **fields})["id"]


# ---------------------------------------------------------------------------------------------
# discovery and describe
# ---------------------------------------------------------------------------------------------


def test_versions_resources_and_unknown_paths(
    sandbox: SandboxServer, sf: Salesforce, ca_session: requests.Session
) -> None:
    versions = ca_session.get(f"{sandbox.org.base_url}/services/data/").json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    assert sf.restful("")["sobjects"] == "/services/data/v59.0/sobjects"
    headers = sf.headers
    missing = ca_session.get(f"{sandbox.org.base_url}/services/data/v59.0/nothing/here", headers=headers)
    assert (missing.status_code, missing.json()) == (
        404,
        [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}],
    )
    assert ca_session.get(f"{sandbox.org.base_url}/services/data/v12.0/limits", headers=headers).status_code == 404
    wrong_method = ca_session.put(f"{sandbox.org.base_url}/services/data/v59.0/sobjects/Account", headers=headers)
    assert wrong_method.status_code == 405
    assert wrong_method.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_describe_global_and_object(sf: Salesforce) -> None:
    names = {o["name"]: o for o in sf.describe()["sobjects"]}
    assert names["Account"]["keyPrefix"] == "001"
    assert names["Order"]["urls"]["describe"] == "/services/data/v59.0/sobjects/Order/describe"

    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    key = fields["BigCommerce_Account_Key__c"]
    assert (key["type"], key["length"], key["externalId"], key["unique"], key["idLookup"], key["custom"]) == (
        "string", 255, True, True, True, True
    )  # fmt: skip
    status = fields["Repair_Account_Status__c"]
    assert status["restrictedPicklist"] is True
    assert [v["value"] for v in status["picklistValues"]] == ["None", "Active"]
    assert fields["Name"]["nillable"] is False
    assert fields["Name"]["createable"] is True
    assert fields["Assigned_CSR__c"]["referenceTo"] == ["User"]
    order = {f["name"]: f for f in sf.Order.describe()["fields"]}
    assert order["OrderNumber"]["autoNumber"] is True
    assert order["OrderNumber"]["createable"] is False
    assert order["OwnerId"]["referenceTo"] == ["Group", "User"]
    assert order["Paid__c"]["defaultValue"] is False
    assert sf.Account.metadata()["objectDescribe"]["name"] == "Account"
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Nope__c.describe()
    assert errors_of(info) == [("NOT_FOUND", "The requested resource does not exist")]


# ---------------------------------------------------------------------------------------------
# single records
# ---------------------------------------------------------------------------------------------


def test_create_get_update_delete(sf: Salesforce, tag: str) -> None:
    account_id = new_account(sf, tag, Phone="555-0100")
    record = sf.Account.get(account_id)
    assert record["attributes"] == {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{account_id}"}
    assert record["Phone"] == "555-0100"
    assert record["OwnerId"] == record["CreatedById"]
    assert sf.Account.get(account_id, params={"fields": "Name"}) == {
        "attributes": record["attributes"], "Id": account_id, "Name": f"Account {tag}"
    }  # fmt: skip
    assert sf.Account.update(account_id, {"Phone": None, "Website": "https://example.com"}) == 204
    record = sf.Account.get(account_id)
    assert (record["Phone"], record["Website"]) == (None, "https://example.com")
    assert record["LastModifiedDate"] >= record["CreatedDate"]

    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Account.get(account_id)
    assert errors_of(info) == [("ENTITY_IS_DELETED", "entity is deleted")]
    assert sf.query(f"SELECT Id FROM Account WHERE Id = '{account_id}'")["totalSize"] == 0
    deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Id = '{account_id}'", include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")


def test_single_upsert_creates_then_updates(sf: Salesforce, tag: str) -> None:
    key = f"Buyer+{tag}@Example.com"
    assert sf.Contact.upsert(f"BigCommerce_Contact_Key__c/{key}", {"LastName": "Sefton", "Email": key}) == 201
    response = sf.Contact.upsert(
        f"BigCommerce_Contact_Key__c/{key.lower()}", {"FirstName": "Ann", "LastName": "Sefton"}, raw_response=True
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["created"] is False
    contact = sf.Contact.get_by_custom_id("BigCommerce_Contact_Key__c", key.lower())
    assert contact["Id"] == body["id"]
    assert contact["Name"] == "Ann Sefton"  # computed from FirstName and LastName
    # Matched case-insensitively; the value in the URL is what the record now holds.
    assert contact["BigCommerce_Contact_Key__c"] == key.lower()

    old = Salesforce(instance_url=f"https://{sf.sf_instance}", session_id=sf.session_id, session=sf.session,
                     version="45.0")  # fmt: skip
    assert old.Contact.upsert(f"BigCommerce_Contact_Key__c/{key}", {"Title": "Buyer"}) == 204

    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Contact.upsert(f"BigCommerce_Contact_Key__c/{key}", {"BigCommerce_Contact_Key__c": key, "LastName": "X"})
    assert info.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Contact.upsert(f"Title/{key}", {"LastName": "X"})
    assert errors_of(info) == [("NOT_FOUND", "Provided external ID field does not exist or is not accessible: Title")]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.upsert(f"BigCommerce_Contact_Key__c/nobody-{tag}?updateOnly=true", {"LastName": "X"})


def test_validation_errors_have_real_codes_and_messages(sf: Salesforce, tag: str) -> None:
    cases: list[tuple[str, dict[str, Any], tuple[str, str, list[str]]]] = [
        ("Account", {"Phone": "1"}, ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"])),
        ("Account", {"Name": "x" * 256},
         ("STRING_TOO_LONG", f"Account Name: data value too large: {'x' * 256} (max length=255)", ["Name"])),
        ("Account", {"Name": "A", "Repair_Account_Terms__c": "Net 30"},
         ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
          "Repair Account Terms: bad value for restricted picklist field: Net 30", ["Repair_Account_Terms__c"])),
        ("Contact", {"LastName": "L", "Email": "not-an-email"},
         ("INVALID_EMAIL_ADDRESS", "Email: invalid email address: not-an-email", ["Email"])),
        ("Contact", {"LastName": "L", "AccountId": "003000000000000AAA"},
         ("FIELD_INTEGRITY_EXCEPTION", "Account ID: id value of incorrect type: 003000000000000AAA", ["AccountId"])),
        ("Contact", {"LastName": "L", "AccountId": "0015g000zzzzzzzAAA"},
         ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["AccountId"])),
        ("Contact", {"LastName": "L", "Account": {"BigCommerce_Account_Key__c": f"missing-{tag}"}},
         ("INVALID_FIELD", f"Foreign key external ID: missing-{tag} not found for field BigCommerce_Account_Key__c "
          "in entity Account", [])),
        ("Order", {"OrderNumber": "1"},
         ("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: OrderNumber. Please check the security "
          "settings of this field and verify that it is read/write for your profile or permission set.",
          ["OrderNumber"])),
    ]  # fmt: skip
    for object_name, record, (code, message, fields) in cases:
        with pytest.raises(SalesforceMalformedRequest) as info:
            getattr(sf, object_name).create(record)
        assert info.value.content == [{"message": message, "errorCode": code, "fields": fields}], record

    # Request-level errors: the body cannot be read at all.
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Account.create({"Name": "A", "Foo__c": 1})
    assert errors_of(info) == [("INVALID_FIELD", "No such column 'Foo__c' on sobject of type Account")]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Order.create({"EffectiveDate": "12/31/2024"})
    assert info.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert "Cannot deserialize instance of date from VALUE_STRING value 12/31/2024" in info.value.content[0]["message"]


def test_unique_external_id_violation(sf: Salesforce, tag: str) -> None:
    first = new_account(sf, tag)
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Account.create({"Name": "Copy", "BigCommerce_Account_Key__c": tag.upper()})
    assert info.value.content == [
        {
            "message": f"duplicate value found: BigCommerce_Account_Key__c duplicates value on record with id: {first}",
            "errorCode": "DUPLICATE_VALUE",
            "fields": [],
        }
    ]


def test_order_lifecycle(sf: Salesforce, tag: str) -> None:
    account_id = new_account(sf, tag)
    draft = {"Account": {"BigCommerce_Account_Key__c": tag}, "EffectiveDate": "2024-05-01", "Status": "Draft",
             "BigCommerce_Order_Id__c": f"o-{tag}"}  # fmt: skip
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Order.create({**draft, "Status": "Activated"})
    assert info.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Order.create({**draft, "Status": "Shipped"})
    assert info.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"

    order_id = sf.Order.create(draft)["id"]
    order = sf.Order.get(order_id)
    assert order["AccountId"] == account_id
    assert len(order["OrderNumber"]) == 8
    assert order["OrderNumber"].isdigit()
    assert (order["StatusCode"], order["Paid__c"], order["OwnerId"]) == ("Draft", False, order["CreatedById"])
    second = sf.Order.create({**draft, "BigCommerce_Order_Id__c": f"p-{tag}"})["id"]
    assert int(sf.Order.get(second)["OrderNumber"]) > int(order["OrderNumber"])

    with pytest.raises(SalesforceMalformedRequest):  # activation must change Status alone
        sf.Order.update(order_id, {"Status": "Activated", "Description": "x"})
    sf.Order.update(order_id, {"Status": "Activated"})
    order = sf.Order.get(order_id)
    assert order["StatusCode"] == "Activated"
    assert order["ActivatedDate"]
    other = new_account(sf, f"{tag}-2")
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Order.update(order_id, {"AccountId": other})
    assert info.value.content[0]["fields"] == ["AccountId"]

    queue = sf.query("SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = 'eCommerce_Orders'")
    queue_id = queue["records"][0]["Id"]
    sf.Order.update(second, {"OwnerId": queue_id})
    assert sf.Order.get(second)["OwnerId"] == queue_id


def test_task_defaults_and_is_closed(sf: Salesforce, tag: str) -> None:
    task_id = sf.Task.create({"Subject": "Call", "Reconcile_Key__c": tag})["id"]
    task = sf.Task.get(task_id)
    assert (task["Status"], task["Priority"], task["IsClosed"]) == ("Not Started", "Normal", False)
    sf.Task.update(task_id, {"Status": "Completed"})
    assert sf.Task.get(task_id)["IsClosed"] is True


# ---------------------------------------------------------------------------------------------
# sObject Collections
# ---------------------------------------------------------------------------------------------


def collection(records: list[dict[str, Any]], all_or_none: bool = False) -> dict[str, Any]:
    return {"allOrNone": all_or_none, "records": [{"attributes": {"type": "Account"}, **r} for r in records]}


def test_collection_upsert_mixed_results_in_request_order(sf: Salesforce, tag: str) -> None:
    existing = new_account(sf, f"{tag}-0")
    url = "composite/sobjects/Account/BigCommerce_Account_Key__c"
    records = [
        {"Name": "New one", "BigCommerce_Account_Key__c": f"{tag}-1"},
        {"Name": "", "BigCommerce_Account_Key__c": f"{tag}-2"},
        {"Name": "Renamed", "BigCommerce_Account_Key__c": f"{tag}-0"},
        {"Name": "No key"},
        {"Name": "Twice", "BigCommerce_Account_Key__c": f"{tag}-3"},
        {"Name": "Twice", "BigCommerce_Account_Key__c": f"{tag}-3"},
    ]
    results = sf.restful(url, method="PATCH", json=collection(records))
    assert [(r["success"], r["created"]) for r in results] == [
        (True, True), (False, False), (True, False), (False, False), (False, False), (False, False)
    ]  # fmt: skip
    assert results[2]["id"] == existing
    assert results[1]["errors"] == [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"]}
    ]
    assert results[3]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[4]["errors"][0] == {
        "statusCode": "DUPLICATE_EXTERNAL_ID",
        "message": f"Duplicate external id specified: {tag}-3",
        "fields": ["BigCommerce_Account_Key__c"],
    }
    assert sf.Account.get(existing)["Name"] == "Renamed"


def test_collection_all_or_none_rolls_back(sf: Salesforce, tag: str) -> None:
    url = "composite/sobjects/Account/BigCommerce_Account_Key__c"
    records = [{"Name": "Good", "BigCommerce_Account_Key__c": f"{tag}-1"}, {"BigCommerce_Account_Key__c": f"{tag}-2"}]
    results = sf.restful(url, method="PATCH", json=collection(records, all_or_none=True))
    assert results[0] == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using "
                "AllOrNone header",
                "fields": [],
            }
        ],
        "created": False,
    }
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query(f"SELECT COUNT() FROM Account WHERE BigCommerce_Account_Key__c = '{tag}-1'")["totalSize"] == 0


def test_collection_create_update_delete_and_limit(sf: Salesforce, tag: str) -> None:
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "C1", "BigCommerce_Account_Key__c": f"{tag}-1"},
                {"attributes": {"type": "Contact"}, "LastName": "C2", "Email": f"{tag}@example.com"},
            ],
        },
    )
    assert [r["success"] for r in created] == [True, True]
    assert created[0]["id"].startswith("001")
    assert created[1]["id"].startswith("003")
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Account"}, "Id": created[0]["id"], "Phone": "1"}]},
    )
    assert updated == [{"id": created[0]["id"], "success": True, "errors": []}]
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": f"{created[0]['id']},{created[1]['id']}"}
    )
    assert [r["success"] for r in deleted] == [True, True]

    too_many = collection([{"Name": str(i), "BigCommerce_Account_Key__c": f"{tag}-x{i}"} for i in range(201)])
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.restful("composite/sobjects/Account/BigCommerce_Account_Key__c", method="PATCH", json=too_many)
    assert errors_of(info) == [
        ("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
    ]


def test_lock_row_faults_fail_single_records(sandbox: SandboxServer, sf: Salesforce, tag: str) -> None:
    sf.session.post(
        f"{sandbox.org.base_url}/__sandbox/faults/script",
        json=[{"kind": "lock_row", "count": 2, "path": "composite/sobjects/Account"}],
    )
    records = [{"Name": f"L{i}", "BigCommerce_Account_Key__c": f"{tag}-{i}"} for i in range(5)]
    results = sf.restful("composite/sobjects/Account/BigCommerce_Account_Key__c", method="PATCH",
                         json=collection(records))  # fmt: skip
    locked = [r for r in results if not r["success"]]
    assert len(locked) == 2
    assert all(r["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW" for r in locked)
    assert locked[0]["errors"][0]["message"].startswith(
        "unable to obtain exclusive access to this record or 1 records:"
    )
    # The retry succeeds: the faults are spent.
    results = sf.restful("composite/sobjects/Account/BigCommerce_Account_Key__c", method="PATCH",
                         json=collection(records))  # fmt: skip
    assert all(r["success"] for r in results)


# ---------------------------------------------------------------------------------------------
# queries, limits, counters
# ---------------------------------------------------------------------------------------------


def test_query_pages_with_next_records_url(sf: Salesforce, org_db: OrgDB, tag: str) -> None:
    org_db.insert(
        "Account", [{"Name": f"Q{i:04d}", "BigCommerce_Account_Key__c": f"{tag}-{i:04d}"} for i in range(450)]
    )
    soql = f"SELECT Id, Name FROM Account WHERE BigCommerce_Account_Key__c LIKE '{tag}-%' ORDER BY Name"
    first = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    names = [r["Name"] for r in sf.query_all_iter(soql, headers={"Sforce-Query-Options": "batchSize=200"})]
    assert names == [f"Q{i:04d}" for i in range(450)]
    assert sf.query_all(soql)["totalSize"] == 450
    assert sf.query(f"SELECT COUNT() FROM Account WHERE BigCommerce_Account_Key__c LIKE '{tag}-%'")["totalSize"] == 450

    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query_more("01g000000000000AAA-200")
    assert errors_of(info) == [("INVALID_QUERY_LOCATOR", "invalid query locator")]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query("SELECT Nope__c FROM Account")
    assert info.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_limits_usage_header_and_counters(sandbox: SandboxServer, sf: Salesforce) -> None:
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == sandbox.config.daily_api_limit
    assert set(limits) >= {"DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DataStorageMB"}
    sf.query("SELECT Id FROM User")
    usage = sf.api_usage["api-usage"]
    assert usage.total == sandbox.config.daily_api_limit
    assert usage.used == sandbox.config.daily_api_limit - limits["DailyApiRequests"]["Remaining"] + 1
    counters = sf.session.get(f"{sandbox.org.base_url}/__sandbox/counters").json()
    assert counters["endpoints"]["GET /services/data/v{version}/limits"] >= 1
    assert counters["endpoints"]["GET /services/data/v{version}/query"] >= 1
