"""The load ledger: per (sObject, external id), the hash of the payload last sent and confirmed.

A run hashes each payload it is about to send (:func:`state.jsonutil.payload_hash`), skips the
keys whose hash matches the ledger (:meth:`LedgerMixin.unchanged`), and after Salesforce confirms
the rest records them (:meth:`LedgerMixin.record_loaded`).

Objects whose values come from dated source rows (Accounts, Contacts) also keep the source moments
of the values written, one per group of values chosen together (``source_moments``: JSON
``{moment column: ISO 8601 UTC}``, e.g. ``{"phone_at": ..., "address_at": ...}``; see
:attr:`transforms.mapping.FieldMap.moment`): the loader does not send a group older than its
moment here (:meth:`LedgerMixin.source_moments`). Each group's moment only ever moves forward,
whether by a load or by a row found unchanged (:meth:`LedgerMixin.advance_source_moments`); a
write without moments for a key, or without some group, keeps those stored. The merge (the later
moment per group) is done here, inside the write transaction that reads the stored moments (on
PostgreSQL with ``FOR UPDATE``; SQLite's writers are serialised by ``BEGIN IMMEDIATE``), because
one SQL expression portable to both dialects cannot take a per-key maximum inside JSON.

Everything is batched for 100k-row runs, with one code path per dialect where the generic one is slow:

* lookups: SQLite gets IN lists of :data:`state.util.IN_CHUNK` keys (its bound-variable limit);
  PostgreSQL gets ``= ANY(:keys)`` with one array parameter per 10k keys.
* writes: one upsert transaction. SQLite runs a plain driver ``executemany`` of the compiled
  upsert (SQLAlchemy's per-row parameter processing would cost more than SQLite itself);
  PostgreSQL upserts from ``json_to_recordset()`` of one JSON parameter per batch instead of one
  round trip per row.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Row,
    Select,
    String,
    bindparam,
    column,
    func,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql

from state.base import StoreBase
from state.jsonutil import dumps
from state.models import ledger
from state.records import LedgerEntry
from state.timeutil import UTCDateTime, from_db, iso, parse_iso
from state.util import IN_CHUNK, WRITE_BATCH, chunked

#: Group (moment column) -> source moment of the values of that group (aware).
Moments = Mapping[str, datetime]

PG_ARRAY_CHUNK = 10_000  # keys per ANY(array) lookup on PostgreSQL
PG_BATCH = 20_000  # rows per json_to_recordset() upsert on PostgreSQL

_KEY_COLUMNS = (ledger.c.sobject, ledger.c.external_id)
_RAW_LOADED_AT = type_coerce(ledger.c.loaded_at, String).label("loaded_at")
_MOMENT_COLUMNS = (ledger.c.external_id, ledger.c.source_moments)
_HASH_COLUMNS = (ledger.c.external_id, ledger.c.payload_hash)


class LedgerMixin(StoreBase):
    """Batch reads and writes of the load ledger."""

    def ledger_lookup(self, sobject: str, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """The ledger entries of ``keys`` for ``sobject`` (keys never loaded are absent)."""
        c = ledger.c
        # The raw timestamp, converted once per distinct value: a batch shares one loaded_at, and
        # per-row result processing would dominate the lookup.
        columns = (c.external_id, c.payload_hash, c.salesforce_id, _RAW_LOADED_AT, c.run_id)
        to_utc = lru_cache(maxsize=1024)(from_db)
        return {
            key: LedgerEntry(sobject, key, digest, salesforce_id, to_utc(loaded_at), run_id)
            for key, digest, salesforce_id, loaded_at, run_id in self._select_in(sobject, keys, columns)
        }

    def source_moments(self, sobject: str, keys: Iterable[str]) -> dict[str, dict[str, datetime]]:
        """Per key, the source moment of each group of the values written (keys without any are absent)."""
        return {key: _decode(text) for key, text in self._select_in(sobject, keys, _MOMENT_COLUMNS) if text}

    def advance_source_moments(self, sobject: str, moments: Mapping[str, Moments]) -> int:
        """Move the source moments of ledger rows forward to ``moments`` (key -> group -> moment),
        per group, never back.

        For rows found unchanged: Salesforce already holds values as fresh as the moments given, so
        a later, older row must not overwrite them. Keys not in the ledger are ignored; returns
        the rows moved.
        """
        statement = (
            update(ledger)
            .where(ledger.c.sobject == bindparam("b_sobject"), ledger.c.external_id == bindparam("b_key"))
            .values(source_moments=bindparam("b_moments"))
        )
        with self._write() as connection:
            merged = self._merged_moments(connection, sobject, moments)
            params = [{"b_sobject": sobject, "b_key": key, "b_moments": new}
                      for key, (old, new) in merged.items() if old is not None and new != old]  # fmt: skip
            for batch in chunked(params, WRITE_BATCH):
                connection.execute(statement, list(batch))
        return len(params)

    def _merged_moments(
        self, connection: Connection, sobject: str, moments: Mapping[str, Moments]
    ) -> dict[str, tuple[str | None, str | None]]:
        """Per key of ``moments``: (the stored JSON, ``""`` for a ledger row without moments, None
        for a key without a ledger row; the JSON of the stored moments merged with the given ones,
        per group the later). Read in the caller's write transaction, locked on PostgreSQL, so that
        no moment written meanwhile is lost."""
        given = {key: groups for key, groups in moments.items() if groups}
        if not given:
            return {}
        rows = self._select_in(sobject, given, _MOMENT_COLUMNS, connection, lock=True)
        stored: dict[str, str | None] = {key: text or "" for key, text in rows}
        merged: dict[str, tuple[str | None, str | None]] = {}
        for key, groups in given.items():
            old = stored.get(key)
            later = _decode(old) if old else {}
            for group, at in groups.items():
                if group not in later or at > later[group]:
                    later[group] = at
            merged[key] = (old, _encode(later))
        return merged

    def unchanged(self, sobject: str, payloads: Mapping[str, str]) -> set[str]:
        """The keys of ``payloads`` (key -> payload hash) whose hash equals the ledger's: no need to send."""
        rows = self._select_in(sobject, payloads.keys(), _HASH_COLUMNS)
        return {key for key, digest in rows if payloads[key] == digest}

    def record_loaded(
        self,
        sobject: str,
        rows: Iterable[tuple[str, str, str | None]],
        run_id: str | None,
        source_moments: Mapping[str, Moments] | None = None,
    ) -> int:
        """Upsert ``(key, payload_hash, salesforce_id)`` rows Salesforce confirmed; returns rows written.

        Only confirmed rows belong here. A None Salesforce id keeps the one already stored. If a key
        repeats, its last row wins (one statement cannot update the same row twice on PostgreSQL).
        ``source_moments``: per key, the source moment of each group of the values written; merged
        into the stored ones per group (the later wins), so a key or group without one keeps the
        moment stored, and a stored moment is never moved back.
        """
        latest: dict[str, tuple[str, str | None, str | None]] = {}
        for key, digest, salesforce_id in rows:
            latest[key] = (digest, salesforce_id, None)
        if not latest:
            return 0
        now = self.now()
        with self._write() as connection:
            given = {key: groups for key, groups in (source_moments or {}).items() if key in latest}
            for key, (_, merged) in self._merged_moments(connection, sobject, given).items():
                latest[key] = (*latest[key][:2], merged)
            if self.dialect == "postgresql":
                self._record_postgresql(connection, sobject, latest, run_id, now)
            else:
                self._record_sqlite(connection, sobject, latest, run_id, now)
        return len(latest)

    def _record_sqlite(
        self,
        connection: Connection,
        sobject: str,
        latest: dict[str, tuple[str, str | None, str | None]],
        run_id: str | None,
        now: datetime,
    ) -> None:
        upsert = _upsert(self._insert(ledger))
        columns = ["sobject", "external_id", "payload_hash", "salesforce_id", "loaded_at", "run_id", "source_moments"]
        compiled = upsert.compile(dialect=connection.dialect, column_keys=columns)
        order = list(compiled.positiontup or ())
        if sorted(order) != sorted(columns):
            raise RuntimeError(f"unexpected parameters in the compiled ledger upsert: {order}")
        # Values must be what the driver takes, so the timestamps go through their column type here.
        tail = (sobject, self._db_value(ledger.c.loaded_at, now), run_id)
        source = ["external_id", "payload_hash", "salesforce_id", "source_moments", "sobject", "loaded_at", "run_id"]
        pick = operator.itemgetter(*(source.index(name) for name in order))
        params = [pick((key, *row, *tail)) for key, row in latest.items()]
        for batch in chunked(params, WRITE_BATCH):
            connection.exec_driver_sql(compiled.string, list(batch))

    def _record_postgresql(
        self,
        connection: Connection,
        sobject: str,
        latest: dict[str, tuple[str, str | None, str | None]],
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
                column("source_moments", String),  # JSON text, as a string of the JSON parameter
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
            source.c.source_moments,
        ).select_from(source)
        names = ["sobject", "external_id", "payload_hash", "salesforce_id", "loaded_at", "run_id", "source_moments"]
        upsert = _upsert(postgresql.insert(ledger).from_select(names, rows))
        items = list(latest.items())
        for batch in chunked(items, PG_BATCH):
            payload = [
                {
                    "external_id": key,
                    "payload_hash": digest,
                    "salesforce_id": salesforce_id,
                    "source_moments": moments,
                }
                for key, (digest, salesforce_id, moments) in batch
            ]
            connection.execute(upsert, {"rows": payload})

    def _select_in(
        self,
        sobject: str,
        keys: Iterable[str],
        columns: Sequence[Any],
        connection: Connection | None = None,
        *,
        lock: bool = False,
    ) -> list[Row[Any]]:
        """Rows of ``columns`` for ``keys``, a chunk of keys per query, all in one read snapshot, or
        in the write transaction ``connection``; ``lock``: rows locked (``FOR UPDATE``) on PostgreSQL."""
        if connection is None:
            with self._read() as reading:
                return self._select_in(sobject, keys, columns, reading)
        unique = list(dict.fromkeys(keys))
        rows: list[Row[Any]] = []
        columns = tuple(columns)
        if self.dialect == "postgresql":
            query = _any_query(columns, lock)
            for chunk in chunked(unique, PG_ARRAY_CHUNK):
                rows.extend(connection.execute(query, {"sobject": sobject, "keys": list(chunk)}).all())
        else:
            for chunk in chunked(unique, IN_CHUNK):
                size = _in_size(len(chunk))
                # The last key again fills the list up to its size (a repeat in IN matches nothing more).
                params = dict(zip(_IN_NAMES[:size], [*chunk, *[chunk[-1]] * (size - len(chunk))], strict=True))
                params["sobject"] = sobject
                rows.extend(connection.execute(_in_query(columns, size), params).all())
        return rows


