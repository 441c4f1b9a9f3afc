"""Fixtures of the state store tests: a database URL per dialect, a controllable clock, a store.

Every test runs on a SQLite file of its own and on PostgreSQL in a schema of its own (created for
the test, dropped after it; :mod:`tests.state.postgres`), so runs never see each other's rows. The
PostgreSQL variant skips, saying why, when no server answers at ``STATE_TEST_PG_URL`` (default: the
local one).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from state import StateStore
from tests.state.postgres import pg_schema_url

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand (the store asks it for "now")."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)`` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}"
    else:
        yield from pg_schema_url()


@pytest.fixture
def clock() -> FakeClock:
    """The store's clock, starting at :data:`START`."""
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[StateStore]:
    """A migrated store on ``db_url`` driven by ``clock``."""
    with StateStore.open(db_url, clock=clock) as opened:
        yield opened
