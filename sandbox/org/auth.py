"""Logging in to the sandbox org: SOAP ``login``, the OAuth 2.0 token endpoint, and sessions.

Exactly what simple-salesforce and the production connector drive:

* ``POST /services/Soap/u/{version}`` with ``SOAPAction: login`` — the partner API login,
  password and security token concatenated; the answer is the real ``loginResponse`` (or the
  ``sf:INVALID_LOGIN`` fault that :func:`simple_salesforce.login.soap_login` parses);
* ``POST /services/oauth2/token`` — grants ``password`` (username, password+token, consumer key
  and secret), ``client_credentials`` (consumer key and secret as form fields or HTTP Basic), and
  the JWT bearer flow (an RS256 assertion signed with the sandbox's private key);
* ``POST /services/oauth2/revoke`` — ends a session.

Sessions live in memory only (a restart logs everyone out, as a real org's maintenance may) and
expire after ``session_lifetime_seconds``; :meth:`SessionStore.validate` is what every REST and
Bulk call goes through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import jwt
from starlette.requests import Request
from starlette.responses import Response

from sandbox.http import ServiceContext, json_response
from sandbox.org.storage import ORG_ID

ORG_NAME = "ATS Store Sandbox"
PROFILE_ID = "00e5g000000ATSsAAO"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class Session:
    """One access token and who it belongs to."""

    token: str
    user_id: str
    username: str
    expires_at: float


class SessionStore:
    """Thread-safe in-memory sessions with a fixed lifetime."""

    def __init__(self, lifetime_seconds: int) -> None:
        self.lifetime = lifetime_seconds
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, user_id: str, username: str) -> Session:
        """A fresh session token in the real format (``<org id 15>!<opaque>``)."""
        token = f"{ORG_ID[:15]}!AQ{secrets.choice('0123456789ABCDEF')}AQ{secrets.token_urlsafe(72)}"
        session = Session(token, user_id, username, time.monotonic() + self.lifetime)
        with self._lock:
            self._purge()
            self._sessions[token] = session
        return session

    def validate(self, token: str | None) -> Session | None:
        """The live session for ``token``, or None (unknown, expired or revoked)."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires_at <= time.monotonic():
                del self._sessions[token]
                return None
            return session

    def revoke(self, token: str) -> bool:
        """End one session; whether it existed."""
        with self._lock:
            return self._sessions.pop(token, None) is not None

    def expire_all(self) -> int:
        """End every session (admin); how many there were."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    def _purge(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[token]


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer …`` (or the older ``OAuth …``), or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return None


@dataclass
class LoginUser:
    """The user a login resolves to."""

    id: str
    username: str
    full_name: str
    email: str


class Authenticator:
    """Checks credentials against the sandbox's generated secrets and opens sessions."""

    def __init__(self, ctx: ServiceContext, sessions: SessionStore, user: LoginUser) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.user = user

    @property
    def creds(self) -> Any:
        return self.ctx.credentials

    def _user_password_ok(self, username: str, password: str) -> bool:
        # Passwords are compared in constant time; usernames are case-insensitive in Salesforce.
        expected = (self.creds.sf_password + self.creds.sf_security_token).encode()
        return username.strip().lower() == self.creds.sf_username.lower() and hmac.compare_digest(
            password.encode(), expected
        )

    def _client_ok(self, client_id: str, client_secret: str | None) -> bool:
        if not hmac.compare_digest(client_id.encode(), self.creds.sf_consumer_key.encode()):
            return False
        return client_secret is None or hmac.compare_digest(
            client_secret.encode(), self.creds.sf_consumer_secret.encode()
        )

    # -- SOAP ---------------------------------------------------------------------------------------

    async def soap_login(self, request: Request) -> Response:
        """``POST /services/Soap/u/{version}``: the partner ``login`` call."""
        version = request.path_params["version"]
        try:
            root = ET.fromstring(await request.body())  # noqa: S314  (no entities: expat default)
        except ET.ParseError:
            return soap_fault("soapenv:Client", "Element type is not valid XML", status=500)
        login = next((e for e in root.iter() if _local(e.tag) == "login"), None)
        if login is None:
            return soap_fault("sf:INVALID_OPERATION", "INVALID_OPERATION: No operation available for request", 500)
        fields = {_local(e.tag): (e.text or "") for e in login}
        if not self._user_password_ok(fields.get("username", ""), fields.get("password", "")):
            return soap_fault("sf:INVALID_LOGIN", f"INVALID_LOGIN: {INVALID_LOGIN}", 500, code="INVALID_LOGIN")
        session = self.sessions.create(self.user.id, self.user.username)
        base = self.ctx.base_url
        return Response(
            _LOGIN_RESPONSE.format(
                metadata_url=f"{base}/services/Soap/m/{version}/{ORG_ID[:15]}",
                server_url=f"{base}/services/Soap/u/{version}/{ORG_ID[:15]}",
                session_id=escape(session.token),
                user_id=self.user.id,
                org_id=ORG_ID,
                org_name=escape(ORG_NAME),
                profile_id=PROFILE_ID,
                seconds=self.sessions.lifetime,
                email=escape(self.user.email),
                full_name=escape(self.user.full_name),
                username=escape(self.user.username),
            ),
            media_type="text/xml",
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )

    # -- OAuth --------------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """``POST /services/oauth2/token``."""
        data = await form_fields(request)
        grant = data.get("grant_type", "")
        if grant == "password":
            return self._password_grant(data)
        if grant == "client_credentials":
            return self._client_credentials_grant(data, request.headers.get("authorization", ""))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_grant(data)
        return oauth_error("unsupported_grant_type", "grant type not supported")

    def _password_grant(self, data: dict[str, str]) -> Response:
        if not self._client_ok(data.get("client_id", ""), None):
            return oauth_error("invalid_client_id", "client identifier invalid")
        if not self._client_ok(data.get("client_id", ""), data.get("client_secret", "")):
            return oauth_error("invalid_client", "invalid client credentials")
        if not self._user_password_ok(data.get("username", ""), data.get("password", "")):
            return oauth_error("invalid_grant", "authentication failure")
        return self._issue(data["client_id"])

    def _client_credentials_grant(self, data: dict[str, str], authorization: str) -> Response:
        client_id, client_secret = data.get("client_id", ""), data.get("client_secret", "")
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return oauth_error("invalid_client", "invalid client credentials")
        if not self._client_ok(client_id, None):
            return oauth_error("invalid_client_id", "client identifier invalid")
        if not self._client_ok(client_id, client_secret):
            return oauth_error("invalid_client", "invalid client credentials")
        return self._issue(client_id)

    def _jwt_grant(self, data: dict[str, str]) -> Response:
        assertion = data.get("assertion", "")
        try:
            # simple-salesforce sends ``exp`` as a string, which Salesforce accepts: check it here.
            claims = jwt.decode(
                assertion,
                self.creds.jwt_public_key_pem,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return oauth_error("invalid_grant", "invalid assertion")
        if not self._client_ok(str(claims.get("iss", "")), None):
            return oauth_error("invalid_client_id", "client identifier invalid")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        allowed = {*LOGIN_AUDIENCES, self.ctx.base_url}
        if not any(str(a).rstrip("/") in allowed for a in audiences):
            return oauth_error("invalid_grant", "audience is invalid")
        try:
            expires = float(claims.get("exp"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return oauth_error("invalid_grant", "invalid assertion")
        if expires <= time.time():
            return oauth_error("invalid_grant", "expired authorization code")
        if str(claims.get("sub", "")).strip().lower() != self.creds.sf_username.lower():
            return oauth_error("invalid_grant", "user hasn't approved this consumer")
        return self._issue(str(claims["iss"]))

    def _issue(self, client_id: str) -> Response:
        session = self.sessions.create(self.user.id, self.user.username)
        issued_at = str(int(time.time() * 1000))
        identity = f"{self.ctx.base_url}/id/{ORG_ID}/{self.user.id}"
        signature = base64.b64encode(
            hmac.new(self.creds.sf_consumer_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        return json_response(
            {
                "access_token": session.token,
                "signature": signature,
                "scope": "api",
                "instance_url": self.ctx.base_url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
            }
        )

    async def revoke(self, request: Request) -> Response:
        """``POST /services/oauth2/revoke`` (``token`` in the form or the query)."""
        form = await form_fields(request)
        token = form.get("token") or request.query_params.get("token") or ""
        if not self.sessions.revoke(token):
            return oauth_error("unsupported_token_type", "this token type is not supported")
        return Response(status_code=200)


async def form_fields(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (parsed here: no multipart dependency needed)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(urllib.parse.parse_qsl(body, keep_blank_values=True))


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    """An OAuth error body, as the token endpoint answers."""
    return json_response({"error": error, "error_description": description}, status=status)


def soap_fault(faultcode: str, faultstring: str, status: int = 500, code: str | None = None) -> Response:
    """A SOAP fault; with ``code`` it carries the ``sf:exceptionCode`` detail of an API fault."""
    detail = ""
    if code is not None:
        message = faultstring.split(": ", 1)[-1]
        detail = (
            '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
            f"<sf:exceptionCode>{escape(code)}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
            "</sf:LoginFault></detail>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{escape(faultcode)}</faultcode><faultstring>{escape(faultstring)}</faultstring>{detail}"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status_code=status, headers={"Content-Type": "text/xml; charset=utf-8"})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


_LOGIN_RESPONSE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns="urn:partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
    "<metadataServerUrl>{metadata_url}</metadataServerUrl>"
    "<passwordExpired>false</passwordExpired>"
    "<sandbox>false</sandbox>"
    "<serverUrl>{server_url}</serverUrl>"
    "<sessionId>{session_id}</sessionId>"
    "<userId>{user_id}</userId>"
    "<userInfo>"
    "<accessibilityMode>false</accessibilityMode>"
    "<chatterExternal>false</chatterExternal>"
    "<currencySymbol>$</currencySymbol>"
    "<orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit>"
    "<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>"
    "<orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale>"
    "<orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>"
    "<orgHasPersonAccounts>false</orgHasPersonAccounts>"
    "<organizationId>{org_id}</organizationId>"
    "<organizationMultiCurrency>false</organizationMultiCurrency>"
    "<organizationName>{org_name}</organizationName>"
    "<profileId>{profile_id}</profileId>"
    '<roleId xsi:nil="true"/>'
    "<sessionSecondsValid>{seconds}</sessionSecondsValid>"
    '<userDefaultCurrencyIsoCode xsi:nil="true"/>'
    "<userEmail>{email}</userEmail>"
    "<userFullName>{full_name}</userFullName>"
    "<userId>{user_id}</userId>"
    "<userLanguage>en_US</userLanguage>"
    "<userLocale>en_US</userLocale>"
    "<userName>{username}</userName>"
    "<userTimeZone>America/Los_Angeles</userTimeZone>"
    "<userType>Standard</userType>"
    "<userUiSkin>Theme3</userUiSkin>"
    "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
)
