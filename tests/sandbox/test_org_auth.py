"""Sandbox org login and sessions, through simple-salesforce's own login functions.

SOAP login (password + security token), the OAuth password, client-credentials and JWT bearer
grants, expired / revoked / fault-expired sessions (401 ``INVALID_SESSION_ID`` →
``SalesforceExpiredSession``) and the daily request limit (403 ``REQUEST_LIMIT_EXCEEDED`` →
``SalesforceRefusedRequest``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)
from simple_salesforce.login import token_login

from connectors.http import make_session
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.helpers import soap_login

pytestmark = pytest.mark.usefixtures("close_connections")


def jwt_assertion(server: SandboxServer, **overrides: object) -> str:
    expiration = datetime.now(UTC) + timedelta(minutes=3)
    payload = {
        "iss": server.credentials.sf_consumer_key,
        "sub": server.credentials.sf_username,
        "aud": "https://login.salesforce.com",
        "exp": f"{expiration.timestamp():.0f}",  # a string, exactly as simple-salesforce sends it
        **overrides,
    }
    return jwt.encode(payload, Path(server.config.jwt_key_path).read_bytes(), algorithm="RS256")


@pytest.fixture
def tiny_org(tmp_path: Path) -> Iterator[SandboxServer]:
    """An org with 1-second sessions and a daily allowance of 50 API requests."""
    config = SandboxConfig(
        home=tmp_path / "sandbox", store_port=0, org_port=0, session_lifetime_seconds=1, daily_api_limit=50
    )
    server = SandboxServer(config).start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def tiny_session(tiny_org: SandboxServer) -> Iterator[requests.Session]:
    """A client session for ``tiny_org``, closed before the server stops (else uvicorn waits for it)."""
    with make_session(tiny_org.certificate.ca_path) as session:
        yield session


def test_soap_login_gives_session_and_instance(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    sf = soap_login(sandbox, ca_session)
    assert sf.session_id.startswith("00D")
    assert "!" in sf.session_id
    assert sf.sf_instance == sandbox.org.base_url.removeprefix("https://")
    assert sf.query("SELECT Id, Username FROM User")["totalSize"] >= 1


def test_soap_login_with_wrong_password_is_invalid_login(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        soap_login(sandbox, ca_session, password="wrong")
    assert info.value.code == "INVALID_LOGIN"
    assert info.value.auth_message == "Invalid username, password, security token; or user locked out."


def test_oauth_password_grant(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    creds = sandbox.credentials
    url = f"{sandbox.org.base_url}/services/oauth2/token"
    data = {
        "grant_type": "password",
        "client_id": creds.sf_consumer_key,
        "client_secret": creds.sf_consumer_secret,
        "username": creds.sf_username,
        "password": creds.sf_password + creds.sf_security_token,
    }
    token, instance = token_login(url, data, "login", creds.sf_consumer_key, None, None, ca_session)
    sf = Salesforce(instance_url=f"https://{instance}", session_id=token, session=ca_session)
    assert sf.limits()["DailyApiRequests"]["Max"] == sandbox.config.daily_api_limit

    body = ca_session.post(url, data=data).json()
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == sandbox.org.base_url
    assert set(body) >= {"access_token", "id", "issued_at", "signature", "scope"}

    with pytest.raises(SalesforceAuthenticationFailed) as info:
        token_login(url, {**data, "password": "nope"}, "login", creds.sf_consumer_key, None, None, ca_session)
    assert (info.value.code, info.value.auth_message) == ("invalid_grant", "authentication failure")
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        token_login(url, {**data, "client_secret": "nope"}, "login", creds.sf_consumer_key, None, None, ca_session)
    assert info.value.code == "invalid_client"
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        token_login(url, {**data, "client_id": "nope"}, "login", "nope", None, None, ca_session)
    assert info.value.code == "invalid_client_id"


def test_oauth_client_credentials_grant_with_basic_auth(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    creds = sandbox.credentials
    url = f"{sandbox.org.base_url}/services/oauth2/token"
    basic = base64.b64encode(f"{creds.sf_consumer_key}:{creds.sf_consumer_secret}".encode()).decode()
    token, instance = token_login(
        url,
        {"grant_type": "client_credentials"},
        "atsstore.my",
        creds.sf_consumer_key,
        {"Authorization": f"Basic {basic}"},
        None,
        ca_session,
    )
    sf = Salesforce(instance_url=f"https://{instance}", session_id=token, session=ca_session)
    assert sf.describe()["maxBatchSize"] == 200
    wrong = {"grant_type": "client_credentials", "client_id": creds.sf_consumer_key, "client_secret": "x"}
    assert ca_session.post(url, data=wrong).json()["error"] == "invalid_client"


def test_oauth_jwt_bearer_grant(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    url = f"{sandbox.org.base_url}/services/oauth2/token"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    key = sandbox.credentials.sf_consumer_key
    token, _ = token_login(url, {"grant_type": grant, "assertion": jwt_assertion(sandbox)}, "login", key, None, None,
                           ca_session)  # fmt: skip
    assert token.startswith("00D")

    def error_of(assertion: str) -> tuple[int, str]:
        response = ca_session.post(url, data={"grant_type": grant, "assertion": assertion})
        return response.status_code, response.json()["error_description"]

    assert error_of(jwt_assertion(sandbox, aud="https://example.com")) == (400, "audience is invalid")
    assert error_of(jwt_assertion(sandbox, exp=int(time.time()) - 10))[1] == "expired authorization code"
    assert error_of(jwt_assertion(sandbox, sub="someone@else.example"))[0] == 400
    other_key = jwt.encode({"iss": key}, "x" * 32, algorithm="HS256")
    assert error_of(other_key) == (400, "invalid assertion")
    response = ca_session.post(url, data={"grant_type": "authorization_code"})
    assert response.json() == {"error": "unsupported_grant_type", "error_description": "grant type not supported"}


def test_unauthenticated_and_revoked_sessions_get_401(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    response = ca_session.get(f"{sandbox.org.base_url}/services/data/v59.0/limits/")
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]

    sf = soap_login(sandbox, ca_session)
    assert ca_session.post(f"{sandbox.org.base_url}/services/oauth2/revoke", data={"token": sf.session_id}).ok
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account LIMIT 1")


def test_session_expired_fault_revokes_the_session(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    sf = soap_login(sandbox, ca_session)
    base = sandbox.org.base_url
    ca_session.post(f"{base}/__sandbox/faults/script", json=[{"kind": "session_expired", "path": "/limits"}])
    with pytest.raises(SalesforceExpiredSession) as info:
        sf.limits()
    assert info.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()  # the session stays revoked: a fresh login is needed
    assert soap_login(sandbox, ca_session).limits()["DailyApiRequests"]["Max"] > 0


def test_sessions_expire_after_their_lifetime_and_on_admin_request(
    tiny_org: SandboxServer, tiny_session: requests.Session
) -> None:
    session = tiny_session
    sf = soap_login(tiny_org, session)
    sf.query("SELECT Id FROM Account")
    time.sleep(1.2)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")

    sf = soap_login(tiny_org, session)
    assert session.post(f"{tiny_org.org.base_url}/__sandbox/org/sessions/expire").json()["expired"] >= 1
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")


def test_daily_request_limit_and_usage_header(tiny_org: SandboxServer, tiny_session: requests.Session) -> None:
    session = tiny_session
    base = tiny_org.org.base_url
    sf = soap_login(tiny_org, session)
    sf.query("SELECT Id FROM Account")
    used = sf.api_usage["api-usage"]
    assert used.total == 50
    assert used.used == 1

    session.put(f"{base}/__sandbox/org/api-usage", json={"used": 49})
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 50
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Account")
    assert info.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert session.get(f"{base}/__sandbox/org/api-usage").json() == {"used": 50, "max": 50}

    # The count is kept in the org database: a restarted org still refuses.
    # Open keep-alive connections (also one a kept traceback still references) hold up uvicorn's shutdown.
    del info
    session.close()
    tiny_org.stop()
    restarted = SandboxServer(tiny_org.config).start_in_thread()
    try:
        sf = soap_login(restarted, session)
        with pytest.raises(SalesforceRefusedRequest):
            sf.limits()
    finally:
        session.close()
        restarted.stop()


def test_request_limit_fault_refuses_once(sandbox: SandboxServer, ca_session: requests.Session) -> None:
    sf = soap_login(sandbox, ca_session)
    ca_session.post(
        f"{sandbox.org.base_url}/__sandbox/faults/script", json=[{"kind": "request_limit", "path": "/limits"}]
    )
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.limits()
    assert info.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.limits()["DailyApiRequests"]["Remaining"] > 0
