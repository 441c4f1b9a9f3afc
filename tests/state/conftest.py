"""Fixtures of the state store tests: a database URL per dialect, a controllable clock, a store.

Every test runs on a SQLite file of its own and on PostgreSQL in a schema of its own (created for
the test, dropped after it), so runs never see each other's rows. The PostgreSQL variant skips,
saying why, when no server answers at ``STATE_TEST_PG_URL`` (default: the local one).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import psycopg
import pytest

from state import StateStore

PG_URL = os.environ.get("STATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
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


def _libpq_dsn(url: str) -> str:
    return url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://", 1)


@cache
def _pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used (None when it answers); asked once per session."""
    try:
        with psycopg.connect(_libpq_dsn(PG_URL), connect_timeout=3):
            return None
    except psycopg.Error as error:
        first_line = (str(error).strip().splitlines() or ["no detail"])[0]
        return f"no PostgreSQL server answers at {PG_URL} ({first_line})"


def _pg_schema_url() -> Iterator[str]:
    reason = _pg_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"state_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_dsn(PG_URL), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        # search_path puts every table, alembic_version included, into the test's schema.
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_libpq_dsn(PG_URL), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def clock() -> FakeClock:
    """The store's clock, starting at :data:`START`."""
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[StateStore]:
    """A migrated store on ``db_url`` driven by ``clock``."""
    with StateStore.open(db_url, clock=clock) as opened:
        yield opened
