"""Fixtures for the Salesforce connector's tests: clients on the sandbox org, its admin API.

``org`` wraps the sandbox's admin endpoints (``/__sandbox/…``: faults, counters, API usage,
jobs), which are neither counted nor faulted, and leaves the org as it found it (no pending
fault, usage restored). ``make_client`` builds clients with fast retry waits; all are closed
after the test, so the sandbox never waits for their keep-alive connections when it stops.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from connectors.http import make_session
from connectors.salesforce import RetryPolicy, SalesforceClient
from connectors.settings import SalesforceSettings
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer

FAST = RetryPolicy(
    attempts=4, max_seconds=30, initial_wait=0.01, max_wait=0.05, row_attempts=3, row_initial_wait=0.01,
    row_max_wait=0.05,
)  # fmt: skip
HEADERS_PINNED = ("Content-Type", "Accept", "Sforce-Query-Options", "SOAPAction")


def sandbox_settings(server: SandboxServer, **overrides: Any) -> SalesforceSettings:
    """The settings ``ATS_TARGET=sandbox`` would produce for ``server``, plus ``overrides``."""
    creds = server.credentials
    values: dict[str, Any] = {
        "auth": "password",
        "login_url": server.org.base_url,
        "username": creds.sf_username,
        "password": creds.sf_password,
        "security_token": creds.sf_security_token,
        "consumer_key": creds.sf_consumer_key,
        "consumer_secret": creds.sf_consumer_secret,
        "jwt_key_path": server.config.jwt_key_path,
        "ca_bundle": server.certificate.ca_path,
        "timeout": 20.0,
        "bulk_poll_seconds": 0.2,
        "bulk_timeout_seconds": 60.0,
    }
    values.update(overrides)
    return SalesforceSettings(**values)


class OrgAdmin:
    """The sandbox org's admin API, over HTTPS like any client."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base = f"{server.org.base_url}/__sandbox"
        self.http = make_session(server.certificate.ca_path)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.base}/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def script(self, *faults: dict[str, Any]) -> None:
        """Scripted faults: ``{"kind", "path" (regex), "method", "count"}``."""
        self._call("POST", "faults/script", list(faults))

    def fault_settings(self, **settings: Any) -> None:
        self._call("PUT", "faults", settings)

    def fired(self) -> dict[str, int]:
        return dict(self._call("GET", "faults")["fired"])

    def pending_faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "faults")["pending_script"])

    def counters(self) -> dict[str, int]:
        return dict(self._call("GET", "counters")["endpoints"])

    def count(self, method: str, fragment: str) -> int:
        """Requests counted with ``method`` on paths containing ``fragment``.

        Answered requests are counted by route template (``…/jobs/ingest/{job_id}``), requests
        answered by an injected fault by their raw path: a fragment matches both.
        """
        return sum(n for key, n in self.counters().items() if key.startswith(method + " ") and fragment in key)

    def reset_counters(self) -> None:
        self._call("POST", "counters/reset")

    def usage(self) -> int:
        return int(self._call("GET", "org/api-usage")["used"])

    def set_usage(self, used: int) -> None:
        self._call("PUT", "org/api-usage", {"used": used})

    def jobs(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "org/jobs"))

    def settle(self, _seconds: float = 0.0) -> None:
        """A ``sleep`` for clients: returns once no Bulk job is still running (deterministic polls)."""
        deadline = time.monotonic() + 30
        while any(j["state"] in ("UploadComplete", "InProgress") for j in self.jobs()):
            if time.monotonic() > deadline:
                raise TimeoutError("bulk jobs did not finish")
            time.sleep(0.02)


@pytest.fixture
def org(sandbox: SandboxServer) -> Iterator[OrgAdmin]:
    """The session sandbox's admin API; faults cleared and counters reset before, usage restored after."""
    admin = OrgAdmin(sandbox)
    admin.fault_settings()
    admin.reset_counters()
    used = admin.usage()
    yield admin
    admin.fault_settings()
    admin.set_usage(max(used, 0))
    admin.http.close()


@pytest.fixture(scope="session")
def orgdb(sandbox: SandboxServer) -> Iterator[OrgDB]:
    """Direct access to the session sandbox's records (seed and inspect)."""
    db = OrgDB(sandbox.config.org_db)
    yield db
    db.close()


@pytest.fixture
def tag() -> str:
    """A prefix making a test's keys its own."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def make_client(sandbox: SandboxServer) -> Iterator[Callable[..., SalesforceClient]]:
    """``make_client(server=None, retry=…, sleep=…, query_batch_size=…, http=…, **settings_overrides)``
    (on the session sandbox unless ``server`` is given)."""
    made: list[SalesforceClient] = []

    def make(
        server: SandboxServer | None = None, *, retry: RetryPolicy = FAST, sleep: Callable[[float], Any] = time.sleep,
        query_batch_size: int | None = None, http: requests.Session | None = None, **overrides: Any,
    ) -> SalesforceClient:  # fmt: skip
        client = SalesforceClient(
            sandbox_settings(server or sandbox, **overrides), retry=retry, sleep=sleep,
            query_batch_size=query_batch_size, http=http,
        )  # fmt: skip
        made.append(client)
        return client

    yield make
    gc.collect()  # responses held by tracebacks of expected exceptions keep connections open
    for client in made:
        client.close()


def _pinned_headers(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the headers that shape a Salesforce request are the recorded ones."""
    for name in HEADERS_PINNED:
        assert r1.headers.get(name) == r2.headers.get(name), (
            f"{name}: {r1.headers.get(name)!r} != {r2.headers.get(name)!r}"
        )
    assert ("Authorization" in r1.headers) == ("Authorization" in r2.headers), "Authorization presence differs"


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Register the header matcher the contract tests use."""
    vcr.register_matcher("salesforce_headers", _pinned_headers)
