"""The run's reads by value (:class:`connectors.org_index.OrgIndex`) against the sandbox org.

It probes with ``IN`` lists when one list holds every value, reads the records with the field
set whole when that takes fewer calls, answers later lookups from that read after one query for
what others changed since, and matches values case-insensitively as Salesforce does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from simple_salesforce.format import format_soql

from connectors.org_index import FRESH_FOR, ROWS_PER_CALL, OrgIndex
from connectors.salesforce import SalesforceClient
from connectors.salesforce.query import in_queries
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from tests.connectors.salesforce.conftest import OrgAdmin

MakeClient = Callable[..., SalesforceClient]


class Clock:
    """A clock the test moves on."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta = FRESH_FOR) -> None:
        self.now += delta + timedelta(seconds=1)


KEY = "BigCommerce_Account_Key__c"
FIELDS = ["Id", "Name", KEY]


def _seed(client: SalesforceClient, tag: str, n: int) -> list[str]:
    keys = [f"{tag}-idx-{i:04d}" for i in range(n)]
    frame = pd.DataFrame({KEY: keys, "Name": [f"Index {i}" for i in range(n)]})
    assert client.upsert("Account", KEY, frame)["success"].all()
    return keys


def _user_id(client: SalesforceClient, sandbox: SandboxServer) -> str:
    found = client.query(format_soql("SELECT Id FROM User WHERE Username = {}", sandbox.credentials.sf_username))
    return str(found["Id"].iloc[0])


def _kept(client: SalesforceClient, tag: str, user_id: str) -> tuple[list[str], OrgIndex, Clock]:
    """Two seeded Accounts, and an index that has read every keyed Account once (many values)."""
    keys = _seed(client, tag, 2)
    padding = [f"{tag}-absent-{i:05d}-{'x' * 40}" for i in range(1500)]
    clock = Clock()
    index = OrgIndex(client, user_id, clock=clock)
    assert sorted(index.lookup("Account", FIELDS, KEY, keys + padding)[KEY]) == keys
    return keys, index, clock


def test_few_values_take_one_in_list_and_no_count(make_client: MakeClient, org: OrgAdmin, tag: str) -> None:
    client = make_client()
    keys = _seed(client, tag, 3)
    index = OrgIndex(client)
    before = client.api_calls().get("query", 0)
    found = index.lookup("Account", FIELDS, KEY, [keys[0].upper(), keys[2], "absent-key"])
    assert sorted(found[KEY]) == [keys[0], keys[2]]
    assert list(found.columns) == FIELDS
    assert client.api_calls().get("query", 0) - before == 1


def test_many_values_on_a_small_org_read_it_whole_once(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, sandbox: SandboxServer, tag: str
) -> None:
    client = make_client()
    keys = _seed(client, tag, 5)
    # More values than one URL's IN list holds: probing would take several queries.
    wanted = [k.upper() for k in keys] + [f"{tag}-absent-{i:05d}-{'x' * 40}" for i in range(1500)]
    clock = Clock()
    index = OrgIndex(client, _user_id(client, sandbox), clock=clock)
    org.reset_counters()
    found = index.lookup("Account", FIELDS, KEY, wanted)
    assert sorted(found[KEY]) == keys
    # The session org holds the other tests' Accounts too: one call per 2,000 keyed ones, no probing.
    keyed = len(orgdb.query(f"SELECT Id FROM Account WHERE {KEY} != null"))
    pages = max(1, math.ceil(keyed / ROWS_PER_CALL))
    probes = len(in_queries(f"SELECT Id FROM Account WHERE {KEY} IN {{values}}", wanted))
    assert org.count("GET", "/query") == pages < probes

    # A lookup soon after: answered from the read, no call.
    org.reset_counters()
    assert sorted(index.lookup("Account", FIELDS, KEY, keys[2:])[KEY]) == keys[2:]
    assert org.counters() == {}

    # Later lookups: one query for what others changed since; nothing else.
    clock.advance()
    org.reset_counters()
    again = index.lookup("Account", ["Id", KEY], KEY, keys[:2])
    assert sorted(again[KEY]) == keys[:2] and list(again.columns) == ["Id", KEY]
    assert org.count("GET", "/query") == 1


def test_a_kept_read_sees_records_others_create_later(
    make_client: MakeClient, org: OrgAdmin, sandbox: SandboxServer, tag: str
) -> None:
    client = make_client()
    # As if the integration user were someone else: the writes below then count as a CSR's.
    keys, index, clock = _kept(client, tag, "005000000000000AAA")
    later = _seed(client, f"{tag}-later", 1)
    renamed = pd.DataFrame({KEY: [keys[0]], "Name": ["Renamed by a CSR"]})
    assert client.upsert("Account", KEY, renamed)["success"].all()
    clock.advance()
    found = index.lookup("Account", FIELDS, KEY, [*keys, *later])
    assert sorted(found[KEY]) == sorted([*keys, *later])
    assert found.set_index(KEY).loc[keys[0], "Name"] == "Renamed by a CSR"
    assert len(found) == 3  # the renamed record replaced, not duplicated


def test_the_integration_users_own_writes_are_not_read_back(
    make_client: MakeClient, org: OrgAdmin, sandbox: SandboxServer, tag: str
) -> None:
    client = make_client()
    _, index, clock = _kept(client, tag, _user_id(client, sandbox))
    mine = _seed(client, f"{tag}-mine", 1)  # the ledger holds these; the index need not
    clock.advance()
    assert index.lookup("Account", FIELDS, KEY, mine).empty


