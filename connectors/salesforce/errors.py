"""The connector's exceptions, and the redaction every message and log line goes through.

simple-salesforce's exceptions put the request URL and the whole response body in their
``str`` (and ``SalesforceAuthenticationFailed`` may carry a raw login response); ``requests``
errors name the URL with its query string, which for SOQL holds customer data. None of them
leaves this package: :meth:`SalesforceClient._invoke` turns them into :class:`SalesforceCallError`
built from the status, the Salesforce error code and message only, passed through a
:class:`Redactor` that knows the run's secrets (password, security token, consumer secret and
every session id issued), and raised ``from None`` so a traceback does not print the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from connectors.salesforce.preflight import Problem

REDACTED = "<redacted>"
# Salesforce session ids / access tokens: "<15-18 char org id>!<opaque>".
_SESSION_ID = re.compile(r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]{20,}")


class Redactor:
    """Replaces known secrets and anything shaped like a session id with ``<redacted>``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Remember more secrets (a new session id after each login)."""
        # Very short values would redact ordinary words; real secrets are longer.
        self._secrets.update(s for s in secrets if s and len(s) >= 6)

    def __call__(self, text: str) -> str:
        # Longest first, so "password+token" goes before "password" alone.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return _SESSION_ID.sub(REDACTED, text)


class SalesforceConnectorError(Exception):
    """Base class of everything this connector raises."""


class AuthenticationError(SalesforceConnectorError):
    """Logging in failed (wrong credentials, unapproved app, locked user); not retried."""


class SalesforceCallError(SalesforceConnectorError):
    """A request failed for good: a non-retryable error, or retries exhausted.

    ``kind`` is the call kind of :meth:`SalesforceClient.api_calls`; ``status`` the HTTP status
    (None for connection-level failures); ``error_code`` Salesforce's ``errorCode`` when it gave
    one. The message never holds URLs, tokens or request data.
    """

    def __init__(
        self, kind: str, message: str, *, status: int | None = None, error_code: str | None = None,
        transient: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(f"Salesforce {kind} call failed: {message}")
        self.kind = kind
        self.status = status
        self.error_code = error_code
        self.detail = message
        self.transient = transient


class ApiBudgetExhausted(SalesforceConnectorError):
    """The org's daily API budget is spent (our stop share, or REQUEST_LIMIT_EXCEEDED).

    Raised before any further write is sent. ``results`` holds the result rows (``RESULT_COLUMNS``)
    of the records of the interrupted ``upsert``/``update`` that Salesforce did answer for, so
    the caller can checkpoint them; records absent from it were not confirmed.
    """

    def __init__(self, message: str, used: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.used = used
        self.limit = limit
        self.results: pd.DataFrame | None = None


class BulkJobError(SalesforceConnectorError):
    """A Bulk API 2.0 job ended ``Failed``/``Aborted`` or did not finish in time."""

    def __init__(self, job_id: str, state: str, message: str) -> None:
        super().__init__(f"Bulk API 2.0 job {job_id} {state}: {message}")
        self.job_id = job_id
        self.state = state


class PreflightFailed(SalesforceConnectorError):
    """The org lacks what the mapping needs; ``problems`` lists all of it."""

    def __init__(self, problems: list[Problem]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the Salesforce org is not ready for the mapping ({len(problems)} problem(s)):\n{lines}")
        self.problems = problems


def error_entries(content: Any) -> list[dict[str, Any]]:
    """Salesforce's error list (``[{"errorCode", "message", ...}]``) from an exception's content."""
    if isinstance(content, list):
        return [e for e in content if isinstance(e, dict)]
    if isinstance(content, dict):
        return [content]
    return []
