"""Idempotent, ledger-aware loading of transformed frames into the org.

For one object and one batch, :meth:`Loader.load`:

1. builds the payloads by the mapping (:mod:`transforms.payloads`): create-only values only for
   records Salesforce does not hold yet, CSR-owned fields never;
2. learns which records exist: the ledger first, then Salesforce itself by external id for
   keys the ledger does not know (the state may be new, or another tool made the record);
3. for fields whose values have a source moment (:attr:`transforms.mapping.FieldMap.moment`:
   Accounts, Contacts), blanks (leaves unchanged) in the rows of existing records each group of
   values older than the one the ledger says the record holds: a batch or run holding only older
   source rows for a group (a window cut into batches, an old order captured today, a backfill)
   must not write them over fresher ones, while the groups it has fresher values for are
   written, so the org ends the same however the runs were cut. A row left with no value to
   send is dropped; a record that does not exist yet gets every value;
4. drops the rows whose ledger hash is unchanged (the hash is of what is sent, after step 3);
5. upserts the rest by external id (never an insert, so a rerun cannot duplicate);
6. records confirmed rows in the ledger, with their source moments per group, and resolves their
   dead letters; failed rows become dead letters with the Salesforce error code and message, and
   the payload as sent (with its source moments under :data:`SOURCE_AT`, never sent), so the
   next run sends them again (:meth:`Loader.retry_payloads`).

The ledger hash covers the payload as sent: the synced values left after step 3, a blanked group
absent like any missing value. It stands for the write itself, so "unchanged" still means that
sending the row would write nothing the last confirmed write did not: a group blanked now and
then is absent from both hashes alike. A row whose blanked group catches up later (same values,
nothing stale any more) hashes differently and is sent once more, writing values the record
already holds; that costs one redundant update, never a wrong value.

A dry run stops after step 4 and reports what it would create and update; it writes nothing.

A window's batches are written together (:meth:`Loader.defer_writes`): each batch's rows go
through steps 1-4 and wait in a :class:`~connectors.spool.PayloadSpool`; :meth:`Loader.flush`
then merges the rows a key got from several batches (:func:`~connectors.spool.merge_rows`),
takes out the rows of adoptions Salesforce refused (:func:`transforms.holdback.held_rows`),
applies steps 3-4 again against the ledger as it is then (earlier runs' dead letters may just
have been resent), and does steps 5-6 once per object and window (one Bulk job per
:data:`ROWS_PER_WRITE` rows), not once per batch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring  # the C encoder's, with ensure_ascii=False
from typing import Any

import numpy as np
import pandas as pd

from connectors.base import CrmSink
from connectors.key_set import KeySet
from connectors.org_index import OrgIndex
from connectors.spool import EXISTS, HASH, PayloadSpool
from state import FailedRecord, StateStore
from state.jsonutil import dumps, text_hash
from state.ledger import Moments
from state.timeutil import iso, parse_iso
from transforms.holdback import held_rows
from transforms.mapping import ObjectMap
from transforms.payloads import is_new, ledger_view, payload_frame
from transforms.people import FRESHEST, moment_column

#: Spooled rows of one object written together (:meth:`Loader.flush`): one Bulk job each. The
#: rows of one write are in memory at once, several times over (frames, payload, CSV, results):
#: a few KB a row. Fewer rows than this go as one write, more as even parts.
ROWS_PER_WRITE = 50_000

#: Rows turned into dicts at a time to hash them.
HASH_ROWS = 5_000

#: The field of a load dead letter's payload holding the source moments of its values, per group
#: (``{moment column: ISO 8601}``); not a Salesforce field, so :meth:`Loader.retry_payloads` takes
#: it out before sending.
SOURCE_AT = "_source_at"


@dataclass
class LoadReport:
    """What one load did (or, in a dry run, would do) for one object."""

    sobject: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, other: LoadReport) -> None:
        """Add another report of the same object."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        for code, n in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + n


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts without empty values (an empty value is never sent)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def _jsonable(value: Any) -> Any:
    return str(value) if not isinstance(value, str | int | float | bool) and value is not None else value


def _cell_json(value: Any) -> str:
    """``value`` (not null) as the canonical encoder writes ``_jsonable(value)``."""
    if isinstance(value, np.generic):  # what to_dict("records") would have unboxed
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else value.item()
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else dumps(value)
    return encode_basestring(str(value))


