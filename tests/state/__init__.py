"""Tests of the state store (``state/``), each on SQLite and on PostgreSQL when a server answers."""
