"""Offline tests of the connector's pure parts: values, results, SOQL helpers, redaction, retries."""

from __future__ import annotations

import datetime as dt
import inspect
import math
import pickle
import threading
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote_plus

import jwt
import numpy as np
import pandas as pd
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
)

from connectors.base import CrmSink
from connectors.salesforce import CLEAR, SalesforceCallError, SalesforceClient, collections, in_queries
from connectors.salesforce.auth import jwt_assertion, jwt_audience
from connectors.salesforce.bulk import (
    Pace,
    close_job,
    csv_text,
    read_results,
    split_by_size,
    upload_data,
    wait_for_job,
)
from connectors.salesforce.errors import ApiBudgetExhausted, Redactor
from connectors.salesforce.query import flatten, records_frame, select_columns
from connectors.salesforce.results import from_bulk_error, from_save_result, to_frame
from connectors.salesforce.retry import RetryPolicy, describe_failure, is_transient
from connectors.salesforce.values import Payload, csv_cell, is_missing, json_text, rest_record
from connectors.settings import SalesforceSettings

# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, float("nan"), np.nan, pd.NA, pd.NaT, "", Decimal("NaN"), np.float64("nan")])
def test_missing_values_mean_unchanged(value: object) -> None:
    assert is_missing(value)
    assert csv_cell(value) == ""
    assert rest_record("Account", ["Key__c", "Phone"], ["k", value]) == {
        "attributes": {"type": "Account"},
        "Key__c": "k",
    }


@pytest.mark.parametrize("value", [0, 0.0, False, "0", " ", Decimal("0")])
def test_falsy_values_are_values(value: object) -> None:
    assert not is_missing(value)


def test_clear_is_null_over_rest_and_na_over_bulk() -> None:
    record = rest_record("Account", ["Key__c", "Phone"], ["k", CLEAR])
    assert json_text(record) == '{"attributes":{"type":"Account"},"Key__c":"k","Phone":null}'
    assert csv_cell(CLEAR) == "#N/A"
    assert pickle.loads(pickle.dumps(CLEAR)) is CLEAR  # noqa: S301 (our own bytes)
    assert repr(CLEAR) == "CLEAR"


def test_decimals_are_sent_as_exact_number_literals() -> None:
    values = [Decimal("12345678901234.5678"), Decimal("0.10"), Decimal("1E+3"), Decimal("-0.000001")]
    assert json_text(values) == "[12345678901234.5678,0.10,1000,-0.000001]"
    assert [csv_cell(v) for v in values] == ["12345678901234.5678", "0.10", "1000", "-0.000001"]
    assert json_text(19.99) == "19.99"
    with pytest.raises(ValueError):
        json_text(Decimal("Infinity"))


