"""Scenario 5, security: secrets never leak, SOQL-looking input stays data, TLS is always verified.

Secrets are the sandbox's ``credentials.json`` values and the live Salesforce session ids the
pipeline obtained (captured by wrapping :func:`connectors.salesforce.auth.login`). They must not
appear in logs (pytest's caplog and the Prefect API's stored logs), artifacts (read back from the
Prefect API), ``reports/``, cassettes, or the messages of authentication failures.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from connectors.salesforce import auth
from sandbox.faults import ScriptedFault
from sandbox.server import SandboxServer
from tests.reliability.conftest import SandboxFactory
from tests.reliability.harness import ROOT

SESSION_ID = re.compile(r"00D\w{12}!AQ[\w.-]{20,}")
SECRET_KEYS = ("bc_access_token", "sf_password", "sf_security_token", "sf_consumer_secret")


def secrets_of(server: SandboxServer) -> list[str]:
    creds = json.loads(server.config.credentials_path.read_text())
    values = [creds[k] for k in SECRET_KEYS]
    return [*values, creds["sf_password"] + creds["sf_security_token"]]


def leaks(text: str, secrets: list[str]) -> list[str]:
    """Which secrets (shown by their first 4 characters) or session-id-shaped strings occur in ``text``."""
    found = [f"{s[:4]}…" for s in secrets if s and s in text]
    found += [f"session id {m[:8]}…" for m in SESSION_ID.findall(text)]
    return found


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The session ids of every Salesforce login of the test."""
    seen: list[str] = []
    real = auth.login

    def capturing(*args: Any, **kwargs: Any) -> auth.Session:
        session = real(*args, **kwargs)
        seen.append(session.session_id)
        return session

    monkeypatch.setattr(auth, "login", capturing)
    return seen


