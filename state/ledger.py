"""The load ledger: per (sObject, external id), the hash of the payload last sent and confirmed.

A run hashes each payload it is about to send (:func:`state.jsonutil.payload_hash`), skips the
keys whose hash matches the ledger (:meth:`LedgerMixin.unchanged`), and after Salesforce confirms
the rest records them (:meth:`LedgerMixin.record_loaded`).

Objects whose values come from dated source rows (Accounts, Contacts) also keep the source moment
of the values last written (``source_at``): the loader skips rows older than it
(:meth:`LedgerMixin.source_moments`), and the moment only ever moves forward, whether by a load or
by a row found unchanged (:meth:`LedgerMixin.advance_source_at`). A write without a moment keeps
the one stored.

Everything is batched for 100k-row runs, with one code path per dialect where the generic one is slow:

* lookups: SQLite gets IN lists of :data:`state.util.IN_CHUNK` keys (its bound-variable limit);
  PostgreSQL gets ``= ANY(:keys)`` with one array parameter per 10k keys.
* writes: one upsert transaction. SQLite runs a plain driver ``executemany`` of the compiled
  upsert (SQLAlchemy's per-row parameter processing would cost more than SQLite itself);
  PostgreSQL upserts from ``json_to_recordset()`` of one JSON parameter per batch instead of one
  round trip per row.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    bindparam,
    case,
    column,
    func,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql

from state.base import StoreBase
from state.models import ledger
from state.records import LedgerEntry
from state.timeutil import UTCDateTime, as_utc, from_db
from state.util import IN_CHUNK, WRITE_BATCH, chunked

PG_ARRAY_CHUNK = 10_000  # keys per ANY(array) lookup on PostgreSQL
PG_BATCH = 20_000  # rows per json_to_recordset() upsert on PostgreSQL

_KEY_COLUMNS = (ledger.c.sobject, ledger.c.external_id)
_RAW_LOADED_AT = type_coerce(ledger.c.loaded_at, String).label("loaded_at")
_RAW_SOURCE_AT = type_coerce(ledger.c.source_at, String).label("source_at")
_HASH_COLUMNS = (ledger.c.external_id, ledger.c.payload_hash)


class LedgerMixin(StoreBase):
    """Batch reads and writes of the load ledger."""

    def ledger_lookup(self, sobject: str, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """The ledger entries of ``keys`` for ``sobject`` (keys never loaded are absent)."""
        c = ledger.c
        # The raw timestamp, converted once per distinct value: a batch shares one loaded_at, and
        # per-row result processing would dominate the lookup.
        columns = (c.external_id, c.payload_hash, c.salesforce_id, _RAW_LOADED_AT, c.run_id, _RAW_SOURCE_AT)
        to_utc = lru_cache(maxsize=1024)(from_db)
        return {
            key: LedgerEntry(
                sobject, key, digest, salesforce_id, to_utc(loaded_at), run_id, None if at is None else from_db(at)
            )
            for key, digest, salesforce_id, loaded_at, run_id, at in self._select_in(sobject, keys, columns)
        }

    def source_moments(self, sobject: str, keys: Iterable[str]) -> dict[str, datetime]:
        """The source moment of the values last written for ``keys`` (keys without one are absent)."""
        rows = self._select_in(sobject, keys, (ledger.c.external_id, _RAW_SOURCE_AT))
        return {key: from_db(at) for key, at in rows if at is not None}

    def advance_source_at(self, sobject: str, moments: Mapping[str, datetime]) -> int:
        """Move the source moment of ledger rows forward to ``moments`` (key -> moment), never back.

        For rows found unchanged: Salesforce already holds values as fresh as the moment given, so
        a later, older row must not overwrite them. Keys not in the ledger are ignored; returns
        the rows moved.
        """
        c = ledger.c
        at = bindparam("b_source_at", type_=c.source_at.type)
        statement = (
            update(ledger)
            .where(
                c.sobject == bindparam("b_sobject"),
                c.external_id == bindparam("b_key"),
                or_(c.source_at.is_(None), c.source_at < at),
            )
            .values(source_at=at)
        )
        params = [{"b_sobject": sobject, "b_key": key, "b_source_at": moment} for key, moment in moments.items()]
        moved = 0
        with self._write() as connection:
            for batch in chunked(params, WRITE_BATCH):
                moved += connection.execute(statement, list(batch)).rowcount
        return moved

    def unchanged(self, sobject: str, payloads: Mapping[str, str]) -> set[str]:
        """The keys of ``payloads`` (key -> payload hash) whose hash equals the ledger's: no need to send."""
        rows = self._select_in(sobject, payloads.keys(), _HASH_COLUMNS)
        return {key for key, digest in rows if payloads[key] == digest}

    def record_loaded(
        self,
        sobject: str,
        rows: Iterable[tuple[str, str, str | None]],
        run_id: str | None,
        source_at: Mapping[str, datetime] | None = None,
    ) -> int:
        """Upsert ``(key, payload_hash, salesforce_id)`` rows Salesforce confirmed; returns rows written.

        Only confirmed rows belong here. A None Salesforce id keeps the one already stored. If a key
        repeats, its last row wins (one statement cannot update the same row twice on PostgreSQL).
        ``source_at``: the source moment of the values written, per key; a key without one keeps
        the moment stored, and a stored moment is never moved back.
        """
        moments = source_at or {}
        latest: dict[str, tuple[str, str | None, datetime | None]] = {}
        for key, digest, salesforce_id in rows:
            latest[key] = (digest, salesforce_id, moments.get(key))
        if not latest:
            return 0
        now = self.now()
        with self._write() as connection:
            if self.dialect == "postgresql":
                self._record_postgresql(connection, sobject, latest, run_id, now)
            else:
                self._record_sqlite(connection, sobject, latest, run_id, now)
        return len(latest)

    def _record_sqlite(
        self,
        connection: Connection,
        sobject: str,
        latest: dict[str, tuple[str, str | None, datetime | None]],
        run_id: str | None,
        now: datetime,
    ) -> None:
        upsert = _upsert(self._insert(ledger))
        columns = ["sobject", "external_id", "payload_hash", "salesforce_id", "loaded_at", "run_id", "source_at"]
        compiled = upsert.compile(dialect=connection.dialect, column_keys=columns)
        order = list(compiled.positiontup or ())
        if sorted(order) != sorted(columns):
            raise RuntimeError(f"unexpected parameters in the compiled ledger upsert: {order}")
        # Values must be what the driver takes, so the timestamps go through their column type here.
        tail = (sobject, self._db_value(ledger.c.loaded_at, now), run_id)
        source = ["external_id", "payload_hash", "salesforce_id", "source_at", "sobject", "loaded_at", "run_id"]
        pick = operator.itemgetter(*(source.index(name) for name in order))
        source_at = lru_cache(maxsize=4096)(partial(self._db_value, ledger.c.source_at))  # None stays None
        params = [
            pick((key, digest, salesforce_id, source_at(moment), *tail))
            for key, (digest, salesforce_id, moment) in latest.items()
        ]
        for batch in chunked(params, WRITE_BATCH):
            connection.exec_driver_sql(compiled.string, list(batch))

    def _record_postgresql(
        self,
        connection: Connection,
        sobject: str,
        latest: dict[str, tuple[str, str | None, datetime | None]],
        run_id: str | None,
        now: datetime,
    ) -> None:
        # The rows travel as one JSON parameter: psycopg dumps a list of strings as a text array
        # element by element (a regex per value), which cost more than the upsert itself.
        source = (
            func.json_to_recordset(bindparam("rows", type_=postgresql.JSON))
            .table_valued(
                column("external_id", String),
                column("payload_hash", String),
                column("salesforce_id", String),
                column("source_at", UTCDateTime()),  # ISO 8601 text in the JSON, timestamptz here
            )
            .render_derived(with_types=True)
        )
        rows = select(
            literal(sobject, String),
            source.c.external_id,
            source.c.payload_hash,
            source.c.salesforce_id,
            literal(now, UTCDateTime()),
            literal(run_id, String),
            source.c.source_at,
        ).select_from(source)
        names = ["sobject", "external_id", "payload_hash", "salesforce_id", "loaded_at", "run_id", "source_at"]
        upsert = _upsert(postgresql.insert(ledger).from_select(names, rows))
        items = list(latest.items())
        for batch in chunked(items, PG_BATCH):
            payload = [
                {
                    "external_id": key,
                    "payload_hash": digest,
                    "salesforce_id": salesforce_id,
                    "source_at": None if moment is None else as_utc(moment, "source_at").isoformat(),
                }
                for key, (digest, salesforce_id, moment) in batch
            ]
            connection.execute(upsert, {"rows": payload})

    def _select_in(self, sobject: str, keys: Iterable[str], columns: Sequence[Any]) -> list[Row[Any]]:
        """Rows of ``columns`` for ``keys``, a chunk of keys per query, all in one read snapshot."""
        unique = list(dict.fromkeys(keys))
        rows: list[Row[Any]] = []
        columns = tuple(columns)
        with self._read() as connection:
            if self.dialect == "postgresql":
                query = _any_query(columns)
                for chunk in chunked(unique, PG_ARRAY_CHUNK):
                    rows.extend(connection.execute(query, {"sobject": sobject, "keys": list(chunk)}).all())
            else:
                for chunk in chunked(unique, IN_CHUNK):
                    params = dict(zip(_IN_NAMES, chunk, strict=False))
                    params["sobject"] = sobject
                    rows.extend(connection.execute(_in_query(columns, len(chunk)), params).all())
        return rows


