"""Bad input loses nothing: rejected records are dead-lettered with a reason and retried until they load."""

from __future__ import annotations

import pytest

from connectors.settings import Settings
from flows.sync import sync
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB
from state import StateStore


def test_a_broken_order_is_dead_lettered_then_loads_once_fixed(
    seeded: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATS_BC_WINDOW_LAG_SECONDS", "0")
    store = StoreDB(seeded.config.store_db)
    broken = store.get_order(100)
    assert broken is not None
    billing = {**broken["billing_address"], "email": "not-an-email"}
    store.update_order(100, billing_address=billing)

    first = sync()
    assert first["rejected"] == {"invalid_email": 1}
    db = OrgDB(seeded.config.org_db)
    assert db.query("SELECT Id FROM Order WHERE BigCommerce_Order_Id__c = '100'") == []
    with StateStore.open(Settings().state_url) as state:
        (letter,) = state.open_dead_letters("orders")
        assert (letter.external_id, letter.reason, letter.stage) == ("100", "invalid_email", "transform")
        assert "not-an-email" in letter.payload

    # Fixed in the store without its date_modified moving: only the retry of dead letters finds it.
    fixed = store.get_order(100)
    store.update_order(100, billing_address={**billing, "email": "fixed@example.com"},
                       date_modified=fixed["date_modified"])  # fmt: skip
    second = sync()
    assert second["rejected"] == {}
    assert len(db.query("SELECT Id FROM Order WHERE BigCommerce_Order_Id__c = '100'")) == 1
    with StateStore.open(Settings().state_url) as state:
        assert state.open_dead_letters("orders") == []
