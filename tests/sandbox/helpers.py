"""Test helpers for the sandbox org: log in the way simple-salesforce does."""

from __future__ import annotations

import requests
from simple_salesforce import Salesforce
from simple_salesforce.login import SalesforceLogin

from sandbox.server import SandboxServer


def soap_login(server: SandboxServer, session: requests.Session, password: str | None = None) -> Salesforce:
    """A simple-salesforce client logged in with username, password and security token over SOAP."""
    creds = server.credentials
    session_id, instance = SalesforceLogin(
        username=creds.sf_username,
        password=creds.sf_password if password is None else password,
        security_token=creds.sf_security_token,
        session=session,
        scratch_url=server.org.base_url,
    )
    return Salesforce(instance_url=f"https://{instance}", session_id=session_id, session=session)
