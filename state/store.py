"""The state store: one object over the sync's durable state, opened (and migrated) by URL.

``StateStore.open()`` with no URL uses a SQLite file under ``.state/``; pass a PostgreSQL URL
(``postgresql+psycopg://user@host/db``; add ``?options=-csearch_path%3Dschema`` for a schema) to
share state between machines. Opening runs the packaged Alembic migrations up to head, so a new
release's schema changes apply on first use and re-opening an up-to-date store changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from state.chunks import ChunksMixin
from state.db import DEFAULT_URL, make_engine, upgrade
from state.dead_letters import DeadLettersMixin
from state.lease import LeaseMixin
from state.ledger import LedgerMixin
from state.runs import RunsMixin
from state.timeutil import Clock
from state.watermarks import WatermarksMixin


class StateStore(WatermarksMixin, LedgerMixin, DeadLettersMixin, RunsMixin, ChunksMixin, LeaseMixin):
    """Watermarks, load ledger, dead letters, run history, backfill chunks and leases.

    Thread-safe (each call takes its own pooled connection and transaction). ``clock`` supplies
    "now" for every stored timestamp and lease expiry, so tests can move time.
    """

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        """Wrap an engine whose database is already migrated; prefer :meth:`open`."""
        super().__init__(engine, clock)

    @classmethod
    def open(
        cls,
        url: str | URL | Path | None = None,
        *,
        clock: Clock | None = None,
        busy_timeout_ms: int = 30_000,
        **engine_kwargs: Any,
    ) -> Self:
        """Connect to ``url`` (default :data:`state.db.DEFAULT_URL`; a Path means a SQLite file) and migrate to head."""
        if isinstance(url, Path):
            url = f"sqlite:///{url}"
        engine = make_engine(url or DEFAULT_URL, busy_timeout_ms=busy_timeout_ms, **engine_kwargs)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock)

    def close(self) -> None:
        """Close every pooled connection (the store is unusable afterwards)."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateStore({self.engine.url.render_as_string(hide_password=True)!r})"
