"""The state store's tables (SQLAlchemy Core), the single source the migrations are checked against.

Migrations under ``state/migrations/versions`` create these tables explicitly (a migration must not
change when this module does); ``tests/state`` asserts that the two agree via Alembic's
autogenerate comparison. Run ids are plain strings without foreign keys: they may come from
Prefect, and pruning run history must never cascade into the ledger or dead letters.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

from state.timeutil import UTCDateTime

# Deterministic constraint names, so later migrations can alter them by name on both dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

RUN_ID = 64  # a UUID or a Prefect flow-run id

watermarks = Table(
    "watermarks",
    metadata,
    # scope 'live' is the incremental sync's; backfills never write here (they use chunks).
    Column("scope", String(32), primary_key=True),
    Column("entity", String(64), primary_key=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("last_id", BigInteger, nullable=False),
    Column("run_id", String(RUN_ID)),
    Column("updated_at", UTCDateTime(), nullable=False),
)

ledger = Table(
    "ledger",
    metadata,
    Column("sobject", String(80), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("payload_hash", String(64), nullable=False),
    Column("salesforce_id", String(18)),
    Column("loaded_at", UTCDateTime(), nullable=False),
    Column("run_id", String(RUN_ID)),
    # When the source data of the values written was entered, per group of values chosen together
    # (JSON {moment column: ISO 8601 UTC}, see state.ledger; None or a group absent: not known, e.g.
    # rows written before revision 0002): an older group of values is not sent over them.
    Column("source_moments", Text),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("stage", String(16), primary_key=True),
    Column("entity", String(80), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("reason", String(80), nullable=False),
    Column("message", Text, nullable=False),
    Column("payload", Text),
    Column("attempts", Integer, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Column("run_id", String(RUN_ID)),
    Column("resolved_run_id", String(RUN_ID)),
    # "open ones (for an entity)" is the common question; resolved ones pile up over time.
    Index("ix_dead_letters_open", "resolved_at", "entity"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(RUN_ID), primary_key=True),
    Column("flow", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("counts", Text),
    Column("api_calls", Text),
    Column("watermark_before", Text),
    Column("watermark_after", Text),
    Column("error", Text),
    Index("ix_runs_started_at", "started_at"),
)

backfills = Table(
    "backfills",
    metadata,
    Column("backfill_id", String(100), primary_key=True),
    Column("range_start", UTCDateTime(), nullable=False),
    Column("range_end", UTCDateTime(), nullable=False),
    Column("chunk_microseconds", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

backfill_chunks = Table(
    "backfill_chunks",
    metadata,
    Column(
        "backfill_id",
        String(100),
        ForeignKey("backfills.backfill_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chunk_start", UTCDateTime(), primary_key=True),
    Column("chunk_end", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("counts", Text),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("updated_at", UTCDateTime(), nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(255), nullable=False),
    # A random token per acquisition: renew/release must come from the acquirer, not just the same holder name.
    Column("token", String(64), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
