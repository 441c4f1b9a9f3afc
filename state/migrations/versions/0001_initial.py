"""Initial state store: watermarks, ledger, dead letters, runs, backfill chunks and leases.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    # Timestamps are always UTC: timestamptz on PostgreSQL, fixed-width UTC text on SQLite.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table of the first version."""
    op.create_table(
        "watermarks",
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        _ts("ts"),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(64)),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("scope", "entity", name="pk_watermarks"),
    )
    op.create_table(
        "ledger",
        sa.Column("sobject", sa.String(80), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("salesforce_id", sa.String(18)),
        _ts("loaded_at"),
        sa.Column("run_id", sa.String(64)),
        sa.PrimaryKeyConstraint("sobject", "external_id", name="pk_ledger"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(80), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        _ts("resolved_at", nullable=True),
        sa.Column("run_id", sa.String(64)),
        sa.Column("resolved_run_id", sa.String(64)),
        sa.PrimaryKeyConstraint("stage", "entity", "external_id", name="pk_dead_letters"),
    )
    op.create_index("ix_dead_letters_open", "dead_letters", ["resolved_at", "entity"])
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        sa.Column("counts", sa.Text()),
        sa.Column("api_calls", sa.Text()),
        sa.Column("watermark_before", sa.Text()),
        sa.Column("watermark_after", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "backfills",
        sa.Column("backfill_id", sa.String(100), nullable=False),
        _ts("range_start"),
        _ts("range_end"),
        sa.Column("chunk_microseconds", sa.BigInteger(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("backfill_id", name="pk_backfills"),
    )
    op.create_table(
        "backfill_chunks",
        sa.Column("backfill_id", sa.String(100), nullable=False),
        _ts("chunk_start"),
        _ts("chunk_end"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("backfill_id", "chunk_start", name="pk_backfill_chunks"),
        sa.ForeignKeyConstraint(
            ["backfill_id"],
            ["backfills.backfill_id"],
            name="fk_backfill_chunks_backfill_id_backfills",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        _ts("acquired_at"),
        _ts("expires_at"),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    """Drop every table (children first)."""
    op.drop_table("leases")
    op.drop_table("backfill_chunks")
    op.drop_table("backfills")
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_table("runs")
    op.drop_index("ix_dead_letters_open", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_table("ledger")
    op.drop_table("watermarks")
