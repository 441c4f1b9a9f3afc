"""Alembic environment of the state store.

Normally run by :func:`state.db.upgrade`, which passes an open connection inside a transaction in
``config.attributes["connection"]``. For authoring migrations from a shell, the Alembic CLI works
too: ``alembic -c state/migrations/alembic.ini revision --autogenerate -m "..."`` with the
database URL from ``-x url=...`` or the ``sqlalchemy.url`` option.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from state.db import DEFAULT_URL, MIGRATION_LOCK_KEY, MIGRATION_LOCK_TIMEOUT, make_engine
from state.models import metadata

config = context.config


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates tables for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes opening a fresh database at once must not both create the tables;
            # the lock is released when the surrounding transaction ends.
            connection.execute(text(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'"))
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def _url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url", DEFAULT_URL
    )


def run_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through the given connection, or through an engine built like the store's own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as own:
            if own.dialect.name == "sqlite":
                own.execution_options(sqlite_begin="IMMEDIATE")
            with own.begin():
                _configure_and_run(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
