"""Contract tests: the exact requests the connector sends, pinned by cassettes.

Recorded against a fresh sandbox org (``pytest tests/connectors/salesforce/test_contract.py
--record-mode=once`` after deleting a cassette), replayed by default without any server: every
request must match the recorded one in method, path, query, body (secrets scrubbed by the shared
hooks of ``tests/connectors/conftest.py``) and in the headers that shape it (Content-Type,
Accept, Sforce-Query-Options, SOAPAction; Authorization present or not). Host and port are not
matched. Bulk polling is deterministic: the client polls after 0.5 s, and the sandbox finishes a
job of a few rows in one 0.1 s tick, so each cassette holds exactly one poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.salesforce import SalesforceClient
from connectors.settings import SalesforceSettings
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from tests.connectors.salesforce.conftest import FAST, sandbox_settings

pytestmark = pytest.mark.vcr(match_on=["method", "path", "query", "body", "salesforce_headers"])

REPLAY_URL = "https://127.0.0.1:9444"  # any URL: host and port are not matched
USERNAME = "integration@ats-store.sandbox"  # the sandbox's login user, sent in the clear in SOAP
ACCOUNT_KEY = "BigCommerce_Account_Key__c"
CONTACT_KEY = "BigCommerce_Contact_Key__c"


@dataclass
class Contract:
    """What a contract test needs: settings, a sleep, and when recording, the live sandbox."""

    settings: Callable[..., SalesforceSettings]
    sleep: Callable[[float], Any]
    server: SandboxServer | None


def _private_key(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


@pytest.fixture
def contract(record_mode: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Contract]:
    """A fresh sandbox when recording; placeholders (never sent unscrubbed) when replaying."""
    if record_mode == "none":
        key = _private_key(tmp_path / "jwt.pem")

        def replay_settings(**overrides: Any) -> SalesforceSettings:
            values: dict[str, Any] = {
                "login_url": REPLAY_URL, "username": USERNAME, "password": "replay-password",
                "security_token": "replay-token", "consumer_key": "replay-key", "consumer_secret": "replay-secret",
                "jwt_key_path": key, "ca_bundle": None, "bulk_poll_seconds": 0.5,
            }  # fmt: skip
            return SalesforceSettings(**{**values, **overrides})

        yield Contract(replay_settings, lambda _: None, None)
        return
    server: SandboxServer = request.getfixturevalue("fresh_sandbox")
    yield Contract(lambda **o: sandbox_settings(server, **{"bulk_poll_seconds": 0.5, **o}), time.sleep, server)


@pytest.fixture
def connect(contract: Contract) -> Iterator[Callable[..., SalesforceClient]]:
    clients: list[SalesforceClient] = []

    def make(query_batch_size: int | None = None, **overrides: Any) -> SalesforceClient:
        client = SalesforceClient(
            contract.settings(**overrides), retry=FAST, sleep=contract.sleep, query_batch_size=query_batch_size
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.mark.parametrize("mode", ["password", "client_credentials", "jwt"])
def test_login(connect: Callable[..., SalesforceClient], mode: str) -> None:
    client = connect(auth=mode)
    client.login()
    assert client.api_calls() == {"login": 1}


def test_collections_upsert_with_parent_references(connect: Callable[..., SalesforceClient]) -> None:
    client = connect()
    accounts = pd.DataFrame({ACCOUNT_KEY: ["acme", "globex"], "Name": ["Acme", "Globex"], "Phone": ["555-0100", None]})
    assert client.upsert("Account", ACCOUNT_KEY, accounts)["created"].all()
    contacts = pd.DataFrame({
        CONTACT_KEY: ["ann@acme.test", "bob@globex.test", "eve@nowhere.test"],
        "LastName": ["Ann", "Bob", "Eve"],
        "Email": ["ann@acme.test", "bob@globex.test", "eve@nowhere.test"],
        "Account.BigCommerce_Account_Key__c": ["acme", "globex", "no-such-account"],
    })  # fmt: skip
    result = client.upsert("Contact", CONTACT_KEY, contacts)
    assert result["success"].tolist() == [True, True, False]
    assert result["error_code"].iloc[2] == "INVALID_FIELD"
    assert result["salesforce_id"].iloc[0].startswith("003")
    assert client.api_calls() == {"login": 1, "limits": 1, "collections": 2}


def test_query_with_paging(connect: Callable[..., SalesforceClient], contract: Contract) -> None:
    if contract.server is not None:  # recording: seed the org directly (not part of the contract)
        db = OrgDB(contract.server.config.org_db)
        db.insert("Account", [{"Name": f"Paging {i:03d}"} for i in range(250)])
        db.close()
    client = connect(query_batch_size=200)
    frame = client.query("SELECT Id, Name, Owner.Name FROM Account WHERE Name LIKE 'Paging %' ORDER BY Name")
    assert len(frame) == 250 and list(frame.columns) == ["Id", "Name", "Owner.Name"]
    assert frame["Name"].iloc[-1] == "Paging 249"
    assert client.api_calls() == {"login": 1, "query": 1, "query_more": 1}


def test_bulk_upsert(connect: Callable[..., SalesforceClient]) -> None:
    client = connect(bulk_threshold=2)
    accounts = pd.DataFrame({ACCOUNT_KEY: [f"bulk-{i}" for i in range(5)],
                             "Name": ["Bulk 0", "Bulk 1", None, "Bulk 3", "Bulk 4"]})  # fmt: skip
    result = client.upsert("Account", ACCOUNT_KEY, accounts)
    assert result["external_id"].tolist() == accounts[ACCOUNT_KEY].tolist()
    assert result["success"].tolist() == [True, True, False, True, True]
    assert result["error_code"].iloc[2] == "REQUIRED_FIELD_MISSING"
    assert client.api_calls() == {
        "login": 1, "limits": 1, "bulk_create": 1, "bulk_upload": 1, "bulk_close": 1, "bulk_poll": 1,
        "bulk_results": 2,
    }  # fmt: skip
