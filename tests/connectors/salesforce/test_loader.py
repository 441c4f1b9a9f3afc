"""The loader against the sandbox org: synced buyer values only move forward in source time.

An Account's and a Contact's values carry, per group of values chosen together (the phone, the
address, the freshest row's names...), the moment the buyer typed them (``phone_at``,
``address_at``, ``seen_at``..., see :mod:`transforms.people`); a group older than what the ledger
says the record holds is not sent, whatever batch or run it comes in, the groups that are fresher
are, and the ledger keeps the moment of each group written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from simple_salesforce.format import format_soql

from connectors.loader import SOURCE_AT, Loader, LoadReport, _jsonable, _records, _row_hashes
from connectors.salesforce import SalesforceClient
from state import FailedRecord, StateStore, payload_hash
from state.timeutil import iso
from tests.connectors.salesforce.conftest import OrgAdmin
from tests.transforms.factories import at, existing, order, run
from transforms.mapping import MAPPING
from transforms.matching import ExistingRecords
from transforms.pipeline import TransformResult

MakeClient = Callable[..., SalesforceClient]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite") as store:
        yield store


def _known(*account_keys: str) -> ExistingRecords:
    """What the flow reads from the org once these Accounts exist: with it, the transform gives an
    existing guests-only Account no default group (:func:`transforms.accounts.default_guest_group`),
    a value without a moment that would otherwise be sent."""
    return existing(accounts=[{"Id": f"001{i:015d}", "Name": key, "BigCommerce_Account_Key__c": key}
                              for i, key in enumerate(account_keys)])  # fmt: skip


def _batch(tag: str, order_id: int, hours: float, street: str, exists: bool = True, **fields: Any) -> TransformResult:
    """One order of the test's company and buyer, created ``hours`` after T0, billed to ``street``;
    ``exists``: the Account is in Salesforce already."""
    billing = {"company": f"Forward {tag}", "email": f"buyer-{tag}@example.com", "street_1": street}
    known = _known(f"co:forward {tag}") if exists else None
    return run(orders=[order(order_id, hours=hours, billing=billing, **fields)], known=known)


def _load(loader: Loader, result: TransformResult) -> tuple[LoadReport, LoadReport]:
    return loader.load(result.accounts, MAPPING.account), loader.load(result.contacts, MAPPING.contact)


def _street(client: SalesforceClient, tag: str) -> str:
    account = client.query(format_soql("SELECT BillingStreet FROM Account WHERE BigCommerce_Account_Key__c = {}",
                                       f"co:forward {tag}"))  # fmt: skip
    return str(account["BillingStreet"].iloc[0])


def _streets(client: SalesforceClient, tag: str) -> tuple[str, str]:
    contact = client.query(format_soql("SELECT MailingStreet FROM Contact WHERE BigCommerce_Contact_Key__c = {}",
                                       f"buyer-{tag}@example.com"))  # fmt: skip
    return _street(client, tag), str(contact["MailingStreet"].iloc[0])


def _counts(report: LoadReport) -> tuple[int, int, int]:
    return report.created, report.updated, report.unchanged


def _both(at_: datetime) -> dict[str, datetime]:
    """The moments of an Account written from one order (it has no customer group)."""
    return {"phone_at": at_, "address_at": at_}


def _record(client: SalesforceClient, sobject: str, key: str, *fields: str) -> tuple[str, ...]:
    ext = MAPPING.account.external_id if sobject == "Account" else MAPPING.contact.external_id
    found = client.query(format_soql(f"SELECT {', '.join(fields)} FROM {sobject} WHERE {ext} = {{}}", key))
    assert len(found) == 1, found
    return tuple(str(found[f].iloc[0]) for f in fields)


def test_an_older_row_after_a_newer_one_changes_nothing(make_client: MakeClient, state: StateStore, tag: str) -> None:
    client = make_client()
    first = _batch(tag, 2, hours=3, street="New St", exists=False)
    assert [_counts(r) for r in _load(Loader(client, state, "r1"), first)] == [(1, 0, 0), (1, 0, 0)]
    key = f"co:forward {tag}"
    assert state.source_moments("Account", [key]) == {key: _both(at(3))}

    # An older order, alone in a later batch or run (its payment captured today: date_modified moves).
    late = _batch(tag, 1, hours=1, street="Old St", date_modified=at(50))
    assert [_counts(r) for r in _load(Loader(client, state, "r2"), late)] == [(0, 0, 1), (0, 0, 1)]
    assert _streets(client, tag) == ("New St", "New St")
    assert state.ledger_lookup("Account", [key])[key].run_id == "r1"

    newer = _batch(tag, 3, hours=5, street="Newest St")
    assert [_counts(r) for r in _load(Loader(client, state, "r3"), newer)] == [(0, 1, 0), (0, 1, 0)]
    assert _streets(client, tag) == ("Newest St", "Newest St")
    assert state.source_moments("Account", [key]) == {key: _both(at(5))}


def test_an_unchanged_row_moves_the_moment_forward(make_client: MakeClient, state: StateStore, tag: str) -> None:
    """The same values seen again later: nothing is sent, but an older row may not follow them in.
    (Both as the transform saw the first: its payload, the new Account's default group included.)"""
    client = make_client()
    _load(Loader(client, state, "r1"), _batch(tag, 1, hours=1, street="Same St", exists=False))
    again = _load(Loader(client, state, "r2"), _batch(tag, 3, hours=9, street="Same St", exists=False))
    assert [_counts(r) for r in again] == [(0, 0, 1), (0, 0, 1)]
    email = f"buyer-{tag}@example.com"
    assert state.source_moments("Contact", [email]) == {email: {"seen_at": at(9), **_both(at(9))}}
    between = _load(Loader(client, state, "r3"), _batch(tag, 2, hours=5, street="Between St"))
    assert [_counts(r) for r in between] == [(0, 0, 1), (0, 0, 1)]
    assert _streets(client, tag) == ("Same St", "Same St")


def test_a_dry_run_moves_no_moment(make_client: MakeClient, state: StateStore, tag: str) -> None:
    client = make_client()
    _load(Loader(client, state, "r1"), _batch(tag, 1, hours=1, street="Same St", exists=False))
    dry = _load(Loader(client, state, "r2", dry_run=True), _batch(tag, 3, hours=9, street="Same St", exists=False))
    assert [_counts(r) for r in dry] == [(0, 0, 1), (0, 0, 1)]
    key = f"co:forward {tag}"
    assert state.source_moments("Account", [key]) == {key: _both(at(1))}


def test_dead_lettered_payloads_keep_their_moment(
    make_client: MakeClient, state: StateStore, org: OrgAdmin, tag: str
) -> None:
    """A refused row's letter carries its moments (never sent): its retry records them; a letter
    older than what the record holds by then is resolved without being sent, and one older in
    some groups only sends the others."""
    client = make_client()
    key = f"co:forward {tag}"
    org.script({"kind": "lock_row", "path": "composite/sobjects/Account", "count": 10_000})
    first = _batch(tag, 2, hours=3, street="New St", exists=False)
    refused = Loader(client, state, "r1").load(first.accounts, MAPPING.account)
    assert refused.failed == 1
    (letter,) = [d for d in state.open_dead_letters("Account", stage="load") if d.external_id == key]
    assert json.loads(letter.payload or "{}")[SOURCE_AT] == {"phone_at": iso(at(3)), "address_at": iso(at(3))}
    org.fault_settings()

    retried = Loader(client, state, "r2").retry_payloads(MAPPING.account)
    assert (retried.created, retried.failed) == (1, 0)
    assert state.source_moments("Account", [key]) == {key: _both(at(3))}

    # A letter older than what the record now holds (kept from before, say) is superseded.
    moments = {"phone_at": iso(at(1)), "address_at": iso(at(1))}
    stale = {"BigCommerce_Account_Key__c": key, "BillingStreet": "Old St", SOURCE_AT: moments}
    state.dead_letter([FailedRecord("load", "Account", key, "UNABLE_TO_LOCK_ROW", "", stale)], "r2")
    again = Loader(client, state, "r3").retry_payloads(MAPPING.account)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert [d for d in state.open_dead_letters("Account", stage="load") if d.external_id == key] == []
    assert _street(client, tag) == "New St"

    # Older in its address only: the phone goes, the address stays.
    moments = {"phone_at": iso(at(4)), "address_at": iso(at(1))}
    partly = {"BigCommerce_Account_Key__c": key, "Phone": "238", "BillingStreet": "Old St", SOURCE_AT: moments}
    state.dead_letter([FailedRecord("load", "Account", key, "UNABLE_TO_LOCK_ROW", "", partly)], "r3")
    last = Loader(client, state, "r4").retry_payloads(MAPPING.account)
    assert (last.updated, last.unchanged) == (1, 0)
    assert _record(client, "Account", key, "Phone", "BillingStreet") == ("238", "New St")
    assert state.source_moments("Account", [key]) == {key: {"phone_at": at(4), "address_at": at(3)}}


def test_records_the_ledger_has_no_moment_for_are_sent_as_before(
    make_client: MakeClient, state: StateStore, tag: str
) -> None:
    """Ledger rows from before the moment was kept: the next load sends as ever and records it."""
    client = make_client()
    key = f"co:forward {tag}"
    result = _batch(tag, 2, hours=3, street="New St", exists=False)
    Loader(client, state, "r1").load(result.accounts, MAPPING.account)
    digest = state.ledger_lookup("Account", [key])[key].payload_hash
    with state.engine.begin() as connection:  # as revision 0001 left it
        connection.exec_driver_sql("UPDATE ledger SET source_moments = NULL")
    older = _batch(tag, 1, hours=1, street="Old St")
    report = Loader(client, state, "r2").load(older.accounts, MAPPING.account)
    assert (report.updated, report.unchanged) == (1, 0)
    assert state.source_moments("Account", [key]) == {key: _both(at(1))}
    assert state.ledger_lookup("Account", [key])[key].payload_hash != digest


def test_a_record_that_does_not_exist_yet_gets_every_value(
    make_client: MakeClient, state: StateStore, tag: str
) -> None:
    """Moments in the ledger for a record Salesforce does not hold (no id known, none found by
    key): the row creates it with every value, older or not."""
    client = make_client()
    key = f"co:forward {tag}"
    state.record_loaded("Account", [(key, "h", None)], "r0", {key: _both(at(50))})
    report = Loader(client, state, "r1").load(
        _batch(tag, 1, hours=1, street="Old St", exists=False).accounts, MAPPING.account
    )
    assert (report.created, report.unchanged) == (1, 0)
    assert _street(client, tag) == "Old St"
    assert state.source_moments("Account", [key]) == {key: _both(at(50))}  # never moved back


def test_campos_an_older_batch_with_a_phone_updates_the_phone_only(
    make_client: MakeClient, state: StateStore, tag: str
) -> None:
    """Campos Group: batch 1 holds order 310 (Nov 21, no phone) and 181 (Oct 31, phone 556);
    batch 2 only 372 (Nov 16, phone 238). Batch 2 is older than the address and names Salesforce
    holds, not than its phone: the phone is written, nothing else, as one batch of all three would."""
    client = make_client()
    buyer = {"company": f"Campos {tag}", "email": f"campos-{tag}@example.com"}
    nov21 = order(310, hours=21 * 24, billing={**buyer, "first_name": "Ana", "phone": "", "street_1": "21 Nov St"})
    oct31 = order(181, hours=0, billing={**buyer, "first_name": "Anita", "phone": "556", "street_1": "31 Oct St"})
    nov16 = order(372, hours=16 * 24, billing={**buyer, "first_name": "Annie", "phone": "238", "street_1": "16 Nov St"})
    account, contact = f"co:campos {tag}", buyer["email"]
    _load(Loader(client, state, "r1"), run(orders=[nov21, oct31]))
    assert _record(client, "Account", account, "Phone", "BillingStreet") == ("556", "21 Nov St")

    second = _load(Loader(client, state, "r2"), run(orders=[nov16], known=_known(account)))
    assert [_counts(r) for r in second] == [(0, 1, 0), (0, 1, 0)]
    assert _record(client, "Account", account, "Phone", "BillingStreet") == ("238", "21 Nov St")
    assert _record(client, "Contact", contact, "Phone", "MailingStreet", "FirstName") == ("238", "21 Nov St", "Ana")
    assert state.source_moments("Account", [account]) == {account: {"phone_at": at(384), "address_at": at(504)}}
    assert state.source_moments("Contact", [contact]) == {
        contact: {"seen_at": at(504), "phone_at": at(384), "address_at": at(504)}
    }

    # What one batch of all three writes: the same values.
    once = run(orders=[nov21, oct31, nov16])
    expected = once.accounts.iloc[0][["phone", "street"]].tolist(), once.contacts.iloc[0][["phone", "first_name"]]
    assert expected[0] == ["238", "21 Nov St"] and expected[1].tolist() == ["238", "Ana"]
    # The same batch again: what it would send (the phone) is what the ledger says was sent.
    again = _load(Loader(client, state, "r3"), run(orders=[nov16], known=_known(account)))
    assert [_counts(r) for r in again] == [(0, 0, 1), (0, 0, 1)]


def test_planned_creations_are_kept_for_the_objects_tracked_only(
    make_client: MakeClient, state: StateStore, tag: str
) -> None:
    # A backfill's window spools every order's key: only the Accounts' are asked for (the
    # transform's "made"), so only theirs are kept.
    loader = Loader(make_client(), state, "r1")
    loader.defer_writes()
    loader.track_planned_new(MAPPING.account.sobject)
    result = _batch(tag, 1, hours=1, street="1 Main St", exists=False)
    _load(loader, result)
    loader.load(result.orders, MAPPING.order)
    planned = loader.planned_new("Account")
    assert f"co:forward {tag}" in planned and len(planned) == 1
    assert not loader.planned_new("Contact") and not loader.planned_new("Order")
    assert loader.spool is not None and [loader.spool.rows(s) for s in ("Account", "Contact", "Order")] == [1, 1, 1]
    loader.flush(MAPPING.account)
    assert not loader.planned_new("Account")  # written: no longer planned


class _Ledger:
    """The state store's side of :meth:`Loader._changed`: what the ledger recorded (no hash matches)."""

    def __init__(self, recorded: dict[str, dict[str, datetime]]) -> None:
        self.recorded = recorded

    def source_moments(self, sobject: str, moments: Any) -> dict[str, dict[str, datetime]]:
        return {k: v for k, v in self.recorded.items() if k in moments}

    def unchanged(self, sobject: str, hashes: Any) -> set[str]:
        return set()

    def advance_source_moments(self, sobject: str, moments: Any) -> None:
        raise AssertionError("nothing is unchanged here")


def test_a_window_write_reuses_the_batch_hash_unless_it_blanks_a_stale_group() -> None:
    # The window's write takes each spooled row's hash as its batch computed it, except where the
    # ledger has meanwhile moved past a group of the row (its values are blanked: a new hash).
    key = MAPPING.account.external_id
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    payloads = pd.DataFrame({key: ["co:a", "co:b"], "Phone": ["555-1", "555-2"], "BillingStreet": ["1 A St", "2 B St"]})
    moments = {k: {"phone_at": early, "address_at": early} for k in ("co:a", "co:b")}
    loader = Loader(None, _Ledger({"co:b": {"address_at": late}}), "r1", index=object())  # type: ignore[arg-type]
    fresh = loader._hashes(payloads, MAPPING.account)
    known = {"co:a": "hash of co:a as its batch saw it", "co:b": "hash of co:b as its batch saw it"}
    send, hashes = loader._changed(payloads, MAPPING.account, moments, {"co:a", "co:b"}, known)
    assert hashes["co:a"] == known["co:a"]  # taken as it is
    blanked = payloads.assign(BillingStreet=[payloads.at[0, "BillingStreet"], None])
    assert hashes["co:b"] == loader._hashes(blanked, MAPPING.account)["co:b"] != fresh["co:b"]
    assert pd.isna(send.set_index(key).at["co:b", "BillingStreet"])


def test_row_hashes_are_the_payload_hashes_of_the_rows_as_dicts() -> None:
    """The column-wise hashes equal ``payload_hash`` of each row's non-null cells (what the ledger
    of every earlier run holds), whatever the dtypes: a digest that moved would resend everything."""
    frame = pd.DataFrame(
        {
            "Key__c": ["a", "b", "c", "d"],
            "Name": ['Zoë "Q" \\ ,:{}', None, "line\nbreak\u2028", "x"],
            "Amount__c": [Decimal("1.10"), Decimal("-0"), None, Decimal("1E+2")],
            "Count__c": pd.array([1, None, -3, 2**40], dtype="Int64"),
            "Plain__c": [1.5, float("nan"), float("inf"), -0.0],
            "Flag__c": pd.array([True, False, None, True], dtype="boolean"),
            "Raw__c": [True, 7, 2.25, "7"],
            "When__c": pd.to_datetime(
                ["2026-01-02T03:04:05Z", None, "2026-12-02T00:00:00Z", "2026-06-01T00:00:00.5Z"], format="ISO8601"
            ),
            "Day__c": [date(2026, 1, 2), None, date(2026, 3, 4), date(2026, 5, 6)],
            "Text__c": pd.array(["s", None, "ü", ""], dtype="string"),
            "Big__c": np.array([np.int64(5), np.int64(-1), np.int64(0), np.int64(9)]),
        }
    )
    expected = [payload_hash({k: _jsonable(v) for k, v in row.items()}) for row in _records(frame)]
    assert _row_hashes(frame) == expected
    assert _row_hashes(frame[::-1].reset_index(drop=True)) == expected[::-1]
