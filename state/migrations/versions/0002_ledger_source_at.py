"""The ledger keeps the source moment of the values last written (``ledger.source_at``).

The loader skips a row whose values are older than those Salesforce already holds for the key, so
a later batch or run holding only older source rows (a window cut into batches, an old order whose
payment is captured today) cannot overwrite fresher values. Rows loaded before this revision have
no moment and are sent as before; their next load records one.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable ``ledger.source_at`` (UTC, like every timestamp of the store)."""
    op.add_column("ledger", sa.Column("source_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop ``ledger.source_at`` (batch mode: SQLite recreates the table)."""
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("source_at")
