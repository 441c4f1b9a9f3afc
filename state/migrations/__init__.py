"""Alembic migrations of the state store (run by :func:`state.db.upgrade` when a store opens)."""