# Lookup statements are built once per column set (and IN size) and then reused: building 100k
# bind parameters per call cost more than running the queries. Named parameters rather than an
# "expanding" IN also let SQLAlchemy reuse the compiled SQL.
_IN_NAMES = [f"k{index}" for index in range(IN_CHUNK)]


@lru_cache(maxsize=32)
def _in_query(columns: tuple[Any, ...], size: int) -> Select[Any]:
    keys = [bindparam(name) for name in _IN_NAMES[:size]]
    return select(*columns).where(ledger.c.sobject == bindparam("sobject"), ledger.c.external_id.in_(keys))


@lru_cache(maxsize=8)
def _any_query(columns: tuple[Any, ...]) -> Select[Any]:
    keys = func.any(bindparam("keys", type_=ARRAY(String)))
    return select(*columns).where(ledger.c.sobject == bindparam("sobject"), ledger.c.external_id == keys)


def _upsert(insert: Any) -> Any:
    """``insert`` made an upsert on the ledger key: the newest confirmed load wins."""
    return insert.on_conflict_do_update(
        index_elements=list(_KEY_COLUMNS),
        set_={
            "payload_hash": insert.excluded.payload_hash,
            # A load result without an id (None) must not erase the id we learned earlier.
            "salesforce_id": func.coalesce(insert.excluded.salesforce_id, ledger.c.salesforce_id),
            "loaded_at": insert.excluded.loaded_at,
            "run_id": insert.excluded.run_id,
            "source_at": _later(insert.excluded.source_at, ledger.c.source_at),
        },
    )


def _later(new: ColumnElement[Any], old: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two moments, either of which may be NULL (portable: SQLite's max() and
    PostgreSQL's greatest() disagree on NULL). On SQLite both are fixed-width UTC text, so the
    comparison is chronological."""
    return case((old.is_(None), new), (new.is_(None), old), (new > old, new), else_=old)
