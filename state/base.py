"""What every part of :class:`state.store.StateStore` shares: the engine, the clock, transactions.

The store is split by concern into mixins (watermarks, ledger, dead letters, runs, chunks, lease)
that all build on :class:`StoreBase`, so each module stays small while callers see one object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from state.timeutil import Clock, as_utc, utc_now


class StoreBase:
    """Engine, clock and transaction helpers of the state store."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or utc_now
        # BEGIN IMMEDIATE on SQLite: writers queue on the busy timeout instead of failing later.
        # preserve_rowcount: SQLAlchemy only keeps cursor.rowcount for UPDATE/DELETE by default,
        # and the conditional upserts (leases, watermarks, backfill plans) are judged by it.
        options: dict[str, Any] = {"preserve_rowcount": True}
        if engine.dialect.name == "sqlite":
            options["sqlite_begin"] = "IMMEDIATE"
        self._write_engine = engine.execution_options(**options)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def now(self) -> datetime:
        """The store clock's current time, as aware UTC."""
        return as_utc(self.clock(), "clock()")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for reads; one consistent snapshot, rolled back at the end."""
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without an exception."""
        with self._write_engine.begin() as connection:
            yield connection

    def _db_value(self, column: ColumnElement[Any], value: Any) -> Any:
        """``value`` as the driver receives it for ``column`` (the column type's bind processing, once)."""
        dialect = self.engine.dialect
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        return value if processor is None else processor(value)

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT with ``on_conflict_do_update`` / ``on_conflict_do_nothing``."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