# Lookup statements are built once per column set (and IN size) and then reused: building 100k
# bind parameters per call cost more than running the queries. Named parameters rather than an
# "expanding" IN also let SQLAlchemy reuse the compiled SQL. The sizes are few (powers of two up
# to IN_CHUNK, :func:`_in_size`): a statement per size of every last chunk held tens of MB.
_IN_NAMES = [f"k{index}" for index in range(IN_CHUNK)]


def _in_size(keys: int) -> int:
    """The IN list size a chunk of ``keys`` keys is asked with: the next power of two, at most IN_CHUNK."""
    return min(IN_CHUNK, 1 << max(0, keys - 1).bit_length())


@lru_cache(maxsize=64)
def _in_query(columns: tuple[Any, ...], size: int) -> Select[Any]:
    keys = [bindparam(name) for name in _IN_NAMES[:size]]
    return select(*columns).where(ledger.c.sobject == bindparam("sobject"), ledger.c.external_id.in_(keys))


@lru_cache(maxsize=8)
def _any_query(columns: tuple[Any, ...], lock: bool = False) -> Select[Any]:
    keys = func.any(bindparam("keys", type_=ARRAY(String)))
    query = select(*columns).where(ledger.c.sobject == bindparam("sobject"), ledger.c.external_id == keys)
    return query.with_for_update() if lock else query


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
            # Already merged with the stored moments (LedgerMixin._merged_moments); None keeps them.
            "source_moments": func.coalesce(insert.excluded.source_moments, ledger.c.source_moments),
        },
    )


def _encode(moments: Moments) -> str | None:
    """Moments as the column's canonical JSON (None when there are none)."""
    return dumps({group: iso(at) for group, at in moments.items()}) if moments else None


def _decode(text: str) -> dict[str, datetime]:
    """The column's JSON back to group -> aware UTC moment."""
    return {group: parse_iso(at) for group, at in json.loads(text).items()}
