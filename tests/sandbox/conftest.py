"""Fixtures for the sandbox's own tests."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from sandbox.server import SandboxServer
from tests.sandbox.helpers import soap_login


@pytest.fixture
def close_connections(ca_session: requests.Session) -> Iterator[None]:
    """Close the client's keep-alive connections after a test: a stopping uvicorn waits for open ones.

    Responses kept alive by the tracebacks of expected exceptions hold theirs: collect them first.
    """
    yield
    gc.collect()
    ca_session.close()


@pytest.fixture
def sf(sandbox: SandboxServer, ca_session: requests.Session) -> Salesforce:
    """simple-salesforce logged in to the session's sandbox org."""
    return soap_login(sandbox, ca_session)
