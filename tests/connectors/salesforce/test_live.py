"""The connector against the running sandbox org, with injected faults.

Idempotency, results matched by key, clears and exact decimals over both APIs; re-login in the
middle of a Bulk job, a collections call and a query; lock errors, 503s, timeouts and resets
retried; row errors returned in the frame; the API budget stop; the number of calls per load.
Counts of records come from the org's database (OrgDB), counts of requests from the sandbox's
counters.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from simple_salesforce.format import format_soql

from connectors.base import RESULT_COLUMNS
from connectors.http import make_session
from connectors.salesforce import (
    CLEAR,
    ApiBudgetExhausted,
    AuthenticationError,
    BulkJobError,
    RetryPolicy,
    SalesforceCallError,
    SalesforceClient,
)
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from tests.connectors.salesforce.conftest import FAST, OrgAdmin

MakeClient = Callable[..., SalesforceClient]
KEY = "BigCommerce_Account_Key__c"
ORDER_KEY = "BigCommerce_Order_Id__c"
COLLECTIONS_UPSERT = "PATCH /services/data/v{version}/composite/sobjects/{sobject}/{field}"
JOBS = "/services/data/v{version}/jobs/ingest"


def accounts(tag: str, n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            KEY: [f"{tag}-{i:05d}" for i in range(start, start + n)],
            "Name": [f"Acct {i}" for i in range(start, start + n)],
        }
    )


def stored(db: OrgDB, tag: str, fields: str = "Id") -> dict[str, dict[str, Any]]:
    """Accounts whose key starts with ``tag``, by key."""
    rows = db.query(format_soql(f"SELECT {KEY}, {fields} FROM Account WHERE {KEY} LIKE {{p}}", p=f"{tag}%"))
    return {r[KEY]: r for r in rows}


def assert_all_succeeded(result: pd.DataFrame, frame: pd.DataFrame, key: str = KEY) -> None:
    assert list(result.columns) == RESULT_COLUMNS
    assert list(result.index) == list(frame.index)
    assert result["external_id"].tolist() == frame[key].tolist()
    assert result["success"].all(), result[~result["success"]].to_dict("records")[:3]


# -- idempotency, matching by key, values -----------------------------------------------------------


def test_collections_upsert_twice_creates_once(make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str) -> None:
    client = make_client()
    frame = accounts(tag, 5)
    first = client.upsert("Account", KEY, frame)
    assert_all_succeeded(first, frame)
    assert first["created"].all()
    second = client.upsert("Account", KEY, frame)
    assert_all_succeeded(second, frame)
    assert not second["created"].any()
    assert second["salesforce_id"].tolist() == first["salesforce_id"].tolist()
    assert {k: r["Id"] for k, r in stored(orgdb, tag).items()} == dict(
        zip(frame[KEY], first["salesforce_id"], strict=True)
    )
    assert client.api_calls()["collections"] == 2


def test_bulk_upsert_matches_shuffled_results_by_key_and_reruns_create_nothing(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    client = make_client(bulk_threshold=20, sleep=org.settle)
    frame = accounts(tag, 60)
    frame.index = pd.RangeIndex(100, 160)
    first = client.upsert("Account", KEY, frame)
    assert_all_succeeded(first, frame)
    assert first["created"].all()
    ids = {k: r["Id"] for k, r in stored(orgdb, tag).items()}
    assert dict(zip(first["external_id"], first["salesforce_id"], strict=True)) == ids
    second = client.upsert("Account", KEY, frame)
    assert_all_succeeded(second, frame)
    assert not second["created"].any() and len(stored(orgdb, tag)) == 60
    assert client.api_calls()["bulk_create"] == 2 and "collections" not in client.api_calls()


@pytest.mark.parametrize("threshold", [2000, 1], ids=["rest", "bulk"])
def test_clear_sets_null_and_missing_values_leave_fields_alone(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str, threshold: int
) -> None:
    client = make_client(bulk_threshold=threshold, sleep=org.settle)
    a, b = f"{tag}-a", f"{tag}-b"
    client.upsert("Account", KEY, pd.DataFrame({KEY: [a, b], "Name": ["A", "B"], "Phone": ["111", "222"],
                                                "BillingCity": ["Xville", "Yville"]}))  # fmt: skip
    change = pd.DataFrame({KEY: [a, b], "Phone": [CLEAR, None], "BillingCity": [np.nan, "Zville"]})
    assert client.upsert("Account", KEY, change)["success"].all()
    rows = stored(orgdb, tag, "Phone, BillingCity, Name")
    assert (rows[a]["Phone"], rows[a]["BillingCity"], rows[a]["Name"]) == (None, "Xville", "A")
    assert (rows[b]["Phone"], rows[b]["BillingCity"]) == ("222", "Zville")
    assert ("bulk_create" in client.api_calls()) == (threshold == 1)


@pytest.mark.parametrize("threshold", [2000, 1], ids=["rest", "bulk"])
def test_decimals_and_datetimes_arrive_exactly(
    make_client: MakeClient, org: OrgAdmin, sandbox: SandboxServer, tag: str, threshold: int
) -> None:
    sent: list[bytes] = []
    http = make_session(sandbox.certificate.ca_path)
    http.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.body or b""))
    client = make_client(bulk_threshold=threshold, sleep=org.settle, http=http)
    client.upsert("Account", KEY, pd.DataFrame({KEY: [tag], "Name": ["Decimal Co"]}))
    totals = [Decimal("12345678901234.57"), Decimal("0.10"), Decimal("19.99")]
    modified = dt.datetime(2024, 5, 1, 9, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    keys = [f"{tag}-{i}" for i in range(3)]
    orders = pd.DataFrame({
        ORDER_KEY: keys, "EffectiveDate": [dt.date(2024, 5, 1)] * 3, "Status": ["Draft"] * 3,
        "BigCommerce_Total__c": totals, "BigCommerce_Date_Modified__c": [modified] * 3,
        "Account.BigCommerce_Account_Key__c": [tag] * 3,
    })  # fmt: skip
    assert_all_succeeded(client.upsert("Order", ORDER_KEY, orders), orders, ORDER_KEY)
    body = b"".join(b if isinstance(b, bytes) else str(b).encode() for b in sent)
    assert b"12345678901234.57" in body and b"2024-05-01T13:30:15.000Z" in body
    back = client.query(
        format_soql(
            f"SELECT {ORDER_KEY}, BigCommerce_Total__c, BigCommerce_Date_Modified__c FROM Order "
            f"WHERE {ORDER_KEY} IN {{keys}}",
            keys=keys,
        )
    )
    assert dict(zip(back[ORDER_KEY], back["BigCommerce_Total__c"], strict=True)) == dict(zip(keys, totals, strict=True))
    assert all(isinstance(v, Decimal) for v in back["BigCommerce_Total__c"])
    assert {pd.Timestamp(v) for v in back["BigCommerce_Date_Modified__c"]} == {pd.Timestamp(modified)}


# -- sessions ---------------------------------------------------------------------------------------


def test_session_expiring_during_a_bulk_job_resumes_the_same_job(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    client = make_client(bulk_threshold=10)
    client.check_budget()  # logged in, usage known
    jobs_before = len(org.jobs())
    org.script(
        {"kind": "session_expired", "path": r"/jobs/ingest/[^/]+$", "method": "GET", "count": 1},
        {"kind": "session_expired", "path": r"/successfulResults$", "method": "GET", "count": 1},
    )
    frame = accounts(tag, 30)
    result = client.upsert("Account", KEY, frame)
    assert_all_succeeded(result, frame)
    assert org.pending_faults() == []  # both expiries happened
    calls = client.api_calls()
    assert calls["login"] == 3
    assert (calls["bulk_create"], calls["bulk_upload"], calls["bulk_close"]) == (1, 1, 1)
    # successfulResults twice (the expired attempt, then again); no failedResults: none failed.
    assert calls["bulk_poll"] >= 2 and calls["bulk_results"] == 2
    assert org.count("POST", JOBS) == 1 and len(org.jobs()) == jobs_before + 1  # never re-submitted
    assert len(stored(orgdb, tag)) == 30


def test_session_expiring_on_a_collections_call_is_renewed(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    client = make_client()
    org.script({"kind": "session_expired", "path": "/composite/sobjects/", "method": "PATCH", "count": 1})
    frame = accounts(tag, 3)
    assert_all_succeeded(client.upsert("Account", KEY, frame), frame)
    assert client.api_calls()["login"] == 2 and client.api_calls()["collections"] == 2
    assert org.counters()[COLLECTIONS_UPSERT] == 2
    assert len(stored(orgdb, tag)) == 3


def test_query_pages_survive_an_expired_session(make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str) -> None:
    orgdb.insert("Account", [{"Name": f"{tag} paged {i:03d}", KEY: f"{tag}-{i:03d}"} for i in range(450)])
    client = make_client(query_batch_size=200)
    org.script({"kind": "session_expired", "path": "/query/01g", "method": "GET", "count": 1})
    frame = client.query(format_soql(f"SELECT Id, Name, Owner.Name FROM Account WHERE {KEY} LIKE {{p}} ORDER BY Name",
                                     p=f"{tag}%"))  # fmt: skip
    assert len(frame) == 450 and frame["Name"].is_monotonic_increasing
    assert list(frame.columns) == ["Id", "Name", "Owner.Name"]
    assert client.api_calls() == {"login": 2, "query": 1, "query_more": 3}  # one page fetched twice


# -- retries ------------------------------------------------------------------------------------------


def test_locked_rows_are_sent_again_until_they_succeed(
    make_client: MakeClient, org: OrgAdmin, tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    org.script({"kind": "lock_row", "path": "/composite/sobjects/", "method": "PATCH", "count": 3})
    frame = accounts(tag, 10)
    with caplog.at_level(logging.WARNING, logger="connectors.salesforce"):
        result = client.upsert("Account", KEY, frame)
    assert_all_succeeded(result, frame)
    assert client.api_calls()["collections"] == 2
    assert "sending 3 record(s) again after {'UNABLE_TO_LOCK_ROW': 3}" in caplog.text


def test_locked_rows_of_a_bulk_job_are_retried_by_rest(make_client: MakeClient, org: OrgAdmin, tag: str) -> None:
    client = make_client(bulk_threshold=5, sleep=org.settle)
    org.script({"kind": "lock_row", "path": "/batches$", "method": "PUT", "count": 3})
    frame = accounts(tag, 12)
    assert_all_succeeded(client.upsert("Account", KEY, frame), frame)
    calls = client.api_calls()
    assert calls["bulk_create"] == 1 and calls["collections"] == 1  # 3 rows: below the threshold


def test_lock_errors_that_persist_are_returned_after_bounded_rounds(
    make_client: MakeClient, org: OrgAdmin, tag: str
) -> None:
    client = make_client()
    org.script({"kind": "lock_row", "path": "/composite/sobjects/", "method": "PATCH", "count": 1000})
    result = client.upsert("Account", KEY, accounts(tag, 2))
    assert result["error_code"].tolist() == ["UNABLE_TO_LOCK_ROW"] * 2
    assert client.api_calls()["collections"] == FAST.row_attempts


def test_503s_are_retried_with_warnings_free_of_secrets(
    make_client: MakeClient, org: OrgAdmin, sandbox: SandboxServer, tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    org.script({"kind": "unavailable", "path": "/composite/sobjects/", "method": "PATCH", "count": 2})
    frame = accounts(tag, 3)
    with caplog.at_level(logging.DEBUG):
        assert_all_succeeded(client.upsert("Account", KEY, frame), frame)
    assert client.api_calls()["collections"] == 3 and org.count("PATCH", "/composite/sobjects/") == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("collections call failed (HTTP 503 SERVER_UNAVAILABLE)" in w for w in warnings) == 2
    creds = sandbox.credentials
    for secret in (creds.sf_password, creds.sf_security_token, "00D5g"):
        assert secret not in caplog.text


def test_timeouts_resets_and_500s_are_retried(make_client: MakeClient, org: OrgAdmin) -> None:
    org.fault_settings(slow_seconds=1.5)
    client = make_client(timeout=0.6, retry=RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05))
    client.login()
    org.script(
        {"kind": "slow", "path": "/query/?$", "method": "GET", "count": 1},
        {"kind": "reset", "path": "/query/?$", "method": "GET", "count": 1},
        {"kind": "server_error", "path": "/query/?$", "method": "GET", "count": 1},
    )
    frame = client.query("SELECT Id, Username FROM User WHERE IsActive = true")
    assert not frame.empty
    assert client.api_calls()["query"] == 4


def test_retries_are_bounded(make_client: MakeClient, org: OrgAdmin) -> None:
    client = make_client()
    client.login()
    org.script({"kind": "unavailable", "path": "/query/?$", "method": "GET", "count": 100})
    with pytest.raises(SalesforceCallError) as raised:
        client.query("SELECT Id FROM User")
    assert raised.value.status == 503 and raised.value.transient
    assert client.api_calls()["query"] == FAST.attempts


# -- row errors and refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [2000, 1], ids=["rest", "bulk"])
def test_validation_and_duplicate_value_errors_come_back_in_the_frame(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str, threshold: int
) -> None:
    client = make_client(bulk_threshold=threshold, sleep=org.settle)
    frame = pd.DataFrame({
        KEY: [f"{tag}-ok", f"{tag}-long", f"{tag}-nameless", f"{tag}-status", f"{tag}-orphan"],
        "Name": ["Fine", "x" * 300, None, "Status", "Orphan"],
        "Repair_Account_Status__c": [None, None, None, "Bogus", None],
    })  # fmt: skip
    result = client.upsert("Account", KEY, frame).set_index("external_id")
    assert result.loc[f"{tag}-ok", "success"]
    codes = result["error_code"].to_dict()
    assert codes[f"{tag}-long"] == "STRING_TOO_LONG"
    assert codes[f"{tag}-nameless"] == "REQUIRED_FIELD_MISSING" and result.loc[f"{tag}-nameless", "fields"] == "Name"
    assert codes[f"{tag}-status"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    # Adopting a record: stamping a key another record already holds is a DUPLICATE_VALUE.
    legacy = orgdb.insert("Account", [{"Name": f"{tag} legacy"}, {"Name": f"{tag} legacy 2"}])
    stamps = pd.DataFrame({"Id": legacy, KEY: [f"{tag}-ok", f"{tag}-new"]})
    updated = client.update("Account", stamps)
    assert updated["external_id"].tolist() == legacy
    assert updated["error_code"].tolist() == ["DUPLICATE_VALUE", None]
    assert updated["success"].tolist() == [False, True] and not updated["created"].any()


def test_duplicate_and_missing_keys_are_refused_before_sending(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    client = make_client()
    frame = pd.DataFrame({KEY: [f"{tag}-X", f"{tag}-x", f"{tag}-y", None], "Name": ["1", "2", "3", "4"]})
    result = client.upsert("Account", KEY, frame)
    assert result["error_code"].tolist() == ["DUPLICATE_EXTERNAL_ID", "DUPLICATE_EXTERNAL_ID", None, "MISSING_KEY"]
    assert "appears 2 times" in result["message"].iloc[0]
    assert list(stored(orgdb, tag)) == [f"{tag}-y"]
    assert client.api_calls()["collections"] == 1


def test_a_call_refused_as_a_whole_fails_its_records_only(make_client: MakeClient, org: OrgAdmin, tag: str) -> None:
    client = make_client()
    frame = pd.DataFrame({KEY: [f"{tag}-{i}" for i in range(250)], "Name": ["N"] * 250,
                          "BigCommerce_Total__c": ["1.00"] * 250})  # fmt: skip
    result = client.upsert("Account", KEY, frame)  # a field Account does not have: 400 for each call
    assert set(result["error_code"]) == {"INVALID_FIELD"} and not result["success"].any()
    assert client.api_calls()["collections"] == 2


def test_request_limit_exceeded_stops_without_retrying(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    client = make_client()
    org.script({"kind": "request_limit", "path": "/composite/sobjects/", "method": "PATCH", "count": 1})
    with pytest.raises(ApiBudgetExhausted, match="REQUEST_LIMIT_EXCEEDED") as raised:
        client.upsert("Account", KEY, accounts(tag, 3))
    assert client.api_calls()["collections"] == 1
    assert raised.value.results is not None and raised.value.results.empty
    assert stored(orgdb, tag) == {}
    with pytest.raises(ApiBudgetExhausted):  # later writes stop without another request
        client.upsert("Contact", "BigCommerce_Contact_Key__c", pd.DataFrame({"BigCommerce_Contact_Key__c": [tag]}))
    assert client.api_calls()["collections"] == 1


def test_budget_stop_before_any_write(make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str) -> None:
    org.set_usage(80_000)
    client = make_client()
    with pytest.raises(ApiBudgetExhausted, match=r"80001 of 100000 daily requests used \(this loader stops at 80%\)"):
        client.upsert("Account", KEY, accounts(tag, 3))
    assert client.api_calls() == {"login": 1, "limits": 1}
    assert client.api_usage() == (80_001, 100_000)
    assert stored(orgdb, tag) == {}


def test_budget_stop_midway_keeps_the_confirmed_results(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    org.set_usage(79_997)  # the limits call → 79,998; two collections calls → 80,000: stop
    client = make_client()
    frame = accounts(tag, 1000)
    with pytest.raises(ApiBudgetExhausted) as raised:
        client.upsert("Account", KEY, frame)
    partial = raised.value.results
    assert partial is not None and len(partial) == 400 and partial["success"].all()
    assert partial["external_id"].tolist() == frame[KEY].tolist()[:400]
    assert len(stored(orgdb, tag)) == 400
    assert client.api_calls()["collections"] == 2


# -- calls per load -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 200, 201, 450])
def test_collections_calls_are_n_over_200(make_client: MakeClient, org: OrgAdmin, tag: str, n: int) -> None:
    client = make_client()
    client.check_budget()
    org.reset_counters()
    assert client.upsert("Account", KEY, accounts(tag, n))["success"].all()
    assert org.counters() == {COLLECTIONS_UPSERT: math.ceil(n / 200)}
    assert client.api_calls()["collections"] == math.ceil(n / 200)


@pytest.mark.parametrize("n", [60, 900])
def test_bulk_calls_are_constant_per_object(make_client: MakeClient, org: OrgAdmin, tag: str, n: int) -> None:
    client = make_client(bulk_threshold=50, sleep=org.settle)  # polls only once the job is done
    client.check_budget()
    org.reset_counters()
    assert client.upsert("Account", KEY, accounts(tag, n))["success"].all()
    assert org.counters() == {
        f"POST {JOBS}": 1,
        f"PUT {JOBS}/{{job_id}}/batches": 1,
        f"PATCH {JOBS}/{{job_id}}": 1,
        f"GET {JOBS}/{{job_id}}": 1,
        f"GET {JOBS}/{{job_id}}/{{kind}}": 1,  # successfulResults only: the job info counts no failure
    }
    calls = client.api_calls()
    assert {k: calls[k] for k in calls if k.startswith("bulk")} == {
        "bulk_create": 1, "bulk_upload": 1, "bulk_close": 1, "bulk_poll": 1, "bulk_results": 1,
    }  # fmt: skip


# -- auth, adoption, queries ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["password", "client_credentials", "jwt"])
def test_each_auth_mode_logs_in(make_client: MakeClient, sandbox: SandboxServer, mode: str) -> None:
    client = make_client(auth=mode)
    users = client.query(
        format_soql("SELECT Id, Username FROM User WHERE Username = {u}", u=sandbox.credentials.sf_username)
    )
    assert len(users) == 1
    assert client.api_calls() == {"login": 1, "query": 1}


def test_a_wrong_password_fails_once_and_says_nothing_secret(make_client: MakeClient) -> None:
    client = make_client(password="not-the-password-42")
    with pytest.raises(AuthenticationError, match="INVALID_LOGIN") as raised:
        client.login()
    assert "not-the-password-42" not in str(raised.value) and raised.value.__cause__ is None
    assert client.api_calls() == {"login": 1}  # never retried: that would lock the user out


def test_an_unavailable_login_is_retried(make_client: MakeClient, org: OrgAdmin) -> None:
    org.script({"kind": "unavailable", "path": "/Soap/", "method": "POST", "count": 1})
    client = make_client()
    client.login()
    assert client.api_calls() == {"login": 2}


def test_call_errors_hold_no_url_or_session(make_client: MakeClient, org: OrgAdmin) -> None:
    client = make_client()
    with pytest.raises(SalesforceCallError) as raised:
        client.query("SELECT Id FROM Account WHERE Email__nope = 'secret@example.com'")
    text = str(raised.value)
    assert raised.value.status == 400 and "https://" not in text and "00D5g" not in text
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert client.describe_or_none("NoSuchObject__c") is None


def test_update_stamps_keys_then_upserts_find_the_adopted_records(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    legacy = orgdb.insert("Account", [{"Name": f"{tag} typed by a CSR {i}"} for i in range(3)])
    client = make_client()
    stamps = pd.DataFrame({"Id": legacy, KEY: [f"{tag}-{i}" for i in range(3)]})
    assert_all_succeeded(client.update("Account", stamps), stamps, "Id")
    result = client.upsert("Account", KEY, pd.DataFrame({KEY: [f"{tag}-{i}" for i in range(3)], "Phone": ["1"] * 3}))
    assert result["salesforce_id"].tolist() == legacy and not result["created"].any()


def test_query_in_splits_long_value_lists(make_client: MakeClient, org: OrgAdmin, tag: str) -> None:
    client = make_client()
    frame = accounts(tag, 120)
    client.upsert("Account", KEY, frame)
    found = client.query_in(f"SELECT Id, {KEY} FROM Account WHERE {KEY} IN {{values}}",
                            [*frame[KEY], "o'missing"], max_url_bytes=1500)  # fmt: skip
    assert sorted(found[KEY]) == sorted(frame[KEY])
    assert client.api_calls()["query"] > 1


def test_http_errors_are_not_mistaken_for_budget(make_client: MakeClient, org: OrgAdmin) -> None:
    client = make_client()
    with pytest.raises(SalesforceCallError) as raised:
        client.rest("describe", "sobjects/NoSuchObject__c/describe")
    assert raised.value.status == 404 and not raised.value.transient
    assert isinstance(requests.codes.not_found, int)


def test_an_empty_frame_costs_no_call(make_client: MakeClient) -> None:
    client = make_client()
    result = client.upsert("Account", KEY, pd.DataFrame(columns=[KEY, "Name"]))
    assert result.empty and list(result.columns) == RESULT_COLUMNS
    assert client.api_calls() == {}


def test_a_failed_bulk_job_raises_with_its_reason(make_client: MakeClient, org: OrgAdmin, tag: str) -> None:
    client = make_client(bulk_threshold=1, sleep=org.settle)
    frame = accounts(tag, 3).assign(Nope__c="x")
    with pytest.raises(BulkJobError, match="Field name not found : Nope__c") as raised:
        client.upsert("Account", KEY, frame)
    assert raised.value.state == "failed"


def test_a_bulk_job_that_does_not_finish_in_time_is_aborted(make_client: MakeClient, org: OrgAdmin, tag: str) -> None:
    client = make_client(bulk_threshold=1, bulk_timeout_seconds=0.001, sleep=lambda _: None)
    with pytest.raises(BulkJobError, match="timed out") as raised:
        client.upsert("Account", KEY, accounts(tag, 3))
    job = next(j for j in org.jobs() if j["id"] == raised.value.job_id)
    assert job["state"] == "Aborted"