def _row_hashes(view: pd.DataFrame) -> list[str]:
    """``payload_hash({k: _jsonable(v) for k, v in row.items()})`` of each row's non-null cells
    (:func:`_records`), the same digests, without a dict per row: each column's cells are written
    as canonical JSON members once, and each row's present members are joined in key order
    (hashing the 20k rows of the 10k benchmark through dicts was a third of the diff stage)."""
    members = []
    for name in sorted(view.columns):
        column = view[name]
        key = encode_basestring(str(name)) + ":"
        present = column.notna().to_numpy()
        values = column.to_numpy(dtype=object)
        members.append([key + _cell_json(v) if p else None for v, p in zip(values, present, strict=True)])
    return [text_hash("{" + ",".join(m for m in row if m is not None) + "}") for row in zip(*members, strict=True)]


def _frame_moments(frame: pd.DataFrame, objmap: ObjectMap, key: str | None = None) -> dict[str, dict[str, datetime]]:
    """Key -> group -> source moment (aware UTC) of a transformed frame's rows (or a spooled
    frame's, whose ``key`` column is the external id), for the groups that have one (a group
    without a value has none)."""
    moments: dict[str, dict[str, datetime]] = {}
    keys = frame[key or objmap.key_source].tolist()
    for group in objmap.moment_columns:
        if group not in frame.columns:
            continue
        for key, at in zip(keys, pd.to_datetime(frame[group], utc=True), strict=True):
            if pd.notna(at):
                moments.setdefault(key, {})[group] = at.to_pydatetime()
    return moments


def _with_moments(payloads: pd.DataFrame, objmap: ObjectMap, moments: Mapping[str, Moments]) -> pd.DataFrame:
    """``payloads`` with a column per group of source moments (its rows' moments; none: NaT)."""
    keys = payloads[objmap.external_id]
    return payloads.assign(
        **{
            group: pd.to_datetime([moments.get(k, {}).get(group) for k in keys], utc=True)
            for group in objmap.moment_columns
        }
    )


def _letter_moments(value: Any) -> dict[str, datetime]:
    """The moments a dead letter's payload holds under :data:`SOURCE_AT` (none when it has none).

    A single moment is a letter written before moments were kept per group: that of the freshest
    source row, hence of the values taken from it (as migration 0003 reads ``ledger.source_at``).
    """
    if isinstance(value, str):
        return {moment_column(FRESHEST): parse_iso(value)}
    if isinstance(value, Mapping):
        return {group: parse_iso(at) for group, at in value.items()}
    return {}


def _fresher(moments: Moments, recorded: Moments) -> bool:
    """Whether ``moments`` has a group later than ``recorded``'s (or not recorded at all)."""
    return any(group not in recorded or at > recorded[group] for group, at in moments.items())


