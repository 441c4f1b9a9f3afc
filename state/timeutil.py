"""Time in the state store: aware UTC everywhere, an injectable clock, and a column type that keeps it so.

SQLite has no timestamp-with-time-zone type, so SQLAlchemy stores a fixed-width text
(``YYYY-MM-DD HH:MM:SS.ffffff``) and reads back a naive datetime. :class:`UTCDateTime` converts
every value to UTC on the way in (dropping the offset only for SQLite, where the column is UTC by
convention) and attaches UTC on the way out, so callers always see aware UTC datetimes. Because
the text is fixed-width UTC, comparing it in SQL (``expires_at <= :now``) orders chronologically.
PostgreSQL gets ``TIMESTAMP WITH TIME ZONE`` and values are normalised to UTC when read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime (the store converts it to UTC)."""


def utc_now() -> datetime:
    """The wall clock as an aware UTC datetime (the store's default clock)."""
    return datetime.now(UTC)


def as_utc(value: datetime, name: str = "timestamp") -> datetime:
    """``value`` converted to UTC; a naive datetime is refused rather than guessed at."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()}); use datetime.now(UTC)")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a ``Z`` (for messages and JSON)."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`iso` (accepts any ISO 8601 with an offset or ``Z``)."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def from_db(value: str | datetime) -> datetime:
    """A raw driver value of a :class:`UTCDateTime` column (SQLite text or a datetime) as aware UTC.

    For bulk reads that skip SQLAlchemy's per-row result processing (see ``state.ledger``).
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that accepts only aware datetimes and always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        # SQLite would store the offset as part of the text only for some paths and lose it on
        # read; a naive UTC value keeps the stored text fixed-width and comparable.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
