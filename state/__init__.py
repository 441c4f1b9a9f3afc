"""Durable state of the sync: watermarks, load ledger, dead letters, runs, backfill chunks, leases.

Open with :meth:`StateStore.open` (SQLite file by default, PostgreSQL by URL); the schema is
migrated with Alembic on open. See ``state/store.py`` and the module of each concern.
"""

from state.chunks import BackfillMismatch
from state.db import DEFAULT_URL
from state.jsonutil import payload_hash
from state.lease import LeaseHeld, LeaseLost, default_holder
from state.records import Chunk, DeadLetter, FailedRecord, Lease, LedgerEntry, Run, Watermark
from state.store import StateStore
from state.timeutil import Clock, utc_now
from state.watermarks import LIVE

__all__ = [
    "DEFAULT_URL",
    "LIVE",
    "BackfillMismatch",
    "Chunk",
    "Clock",
    "DeadLetter",
    "FailedRecord",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "LedgerEntry",
    "Run",
    "StateStore",
    "Watermark",
    "default_holder",
    "payload_hash",
    "utc_now",
]
