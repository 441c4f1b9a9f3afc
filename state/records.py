"""The values the state store hands out and takes in: small frozen dataclasses, all times aware UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Stage = Literal["extract", "transform", "load"]
STAGES: tuple[Stage, ...] = ("extract", "transform", "load")

RunStatus = Literal["running", "succeeded", "partial", "failed", "cancelled"]
FINISHED_STATUSES: tuple[RunStatus, ...] = ("succeeded", "partial", "failed", "cancelled")

ChunkStatus = Literal["pending", "running", "done", "failed"]
CHUNK_STATUSES: tuple[ChunkStatus, ...] = ("pending", "running", "done", "failed")


@dataclass(frozen=True, slots=True)
class Watermark:
    """How far the live sync of one entity has confirmed: changes up to ``ts`` (then ``last_id``)."""

    entity: str
    ts: datetime
    last_id: int
    run_id: str | None = None
    updated_at: datetime | None = None

    def position(self) -> tuple[datetime, int]:
        """The ordering key: later timestamp wins, the id breaks ties within one timestamp."""
        return (self.ts, self.last_id)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What was last sent to Salesforce for one record and confirmed loaded.

    The source moments of its values are read apart (:meth:`StateStore.source_moments`): few
    objects have them, and decoding them would slow every existence lookup.
    """

    sobject: str
    key: str
    payload_hash: str
    salesforce_id: str | None
    loaded_at: datetime
    run_id: str | None


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """A record that failed at one stage, as reported to :meth:`StateStore.dead_letter`.

    ``entity`` is the store entity (``orders``) for extract/transform failures and the sObject
    (``Order``) for load failures; ``payload`` is a mapping (stored as canonical JSON), text, or None.
    """

    stage: Stage
    entity: str
    external_id: str
    reason: str
    message: str = ""
    payload: Any = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stored dead letter: open while ``resolved_at`` is None."""

    stage: Stage
    entity: str
    external_id: str
    reason: str
    message: str
    payload: str | None
    attempts: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    run_id: str | None
    resolved_run_id: str | None

    @property
    def is_open(self) -> bool:
        """True until the record goes through and the letter is resolved."""
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class Run:
    """One flow run's history row."""

    run_id: str
    flow: str
    status: RunStatus
    parameters: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    api_calls: dict[str, Any] = field(default_factory=dict)
    watermark_before: dict[str, Watermark | None] = field(default_factory=dict)
    watermark_after: dict[str, Watermark | None] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """One slice ``[start, end)`` of a backfill's time range and how far it got."""

    backfill_id: str
    start: datetime
    end: datetime
    status: ChunkStatus
    counts: dict[str, Any]
    attempts: int
    error: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: exclusive until ``expires_at`` unless renewed; ``token`` proves ownership.

    ``ttl`` is the period it was taken or last renewed for (the default of the next renewal).
    """

    name: str
    holder: str
    token: str
    acquired_at: datetime
    expires_at: datetime
    ttl: timedelta