class Loader:
    """Loads batches of one run into the org, with the state store's ledger and dead letters."""

    def __init__(
        self, crm: CrmSink, state: StateStore, run_id: str, *, dry_run: bool = False, index: OrgIndex | None = None
    ) -> None:
        self.crm = crm
        self.index = index or OrgIndex(crm)
        self.state = state
        self.run_id = run_id
        self.dry_run = dry_run
        # Kept across a window's batches, as hashes (connectors.key_set): a collision can only
        # take a new record for adopted (planned as an update: the upsert by external id still
        # creates it, without the create-only values) or for planned by an earlier batch.
        self._assumed: dict[str, KeySet] = {}
        self.spool: PayloadSpool | None = None
        self._planned_new: dict[str, KeySet] = {}

    def defer_writes(self) -> None:
        """From now on :meth:`load` plans and spools its rows; :meth:`flush` writes them (not in a dry run)."""
        if not self.dry_run and self.spool is None:
            self.spool = PayloadSpool()

    def track_planned_new(self, sobject: str) -> None:
        """Keep, from now on, the keys of ``sobject`` that :meth:`load` spools to be created
        (:meth:`planned_new`). Only for those asked: a backfill's window spools every order's key."""
        self._planned_new.setdefault(sobject, KeySet())

    def planned_new(self, sobject: str) -> KeySet:
        """Keys of ``sobject`` spooled to be created and not yet flushed, since
        :meth:`track_planned_new` (empty for an sObject not tracked)."""
        return self._planned_new.get(sobject, KeySet())

    def assume_existing(self, sobject: str, keys: Iterable[str]) -> None:
        """Treat ``keys`` of ``sobject`` as existing: adopted records, stamped with our key this run
        (or, in a dry run, that would be). Neither the ledger nor a read of the org the run keeps
        (:class:`OrgIndex` does not read the integration user's writes back) knows them yet, and
        an adopted record taken for a new one would get the create-only values over the CSR's."""
        self._assumed.setdefault(sobject, KeySet()).add(keys)

    def existing_ids(self, objmap: ObjectMap, keys: Iterable[str]) -> dict[str, str]:
        """Key → Salesforce id of the records that exist: from the ledger, else from the org."""
        keys = list(dict.fromkeys(keys))
        ledger = self.state.ledger_lookup(objmap.sobject, keys)
        known = {k: e.salesforce_id for k, e in ledger.items() if e.salesforce_id}
        adopted = self._assumed.get(objmap.sobject, KeySet()).contains(keys).tolist()
        known.update({k: "(adopted)" for k, a in zip(keys, adopted, strict=True) if a and k not in known})
        unknown = [k for k in keys if k not in known]
        ext, sobject = objmap.external_id, objmap.sobject
        found = self.index.lookup(sobject, ["Id", ext], ext, unknown)
        if not found.empty:
            # External ids match case-insensitively in Salesforce; our keys are already normalised.
            lookup = {str(k).lower(): k for k in unknown}
            for key, sf_id in zip(found[ext], found["Id"], strict=True):
                if str(key).lower() in lookup:
                    known[lookup[str(key).lower()]] = sf_id
        return known

    def load(self, frame: pd.DataFrame, objmap: ObjectMap) -> LoadReport:
        """Upsert the rows of a transformed frame whose synced values changed, without the groups
        of values older than those the record holds (the existence of records is judged as ever);
        after :meth:`defer_writes`, spool them for :meth:`flush` instead."""
        report = LoadReport(objmap.sobject)
        if frame.empty:
            return report
        existing = self.existing_ids(objmap, frame[objmap.key_source])
        moments = _frame_moments(frame, objmap)
        send, hashes = self._changed(payload_frame(frame, objmap, existing), objmap, moments, existing)
        report.unchanged = len(hashes) - len(send)
        new = is_new(send, objmap, existing)
        if self.dry_run:
            report.created, report.updated = int(new.sum()), int((~new).sum())
            return report
        if self.spool is not None:
            planned = _with_moments(send, objmap, moments).assign(
                **{EXISTS: ~new.to_numpy(), HASH: send[objmap.external_id].map(hashes).to_numpy(dtype=object)}
            )
            self.spool.add(objmap.sobject, planned, objmap.external_id)
            if objmap.sobject in self._planned_new:
                self._planned_new[objmap.sobject].add(send.loc[new, objmap.external_id])
            return report
        return self._send(send, objmap, hashes, moments, report)

    def flush(
        self, objmap: ObjectMap, held: Mapping[str, Collection[str]] | None = None
    ) -> tuple[LoadReport, pd.DataFrame]:
        """Write the rows of ``objmap`` spooled by :meth:`load` (module docstring), except those
        ``held`` names (sObject → keys of refused adoptions) and their children; returns the
        report and the payloads held back. One write (a Bulk job above the threshold) per
        :data:`ROWS_PER_WRITE` rows."""
        report = LoadReport(objmap.sobject)
        self._planned_new.get(objmap.sobject, KeySet()).clear()
        if self.spool is None:
            return report, pd.DataFrame()
        held_back = []
        for frame in self.spool.slices(objmap, ROWS_PER_WRITE):
            back = held_rows(frame, objmap, held or {})
            if back.any():
                held_back.append(frame[back])
                frame = frame[~back]
            self._write_spooled(frame, objmap, report)
        return report, pd.concat(held_back, ignore_index=True) if held_back else pd.DataFrame()

    def _write_spooled(self, frame: pd.DataFrame, objmap: ObjectMap, report: LoadReport) -> None:
        """Steps 3-6 for spooled rows (one per key), the report counting what they did."""
        if frame.empty:
            return
        ext = objmap.external_id
        moments = _frame_moments(frame, objmap, key=ext)
        existing = set(frame.loc[frame[EXISTS].astype(bool), ext])
        columns = [c for c in objmap.payload_columns(creating=True) if c in frame.columns]
        payloads = frame[columns]
        # Each row's hash as its batch computed it (a merged row has none): the same function of
        # the same values, unless this write blanks some of them (then it is computed again).
        known = dict(zip(frame[ext], frame[HASH], strict=True)) if HASH in frame.columns else {}
        del frame  # the slice's payloads are all that is needed from here on
        send, hashes = self._changed(payloads, objmap, moments, existing, known)
        report.unchanged += len(hashes) - len(send)
        self._send(send.reset_index(drop=True), objmap, hashes, moments, report)

    def _changed(
        self,
        payloads: pd.DataFrame,
        objmap: ObjectMap,
        moments: Mapping[str, Moments],
        existing: Collection[str],
        known: Mapping[str, Any] | None = None,
    ) -> tuple[pd.DataFrame, dict[str, str]]:
        """Steps 3-4: the payload rows to send (stale groups blanked, unchanged rows left out) and
        the hash of every row (``known``: hashes of rows as given, used where no value was
        blanked); the recorded moments of unchanged rows move forward."""
        recorded = self.state.source_moments(objmap.sobject, moments) if moments else {}
        payloads, stale, blanked = self._without_stale(payloads, objmap, moments, recorded, existing)
        hashes = self._hashes(payloads, objmap, {k: h for k, h in (known or {}).items() if k not in blanked})
        unchanged = self.state.unchanged(objmap.sobject, hashes)
        # Salesforce holds these values already, as fresh as this row's moments: an older row must
        # not follow them in, so the recorded moments move forward (per group, never back).
        fresher = {
            key: moments[key] for key in unchanged if key in moments and _fresher(moments[key], recorded.get(key, {}))
        }
        if fresher and not self.dry_run:
            self.state.advance_source_moments(objmap.sobject, fresher)
        if not unchanged and not stale:
            return payloads, hashes
        return payloads[~payloads[objmap.external_id].isin([*unchanged, *stale])], hashes

    def retry_payloads(self, objmap: ObjectMap) -> LoadReport:
        """Send again the payloads dead-lettered at load by earlier runs, without the groups of
        values older than those the record now holds (a letter left with nothing to send is
        resolved: fresher loads superseded it)."""
        letters = self.state.open_dead_letters(objmap.sobject, stage="load")
        payloads = [json.loads(letter.payload) for letter in letters if letter.payload]
        report = LoadReport(objmap.sobject)
        if not payloads or self.dry_run:
            return report
        frame = pd.DataFrame(payloads)
        keys = frame[objmap.external_id]
        moments: dict[str, dict[str, datetime]] = {}
        if SOURCE_AT in frame.columns:  # letters written before the ledger kept moments have none
            found = zip(keys, frame.pop(SOURCE_AT).map(_letter_moments), strict=True)
            moments = {key: groups for key, groups in found if groups}
        existing = self.existing_ids(objmap, keys)
        # Re-apply the ownership policy: a record created meanwhile gets no create-only values.
        create_only = [c for c in frame.columns if c not in objmap.payload_columns(creating=False)]
        frame.loc[keys.isin(list(existing)), create_only] = None
        recorded = self.state.source_moments(objmap.sobject, moments) if moments else {}
        frame, stale, _ = self._without_stale(frame, objmap, moments, recorded, existing)
        if stale:
            self.state.resolve_dead_letters(objmap.sobject, stale, self.run_id, stage="load")
            report.unchanged = len(stale)
            frame = frame[~frame[objmap.external_id].isin(list(stale))]
        return self._send(frame, objmap, self._hashes(frame, objmap), moments, report)

    @staticmethod
    def _without_stale(
        payloads: pd.DataFrame,
        objmap: ObjectMap,
        moments: Mapping[str, Moments],
        recorded: Mapping[str, Moments],
        existing: Collection[str],
    ) -> tuple[pd.DataFrame, set[str], set[str]]:
        """``payloads`` with the fields of each group older than the ledger's moment for it blanked
        (left unchanged in Salesforce), the keys of the rows this left with no value to send, and
        those of the rows it blanked anything in.

        Only for records that exist: a new one gets every value. A group without a moment, in the
        row (no value) or in the ledger (not known: loaded before moments were kept), is sent as ever.
        """
        stale: dict[str, list[str]] = {}  # group -> keys
        for key, held in recorded.items():
            if key in existing:
                for group, at in moments.get(key, {}).items():
                    if group in held and held[group] > at:
                        stale.setdefault(group, []).append(key)
        if not stale:
            return payloads, set(), set()
        ext = payloads[objmap.external_id]
        payloads = payloads.copy()
        for group, keys in stale.items():
            targets = [f.target for f in objmap.fields if f.moment == group and f.target in payloads.columns]
            payloads.loc[ext.isin(keys), targets] = None
        synced = [c for c in objmap.payload_columns(creating=False)[1:] if c in payloads.columns]
        emptied = ext.isin([key for keys in stale.values() for key in keys]) & payloads[synced].isna().all(axis=1)
        return payloads, set(ext[emptied]), {key for keys in stale.values() for key in keys}

    def _hashes(
        self, payloads: pd.DataFrame, objmap: ObjectMap, known: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """Key -> :func:`state.jsonutil.payload_hash` of each row's ledger view; a hash ``known``
        for a key (a str) is taken as it is."""
        ext = objmap.external_id
        hashes = {k: h for k, h in (known or {}).items() if isinstance(h, str)}
        if hashes:
            payloads = payloads[~payloads[ext].isin(list(hashes))]
        view = ledger_view(payloads.reindex(columns=objmap.payload_columns(creating=False)), objmap)
        # A few thousand rows at a time: each row's JSON members take several times the frame's memory.
        for start in range(0, len(view), HASH_ROWS):
            piece = view.iloc[start : start + HASH_ROWS]
            hashes.update(zip(piece[objmap.external_id], _row_hashes(piece), strict=True))
        return hashes

    def _send(
        self,
        send: pd.DataFrame,
        objmap: ObjectMap,
        hashes: Mapping[str, str],
        moments: Mapping[str, Moments],
        report: LoadReport,
    ) -> LoadReport:
        """Upsert ``send``; record what Salesforce confirmed (hash and source moments per key) in
        the ledger, and dead-letter the rest with their payload and moments."""
        if send.empty:
            return report
        results = self.crm.upsert(objmap.sobject, objmap.external_id, send)
        ok = results[results["success"].astype(bool)]
        failed = results[~results["success"].astype(bool)]
        report.created += int(ok["created"].astype(bool).sum())
        report.updated += len(ok) - int(ok["created"].astype(bool).sum())
        report.failed += len(failed)
        self.state.record_loaded(
            objmap.sobject,
            ((k, hashes[k], sf_id) for k, sf_id in zip(ok["external_id"], ok["salesforce_id"], strict=True)),
            self.run_id,
            moments,
        )
        self.state.resolve_dead_letters(objmap.sobject, ok["external_id"], self.run_id, stage="load")
        if not failed.empty:
            by_key = {row[objmap.external_id]: row for row in _records(send)}
            self.state.dead_letter(
                (
                    FailedRecord(
                        stage="load",
                        entity=objmap.sobject,
                        external_id=str(key),
                        reason=str(code or "UNKNOWN"),
                        message=str(message or ""),
                        payload=self._letter_payload(by_key.get(key, {}), moments.get(key)),
                    )
                    for key, code, message in zip(
                        failed["external_id"], failed["error_code"], failed["message"], strict=True
                    )
                ),
                self.run_id,
            )
            for code, n in failed["error_code"].fillna("UNKNOWN").value_counts().items():
                report.errors[str(code)] = report.errors.get(str(code), 0) + int(n)
        return report

    @staticmethod
    def _letter_payload(row: Mapping[str, Any], moments: Moments | None) -> dict[str, Any]:
        """A failed row's payload as stored in its dead letter, with its source moments if it has any."""
        payload = {k: _jsonable(v) for k, v in row.items()}
        return {**payload, SOURCE_AT: {group: iso(at) for group, at in moments.items()}} if moments else payload
