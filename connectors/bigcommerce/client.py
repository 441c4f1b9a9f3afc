"""HTTP to the BigCommerce API: session, auth, retries, pacing, call counting, and keyset paging.

:class:`BigCommerceClient` owns the run's single ``requests`` session (``X-Auth-Token``,
``Accept: application/json``, connect and read timeouts, TLS verified against the configured CA
bundle by :func:`connectors.http.make_session`; verification cannot be turned off) and sends
every GET through one retry policy (tenacity), bounded by ``max_attempts`` and
``max_retry_seconds``:

* **429 with** ``X-Rate-Limit-Time-Reset-Ms``: the store-wide quota is spent; wait exactly until
  it refills (the header), nothing shorter can succeed and anything longer wastes the window;
* **429 without rate-limit headers** (platform load), **408, 500, 502, 503, 504**, timeouts,
  refused or reset connections and a response cut mid-body (``ChunkedEncodingError`` /
  ``ProtocolError``), or a 2xx body that is not JSON: exponential backoff with full jitter, so
  that several workers sharing the store do not retry in lockstep;
* anything else (401, 403, 404, 413, 422, ...) is not retried: it raises
  :class:`BigCommerceApiError` naming the endpoint and the API's own message at once, since
  repeating the request cannot change the answer; nor is a certificate that does not verify
  (:class:`BigCommerceError`, with the TLS error as its cause).

Every retry is logged at WARNING with the endpoint, the status or error and the wait; headers
are never logged (one of them is the token). Giving up raises :class:`RetriesExhausted`.

**Pacing.** The quota is shared by every app on the store, so running into 429s hurts the
others too. Each response reports ``X-Rate-Limit-Requests-Left``; once that falls to
``low_quota``, the client spreads the requests left over the time until the window resets
(:meth:`RateLimit.pacing_delay`) instead of spending them at once and then stalling on a 429.

**Keyset paging** (:class:`KeysetStream`, the base of the two streams): page numbers over a set
that changes while it is read skip records (a record that leaves the window from page 1 shifts
every later record one place up, and the first record of page 2 is never seen). Paging by id
instead (ask for the records after the last id seen) cannot skip: records that leave the window
leave no gap, and nothing can enter a window that ends in the past. The base class also drops
repeated ids, refuses pages out of id order (keyset paging would be unsafe on them) and stops a
stream that makes no progress instead of looping. Its requests run in a thread a few pages ahead
of the parsing (:mod:`connectors.read_ahead`), and several streams (the customers, the orders'
id lanes) read at once: the client counts calls under a lock, and paced requests take turns.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

import requests
import urllib3.exceptions
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from connectors.bigcommerce.parsing import loads
from connectors.http import make_session
from connectors.read_ahead import read_ahead
from connectors.settings import BigCommerceSettings

log = logging.getLogger(__name__)

Record = dict[str, Any]
Params = Mapping[str, str | int]
#: Statuses worth another try: request timeout, quota or load, and server-side failures.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MESSAGE_LIMIT = 500


# -- errors ------------------------------------------------------------------------------------


class BigCommerceError(Exception):
    """Anything that stops an extraction from the store."""


class BigCommerceApiError(BigCommerceError):
    """The API refused a request for good (not retried): 401, 403, 404, 413, 422 and the like."""

    def __init__(self, endpoint: str, status: int, message: str, errors: Mapping[str, Any] | None = None) -> None:
        """``message`` is the API's own (v2 ``message`` / v3 ``title``); ``errors`` the v3 details."""
        self.endpoint = endpoint
        self.status = status
        self.api_message = message
        self.errors = dict(errors or {})
        details = "; ".join(f"{key}: {value}" for key, value in self.errors.items())
        super().__init__(f"GET {endpoint} failed with HTTP {status}: {message}" + (f" ({details})" if details else ""))


class TransientError(BigCommerceError):
    """A failed attempt worth retrying; ``retry_after`` is the wait the API asked for, if any."""

    def __init__(self, endpoint: str, status: int, message: str, retry_after: float | None = None) -> None:
        """``status`` is the HTTP status of the attempt."""
        self.endpoint = endpoint
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"GET {endpoint}: HTTP {status}: {message}")


class RetriesExhausted(BigCommerceError):
    """Every allowed attempt failed (``max_attempts`` tries or ``max_retry_seconds`` spent)."""

    def __init__(self, endpoint: str, attempts: int, elapsed: float, last_error: BaseException) -> None:
        """``last_error`` is the failure of the final attempt (also the ``__cause__``)."""
        self.endpoint = endpoint
        self.attempts = attempts
        self.elapsed = elapsed
        self.last_error = last_error
        super().__init__(
            f"GET {endpoint}: gave up after {attempts} attempt(s) in {elapsed:.1f} s; "
            f"last error: {describe_error(last_error)}"
        )


