"""Which failures are worth another try, and how long to keep trying.

Two levels, both bounded in count and time, with exponential backoff and jitter:

* **requests** (:func:`retrying`): connection resets, timeouts, HTTP 500/502/503/504 and a login
  endpoint that answers "unavailable". Never retried: 4xx answers (a 401 is handled by logging
  in again, a 403 ``REQUEST_LIMIT_EXCEEDED`` stops the load), TLS verification failures (a
  configuration problem), bad credentials (retrying them would lock the user out).
* **rows** (:data:`TRANSIENT_ROW_ERRORS`): ``UNABLE_TO_LOCK_ROW`` and Bulk rows left unprocessed
  are sent again within the run, only those rows, for :attr:`RetryPolicy.row_attempts` rounds.

Every retry is logged at WARNING with the call kind and a secret-free reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceGeneralError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

from connectors.salesforce.errors import SalesforceCallError, error_entries

log = logging.getLogger("connectors.salesforce")

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
#: Row-level error codes sent again within the run (only the failed rows).
TRANSIENT_ROW_ERRORS = frozenset({"UNABLE_TO_LOCK_ROW", "BULK_NOT_PROCESSED"})
# Login endpoints report outages in the body (SOAP fault / OAuth error), not only in the status.
_TRANSIENT_LOGIN_MARKERS = ("SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "unknown_error", "temporarily unavailable")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of both retry levels (defaults suit a scheduled batch run)."""

    attempts: int = 6  # tries per request, the first included
    max_seconds: float = 300.0  # give up on a request after this long
    initial_wait: float = 1.0
    max_wait: float = 60.0
    row_attempts: int = 4  # rounds per record, the first included
    row_initial_wait: float = 2.0
    row_max_wait: float = 60.0

    def row_wait(self, round_number: int) -> float:
        """Seconds to wait before row round ``round_number`` (2, 3, …)."""
        return min(self.row_initial_wait * 2 ** (round_number - 2), self.row_max_wait)


def is_transient(exc: BaseException) -> bool:
    """Whether a failed request may succeed if sent again unchanged."""
    if isinstance(exc, SalesforceCallError):
        return exc.transient
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # certificate problems do not heal by themselves
    if isinstance(exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, SalesforceAuthenticationFailed):
        text = f"{exc.code} {exc.auth_message}"
        return any(marker in text for marker in _TRANSIENT_LOGIN_MARKERS)
    if isinstance(exc, SalesforceGeneralError):
        return exc.status in TRANSIENT_STATUSES
    return False


def describe_failure(exc: BaseException) -> str:
    """A short, secret- and data-free reason: status and Salesforce error code, or the error type."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return f"login refused ({exc.code})" if exc.code else "login refused"
    status = getattr(exc, "status", None)
    if status is not None:
        codes = [str(e.get("errorCode")) for e in error_entries(getattr(exc, "content", None)) if e.get("errorCode")]
        return f"HTTP {status}" + (f" {codes[0]}" if codes else "")
    # requests' messages name the URL and its query string (SOQL with customer data): type only.
    return type(exc).__name__


def retrying(policy: RetryPolicy, kind: str, sleep: Callable[[float], Any]) -> Retrying:
    """A tenacity controller for one request of ``kind`` (re-raises the last error)."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "Salesforce %s call failed (%s); retry %d of %d in %.1f s",
            kind, describe_failure(exc) if exc else "?", state.attempt_number, policy.attempts - 1, wait,
        )  # fmt: skip

    return Retrying(
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
        wait=wait_exponential_jitter(multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.initial_wait),
        retry=retry_if_exception(is_transient),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
