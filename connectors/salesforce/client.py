"""The Salesforce org as the pipeline sees it: :class:`SalesforceClient`, a :class:`CrmSink`.

Every request goes through one place, :meth:`SalesforceClient._invoke`, which

* logs in lazily (:mod:`.auth`), and again when a call answers 401 ``INVALID_SESSION_ID`` —
  then repeats that same call with the new session (REST, query pages and each step of a Bulk
  job alike; at most :data:`MAX_RELOGINS` times per call);
* retries transient failures (:mod:`.retry`: resets, timeouts, 500/502/503/504) with bounded
  exponential backoff and jitter, logging each retry at WARNING without secrets;
* turns ``REQUEST_LIMIT_EXCEEDED`` into :class:`ApiBudgetExhausted` (never retried);
* counts the request under its kind (:meth:`api_calls`: one count per HTTP request sent,
  retries and logins included, as the org counts them) and records ``Sforce-Limit-Info``
  (:meth:`api_usage`);
* wraps simple-salesforce's and requests' exceptions in :class:`SalesforceCallError`, whose
  message holds no URL, token, password or record data.

Calls may come from more than one thread (a window's write stamps adoptions while a Bulk job
runs): the counts and the first login are taken under a lock.

Writes check the budget first (:meth:`check_budget`): once the org's daily usage reaches
``api_usage_stop`` of its limit, no further write is sent.

Every request carries a timeout (``settings.timeout``), set on the HTTP session's adapter so
that simple-salesforce's own calls (login included), which pass none, have it too.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from connectors.http import make_session
from connectors.salesforce import auth, bulk, writes
from connectors.salesforce.errors import (
    ApiBudgetExhausted,
    AuthenticationError,
    PreflightFailed,
    Redactor,
    SalesforceCallError,
    SalesforceConnectorError,
    error_entries,
)
from connectors.salesforce.preflight import Problem, check_mapping
from connectors.salesforce.query import in_queries, records_frame
from connectors.salesforce.retry import RetryPolicy, describe_failure, is_transient, retrying
from connectors.salesforce.values import json_text
from connectors.settings import SalesforceSettings
from transforms.mapping import MAPPING, SalesforceMapping

log = logging.getLogger("connectors.salesforce")

T = TypeVar("T")
MAX_RELOGINS = 2  # per call: a session that dies again right after a fresh login is not transient
CONNECT_TIMEOUT = 30.0


class _TimeoutAdapter(HTTPAdapter):
    """An adapter giving every request a default (connect, read) timeout."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


