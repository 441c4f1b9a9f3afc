"""Opening a store migrates it: from empty to head, idempotently, from any working directory."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, inspect, select, table
from sqlalchemy.sql import TableClause

from state import DEFAULT_URL, StateStore
from state.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from state.models import ledger, metadata
from state.timeutil import UTCDateTime
from tests.state.conftest import START, FakeClock

TABLES = {"watermarks", "ledger", "dead_letters", "runs", "backfills", "backfill_chunks", "leases", "alembic_version"}


def test_open_migrates_an_empty_database_to_head(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        with StateStore.open(db_url) as store:
            assert current_revision(store.engine) == head_revision() is not None
            assert set(inspect(store.engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_reopening_is_a_no_op_and_keeps_the_data(db_url: str) -> None:
    with StateStore.open(db_url, clock=FakeClock()) as store:
        store.advance_watermark("orders", START, 7, "run-1")
    for _ in range(2):
        with StateStore.open(db_url) as store:
            assert current_revision(store.engine) == head_revision()
            watermark = store.get_watermark("orders")
            assert watermark is not None and watermark.last_id == 7


def test_models_and_migrations_agree(store: StateStore) -> None:
    """The tables the code uses are exactly what the migrations create."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    with StateStore.open(db_url) as store:
        config = alembic_config()
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    with StateStore.open(db_url) as store:
        assert current_revision(store.engine) == head_revision()


def test_concurrent_first_opens_in_threads_all_succeed(db_url: str) -> None:
    """Concurrent opens of a fresh database (processes: see test_lease) all end up at head."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def open_store() -> None:
        try:
            barrier.wait(timeout=10)
            StateStore.open(db_url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with StateStore.open(db_url) as store:
        assert current_revision(store.engine) == head_revision()


def test_migrations_are_found_from_the_package_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # The default URL is relative: the SQLite file and its folder appear under the working directory.
    with StateStore.open() as store:
        assert DEFAULT_URL == "sqlite:///.state/state.sqlite"
        assert (elsewhere / ".state" / "state.sqlite").is_file()
        assert current_revision(store.engine) == head_revision()


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "deep" / "state.sqlite", busy_timeout_ms=1234)
    with store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="SQLite and PostgreSQL"):
        StateStore.open("mysql://nobody@localhost/x")


def _ledger_at(revision: str) -> TableClause:
    """The ledger's columns at revision 0002 (those of 0001 and ``source_at``), for raw inserts."""
    names = ["sobject", "external_id", "payload_hash", "salesforce_id", "loaded_at"]
    columns = [column(name, ledger.c[name].type) for name in names]
    return table("ledger", *columns, *([column("source_at", UTCDateTime())] if revision == "0002" else []))


def test_0002_and_0003_keep_loaded_rows_and_their_moment(db_url: str) -> None:
    """Ledger rows from 0001 (no moment) and from 0002 (one ``source_at``, that of the freshest
    source row): upgraded, the first have no moments (sent as before, recorded at their next load)
    and the second's moment is the ``seen_at`` group's; downgraded, 0002 gets the latest moment of
    each row back, and 0001 loses the column, never the rows."""
    engine = make_engine(db_url)
    config = alembic_config()
    row = {"sobject": "Contact", "payload_hash": "h", "salesforce_id": "003X", "loaded_at": START}
    try:
        upgrade(engine, "0001")
        with engine.begin() as connection:
            connection.execute(_ledger_at("0001").insert().values(**row, external_id="old"))
        upgrade(engine, "0002")
        with engine.begin() as connection:
            connection.execute(_ledger_at("0002").insert().values(**row, external_id="new", source_at=START))
    finally:
        engine.dispose()
    later = START + timedelta(hours=5)
    with StateStore.open(db_url) as store:
        assert current_revision(store.engine) == head_revision() == "0003"
        assert store.source_moments("Contact", ["old", "new"]) == {"new": {"seen_at": START}}
        assert store.ledger_lookup("Contact", ["old"])["old"].salesforce_id == "003X"
        store.record_loaded("Contact", [("new", "h2", None)], "r2", {"new": {"phone_at": later}})
        assert store.source_moments("Contact", ["new"]) == {"new": {"seen_at": START, "phone_at": later}}
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        with store.engine.connect() as connection:
            at_0002 = _ledger_at("0002")
            found = connection.execute(select(at_0002.c.external_id, at_0002.c.source_at).order_by("external_id"))
            assert found.all() == [("new", later), ("old", None)]
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        assert "source_at" not in {c["name"] for c in inspect(store.engine).get_columns("ledger")}
        with store.engine.connect() as connection:
            keys = connection.execute(select(ledger.c.external_id, ledger.c.payload_hash).order_by("external_id"))
            assert keys.all() == [("new", "h2"), ("old", "h")]
