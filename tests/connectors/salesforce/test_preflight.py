"""Preflight: the sandbox org is ready for the mapping; a mis-configured org gets every problem at once.

The mis-configured org is a real sandbox server whose org runs on a modified schema
(``SandboxServer`` has no schema option, so the org's ``OrgDB`` is given one through
monkeypatch), with the queue's Order support removed. Missing objects and queues are also
checked against describe results built by the sandbox's own describe code (no server).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors.salesforce import PreflightFailed, SalesforceClient, check_mapping
from sandbox.config import SandboxConfig
from sandbox.org.describe import describe_object
from sandbox.org.records import OrgDB
from sandbox.org.schema import OrgSchema, load_schema, without_field
from sandbox.server import SandboxServer
from tests.connectors.salesforce.conftest import OrgAdmin
from transforms.mapping import MAPPING


def broken_schema() -> OrgSchema:
    """The project's schema with five mistakes an admin could make."""
    schema = without_field(load_schema(), "Order", "Stage__c")  # copies every object's field dict
    contact, account, task = (schema.objects[n] for n in ("contact", "account", "task"))
    contact.add(replace(contact.fields["bigcommerce_contact_key__c"], unique=False))
    account.add(replace(account.fields["repair_account_terms__c"], picklist=("Pay by PO",)))
    account.add(replace(account.fields["phone"], length=20))
    task.add(replace(task.fields["subject"], updateable=False))
    return schema


@pytest.fixture
def misconfigured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox whose org has :func:`broken_schema` and a queue that does not take Orders."""
    schema = broken_schema()
    monkeypatch.setattr("sandbox.org.app.OrgDB", functools.partial(OrgDB, schema=schema))
    server = SandboxServer(SandboxConfig(home=tmp_path / "org", store_port=0, org_port=0)).start_in_thread()
    db = OrgDB(server.config.org_db, schema)
    db.delete("QueueSobject", [r["Id"] for r in db.query("SELECT Id FROM QueueSobject WHERE SobjectType = 'Order'")])
    db.close()
    yield server
    server.stop()


def test_the_sandbox_org_is_ready_for_the_mapping(make_client: Callable[..., SalesforceClient], org: OrgAdmin) -> None:
    client = make_client()
    assert client.preflight(MAPPING) == []
    client.ensure_ready(MAPPING)  # no raise; describes are cached
    calls = client.api_calls()
    assert calls == {"login": 1, "describe": 4, "query": 4}  # two queries (the queue) per preflight
    assert not any(key.split()[0] in ("POST", "PATCH", "PUT", "DELETE") for key in org.counters() if "Soap" not in key)


def test_a_misconfigured_org_gets_every_problem_at_once(
    misconfigured: SandboxServer, make_client: Callable[..., SalesforceClient]
) -> None:
    client = make_client(misconfigured)
    problems = client.preflight(MAPPING)
    assert {(p.sobject, p.field, p.issue) for p in problems} == {
        ("Order", "Stage__c", "missing_field"),
        ("Contact", "BigCommerce_Contact_Key__c", "not_unique"),
        ("Account", "Repair_Account_Terms__c", "picklist_value"),
        ("Account", "Phone", "too_short"),
        ("Task", "Subject", "not_updateable"),
        ("QueueSobject", None, "queue_not_for_object"),
    }
    text = {str(p) for p in problems}
    assert "Order.Stage__c: field does not exist or is not readable (CREATE_ONLY)" in text
    assert "Task.Subject: not updateable (ALWAYS needs updateable)" in text
    assert (
        "Account.Repair_Account_Terms__c: default 'Pre-Pay' is not an active picklist value (has ['Pay by PO'])" in text
    )
    with pytest.raises(PreflightFailed) as raised:
        client.ensure_ready(MAPPING)
    assert len(raised.value.problems) == 6 and "6 problem(s)" in str(raised.value)
    assert set(client.api_calls()) == {"login", "describe", "query"}  # nothing written


def _fake_org(schema: OrgSchema, queues: list[str]) -> tuple[Callable[[str], Any], Callable[[str], pd.DataFrame]]:
    """describe/query callables answering like the sandbox org would for ``schema``."""

    def describe(name: str) -> dict[str, Any] | None:
        obj = schema.object(name)
        return None if obj is None else describe_object(schema, obj, "59.0")

    def query(soql: str) -> pd.DataFrame:
        if "FROM Group" in soql:
            return pd.DataFrame({"Id": ["00G000000000001AAA"] * any(f"'{q}'" in soql for q in queues)})
        return pd.DataFrame({"Id": ["03g000000000001AAA"]})

    return describe, query


def test_missing_objects_and_queues_are_reported_from_describe_results() -> None:
    full = load_schema()
    schema = OrgSchema({k: v for k, v in full.objects.items() if k != "task"})
    describe, query = _fake_org(schema, queues=[])
    problems = check_mapping(MAPPING, describe, query)
    assert [(p.sobject, p.issue) for p in problems] == [("Task", "missing_object"), ("Group", "missing_queue")]
    assert str(problems[1]) == "Group: no queue with DeveloperName 'eCommerce_Orders'"
    describe, query = _fake_org(full, queues=["eCommerce_Orders"])
    assert check_mapping(MAPPING, describe, query) == []


def test_an_unwritable_relationship_and_a_non_external_parent_key_are_reported() -> None:
    schema = without_field(load_schema(), "Order", "BillToContactId")
    account = schema.objects["account"]
    account.add(replace(account.fields["bigcommerce_account_key__c"], external_id=False))
    contact = schema.objects["contact"]
    contact.add(replace(contact.fields["accountid"], createable=False))
    describe, query = _fake_org(schema, queues=["eCommerce_Orders"])
    found = {(p.sobject, p.field, p.issue) for p in check_mapping(MAPPING, describe, query)}
    assert found == {
        ("Order", "BillToContact.BigCommerce_Contact_Key__c", "missing_relationship"),
        ("Account", "BigCommerce_Account_Key__c", "not_external_id"),
        ("Contact", "AccountId", "not_createable"),
    }