def describe_error(error: BaseException) -> str:
    """A one-line account of a failed attempt, safe to log (no headers, hence no token)."""
    if isinstance(error, TransientError):
        return str(error).split(": ", 1)[1]
    return f"{type(error).__name__}: {error}"[:_MESSAGE_LIMIT]


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is anywhere in the chain (causes, contexts, args, urllib3 ``reason``)."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        if isinstance(item, kind):
            return True
        seen.add(id(item))
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return False


def is_retryable(error: BaseException) -> bool:
    """The retry policy's verdict on an exception raised by one attempt."""
    if isinstance(error, requests.exceptions.SSLError):
        # A dropped TLS connection is transient; a certificate that does not verify is not.
        return not _caused_by(error, ssl.SSLCertVerificationError)
    return isinstance(
        error,
        TransientError
        | requests.exceptions.Timeout
        | requests.exceptions.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError
        | urllib3.exceptions.ProtocolError,
    )


# -- the rate-limit meter ----------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """The store's quota meter as the last response reported it (``X-Rate-Limit-*`` headers)."""

    left: int
    reset_ms: int
    quota: int | None
    window_ms: int | None
    seen_at: float  # time.monotonic() when the response arrived

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], seen_at: float) -> RateLimit | None:
        """The meter of a response, or None when it has no (or unreadable) rate-limit headers."""

        def number(name: str) -> int | None:
            try:
                return int(headers[name])
            except (KeyError, TypeError, ValueError):
                return None

        left, reset_ms = number("X-Rate-Limit-Requests-Left"), number("X-Rate-Limit-Time-Reset-Ms")
        if left is None or reset_ms is None:
            return None
        return cls(
            left=left,
            reset_ms=reset_ms,
            quota=number("X-Rate-Limit-Requests-Quota"),
            window_ms=number("X-Rate-Limit-Time-Window-Ms"),
            seen_at=seen_at,
        )

    def superseded_by(self, other: RateLimit) -> bool:
        """Whether ``other`` is the newer reading: of a later window, or of this one with fewer left.

        Responses of requests sent at once arrive in any order; an earlier one's meter (more
        left) arriving last must not undo what a later one said."""
        same_window = abs((other.seen_at + other.reset_ms / 1000) - (self.seen_at + self.reset_ms / 1000)) < 0.05
        return not same_window or other.left <= self.left

    def pacing_delay(self, low_quota: int, now: float, in_flight: int = 0) -> float:
        """Seconds to wait before the next request so the quota lasts until the window resets.

        Zero while more than ``low_quota`` requests are left. Below, the time left until the
        reset is split into ``left + 1`` equal gaps: the requests left go out evenly and the one
        after them lands when the quota refills, never on a 429. ``in_flight``: requests sent
        since and not answered yet (other streams'), which the meter does not count yet.
        """
        left = max(self.left - in_flight, 0)
        if left > low_quota:
            return 0.0
        remaining = self.reset_ms / 1000 - (now - self.seen_at)
        return max(remaining, 0.0) / (left + 1)


# -- the client --------------------------------------------------------------------------------


