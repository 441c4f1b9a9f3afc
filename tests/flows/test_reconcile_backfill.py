"""The reconcile and backfill flows end to end on the sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.settings import Settings
from flows.backfill import backfill, backfill_id
from flows.reconcile import reconcile_orders
from flows.sync import sync
from sandbox.org.records import OrgDB
from sandbox.server import SandboxServer
from state import StateStore
from tests.flows.conftest import AS_OF

GARTH = "SELECT Id, Reconcile_Status__c, ASTEA_Key_Direct_Billing__c FROM Order WHERE BillToContact.LastName = 'Markey'"


def open_tasks(db: OrgDB, order_id: str) -> list[dict]:
    return db.query(f"SELECT Id, Status, OwnerId FROM Task WHERE WhatId = '{order_id}' AND IsClosed = false")


def test_seed_000_is_flagged_until_a_csr_types_the_set_code(seeded: SandboxServer, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the CSV report goes to ./reports
    sync()
    first = reconcile_orders(window_days=400)
    db = OrgDB(seeded.config.org_db)
    garth = db.query(GARTH)[0]
    assert "SET_CODE_MISSING" in garth["Reconcile_Status__c"]
    tasks = open_tasks(db, garth["Id"])
    assert len(tasks) == 1 and tasks[0]["OwnerId"].startswith("005")
    assert (tmp_path / first["report"]).exists()

    again = reconcile_orders(window_days=400)
    assert len(open_tasks(db, garth["Id"])) == 1, "a rerun must not open a second Task"
    assert again["written"] == {"status_updates": 0, "tasks_upserted": 0, "tasks_closed": 0}

    # The CSR creates the set code in ASTEA and types it into the order.
    db.update("Order", garth["Id"], {"ASTEA_Key_Direct_Billing__c": "109337-Markey"})
    reconcile_orders(window_days=400)
    garth = db.query(GARTH)[0]
    assert garth["Reconcile_Status__c"] == "OK"
    assert open_tasks(db, garth["Id"]) == []
    # ... and the next sync leaves the CSR's field alone.
    sync()
    assert db.query(GARTH)[0]["ASTEA_Key_Direct_Billing__c"] == "109337-Markey"


def test_backfill_leaves_the_live_watermark_and_resumes(seeded: SandboxServer) -> None:
    start, end = AS_OF - timedelta(days=61), AS_OF + timedelta(days=1)
    settings = Settings()
    result = backfill(start=start, end=end, chunk_hours=24 * 31)
    assert result["extracted"]["orders"] == 60
    assert OrgDB(seeded.config.org_db).count("Order") == 60
    with StateStore.open(settings.state_url) as state:
        assert state.get_watermark("orders") is None
        ident = backfill_id(start, end, timedelta(hours=24 * 31), "all")
        assert {c.status for c in state.chunks(ident)} == {"done"}
        # An interrupted backfill: mark one chunk unfinished; the rerun does only that one.
        chunk = state.chunks(ident)[0]
        state.mark_chunk(ident, chunk.start, "failed", error="killed")
    rerun = backfill(start=start, end=end, chunk_hours=24 * 31)
    assert rerun["chunks_run"] == 1
    assert OrgDB(seeded.config.org_db).count("Order") == 60


def test_backfill_rejects_an_empty_range(seeded: SandboxServer) -> None:
    with pytest.raises(ValueError, match="before it starts"):
        backfill(start=AS_OF, end=AS_OF - timedelta(days=1))
