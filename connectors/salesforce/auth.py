"""Logging in to the org, the way ``SalesforceSettings.auth`` says, with simple-salesforce's helpers.

* ``password``: username + password + security token over the SOAP partner ``login`` call
  (:func:`simple_salesforce.login.SalesforceLogin` with ``scratch_url=login_url``, which posts to
  ``{login_url}/services/Soap/u/{version}`` — for ``https://login.salesforce.com`` exactly the
  URL simple-salesforce builds itself);
* ``client_credentials``: the OAuth 2.0 client-credentials flow of a connected app, against the
  org's My Domain (``{login_url}/services/oauth2/token``, client id and secret as HTTP Basic);
* ``jwt``: the OAuth 2.0 JWT bearer flow, an RS256 assertion signed with the key at
  ``jwt_key_path`` (``iss`` consumer key, ``sub`` username, ``aud`` the login URL, 3 minutes),
  posted to ``{login_url}/services/oauth2/token``. Salesforce accepts only
  ``https://login.salesforce.com`` / ``https://test.salesforce.com`` (or an Experience Cloud
  site) as audience, so a My Domain login URL gets the matching one (:func:`jwt_audience`).

The sandbox is not a mode: ``ATS_TARGET=sandbox`` fills these same settings with the sandbox's
URL, CA and credentials. Every mode yields a :class:`Session` (access token + instance URL),
from which :func:`connect` builds the ``Salesforce`` client that all calls go through.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlparse

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.login import SalesforceLogin, token_login

from connectors.settings import SalesforceSettings

JWT_LIFETIME_SECONDS = 180


@dataclass(frozen=True)
class Session:
    """An access token and the instance it is valid on."""

    session_id: str
    instance_url: str  # https://host[:port]

    def __repr__(self) -> str:  # never print the token
        return f"Session(instance_url={self.instance_url!r})"


def login(settings: SalesforceSettings, http: requests.Session) -> Session:
    """Log in once with ``settings.auth``; simple-salesforce exceptions propagate (the caller
    classifies and redacts them)."""
    login_url = settings.login_url.rstrip("/")
    if settings.auth == "password":
        session_id, instance = SalesforceLogin(
            username=settings.username,
            password=settings.password.get_secret_value(),
            security_token=settings.security_token.get_secret_value(),
            sf_version=settings.api_version,
            session=http,
            scratch_url=login_url,
        )
    elif settings.auth == "client_credentials":
        pair = f"{settings.consumer_key}:{settings.consumer_secret.get_secret_value()}"
        session_id, instance = token_login(
            f"{login_url}/services/oauth2/token",
            {"grant_type": "client_credentials"},
            "login",  # only used by simple-salesforce to word an "approve the app" warning
            settings.consumer_key,
            {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
            None,
            http,
        )
    elif settings.auth == "jwt":
        session_id, instance = token_login(
            f"{login_url}/services/oauth2/token",
            {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": jwt_assertion(settings)},
            "login",
            settings.consumer_key,
            None,
            None,
            http,
        )
    else:  # pragma: no cover - the settings' Literal type rules this out
        raise ValueError(f"unknown Salesforce auth mode {settings.auth!r}")
    return Session(str(session_id), f"https://{instance}")


def jwt_assertion(settings: SalesforceSettings, now: float | None = None) -> str:
    """The signed JWT bearer assertion for ``settings`` (valid for three minutes)."""
    if settings.jwt_key_path is None:
        raise ValueError("auth=jwt needs ATS_SF_JWT_KEY_PATH (the connected app's private key)")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": settings.consumer_key,
        "sub": settings.username,
        "aud": jwt_audience(settings.login_url),
        "exp": issued + JWT_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, settings.jwt_key_path.read_bytes(), algorithm="RS256")


def jwt_audience(login_url: str) -> str:
    """The ``aud`` claim for ``login_url``: the login URL itself, except that a My Domain
    (``acme.my.salesforce.com``, ``acme--uat.sandbox.my.salesforce.com``) stands for
    ``https://login.salesforce.com`` or ``https://test.salesforce.com``."""
    host = (urlparse(login_url).hostname or "").lower()
    if host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith(".my.salesforce.com"):
        return "https://login.salesforce.com"
    return login_url.rstrip("/")


def connect(session: Session, settings: SalesforceSettings, http: requests.Session) -> Salesforce:
    """A simple-salesforce client on ``session``.

    Numbers in JSON answers are parsed as ``Decimal`` (currency read back exactly) and objects
    as plain dicts. The client is built from a session id, so simple-salesforce does not log in
    again by itself: :class:`~connectors.salesforce.client.SalesforceClient` does, for every API
    (REST, query and Bulk 2.0) alike.
    """
    return Salesforce(
        instance_url=session.instance_url,
        session_id=session.session_id,
        session=http,
        version=settings.api_version,
        parse_float=Decimal,
        object_pairs_hook=dict,  # type: ignore[arg-type]
    )
