"""A PostgreSQL state database of one's own for a test: a fresh schema, dropped afterwards.

Used by the state store tests (``tests/state/conftest.py``) and by the reliability scenarios
that run the pipeline on a PostgreSQL state store. The server is ``STATE_TEST_PG_URL``
(default: the local one, trust auth, database ``test``, user ``postgres``); where none
answers, the test is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import psycopg
import pytest

PG_URL = os.environ.get("STATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _libpq_dsn(url: str) -> str:
    return url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://", 1)


@cache
def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used (None when it answers); asked once per session."""
    try:
        with psycopg.connect(_libpq_dsn(PG_URL), connect_timeout=3):
            return None
    except psycopg.Error as error:
        first_line = (str(error).strip().splitlines() or ["no detail"])[0]
        return f"no PostgreSQL server answers at {PG_URL} ({first_line})"


def pg_schema_url(prefix: str = "state_test") -> Iterator[str]:
    """Yield (once) a state URL on a new schema named ``<prefix>_<random>``, and drop the schema
    afterwards; skip the calling test when no server answers. Use as ``yield from`` in a fixture.
    """
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_dsn(PG_URL), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        # search_path puts every table, alembic_version included, into the test's schema.
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_libpq_dsn(PG_URL), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
