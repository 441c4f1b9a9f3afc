"""Bulk API 2.0 ingest jobs of the sandbox org, driven by simple-salesforce's ``bulk2``.

Upsert with row failures and the three result files, parents by external id in CSV headers,
empty cells vs ``#N/A``, a job failing on an unknown column, ``lock_row`` faults, abort and
delete, progress seen by polling, and a job that keeps running after its session expires.
"""

from __future__ import annotations

import csv
import gc
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceOperationError

from connectors.http import make_session
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.helpers import soap_login

pytestmark = pytest.mark.usefixtures("close_connections")

WAIT = 0.2  # simple-salesforce's first poll delay (default 5 s)


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_upsert_with_failures_and_result_files(sf: Salesforce, tag: str) -> None:
    records = [{"Name": f"B{i:02d}", "BigCommerce_Account_Key__c": f"{tag}-{i:02d}"} for i in range(30)]
    records.append({"Name": "", "BigCommerce_Account_Key__c": f"{tag}-nameless"})
    records.append({"Name": "x" * 300, "BigCommerce_Account_Key__c": f"{tag}-long"})
    result = sf.bulk2.Account.upsert(records=records, external_id_field="BigCommerce_Account_Key__c", wait=WAIT)
    assert result[0]["numberRecordsProcessed"] == 32
    assert result[0]["numberRecordsFailed"] == 2
    job_id = result[0]["job_id"]

    successes = rows(sf.bulk2.Account.get_successful_records(job_id))
    assert {r["BigCommerce_Account_Key__c"] for r in successes} == {f"{tag}-{i:02d}" for i in range(30)}
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("001") for r in successes)
    uploaded = [f"{tag}-{i:02d}" for i in range(30)]
    assert [r["BigCommerce_Account_Key__c"] for r in successes] != uploaded  # no order guarantee, as documented

    failures = {r["BigCommerce_Account_Key__c"]: r for r in rows(sf.bulk2.Account.get_failed_records(job_id))}
    assert (
        failures[f"{tag}-nameless"]["sf__Error"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    )
    assert failures[f"{tag}-long"]["sf__Error"].startswith("STRING_TOO_LONG:Account Name: data value too large:")
    assert failures[f"{tag}-long"]["sf__Id"] == ""
    unprocessed = sf.bulk2.Account.get_unprocessed_records(job_id)
    assert rows(unprocessed) == []

    again = sf.bulk2.Account.upsert(records=records[:5], external_id_field="BigCommerce_Account_Key__c", wait=WAIT)
    created = {r["sf__Created"] for r in rows(sf.bulk2.Account.get_successful_records(again[0]["job_id"]))}
    assert created == {"false"}


def test_relationship_columns_empty_cells_and_na(sf: Salesforce, tag: str) -> None:
    sf.Account.create({"Name": "Parent", "BigCommerce_Account_Key__c": tag})
    parent = "Account.BigCommerce_Account_Key__c"
    contacts = [
        {"LastName": "One", "Title": "Buyer", "BigCommerce_Contact_Key__c": f"1-{tag}", parent: tag},
        {"LastName": "Two", "Title": "Buyer", "BigCommerce_Contact_Key__c": f"2-{tag}", parent: f"no-{tag}"},
    ]
    result = sf.bulk2.Contact.upsert(records=contacts, external_id_field="BigCommerce_Contact_Key__c", wait=WAIT)
    assert result[0]["numberRecordsFailed"] == 1
    failure = rows(sf.bulk2.Contact.get_failed_records(result[0]["job_id"]))[0]
    assert failure["sf__Error"] == (
        f"INVALID_FIELD:Foreign key external ID: no-{tag} not found for field BigCommerce_Account_Key__c "
        "in entity Account: --"
    )
    contact = sf.Contact.get_by_custom_id("BigCommerce_Contact_Key__c", f"1-{tag}")
    assert contact["AccountId"] is not None

    # An empty cell leaves the field alone, #N/A clears it.
    update = [
        {"BigCommerce_Contact_Key__c": f"1-{tag}", "Title": "", parent: "#N/A"},
    ]
    sf.bulk2.Contact.upsert(records=update, external_id_field="BigCommerce_Contact_Key__c", wait=WAIT)
    contact = sf.Contact.get_by_custom_id("BigCommerce_Contact_Key__c", f"1-{tag}")
    assert (contact["Title"], contact["AccountId"]) == ("Buyer", None)


def test_unknown_column_fails_the_job(sf: Salesforce, tag: str) -> None:
    with pytest.raises(SalesforceOperationError, match="InvalidBatch : Field name not found : Foo__c"):
        sf.bulk2.Account.insert(records=[{"Name": tag, "Foo__c": "x"}], wait=WAIT)


def test_lock_row_faults_fail_single_rows(sandbox: SandboxServer, sf: Salesforce, tag: str) -> None:
    sf.session.post(
        f"{sandbox.org.base_url}/__sandbox/faults/script",
        json=[{"kind": "lock_row", "count": 3, "path": "/jobs/ingest/"}],
    )
    records = [{"Name": f"L{i}", "BigCommerce_Account_Key__c": f"{tag}-{i}"} for i in range(10)]
    result = sf.bulk2.Account.upsert(records=records, external_id_field="BigCommerce_Account_Key__c", wait=WAIT)
    assert result[0]["numberRecordsFailed"] == 3
    errors = [r["sf__Error"] for r in rows(sf.bulk2.Account.get_failed_records(result[0]["job_id"]))]
    assert all(e.startswith("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record") for e in errors)


def test_update_and_delete_operations(sf: Salesforce, tag: str) -> None:
    ids = [sf.Account.create({"Name": f"D{i}", "BigCommerce_Account_Key__c": f"{tag}-{i}"})["id"] for i in range(3)]
    updates = [{"Id": ids[0], "Phone": "123"}, {"Id": "001000000000000AAA", "Phone": "1"}]
    result = sf.bulk2.Account.update(records=updates, wait=WAIT)
    assert result[0]["numberRecordsFailed"] == 1
    assert sf.Account.get(ids[0])["Phone"] == "123"
    result = sf.bulk2.Account.delete(records=[{"Id": i} for i in ids], wait=WAIT)
    assert result[0]["numberRecordsFailed"] == 0
    assert sf.query(f"SELECT COUNT() FROM Account WHERE BigCommerce_Account_Key__c LIKE '{tag}-%'")["totalSize"] == 0


def raw_job(sf: Salesforce, method: str, path: str = "", **kwargs: Any) -> requests.Response:
    headers = {**sf.headers, **kwargs.pop("headers", {})}
    return sf.session.request(method, f"{sf.bulk2_url}ingest{path}", headers=headers, **kwargs)


def test_raw_job_lifecycle_abort_and_delete(sf: Salesforce, tag: str) -> None:
    created = raw_job(sf, "POST", json={"object": "Account", "operation": "insert", "lineEnding": "LF"})
    assert created.status_code == 200
    job = created.json()
    assert job["id"].startswith("750")
    assert (job["state"], job["contentType"], job["columnDelimiter"], job["apiVersion"]) == (
        "Open",
        "CSV",
        "COMMA",
        59.0,
    )
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    data = "Name\n" + "".join(f"A{i}\n" for i in range(5))
    upload = raw_job(sf, "PUT", f"/{job['id']}/batches", data=data, headers={"Content-Type": "text/csv"})
    assert (upload.status_code, upload.content) == (201, b"")
    assert raw_job(sf, "DELETE", f"/{job['id']}").status_code == 409  # an open job cannot be deleted
    aborted = raw_job(sf, "PATCH", f"/{job['id']}", json={"state": "Aborted"}).json()
    assert aborted["state"] == "Aborted"
    info = raw_job(sf, "GET", f"/{job['id']}").json()
    assert info["numberRecordsProcessed"] == 0
    unprocessed = raw_job(sf, "GET", f"/{job['id']}/unprocessedrecords/").text
    assert unprocessed.splitlines() == ['"Name"', *[f'"A{i}"' for i in range(5)]]
    listed = raw_job(sf, "GET").json()
    assert job["id"] in {j["id"] for j in listed["records"]}
    assert listed["done"] is True
    assert raw_job(sf, "DELETE", f"/{job['id']}").status_code == 204
    assert raw_job(sf, "GET", f"/{job['id']}").status_code == 404

    bad = raw_job(sf, "POST", json={"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"})
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "INVALIDJOB"


@pytest.fixture
def slow_org(tmp_path: Path) -> Iterator[tuple[SandboxServer, requests.Session]]:
    """An org whose Bulk jobs process 50 rows per tick, with a client session closed before it stops."""
    config = SandboxConfig(home=tmp_path / "sandbox", store_port=0, org_port=0, bulk_rows_per_tick=50)
    server = SandboxServer(config).start_in_thread()
    with make_session(server.certificate.ca_path) as session:
        yield server, session
        # Responses kept alive by tracebacks hold connections open, and uvicorn waits for them.
        gc.collect()
    server.stop()


def test_progress_is_visible_and_jobs_outlive_their_session(slow_org: tuple[SandboxServer, requests.Session]) -> None:
    server, session = slow_org
    sf = soap_login(server, session)
    job = raw_job(sf, "POST", json={"object": "Account", "operation": "insert"}).json()
    data = "Name\n" + "".join(f"P{i}\n" for i in range(400))
    raw_job(sf, "PUT", f"/{job['id']}/batches", data=data, headers={"Content-Type": "text/csv"})
    raw_job(sf, "PATCH", f"/{job['id']}", json={"state": "UploadComplete"})
    seen = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = raw_job(sf, "GET", f"/{job['id']}").json()
        seen.add((info["state"], info["numberRecordsProcessed"]))
        if info["state"] == "InProgress" and info["numberRecordsProcessed"] >= 100:
            break
        time.sleep(0.05)
    assert any(state == "InProgress" and 0 < n < 400 for state, n in seen)

    # The session ends mid-job: the client is refused, the job carries on.
    session.post(f"{server.org.base_url}/services/oauth2/revoke", data={"token": sf.session_id})
    with pytest.raises(SalesforceExpiredSession):
        sf.bulk2.Account._client.get_job(job["id"], False)
    sf = soap_login(server, session)
    deadline = time.monotonic() + 10
    while (info := raw_job(sf, "GET", f"/{job['id']}").json())["state"] != "JobComplete":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert info["numberRecordsProcessed"] == 400
    assert info["totalProcessingTime"] > 0
