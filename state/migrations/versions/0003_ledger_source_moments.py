"""The ledger keeps one source moment per group of values (``ledger.source_moments``, JSON).

An Account's or Contact's values come from several source rows (the freshest one, the freshest
with a phone, with a street...), so the single ``source_at`` of revision 0002 could not say which
of them a later batch or run holding older rows may overwrite. ``source_moments`` holds
``{moment column: ISO 8601 UTC}`` (see :mod:`state.ledger`).

``source_at`` was the moment of the freshest source row, which is exactly the moment of the
values taken from that row, so it becomes the ``seen_at`` group (see
:func:`transforms.people.moment_column`); the other groups are not known and are sent as before,
then recorded. A downgrade keeps the latest moment of each row as its ``source_at``.

Revision ID: 0003
Revises: 0002
Create Date: 2025-06-15 00:00:00
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The group of the values of the freshest source row, whose moment ``source_at`` was.
FRESHEST = "seen_at"

# The table as this revision sees it: a migration must not follow later changes of state.models.
_ledger = sa.table(
    "ledger",
    sa.column("sobject", sa.String),
    sa.column("external_id", sa.String),
    sa.column("source_at", sa.DateTime(timezone=True)),
    sa.column("source_moments", sa.Text),
)


def _utc(value: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite gives naive UTC back)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


def _copy(source: sa.ColumnElement[Any], target: str, convert: Callable[[Any], Any]) -> None:
    """Set ``target`` to ``convert(source)`` on every ledger row where ``source`` is not NULL."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_ledger.c.sobject, _ledger.c.external_id, source).where(source.is_not(None))
    ).all()
    if not rows:
        return
    statement = (
        sa.update(_ledger)
        .where(_ledger.c.sobject == sa.bindparam("b_sobject"), _ledger.c.external_id == sa.bindparam("b_key"))
        .values({target: sa.bindparam("b_value")})
    )
    params = [{"b_sobject": s, "b_key": k, "b_value": convert(v)} for s, k, v in rows]
    connection.execute(statement, params)


def upgrade() -> None:
    """Add ``ledger.source_moments``, carry ``source_at`` over as the freshest row's group, drop it."""
    op.add_column("ledger", sa.Column("source_moments", sa.Text(), nullable=True))
    _copy(_ledger.c.source_at, "source_moments", lambda at: json.dumps({FRESHEST: _iso(at)}))
    with op.batch_alter_table("ledger") as batch:  # SQLite recreates the table
        batch.drop_column("source_at")


def downgrade() -> None:
    """Back to one ``source_at`` per row: the latest of its moments."""
    op.add_column("ledger", sa.Column("source_at", sa.DateTime(timezone=True), nullable=True))

    def latest(text: str) -> datetime | None:
        moments = (datetime.fromisoformat(at.replace("Z", "+00:00")) for at in json.loads(text).values())
        return max((_utc(at) for at in moments), default=None)

    _copy(_ledger.c.source_moments, "source_at", latest)
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("source_moments")
