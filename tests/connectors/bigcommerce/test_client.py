"""The client's policy without a server: classification, pacing arithmetic, keyset-paging guards.

Answers the sandbox cannot give (a 403, a 200 that is not JSON, pages out of order or repeated)
come from a fake transport adapter mounted on the client's own session.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import urllib3.exceptions
from pydantic import SecretStr
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from connectors.bigcommerce import BigCommerceApiError, BigCommerceClient, BigCommerceError, RateLimit, RetriesExhausted
from connectors.bigcommerce.client import KeysetStream, TransientError, is_retryable
from connectors.bigcommerce.streams import CustomersStream, OrdersStream, min_api_calls
from connectors.settings import BigCommerceSettings

TOKEN = "tok-0123456789abcdef"
API = "https://store.invalid/stores/abc123/"


class FakeAdapter(BaseAdapter):
    """Answers requests from a list of (status, body, headers), in order, and records them."""

    def __init__(self, answers: list[tuple[int, Any, dict[str, str]]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        status, body, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 204: "No Content", 403: "Forbidden", 429: "Too Many Requests"}.get(status, "")
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


class FakeTime:
    """A clock that only moves when slept on; remembers the waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def fake_client(
    *answers: tuple[int, Any, dict[str, str]], time: FakeTime | None = None, **settings: Any
) -> tuple[BigCommerceClient, FakeAdapter]:
    values: dict[str, Any] = {"api_url": API, "access_token": SecretStr(TOKEN), "max_attempts": 3, **settings}
    fake = time or FakeTime()
    client = BigCommerceClient(
        BigCommerceSettings(_env_file=None, **values),  # type: ignore[call-arg]
        sleep=fake.sleep,
        clock=fake.clock,
        backoff_base=0.01,
    )
    adapter = FakeAdapter(list(answers))
    client.session.mount("https://", adapter)
    return client, adapter


def test_the_session_sends_token_accept_and_timeouts() -> None:
    client, adapter = fake_client((204, b"", {}), connect_timeout=3.0, read_timeout=7.0)
    assert client.get("v2/orders", {"limit": 5}) is None
    sent = adapter.sent[0]
    assert sent.headers["X-Auth-Token"] == TOKEN
    assert sent.headers["Accept"] == "application/json"
    assert sent.url == API + "v2/orders?limit=5"
    assert client.timeout == (3.0, 7.0)
    assert client.session.verify is True  # the default trust store; never False


def test_settings_without_url_or_token_are_refused() -> None:
    with pytest.raises(ValueError, match="access_token"):
        BigCommerceClient(BigCommerceSettings(_env_file=None, api_url=API))  # type: ignore[call-arg]


def test_a_403_is_not_retried_and_says_why_without_the_token() -> None:
    body = {"status": 403, "title": "You don't have a required scope to access the endpoint", "errors": {}}
    client, adapter = fake_client((403, body, {}))
    with pytest.raises(BigCommerceApiError) as raised:
        client.get("v3/customers")
    assert len(adapter.sent) == 1
    error = raised.value
    assert error.status == 403 and error.endpoint == "v3/customers"
    assert "GET v3/customers" in str(error) and "required scope" in str(error)
    assert TOKEN not in str(error) and TOKEN not in repr(error.__dict__)


def test_a_200_that_is_not_json_is_retried() -> None:
    client, _ = fake_client((200, b"<html>proxy error</html>", {}), (200, [{"id": 1}], {}))
    assert client.get("v2/orders") == [{"id": 1}]
    assert client.api_calls() == {"v2/orders": 2}


