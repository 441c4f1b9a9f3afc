"""Engines for the state store and the Alembic upgrade run when a store opens.

SQLite (the default, a local file) gets WAL so readers never block the writer, a busy timeout so
concurrent writers wait instead of failing, and SQLAlchemy-controlled transactions: sqlite3's
legacy mode would not emit BEGIN before DDL or SELECT, and a deferred BEGIN that later writes can
fail with "database is locked" without waiting. Write transactions therefore use
``BEGIN IMMEDIATE`` (requested with the ``sqlite_begin`` execution option), which takes the write
lock up front and lets the busy timeout do its job. PostgreSQL needs none of this.

Migrations live in the installed package (``state/migrations``), located from this module's own
path rather than the current directory, and run inside one transaction on the caller's
connection; concurrent openers are serialised (write lock on SQLite, advisory lock on PostgreSQL).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

DEFAULT_URL = "sqlite:///.state/state.sqlite"
"""A SQLite file under ``.state/`` in the working directory (the folder is created on open)."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Arbitrary constant naming the PostgreSQL advisory lock that serialises concurrent migrations.
MIGRATION_LOCK_KEY = 0x5374_5379_6E63  # "StSync"

# Waiting longer than this for another process's migration is an error, not a silent hang.
MIGRATION_LOCK_TIMEOUT = "120s"

SUPPORTED_DIALECTS = ("sqlite", "postgresql")

_MIGRATION_THREAD_LOCK = threading.Lock()


def make_engine(url: str | URL, *, busy_timeout_ms: int = 30_000, **kwargs: Any) -> Engine:
    """An engine for ``url`` configured for the state store (see the module docstring)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_DIALECTS:
        raise ValueError(f"state store supports SQLite and PostgreSQL URLs, not {backend!r} ({parsed!r})")
    if backend == "postgresql" and parsed.drivername == "postgresql":
        # Plain postgresql:// would pick psycopg2, which is not installed; psycopg 3 is.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        _create_sqlite_folder(parsed)
        # sqlite3's own timeout is its busy handler; PRAGMA below states it again explicitly.
        kwargs.setdefault("connect_args", {}).setdefault("timeout", busy_timeout_ms / 1000)
    engine = create_engine(parsed, **kwargs)
    if backend == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _create_sqlite_folder(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from sqlite3 (see the module docstring); pragmas run outside one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown sqlite_begin mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest migration revision shipped with this package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database at ``engine`` is on (None when never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run ``alembic upgrade`` to ``revision`` on ``engine`` in one transaction (idempotent)."""
    config = alembic_config()
    options = {"sqlite_begin": "IMMEDIATE"} if engine.dialect.name == "sqlite" else {}
    # alembic.context is process-global: two threads migrating at once would trample each other.
    with _MIGRATION_THREAD_LOCK, engine.connect() as connection:
        connection.execution_options(**options)
        with connection.begin():
            # env.py takes the connection from here instead of building an engine of its own.
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
