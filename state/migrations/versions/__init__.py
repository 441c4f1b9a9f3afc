"""Alembic revision scripts of the state store, oldest first by revision chain."""