def test_a_429_with_the_meter_waits_exactly_until_the_reset() -> None:
    time = FakeTime()
    meter = {"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "1234"}
    client, _ = fake_client((429, [{"status": 429, "message": "spent"}], meter), (204, b"", {}), time=time)
    client.get("v2/orders")
    # Once, not again as pacing: the wait already reached the reset.
    assert time.waits == [1.234]


def test_a_429_without_the_meter_backs_off_with_jitter() -> None:
    time = FakeTime()
    throttled = (429, {"status": 429, "title": "Too many requests"}, {})
    client, _ = fake_client(throttled, throttled, (204, b"", {}), time=time, max_attempts=5)
    client.get("v2/orders")
    first, second = time.waits
    assert 0 <= first <= 0.01 and 0 <= second <= 0.02  # full jitter in windows of 0.01 s, doubling


def test_pacing_slows_down_before_the_quota_runs_out() -> None:
    time = FakeTime()
    meter = {"X-Rate-Limit-Requests-Quota": "150", "X-Rate-Limit-Time-Window-Ms": "30000"}
    client, _ = fake_client(
        (204, b"", {**meter, "X-Rate-Limit-Requests-Left": "20", "X-Rate-Limit-Time-Reset-Ms": "3000"}),
        (204, b"", {**meter, "X-Rate-Limit-Requests-Left": "3", "X-Rate-Limit-Time-Reset-Ms": "2000"}),
        (204, b"", {**meter, "X-Rate-Limit-Requests-Left": "2", "X-Rate-Limit-Time-Reset-Ms": "1500"}),
        (204, b"", {}),
        time=time,
        low_quota=3,
    )
    for _ in range(4):
        client.get("v2/orders")
    # 20 left: no wait; 3 left, 2 s to the reset: 4 gaps of 0.5 s; then 2 left in 1.5 s: 0.5 s.
    assert time.waits == [pytest.approx(0.5), pytest.approx(0.5)]
    meter = client.rate_limit()
    assert meter is not None and meter.left == 2


def test_giving_up_names_the_endpoint_attempts_and_last_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    client, adapter = fake_client(*[(500, [{"status": 500, "message": "Internal Server Error"}], {})] * 3)
    with pytest.raises(RetriesExhausted) as raised:
        client.get("v2/orders")
    assert len(adapter.sent) == 3
    assert str(raised.value).startswith("GET v2/orders: gave up after 3 attempt(s)")
    assert "HTTP 500: Internal Server Error" in str(raised.value)
    assert isinstance(raised.value.__cause__, TransientError)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2  # the two retries
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (TransientError("v2/orders", 503, "down"), True),
        (requests.exceptions.ReadTimeout("read timed out"), True),
        (requests.exceptions.ConnectTimeout("connect timed out"), True),
        (requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset by peer")), True),
        (requests.exceptions.ChunkedEncodingError(urllib3.exceptions.ProtocolError("Connection broken")), True),
        (urllib3.exceptions.ProtocolError("Connection aborted"), True),
        (requests.exceptions.SSLError(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")), True),
        (requests.exceptions.SSLError(ssl.SSLCertVerificationError(1, "CERTIFICATE_VERIFY_FAILED")), False),
        (BigCommerceApiError("v2/orders", 404, "not found"), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_is_retried(error: BaseException, retry: bool) -> None:
    assert is_retryable(error) is retry


def test_a_certificate_that_does_not_verify_is_not_retried_even_when_wrapped() -> None:
    inner = requests.exceptions.SSLError(ssl.SSLCertVerificationError(1, "CERTIFICATE_VERIFY_FAILED"))
    wrapped = requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(None, "/", reason=inner))  # type: ignore[arg-type]
    assert not is_retryable(wrapped)


def test_the_meter_is_read_from_the_headers() -> None:
    headers = {
        "X-Rate-Limit-Requests-Left": "12",
        "X-Rate-Limit-Time-Reset-Ms": "3000",
        "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Time-Window-Ms": "30000",
    }
    assert RateLimit.from_headers(headers, 5.0) == RateLimit(12, 3000, 150, 30000, 5.0)
    assert RateLimit.from_headers({"X-Rate-Limit-Requests-Left": "x", "X-Rate-Limit-Time-Reset-Ms": "1"}, 0) is None
    assert RateLimit.from_headers({}, 0) is None


def test_pacing_spreads_the_requests_left_over_the_time_to_the_reset() -> None:
    meter = RateLimit(left=3, reset_ms=2000, quota=150, window_ms=30000, seen_at=100.0)
    assert meter.pacing_delay(low_quota=2, now=100.0) == 0.0  # plenty left
    assert meter.pacing_delay(low_quota=3, now=100.0) == pytest.approx(0.5)  # 2 s over 4 gaps
    assert meter.pacing_delay(low_quota=3, now=101.0) == pytest.approx(0.25)  # 1 s left
    assert meter.pacing_delay(low_quota=3, now=103.0) == 0.0  # the window has reset
    spent = RateLimit(left=0, reset_ms=1500, quota=150, window_ms=30000, seen_at=0.0)
    assert spent.pacing_delay(low_quota=0, now=0.0) == pytest.approx(1.5)  # wait out the window
    # Requests other streams sent and are still waiting on count as spent already.
    assert meter.pacing_delay(low_quota=3, now=100.0, in_flight=2) == pytest.approx(1.0)  # 2 s over 2 gaps
    assert meter.pacing_delay(low_quota=3, now=100.0, in_flight=9) == pytest.approx(2.0)  # none left: the reset


def test_a_meter_arriving_late_does_not_undo_a_newer_one() -> None:
    newer = RateLimit(left=3, reset_ms=2000, quota=150, window_ms=30000, seen_at=100.0)
    late = RateLimit(left=5, reset_ms=1990, quota=150, window_ms=30000, seen_at=100.01)  # same window
    assert not newer.superseded_by(late) and late.superseded_by(newer)
    refilled = RateLimit(left=149, reset_ms=30000, quota=150, window_ms=30000, seen_at=102.5)  # the next window
    assert newer.superseded_by(refilled)


class ListStream(KeysetStream[int]):
    """A stream over canned pages (the cursor is the index of the next page)."""

    endpoint = "test/things"

    def __init__(self, pages: list[list[Any]]) -> None:
        super().__init__(client=None, page_size=3)  # type: ignore[arg-type]
        self.canned = pages

    def fetch(self, params: Any, cursor: int | None) -> tuple[list[Any], int | None]:
        index = cursor or 0
        return self.canned[index], (index + 1 if index + 1 < len(self.canned) else None)

    def parse_page(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return records

    @staticmethod
    def min_calls(records: int, page_size: int) -> int:
        return 0


def _ids(pages: Iterator[list[dict[str, Any]]]) -> list[list[Any]]:
    return [[r.get("id") if isinstance(r, dict) else r for r in page] for page in pages]


def test_repeated_ids_are_dropped_and_empty_pages_skipped() -> None:
    stream = ListStream([[{"id": 1}, {"id": 2}, {"id": 3}], [{"id": 3}, {"id": 4}], []])
    assert _ids(stream.pages({})) == [[1, 2, 3], [4]]


def test_a_record_without_an_id_is_kept_for_the_transform_to_reject() -> None:
    stream = ListStream([[{"id": 1}, {"name": "no id"}, {"id": 2}]])
    assert _ids(stream.pages({})) == [[1, None, 2]]


def test_a_page_out_of_id_order_is_refused() -> None:
    stream = ListStream([[{"id": 1}, {"id": 3}, {"id": 2}]])
    with pytest.raises(BigCommerceError, match="not in ascending id order"):
        list(stream.pages({}))


def test_a_stream_that_makes_no_progress_stops_instead_of_looping() -> None:
    # Page 2 repeats page 1 (as a client ignoring the cursor would see): stop, do not loop.
    stream = ListStream([[{"id": 1}, {"id": 2}, {"id": 3}], [{"id": 1}, {"id": 2}, {"id": 3}], [{"id": 4}]])
    with pytest.raises(BigCommerceError, match="no progress"):
        list(stream.pages({}))


@pytest.mark.parametrize(
    ("records", "page_size", "customers", "orders"),
    [
        (0, 250, 1, 1),
        (1, 250, 1, 1),
        (249, 250, 1, 1),
        (250, 250, 1, 2),
        (251, 250, 2, 2),
        (500, 250, 2, 3),
        (12, 5, 3, 3),
        (10, 5, 2, 3),
    ],
)
def test_the_call_formula(records: int, page_size: int, customers: int, orders: int) -> None:
    assert min_api_calls("customers", records, page_size) == customers == CustomersStream.min_calls(records, page_size)
    assert min_api_calls("orders", records, page_size) == orders == OrdersStream.min_calls(records, page_size)


@pytest.mark.parametrize(("records", "page_size"), [(-1, 250), (1, 0), (1, 251)])
def test_the_call_formula_refuses_impossible_inputs(records: int, page_size: int) -> None:
    with pytest.raises(ValueError):
        min_api_calls("orders", records, page_size)


def test_customers_page_on_by_id_even_without_a_cursor_block() -> None:
    # Not seen from the API (it sends cursor_pagination on page 1 and with cursors), but if it
    # were missing, the documented cursor form (base64 of {"id": N}) takes over.
    client, adapter = fake_client(
        (200, {"data": [{"id": 1}, {"id": 2}], "meta": {}}, {}),
        (200, {"data": [{"id": 3}], "meta": {}}, {}),
    )
    assert _ids(CustomersStream(client, page_size=2).pages({"include": "addresses"})) == [[1, 2], [3]]
    assert (adapter.sent[1].url or "").endswith("include=addresses&limit=2&after=eyJpZCI6Mn0")


@pytest.mark.parametrize(
    ("stream", "body", "expected"),
    [
        (OrdersStream, {"orders": []}, "expected a JSON array"),
        (CustomersStream, [{"id": 1}], "expected a {data, meta} envelope"),
    ],
)
def test_an_unexpected_body_is_an_error_not_an_empty_page(
    stream: type[KeysetStream[Any]], body: Any, expected: str
) -> None:
    client, _ = fake_client((200, body, {}))
    with pytest.raises(BigCommerceError, match=re.escape(expected)):
        list(stream(client, 3).pages({}))