def test_dates_datetimes_booleans_and_numpy_scalars() -> None:
    when = dt.datetime(2024, 5, 1, 14, 30, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert json_text(when) == '"2024-05-01T12:30:05.123Z"'
    assert csv_cell(pd.Timestamp("2024-05-01T12:00:00Z")) == "2024-05-01T12:00:00.000Z"
    assert csv_cell(dt.date(2024, 5, 1)) == "2024-05-01"
    assert (csv_cell(True), csv_cell(np.bool_(False))) == ("true", "false")
    assert json_text([np.int64(3), np.float64(2.5), np.bool_(True)]) == "[3,2.5,true]"
    assert json_text("Zoë “quoted”\n") == '"Zoë “quoted”\\n"'
    with pytest.raises(ValueError, match="naive datetime"):
        json_text(dt.datetime(2024, 5, 1, 12))


def test_bulk_cells_have_no_carriage_returns() -> None:
    assert csv_cell("a\r\nb\rc") == "a\nb\nc"


def test_parent_columns_nest_over_rest_and_stay_flat_in_csv() -> None:
    frame = pd.DataFrame({"Key__c": ["c1"], "LastName": ["O'Brien"], "Account.BigCommerce_Account_Key__c": ["acme"]})
    payload = Payload("Contact", frame, "Key__c")
    assert payload.rest_record(0) == {
        "attributes": {"type": "Contact"},
        "Key__c": "c1",
        "LastName": "O'Brien",
        "Account": {"BigCommerce_Account_Key__c": "acme"},
    }
    assert csv_text(payload.columns, payload.csv_row(0)) == (
        "Key__c,LastName,Account.BigCommerce_Account_Key__c\nc1,O'Brien,acme\n"
    )


def test_a_payload_converts_each_value_once_and_both_apis_send_the_same() -> None:
    when = pd.Timestamp("2024-05-01T14:30:05.123456+02:00")
    frame = pd.DataFrame(
        {"K": ["a"], "D__c": [when], "N__c": [np.int64(3)], "A__c": [Decimal("1.50")], "C__c": [CLEAR], "E": [None]}
    )
    payload = Payload("Order", frame, "K")
    assert payload.rows == [("a", "2024-05-01T12:30:05.123Z", 3, Decimal("1.50"), CLEAR, None)]
    assert json_text(payload.rest_record(0)) == (
        '{"attributes":{"type":"Order"},"K":"a","D__c":"2024-05-01T12:30:05.123Z","N__c":3,"A__c":1.50,"C__c":null}'
    )
    assert payload.csv_row(0) == ["a", "2024-05-01T12:30:05.123Z", "3", "1.50", "#N/A", ""]


def test_payload_refuses_what_cannot_be_sent_before_anything_is() -> None:
    with pytest.raises(ValueError, match="CLEAR in parent reference"):
        Payload("Contact", pd.DataFrame({"K": ["a"], "Account.Key__c": [CLEAR]}), "K")
    with pytest.raises(ValueError, match="naive"):
        Payload("Order", pd.DataFrame({"K": ["a"], "D__c": [dt.datetime(2024, 1, 1)]}), "K")
    with pytest.raises(TypeError):
        Payload("Order", pd.DataFrame({"K": ["a"], "X__c": [object()]}), "K")
    with pytest.raises(ValueError, match="no K column"):
        Payload("Order", pd.DataFrame({"X": ["a"]}), "K")


def test_bulk_documents_split_by_size_with_the_header_repeated() -> None:
    frame = pd.DataFrame({"K": [f"k{i:03d}" for i in range(10)], "V": ["x" * 20] * 10})
    payload = Payload("Account", frame, "K")
    documents = list(split_by_size(payload, range(10), max_bytes=100))
    assert len(documents) > 1
    assert all(d.startswith(b"K,V\n") and len(d) <= 100 for d, _ in documents)
    assert all(d.count(b"\n") - 1 == rows for d, rows in documents)
    assert sum(rows for _, rows in documents) == 10


# -- results --------------------------------------------------------------------------------------


def test_save_results_and_bulk_errors_become_uniform_rows() -> None:
    ok = from_save_result({"id": "001A", "success": True, "errors": [], "created": True})
    assert (ok.success, ok.salesforce_id, ok.created) == (True, "001A", True)
    bad = from_save_result(
        {
            "id": None,
            "success": False,
            "errors": [
                {
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [Name]",
                    "fields": ["Name"],
                },
                {"statusCode": "STRING_TOO_LONG", "message": "too long", "fields": ["Phone"]},
            ],
        }
    )
    assert (bad.error_code, bad.fields) == ("REQUIRED_FIELD_MISSING", "Name,Phone")
    assert bad.message == "Required fields are missing: [Name]; STRING_TOO_LONG: too long"
    bulk = from_bulk_error("", "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --")
    assert (bulk.error_code, bulk.message, bulk.fields, bulk.salesforce_id) == (
        "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", "Name", None,
    )  # fmt: skip
    lock = from_bulk_error("001B", "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record: --")
    assert (lock.error_code, lock.fields, lock.salesforce_id) == ("UNABLE_TO_LOCK_ROW", None, "001B")


def test_result_frame_keeps_input_order_and_index() -> None:
    index = pd.Index([10, 20, 30])
    frame = to_frame(["a", "b", "c"], [from_save_result({"id": "1", "success": True}), None, None], index)
    assert list(frame.index) == [10] and frame["success"].dtype == bool


# -- SOQL -----------------------------------------------------------------------------------------


def test_records_are_flattened_without_attributes() -> None:
    record = {
        "attributes": {"type": "Contact"},
        "Id": "003A",
        "Account": {"attributes": {"type": "Account"}, "Name": "Acme", "Owner": {"attributes": {}, "Name": "Kim"}},
        "Cases": {"totalSize": 1, "done": True, "records": [{"attributes": {}, "Id": "500A"}]},
    }
    assert flatten(record) == {
        "Id": "003A",
        "Account.Name": "Acme",
        "Account.Owner.Name": "Kim",
        "Cases": [{"Id": "500A"}],
    }


def test_frame_has_the_select_columns_even_without_rows_or_parents() -> None:
    soql = "SELECT Id, account.Name, COUNT(Id) n, (SELECT Id FROM Cases) FROM Contact"
    assert select_columns(soql) == ["Id", "account.Name"]
    empty = records_frame([], soql)
    assert list(empty.columns) == ["Id", "account.Name"] and empty.empty
    rows = [{"attributes": {}, "Id": "1", "Account": None}, {"attributes": {}, "Id": "2", "Account": {"Name": "A"}}]
    frame = records_frame(rows, soql)
    assert list(frame.columns) == ["Id", "Account.Name"]
    assert frame["Account.Name"].tolist() == [None, "A"]


def test_in_queries_quote_every_value_and_fit_the_limits() -> None:
    values = [f"o'neil{i}@example.com" for i in range(300)] + ["o'neil0@example.com", None]
    queries = in_queries("SELECT Id FROM Contact WHERE Email IN {values} AND Name != {name}", values,
                         max_url_bytes=2000, name="x'y")  # fmt: skip
    assert len(queries) > 1
    assert all(len(quote_plus(q)) <= 2000 for q in queries)
    assert all(q.endswith("AND Name != 'x\\'y'") for q in queries)
    sent = [v for q in queries for v in q.split(" IN (")[1].split(")")[0].split(",")]
    assert len(sent) == 300 and sent[0] == "'o\\'neil0@example.com'"
    assert in_queries("SELECT Id FROM Contact WHERE Email IN {values}", []) == []


# -- secrets and retries --------------------------------------------------------------------------


def test_redactor_removes_known_secrets_and_session_ids() -> None:
    redact = Redactor(["hunter2secret", "tok"])
    text = redact("pw hunter2secret sid 00D5g000004ATSs!AQEAQ1234567890abcdefghij tok")
    assert "hunter2" not in text and "AQEAQ" not in text and text.endswith("tok")  # too short to be a secret


def test_transient_failures_are_classified() -> None:
    assert is_transient(requests.ConnectionError()) and is_transient(requests.ReadTimeout())
    assert is_transient(requests.exceptions.ChunkedEncodingError())
    assert not is_transient(requests.exceptions.SSLError())
    assert is_transient(SalesforceGeneralError("u", 503, "x", [{"errorCode": "SERVER_UNAVAILABLE"}]))
    assert not is_transient(SalesforceMalformedRequest("u", 400, "x", [{"errorCode": "JSON_PARSER_ERROR"}]))
    assert not is_transient(SalesforceAuthenticationFailed("INVALID_LOGIN", "Invalid username"))
    assert is_transient(SalesforceAuthenticationFailed(None, "<faultcode>sf:SERVER_UNAVAILABLE</faultcode>"))
    reason = describe_failure(SalesforceGeneralError("https://x/query?q=secret", 503, "x", [{"errorCode": "E"}]))
    assert reason == "HTTP 503 E"
    assert describe_failure(requests.ConnectionError("https://x/q?q=SELECT+Email")) == "ConnectionError"


def test_row_waits_grow_and_are_bounded() -> None:
    policy = RetryPolicy(row_initial_wait=1, row_max_wait=3)
    assert [policy.row_wait(n) for n in (2, 3, 4, 5)] == [1, 2, 3, 3]
    assert not math.isnan(policy.row_wait(2))


# -- auth and bulk steps --------------------------------------------------------------------------


def test_jwt_assertion_claims_and_audience(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    settings = SalesforceSettings(auth="jwt", login_url="https://acme.my.salesforce.com/", username="u@acme.test",
                                  consumer_key="3MVGkey", jwt_key_path=path)  # fmt: skip
    claims = jwt.decode(jwt_assertion(settings, now=1000), key.public_key(), algorithms=["RS256"],
                        options={"verify_exp": False, "verify_aud": False})  # fmt: skip
    assert claims == {"iss": "3MVGkey", "sub": "u@acme.test", "aud": "https://login.salesforce.com", "exp": 1180}
    assert jwt_audience("https://acme--uat.sandbox.my.salesforce.com") == "https://test.salesforce.com"
    assert jwt_audience("https://test.salesforce.com/") == "https://test.salesforce.com"
    assert jwt_audience("https://127.0.0.1:9444") == "https://127.0.0.1:9444"


class _StepClient:
    """Answers every Bulk step with one error (what a retried step meets when its first try landed)."""

    def __init__(self, error: SalesforceCallError) -> None:
        self.error = error

    def raw(self, *args: object, **kwargs: object) -> None:
        raise self.error

    def rest(self, *args: object, **kwargs: object) -> None:
        raise self.error


def test_a_retried_upload_or_close_that_had_landed_is_accepted() -> None:
    uploaded = SalesforceCallError(
        "bulk_upload", "HTTP 409 INVALIDJOBSTATE: Data has already been uploaded for this job", status=409
    )
    upload_data(_StepClient(uploaded), "750x", b"K\nk\n")  # type: ignore[arg-type]
    closed = SalesforceCallError(
        "bulk_close", "HTTP 409: Found job in state InProgress; expected state is Open", status=409
    )
    close_job(_StepClient(closed), "750x")  # type: ignore[arg-type]
    aborted = SalesforceCallError(
        "bulk_close", "HTTP 409: Found job in state Aborted; expected state is Open", status=409
    )
    with pytest.raises(SalesforceCallError):
        close_job(_StepClient(aborted), "750x")  # type: ignore[arg-type]


def test_the_client_is_the_crm_sink_of_connectors_base() -> None:
    client = SalesforceClient(SalesforceSettings(login_url="https://login.salesforce.com"))
    sink: CrmSink = client
    for name, member in inspect.getmembers(CrmSink, inspect.isfunction):
        if not name.startswith("_"):
            assert (
                list(inspect.signature(getattr(sink, name)).parameters)
                == list(inspect.signature(member).parameters)[1:]
            ), name
    assert sink.api_calls() == {} and sink.api_usage() is None  # nothing sent before the first call
    client.close()


# -- Bulk poll pacing -----------------------------------------------------------------------------


def test_pace_polls_a_job_when_earlier_jobs_say_it_will_be_done() -> None:
    pace = Pace()
    assert pace.first(5000, default=0.5) == 0.5  # nothing learnt yet
    pace.learn(10_000, {"totalProcessingTime": 2000})  # 5,000 rows a second
    assert pace.first(5000, default=0.5) == pytest.approx(1.0 * pace.margin)
    assert pace.first(10, default=0.5) == pace.shortest  # never a busy loop
    pace.learn(0, {"totalProcessingTime": 900})  # an empty job teaches nothing
    pace.learn(100, {})  # nor one whose info lacks the time
    assert pace.first(5000, default=0.5) == pytest.approx(1.0 * pace.margin)


def test_pace_follows_a_running_jobs_own_progress_else_doubles() -> None:
    pace = Pace()
    # A quarter done after 2 s: three quarters to go, 6 s at that rate.
    assert pace.next(1000, {"numberRecordsProcessed": 250}, 2.0, 0.5, 30.0) == pytest.approx(6.0 * pace.margin)
    assert pace.next(1000, {"numberRecordsProcessed": 0}, 2.0, 0.5, 30.0) == 1.0
    assert pace.next(1000, {"numberRecordsProcessed": 1}, 100.0, 0.5, 30.0) == 30.0  # the ceiling


class _PolledClient:
    """The parts of a client :func:`wait_for_job` uses; the job is done after ``done_after`` seconds."""

    def __init__(self, done_after: float) -> None:
        self.settings = SimpleNamespace(bulk_poll_seconds=0.5, bulk_timeout_seconds=3600)
        self.bulk_pace = Pace()
        self.clock, self.done_after, self.polls = 0.0, done_after, 0

    def sleep(self, seconds: float) -> None:
        self.clock += seconds

    def rest(self, kind: str, path: str) -> dict:
        self.polls += 1
        if self.clock >= self.done_after:
            return {"state": "JobComplete", "totalProcessingTime": int(self.done_after * 1000)}
        return {"state": "InProgress", "numberRecordsProcessed": 0}


def test_a_second_job_is_polled_once_when_the_first_taught_its_pace() -> None:
    client = _PolledClient(done_after=2.0)
    wait_for_job(client, "750A", rows=4000)  # type: ignore[arg-type]
    assert client.polls == 3  # 0.5 s, 1.5 s, 3.5 s: doubling, knowing nothing
    client.clock, client.polls, client.done_after = 0.0, 0, 1.0
    wait_for_job(client, "750B", rows=2000)  # type: ignore[arg-type]
    assert client.polls == 1 and client.clock == pytest.approx(1.0 * client.bulk_pace.margin)


def test_bulk_documents_are_utf8_and_cut_by_their_bytes() -> None:
    frame = pd.DataFrame({"K": ["k1", "k2"], "V": ['Müller, "Ltd"', "日本"]})
    ((document, rows),) = split_by_size(Payload("Account", frame, "K"), range(2))
    assert rows == 2 and document.decode("utf-8") == 'K,V\nk1,"Müller, ""Ltd"""\nk2,日本\n'
    # One byte short of both rows: two documents, each under the limit counted in bytes.
    parts = list(split_by_size(Payload("Account", frame, "K"), range(2), max_bytes=len(document) - 1))
    assert [r for _, r in parts] == [1, 1] and all(len(d) < len(document) for d, _ in parts)


def test_bulk_results_keep_only_the_columns_asked_for() -> None:
    body = (
        '\ufeff"sf__Id","sf__Created",Ext__c,Name,Description\n'
        '001A,true,k1,"Müller, ""Ltd""","two\nlines"\n'
        "\n"
        "001B,false,k2,Plain,\n"
    ).encode()
    calls: list[str] = []
    client = SimpleNamespace(raw=lambda *args, **kwargs: calls.append(args[2]) or SimpleNamespace(content=body))
    kept = read_results(client, "750x", "successfulResults", ("Ext__c", "sf__Id", "sf__Created", "sf__Error"))  # type: ignore[arg-type]
    assert calls == []  # read when the rows are taken, one by one (never all held as dicts)
    assert list(kept) == [
        {"sf__Id": "001A", "sf__Created": "true", "Ext__c": "k1"},
        {"sf__Id": "001B", "sf__Created": "false", "Ext__c": "k2"},
    ]
    every = list(read_results(client, "750x", "successfulResults"))  # type: ignore[arg-type]
    assert every[0]["Name"] == 'Müller, "Ltd"' and every[0]["Description"] == "two\nlines"
    assert (
        list(read_results(SimpleNamespace(raw=lambda *a, **k: SimpleNamespace(content=b"")), "750x", "failedResults"))
        == []
    )  # type: ignore[arg-type]


# -- sObject Collections lanes --------------------------------------------------------------------


class _LanedClient:
    """Answers Collections calls after a barrier of ``lanes`` calls at once (so a test that passes
    saw them in flight together); the budget runs out after ``budget`` calls."""

    def __init__(self, lanes: int, budget: int = 1000) -> None:
        self.settings = SimpleNamespace(collection_lanes=lanes)
        self.barrier = threading.Barrier(lanes, timeout=10)
        self.budget = budget
        self.sent: list[str] = []
        self.answered = 0  # what the org's usage counts
        self.lock = threading.Lock()

    def check_budget(self, in_flight: int = 0) -> None:
        if self.answered + in_flight >= self.budget:
            raise ApiBudgetExhausted("spent", self.budget, self.budget)

    def rest(self, kind: str, path: str, *, method: str, body: dict) -> list[dict]:
        first = body["records"][0]["K__c"]
        with self.lock:
            self.sent.append(first)
            together = len(self.sent) <= self.barrier.parties
        if together:
            self.barrier.wait()
        with self.lock:
            self.answered += 1
        return [{"id": f"001{r['K__c']}", "success": True, "created": True, "errors": []} for r in body["records"]]


def _keyed(n: int) -> Payload:
    return Payload("Account", pd.DataFrame({"K__c": [f"k{i:04d}" for i in range(n)]}), "K__c")


def test_collections_calls_go_in_lanes_and_each_result_reaches_its_record() -> None:
    client, payload = _LanedClient(lanes=3), _keyed(1000)
    results: list = [None] * 1000
    collections.send(client, "upsert", payload, list(range(1000)), results)  # type: ignore[arg-type]
    assert len(client.sent) == 5  # the first three were in flight at once (the barrier let them by)
    assert [r.salesforce_id for r in results] == [f"001k{i:04d}" for i in range(1000)]


def test_lanes_stop_where_the_budget_does_and_keep_the_answered_calls() -> None:
    # Two calls in flight at once count against a budget of two: the third is never sent.
    client, payload = _LanedClient(lanes=2, budget=2), _keyed(1400)
    results: list = [None] * 1400
    with pytest.raises(ApiBudgetExhausted):
        collections.send(client, "upsert", payload, list(range(1400)), results)  # type: ignore[arg-type]
    assert sorted(client.sent) == ["k0000", "k0200"]
    assert all(r is not None and r.success for r in results[:400])
    assert all(r is None for r in results[400:])