class BigCommerceClient:
    """GETs against one store's API with the retry and pacing policy of this module."""

    def __init__(
        self,
        settings: BigCommerceSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        backoff_base: float = 1.0,
        backoff_max: float | None = None,
    ) -> None:
        """A client (and its session) for ``settings``.

        ``sleep`` does every wait (retries and pacing), so callers can observe them, and
        ``clock`` (seconds, monotonic) times the rate-limit meter. ``backoff_base`` is the first
        backoff window in seconds (doubling per retry, full jitter), ``backoff_max`` its ceiling
        (default: ``settings.backoff_max_seconds``).
        """
        token = settings.access_token.get_secret_value()
        if not settings.api_url or not token:
            raise ValueError("BigCommerce api_url and access_token are required (ATS_BC_API_URL, ATS_BC_ACCESS_TOKEN)")
        self.base_url = settings.api_url.rstrip("/") + "/"
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.max_attempts = settings.max_attempts
        self.max_retry_seconds = settings.max_retry_seconds
        self.low_quota = settings.low_quota
        self.session = make_session(settings.ca_bundle)
        self.session.headers.update({"X-Auth-Token": token, "Accept": "application/json"})
        self._sleep = sleep
        self._clock = clock
        ceiling = settings.backoff_max_seconds if backoff_max is None else backoff_max
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=ceiling)
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()  # streams read ahead in threads (KeysetStream.pages)
        self._rate_limit: RateLimit | None = None
        # Several streams send at once: their paced requests take turns, each waiting its gap
        # after the one before and counting those still unanswered, so that together they keep
        # the pace one would.
        self._pace_lock = threading.Lock()
        self._in_flight = 0

    # -- public

    def get(self, path: str, params: Params | None = None, *, endpoint: str | None = None) -> Any:
        """The decoded JSON body of ``GET {api_url}{path}`` (None for 204 No Content).

        ``endpoint`` names the call in counts, logs and errors (default ``path``; give a template
        such as ``v2/orders/{id}/products`` for per-record paths). Raises
        :class:`BigCommerceApiError` for a refusal and :class:`RetriesExhausted` when the retry
        budget is spent.
        """
        name = endpoint or path
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_retry_seconds),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=partial(self._log_retry, name),
            sleep=self._sleep,
        )
        started = time.monotonic()
        try:
            return retrying(self._attempt, name, self.base_url + path.lstrip("/"), dict(params or {}))
        except RetryError as gave_up:
            state = gave_up.last_attempt
            error = state.exception()
            assert error is not None  # tenacity only gives up on failed attempts here
            raise RetriesExhausted(name, state.attempt_number, time.monotonic() - started, error) from error
        except requests.exceptions.RequestException as error:
            # Not worth retrying: a certificate that does not verify, a malformed URL.
            raise BigCommerceError(f"GET {name}: {describe_error(error)}") from error

    def api_calls(self) -> dict[str, int]:
        """HTTP requests sent so far per endpoint, retries included (each spends the quota)."""
        with self._calls_lock:
            return dict(self._calls)

    def rate_limit(self) -> RateLimit | None:
        """The quota meter of the last response that reported one."""
        return self._rate_limit

    def close(self) -> None:
        """Close the session."""
        self.session.close()

    def __enter__(self) -> BigCommerceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- one attempt

    def _attempt(self, endpoint: str, url: str, params: dict[str, str | int]) -> Any:
        self._pace(endpoint)
        answered = False
        try:
            with self.session.get(url, params=params, timeout=self.timeout) as response:
                meter = RateLimit.from_headers(response.headers, self._clock())
                self._answered(meter)
                answered = True
                return self._read(endpoint, response, meter)
        finally:
            if not answered:
                self._answered(None)

    def _answered(self, meter: RateLimit | None) -> None:
        """A request is no longer in flight; its response's meter (if any) is the latest."""
        with self._calls_lock:
            self._in_flight -= 1
            if meter is not None and (self._rate_limit is None or self._rate_limit.superseded_by(meter)):
                self._rate_limit = meter

    def _read(self, endpoint: str, response: requests.Response, meter: RateLimit | None) -> Any:
        status = response.status_code
        if status == 204:
            return None
        if 200 <= status < 300:
            try:
                return loads(response.content)
            except ValueError as error:
                raise TransientError(endpoint, status, f"body is not JSON ({error})") from error
        message, errors = _api_message(response)
        if status == 429:
            # With the meter, the quota is spent until the reset; without it, platform load.
            retry_after = meter.reset_ms / 1000 if meter is not None else None
            raise TransientError(endpoint, status, message, retry_after)
        if status in RETRYABLE_STATUSES:
            raise TransientError(endpoint, status, message)
        raise BigCommerceApiError(endpoint, status, message, errors)

    def _pace(self, endpoint: str) -> None:
        """Wait for this request's turn under the quota (if it runs low), then count it as sent."""
        with self._pace_lock:
            with self._calls_lock:
                meter, in_flight = self._rate_limit, self._in_flight
            delay = meter.pacing_delay(self.low_quota, self._clock(), in_flight) if meter is not None else 0.0
            if delay > 0:
                assert meter is not None
                log.info("GET %s: %d request(s) left of the store's quota, pacing %.2f s", endpoint, meter.left, delay)
                self._sleep(delay)
            with self._calls_lock:
                self._calls[endpoint] += 1
                self._in_flight += 1

    # -- tenacity hooks

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(state)

    def _log_retry(self, endpoint: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "GET %s: attempt %d of %d failed (%s); retrying in %.2f s",
            endpoint,
            state.attempt_number,
            self.max_attempts,
            describe_error(error).rstrip(".") if error else "no result",
            state.upcoming_sleep,
        )