@pytest.fixture
def pointed(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[SandboxServer]:
    """A small sandbox with the pipeline's settings pointed at it."""
    server = sandbox_factory("secure", orders=40)
    monkeypatch.setenv("ATS_TARGET", "sandbox")
    monkeypatch.setenv("ATS_SANDBOX_HOME", str(server.config.home))
    monkeypatch.setenv("ATS_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    monkeypatch.setenv("ATS_BC_WINDOW_LAG_SECONDS", "0")
    yield server


def test_no_secret_in_logs_or_artifacts(
    prefect_api: None,
    pointed: SandboxServer,
    sessions: list[str],
    caplog: pytest.LogCaptureFixture,
    metrics: Callable[..., None],
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    from flows.sync import sync

    caplog.set_level("DEBUG")
    # Make the run log what it logs least often: a session expiry (login again), store retries.
    pointed.org.faults.add_script([ScriptedFault(kind="session_expired", path="/query", count=1)])
    pointed.store.faults.add_script([ScriptedFault(kind="server_error", path="orders", count=1)])
    state = sync(return_state=True)
    result = state.result()
    assert result["loads"]["Order"]["created"] == 40
    assert len(sessions) >= 2, "the session expiry should have caused a second login"
    secrets = secrets_of(pointed) + sessions

    flow_run_id = state.state_details.flow_run_id

    async def read_back() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        # Plain API calls: this Prefect client sends nulls the server's filters reject (422).
        async with get_client() as client:
            logs = await client._client.post(
                "/logs/filter",
                json={"logs": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "limit": 200, "offset": 0,
                      "sort": "TIMESTAMP_ASC"},
            )  # fmt: skip
            artifacts = await client._client.post(
                "/artifacts/filter",
                json={"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "limit": 50, "offset": 0,
                      "sort": "CREATED_DESC"},
            )  # fmt: skip
        return logs.json(), artifacts.json()

    # Prefect ships logs from a worker thread in batches: send what is queued, then read back
    # until they are there (on a busy machine they can lag the flow's end by seconds).
    APILogHandler().flush()
    deadline = time.monotonic() + 60
    logs, artifacts = asyncio.run(read_back())
    while not (logs and artifacts) and time.monotonic() < deadline:
        time.sleep(1)
        logs, artifacts = asyncio.run(read_back())
    assert logs and artifacts
    texts = {
        "caplog": caplog.text + "\n".join(str(r.args) + str(r.exc_text or "") for r in caplog.records),
        "prefect logs": "\n".join(str(log.get("message")) for log in logs),
        "artifacts": json.dumps(artifacts, default=str),
        "result": json.dumps(result, default=str),
    }
    found = {where: leaks(text, secrets) for where, text in texts.items()}
    metrics(records=sum(len(t) for t in texts.values()), notes=f"{len(secrets)} secrets checked")
    assert found == {key: [] for key in texts}, found


def test_no_secret_in_reports_or_cassettes(pointed: SandboxServer) -> None:
    secrets = secrets_of(pointed)
    default_creds = ROOT / ".sandbox" / "credentials.json"
    if default_creds.exists():
        try:
            creds = json.loads(default_creds.read_text())
            secrets += [creds[k] for k in SECRET_KEYS if creds.get(k)]
        except (ValueError, KeyError):
            pass
    files = [p for p in (ROOT / "reports").rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "tests" / "connectors").rglob("*") if p.is_file() and "cassettes" in p.parts]
    found = {str(p.relative_to(ROOT)): hits for p in files if (hits := leaks(p.read_text(errors="replace"), secrets))}
    assert found == {}


def test_authentication_failures_do_not_echo_secrets(pointed: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.base import Window
    from connectors.bigcommerce import BigCommerceStore
    from connectors.salesforce import SalesforceClient
    from connectors.settings import Settings

    wrong_password, wrong_token = "Wr0ng-P4ssw0rd-xyz", "wrongBcTokenValue1234567890"
    monkeypatch.setenv("ATS_SF_PASSWORD", wrong_password)
    monkeypatch.setenv("ATS_BC_ACCESS_TOKEN", wrong_token)
    monkeypatch.setenv("ATS_BC_MAX_ATTEMPTS", "1")
    settings = Settings()
    secrets = [*secrets_of(pointed), wrong_password, wrong_token]
    messages = []
    with pytest.raises(Exception) as sf_error, SalesforceClient(settings.sf) as client:
        client.login()
    messages.append(f"{sf_error.value!s} {sf_error.value!r} {sf_error.value.__cause__!r}")
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with pytest.raises(Exception) as bc_error, BigCommerceStore(settings.bc) as store:
        next(iter(store.orders(Window(now - timedelta(days=1), now))))
    messages.append(f"{bc_error.value!s} {bc_error.value!r} {bc_error.value.__cause__!r}")
    assert "401" in messages[1] or "auth" in messages[1].lower(), messages[1]
    assert "login" in messages[0].lower(), messages[0]
    assert [leaks(m, secrets) for m in messages] == [[], []], messages


@pytest.mark.parametrize("service", ["bc", "sf"])
def test_untrusted_certificate_fails_clearly(
    pointed: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, service: str
) -> None:
    from connectors.base import Window
    from connectors.bigcommerce import BigCommerceStore
    from connectors.salesforce import SalesforceClient
    from connectors.settings import Settings

    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv(f"ATS_{service.upper()}_CA_BUNDLE", str(other_ca))
    # The sandbox CA in the environment must not rescue the session (README: REQUESTS_CA_BUNDLE).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pointed.config.ca_path))
    monkeypatch.setenv("ATS_BC_MAX_ATTEMPTS", "2")
    settings = Settings()
    with pytest.raises(Exception) as error:
        if service == "sf":
            with SalesforceClient(settings.sf) as client:
                client.login()
        else:
            from datetime import UTC, datetime, timedelta

            now = datetime.now(UTC)
            with BigCommerceStore(settings.bc) as store:
                next(iter(store.orders(Window(now - timedelta(days=1), now))))
    text = f"{error.value!s} {error.value.__cause__!s}".lower()
    assert "certificate" in text or "ssl" in text or "tls" in text, text