class SalesforceClient:
    """Queries and idempotent writes against one org (see the module docstring for the policies).

    Not thread-safe: one client per flow run. Use as a context manager, or :meth:`close`.
    """

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        retry: RetryPolicy | None = None,
        query_batch_size: int | None = None,
        http: requests.Session | None = None,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        """``query_batch_size`` (200–2000) asks for smaller query pages (``Sforce-Query-Options``);
        ``http`` replaces the session of :func:`connectors.http.make_session` (its ``https://``
        adapter gets the timeout); ``sleep`` is how waits happen (tests pass a fast one)."""
        self.settings = settings
        ceiling = settings.backoff_max_seconds
        self.retry = retry or RetryPolicy(max_wait=ceiling, row_max_wait=ceiling)
        self.query_batch_size = query_batch_size
        self.sleep = sleep
        self._http = http or make_session(settings.ca_bundle)
        self._http.mount("https://", _TimeoutAdapter((min(CONNECT_TIMEOUT, settings.timeout), settings.timeout)))
        self._sf: Salesforce | None = None
        self._calls: Counter[str] = Counter()
        # A window's write stamps one object's adoptions while another's Bulk job runs: counts and
        # logins are shared by the threads sending.
        self._lock = threading.RLock()
        self._usage: tuple[int, int] | None = None
        self._refused = False  # the org answered REQUEST_LIMIT_EXCEEDED
        self._describes: dict[str, dict[str, Any]] = {}
        self.bulk_pace = bulk.Pace()  # how fast the org has processed our Bulk jobs (when to poll)
        password, token = settings.password.get_secret_value(), settings.security_token.get_secret_value()
        self.redact = Redactor([password, token, password + token, settings.consumer_secret.get_secret_value()])

    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __repr__(self) -> str:
        return f"SalesforceClient(login_url={self.settings.login_url!r}, auth={self.settings.auth!r})"

    # -- sessions ---------------------------------------------------------------------------------

    def login(self) -> None:
        """Log in now (otherwise the first call does); raises :class:`AuthenticationError`."""

        def once() -> auth.Session:
            self._count("login")
            return auth.login(self.settings, self._http)

        try:
            session = retrying(self.retry, "login", self.sleep)(once)
        except SalesforceAuthenticationFailed as exc:
            # Wrong credentials are not retried: repeated failures lock the user out.
            detail = self.redact(str(exc.auth_message or ""))[:300]
            raise AuthenticationError(
                f"Salesforce login ({self.settings.auth}) to {self.settings.login_url} failed: "
                f"{describe_failure(exc)}: {detail}"
            ) from None
        except (SalesforceError, requests.RequestException) as exc:
            raise self._call_error("login", exc) from None
        self.redact.add(session.session_id)
        self._sf = auth.connect(session, self.settings, self._http)

    @property
    def instance_url(self) -> str:
        """``https://`` URL of the org's instance (logs in first if needed), for record links."""
        return f"https://{self._connection().sf_instance}"

    def _connection(self) -> Salesforce:
        with self._lock:  # one login when several threads start at once
            if self._sf is None:
                self.login()
            assert self._sf is not None
            return self._sf

    def _count(self, kind: str) -> None:
        with self._lock:
            self._calls[kind] += 1

    # -- the one way requests are made ----------------------------------------------------------

    def _invoke(self, kind: str, call: Callable[[Salesforce], T]) -> T:
        """``call(sf)`` with re-login, retries, counting and error wrapping (module docstring)."""
        try:
            return retrying(self.retry, kind, self.sleep)(self._attempt, kind, call)
        except SalesforceConnectorError:
            raise
        except (SalesforceError, requests.RequestException) as exc:
            raise self._call_error(kind, exc) from None

    def _attempt(self, kind: str, call: Callable[[Salesforce], T]) -> T:
        for relogin in range(MAX_RELOGINS + 1):
            sf = self._connection()
            self._count(kind)
            try:
                result = call(sf)
            except SalesforceExpiredSession:
                if relogin == MAX_RELOGINS:
                    raise
                log.warning("Salesforce session expired during a %s call; logging in again", kind)
                self.login()
                continue
            except SalesforceRefusedRequest as exc:
                if any(e.get("errorCode") == "REQUEST_LIMIT_EXCEEDED" for e in error_entries(exc.content)):
                    self._refused = True  # later writes stop at check_budget, without another call
                    raise self._exhausted() from None
                raise
            self._note_usage(sf)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_usage(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage")
        if usage is not None:
            self._usage = (int(usage.used), int(usage.total))

    def _call_error(self, kind: str, exc: BaseException) -> SalesforceCallError:
        entries = error_entries(getattr(exc, "content", None))
        code = str(entries[0].get("errorCode")) if entries and entries[0].get("errorCode") else None
        message = "; ".join(str(e.get("message", "")) for e in entries) or describe_failure(exc)
        status = getattr(exc, "status", None)
        detail = f"HTTP {' '.join(str(p) for p in (status, code) if p)}: {message}" if status else message
        return SalesforceCallError(
            kind, self.redact(detail), status=status, error_code=code, transient=is_transient(exc)
        )

    def rest(self, kind: str, path: str, *, method: str = "GET", body: Any = None, **params: Any) -> Any:
        """A JSON REST call on ``/services/data/vXX.X/{path}`` (``body`` serialised exactly)."""
        data = None if body is None else json_text(body).encode("utf-8")
        query = params or None
        return self._invoke(kind, lambda sf: sf.restful(path, params=query, method=method, data=data))

    def raw(self, kind: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call on ``/services/data/vXX.X/{path}`` whose answer is not JSON (Bulk CSV).

        ``Salesforce._call_salesforce`` is simple-salesforce's one way to send such a request
        with its headers, error mapping and ``Sforce-Limit-Info`` parsing (``restful`` would
        parse the answer as JSON).
        """
        return self._invoke(kind, lambda sf: sf._call_salesforce(method, sf.base_url + path, name=kind, **kwargs))

    # -- budget -----------------------------------------------------------------------------------

    def api_calls(self) -> dict[str, int]:
        """Requests sent so far per kind: ``login``, ``describe``, ``query``, ``query_more``,
        ``collections``, ``bulk_create``, ``bulk_upload``, ``bulk_close``, ``bulk_poll``,
        ``bulk_results``, ``limits``."""
        with self._lock:
            return dict(self._calls)

    def api_usage(self) -> tuple[int, int] | None:
        """``(used, limit)`` of the org's daily API requests from the last ``Sforce-Limit-Info``."""
        return self._usage

    def check_budget(self, in_flight: int = 0) -> None:
        """Raise :class:`ApiBudgetExhausted` if usage reached ``api_usage_stop`` of the limit.

        Usage comes from the last answer's ``Sforce-Limit-Info``; before any answer, from one
        ``GET limits`` call. ``in_flight``: calls sent and not answered yet, counted as used.
        """
        if self._refused:
            raise self._exhausted()
        if self._usage is None:
            limits = self.rest("limits", "limits")
            daily = (limits or {}).get("DailyApiRequests") or {}
            if self._usage is None and daily.get("Max"):
                self._usage = (int(daily["Max"]) - int(daily.get("Remaining", 0)), int(daily["Max"]))
        if self._usage is None:
            return
        used, limit = self._usage
        used += in_flight
        stop = self.settings.api_usage_stop
        if limit and used >= stop * limit:
            raise ApiBudgetExhausted(
                f"Salesforce API budget reached: {used} of {limit} daily requests used "
                f"(this loader stops at {stop:.0%}); no further writes are sent this run",
                used,
                limit,
            )

    def _exhausted(self) -> ApiBudgetExhausted:
        used, limit = self._usage or (None, None)
        return ApiBudgetExhausted(
            "Salesforce refused a request with REQUEST_LIMIT_EXCEEDED (the org's daily API request limit "
            "is reached); no further writes are sent this run",
            used,
            limit,
        )

    # -- CrmSink --------------------------------------------------------------------------------

    def describe(self, sobject: str) -> dict[str, Any]:
        """The object's describe result (fetched once per client: schemas do not change mid-run)."""
        if sobject not in self._describes:
            self._describes[sobject] = self.rest("describe", f"sobjects/{sobject}/describe")
        return self._describes[sobject]

    def query_pages(self, soql: str) -> Iterator[dict[str, Any]]:
        """The result pages of ``soql`` as Salesforce sends them (``totalSize``, ``records``, ``done``):
        ``query``, then ``query_more`` with ``nextRecordsUrl`` as long as they are read.

        Pages are fetched one call at a time rather than through ``query_all_iter`` so that a
        page whose call fails transiently or meets an expired session is fetched again, and the
        stream goes on from there.
        """
        headers = {"Sforce-Query-Options": f"batchSize={self.query_batch_size}"} if self.query_batch_size else {}
        page = self._invoke("query", lambda sf: sf.query(soql, headers=headers))
        yield page
        while not page.get("done", True):
            next_url = page["nextRecordsUrl"]
            page = self._invoke("query_more", lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True))
            yield page

    def query_records(self, soql: str) -> Iterator[dict[str, Any]]:
        """The records of ``soql``, page by page (:meth:`query_pages`)."""
        for page in self.query_pages(soql):
            yield from page["records"]

    def query_sized(self, soql: str) -> tuple[int, Iterator[dict[str, Any]]]:
        """``soql``'s ``totalSize`` (from its first page: one call), and its records, the later
        pages fetched only if the records are read on."""
        pages = self.query_pages(soql)
        first = next(pages)
        return int(first["totalSize"]), itertools.chain(first["records"], (r for p in pages for r in p["records"]))

    def query(self, soql: str) -> pd.DataFrame:
        """All records of ``soql`` as one frame: parents flattened (``Account.Name``), no
        ``attributes``, columns in SELECT order, values as Salesforce sent them (numbers as Decimal)."""
        return records_frame(self.query_records(soql), soql)

    def query_in(self, template: str, values: Any, **params: Any) -> pd.DataFrame:
        """``template`` with its ``{values}`` IN-list over all ``values``, in as many queries as
        needed (:func:`connectors.salesforce.query.in_queries`), as one frame."""
        records: list[dict[str, Any]] = []
        for soql in in_queries(template, values, **params):
            records.extend(self.query_records(soql))
        return records_frame(records, template)

    def upsert(self, sobject: str, external_id_field: str, records: pd.DataFrame) -> pd.DataFrame:
        """Upsert ``records`` by ``external_id_field``; one result row per record (input order and
        index, :data:`RESULT_COLUMNS`), matched by key. Never inserts: keyless rows are refused.

        Columns are field API names or parent references (``Account.Ext__c``); values follow
        :mod:`connectors.salesforce.values` (missing = unchanged, :data:`CLEAR` = null).
        Raises :class:`ApiBudgetExhausted` (with partial ``results``) when the budget runs out.
        """
        return writes.write(self, "upsert", sobject, external_id_field, records)

    def update(self, sobject: str, records: pd.DataFrame) -> pd.DataFrame:
        """Update records by ``Id`` (e.g. stamp external ids on adopted records); results as
        :meth:`upsert`, ``external_id`` holding the Id."""
        return writes.write(self, "update", sobject, "Id", records)

    # -- preflight ------------------------------------------------------------------------------

    def describe_or_none(self, sobject: str) -> dict[str, Any] | None:
        """:meth:`describe`, or None when the org has no such (accessible) object."""
        try:
            return self.describe(sobject)
        except SalesforceCallError as exc:
            if exc.status == 404:
                return None
            raise

    def preflight(self, mapping: SalesforceMapping = MAPPING) -> list[Problem]:
        """Everything the org lacks for ``mapping`` (objects, fields, permissions, picklist values,
        the order queue), all at once; empty when ready. Reads only (describe, query)."""
        return check_mapping(mapping, self.describe_or_none, self.query)

    def ensure_ready(self, mapping: SalesforceMapping = MAPPING) -> None:
        """:meth:`preflight`, raising :class:`PreflightFailed` listing every problem."""
        problems = self.preflight(mapping)
        if problems:
            raise PreflightFailed(problems)