class _BigOrg:
    """A fake org whose keyed Accounts fill many pages: the index must probe, not read it whole."""

    def __init__(self) -> None:
        self.sized: list[str] = []
        self.probed: list[list[str]] = []

    def query_sized(self, soql: str) -> tuple[int, Iterator[dict[str, Any]]]:
        self.sized.append(soql)
        return 50_000, iter([{"Id": "001x", KEY: "other"}] * 2000)

    def query_in(self, template: str, values: list[str]) -> pd.DataFrame:
        self.probed.append(list(values))
        return pd.DataFrame({"Id": ["001A"], "Name": ["A"], KEY: [values[0]]})


def test_a_big_org_is_probed_after_one_page_and_never_read_whole_again(tag: str) -> None:
    crm = _BigOrg()
    index = OrgIndex(crm)  # type: ignore[arg-type]
    values = [f"{tag}-{i:05d}-{'x' * 40}" for i in range(1500)]  # a few IN lists: 25 pages cost more
    assert index.lookup("Account", FIELDS, KEY, values)[KEY].tolist() == [values[0]]
    assert len(crm.sized) == 1 and crm.probed == [values]
    index.lookup("Account", FIELDS, KEY, values)
    assert len(crm.sized) == 1 and len(crm.probed) == 2


def test_no_values_no_call(make_client: MakeClient, org: OrgAdmin) -> None:
    client = make_client()
    org.reset_counters()
    found = OrgIndex(client).lookup("Account", FIELDS, KEY, [])
    assert found.empty and list(found.columns) == FIELDS
    assert org.counters() == {}


def test_the_keyless_read_is_kept_for_the_run_and_sees_what_others_change(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    client = make_client()
    name = f"{tag} Keyless Co"
    assert client.upsert("Account", KEY, pd.DataFrame({KEY: [f"{tag}-tmp"], "Name": [name]}))["success"].all()
    (made,) = orgdb.query(format_soql(f"SELECT Id FROM Account WHERE {KEY} = {{}}", f"{tag}-tmp"))
    orgdb.update("Account", made["Id"], {KEY: None})  # a CSR's Account: no key of ours
    clock = Clock()
    index = OrgIndex(client, "005000000000000AAA", clock=clock)  # anyone else's writes count as a CSR's
    keyless = orgdb.query(f"SELECT Id FROM Account WHERE {KEY} = null")
    pages = max(1, math.ceil(len(keyless) / ROWS_PER_CALL))
    org.reset_counters()
    first = index.keyless("Account", FIELDS, KEY, cheaper_than=pages + 5)
    assert first is not None and name in set(first["Name"]) and org.count("GET", "/query") == pages
    org.reset_counters()
    again = index.keyless("Account", ["Id", "Name"], KEY, cheaper_than=1)
    assert again is not None and list(again.columns) == ["Id", "Name"] and org.counters() == {}

    # Stamped with a key by someone else: after the refresh, no longer keyless.
    assert client.update("Account", pd.DataFrame({"Id": [made["Id"]], KEY: [f"{tag}-stamped"]}))["success"].all()
    clock.advance()
    org.reset_counters()
    later = index.keyless("Account", FIELDS, KEY, cheaper_than=1)
    assert later is not None and name not in set(later["Name"])
    # One statement for what changed (its pages follow as ``query/{locator}``: the session org's
    # other tests change many Accounts), no whole read again.
    assert org.count("GET", "/query") - org.count("GET", "/query/") == 1


def test_a_keyless_read_dearer_than_probing_is_not_asked_for_again(tag: str) -> None:
    crm = _BigOrg()
    index = OrgIndex(crm)  # type: ignore[arg-type]
    assert index.keyless("Account", FIELDS, KEY, cheaper_than=3) is None
    assert index.keyless("Account", FIELDS, KEY, cheaper_than=10) is None
    assert len(crm.sized) == 1  # 25 pages: the first told the total once


def test_the_kept_reads_of_one_object_are_refreshed_by_one_query(
    make_client: MakeClient, org: OrgAdmin, tag: str
) -> None:
    client = make_client()
    keys, index, clock = _kept(client, tag, "005000000000000AAA")
    assert index.keyless("Account", FIELDS, KEY, cheaper_than=100) is not None
    renamed = pd.DataFrame({KEY: [keys[0]], "Name": ["Renamed meanwhile"]})
    assert client.upsert("Account", KEY, renamed)["success"].all()
    clock.advance()
    org.reset_counters()
    found = index.lookup("Account", FIELDS, KEY, keys)
    assert found.set_index(KEY).loc[keys[0], "Name"] == "Renamed meanwhile"
    assert index.keyless("Account", FIELDS, KEY, cheaper_than=1) is not None
    assert org.count("GET", "/query") - org.count("GET", "/query/") == 1  # both reads, one statement


def test_with_the_keyed_and_keyless_records_kept_any_other_lookup_asks_nobody(
    make_client: MakeClient, org: OrgAdmin, orgdb: OrgDB, tag: str
) -> None:
    client = make_client()
    (keyless,) = orgdb.insert("Account", [{"Name": f"{tag} typed by a CSR"}])
    keys, index, _ = _kept(client, tag, "005000000000000AAA")
    assert index.keyless("Account", FIELDS, KEY, cheaper_than=100) is not None
    (keyed,) = orgdb.query(format_soql(f"SELECT Id FROM Account WHERE {KEY} = {{}}", keys[0]))
    org.reset_counters()
    found = index.lookup("Account", ["Id", "Name"], "Id", [keyless, keyed["Id"], "001000000000000AAA"])
    assert sorted(found["Id"]) == sorted([keyless, keyed["Id"]]) and list(found.columns) == ["Id", "Name"]
    assert org.counters() == {}