def _api_message(response: requests.Response) -> tuple[str, dict[str, Any]]:
    """The API's explanation of an error answer: v2 ``[{status, message}]``, v3 ``{title, errors}``."""
    fallback = f"{response.reason or 'error'}: {response.text[:_MESSAGE_LIMIT]}".rstrip(": ")
    try:
        body = loads(response.content)
    except ValueError:
        return fallback, {}
    if isinstance(body, list):
        messages = [str(item["message"]) for item in body if isinstance(item, dict) and item.get("message")]
        return ("; ".join(messages) or fallback), {}
    if isinstance(body, dict):
        errors = body.get("errors")
        title = body.get("title") or body.get("message")
        return (str(title) if title else fallback), (dict(errors) if isinstance(errors, dict) else {})
    return fallback, {}


# -- keyset paging -----------------------------------------------------------------------------

Cursor = TypeVar("Cursor")


class KeysetStream(ABC, Generic[Cursor]):
    """Records of one collection endpoint, read in ascending id order, page by page, each once.

    A subclass says how to ask for the page after a cursor (:meth:`fetch`) and how to parse a
    page (:meth:`parse_page`); :meth:`pages` does the rest.
    """

    endpoint: ClassVar[str]

    def __init__(self, client: BigCommerceClient, page_size: int, read_ahead: int = 4) -> None:
        """Read through ``client``, ``page_size`` records per request, up to ``read_ahead`` pages ahead."""
        self.client = client
        self.page_size = page_size
        self.read_ahead = read_ahead

    @abstractmethod
    def fetch(self, params: Params, cursor: Cursor | None) -> tuple[list[Any], Cursor | None]:
        """The page after ``cursor`` (None: the first) and the cursor of the next (None: this was the last)."""

    @abstractmethod
    def parse_page(self, records: list[Record]) -> list[Record]:
        """A page of raw records, parsed (must not raise on a bad value)."""

    @staticmethod
    @abstractmethod
    def min_calls(records: int, page_size: int) -> int:
        """Requests needed to read ``records`` records in pages of ``page_size`` (no retries)."""

    def ids(self, records: list[Any]) -> list[int]:
        """The ids of a page's records (those that have one); raises when none has."""
        ids = [i for i in map(record_id, records) if i is not None]
        if not ids:
            raise BigCommerceError(f"GET {self.endpoint}: a page without ids; cannot page past it")
        return ids

    def last_id(self, records: list[Any]) -> int:
        """The highest id of a page, where the next page starts; raises when it has none."""
        return max(self.ids(records))

    def pages(self, params: Params) -> Iterator[list[Record]]:
        """Parsed pages of the records matching ``params``, as they arrive (empty pages skipped).

        The requests run in a thread up to :attr:`read_ahead` pages ahead (:mod:`connectors.read_ahead`):
        the next page is on its way while this one is parsed and used.
        """
        for records in read_ahead(self._raw_pages(params), self.read_ahead, name=f"read {self.endpoint}"):
            yield self.parse_page(records)

    def _raw_pages(
        self, params: Params, cursor: Cursor | None = None, after: int | None = None
    ) -> Iterator[list[Record]]:
        """Unparsed pages from ``cursor`` (None: the first page), each without the records already
        seen (and those of ids up to ``after``), until the cursor says the last."""
        last_id: int | None = after
        while True:
            records, next_cursor = self.fetch(params, cursor)
            fresh = self._fresh(records, last_id)
            ids = [i for i in map(record_id, fresh) if i is not None]
            if next_cursor is not None and (next_cursor == cursor or not ids):
                # A page of repeats (or a cursor that does not move) would be asked for forever.
                raise BigCommerceError(
                    f"GET {self.endpoint}: no progress past cursor {next_cursor!r}; stopping instead of looping"
                )
            if ids:
                last_id = ids[-1]
            if fresh:
                yield fresh
            if next_cursor is None:
                return
            cursor = next_cursor

    def _fresh(self, records: list[Any], last_id: int | None) -> list[Any]:
        """``records`` without those already seen; refuses a page out of ascending id order."""
        fresh: list[Any] = []
        previous = last_id
        for record in records:
            this = record_id(record)
            if this is None:
                # Kept: the transforms reject it with a reason; it cannot be a repeat we know of.
                log.warning("GET %s: a record without an integer id: %.200r", self.endpoint, record)
                fresh.append(record)
            elif last_id is not None and this <= last_id:
                log.debug("GET %s: dropped repeated record %d", self.endpoint, this)
            elif previous is not None and this <= previous:
                raise BigCommerceError(
                    f"GET {self.endpoint}: page not in ascending id order ({this} after {previous}); "
                    "keyset paging would skip records"
                )
            else:
                fresh.append(record)
                previous = this
        return fresh


def record_id(record: Any) -> int | None:
    """The integer ``id`` of a record (a dict), or None when it has none."""
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
