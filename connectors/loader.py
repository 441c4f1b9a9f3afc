"""Idempotent, ledger-aware loading of transformed frames into the org.

For one object and one batch, :meth:`Loader.load`:

1. builds the payloads by the mapping (:mod:`transforms.payloads`): create-only values only for
   records Salesforce does not hold yet, CSR-owned fields never;
2. learns which records exist: the ledger first, then Salesforce itself by external id for
   keys the ledger does not know (the state may be new, or another tool made the record);
3. drops the rows whose ledger hash is unchanged, and, for objects whose values have a source
   moment (:attr:`transforms.mapping.ObjectMap.moment_source`: Accounts, Contacts), the rows
   older than the values the record already holds: a batch or run holding only older source
   rows (a window cut into batches, an old order captured today, a backfill) must not write
   them over fresher ones, so the org ends the same however the runs were cut;
4. upserts the rest by external id (never an insert, so a rerun cannot duplicate);
5. records confirmed rows in the ledger, with their source moment, and resolves their dead
   letters; failed rows become dead letters with the Salesforce error code and message, and
   their full payload (with the source moment under :data:`SOURCE_AT`, never sent), so the
   next run sends them again (:meth:`Loader.retry_payloads`).

A dry run stops after step 3 and reports what it would create and update.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from connectors.base import CrmSink
from connectors.org_index import OrgIndex
from state import FailedRecord, StateStore, payload_hash
from state.timeutil import iso, parse_iso
from transforms.mapping import ObjectMap
from transforms.payloads import is_new, ledger_view, payload_frame

#: The field of a load dead letter's payload holding the source moment of its values (ISO 8601);
#: not a Salesforce field, so :meth:`Loader.retry_payloads` takes it out before sending.
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


def _moments(keys: pd.Series, moments: pd.Series) -> dict[str, datetime]:
    """Key -> source moment (aware UTC), for the rows that have one."""
    return {key: at.to_pydatetime() for key, at in zip(keys, pd.to_datetime(moments, utc=True), strict=True)
            if pd.notna(at)}  # fmt: skip


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
        self._assumed: set[str] = set()

    def assume_existing(self, keys: Iterable[str]) -> None:
        """Treat ``keys`` as existing (a dry run does not stamp adopted records, yet they exist)."""
        self._assumed.update(keys)

    def existing_ids(self, objmap: ObjectMap, keys: Iterable[str]) -> dict[str, str]:
        """Key → Salesforce id of the records that exist: from the ledger, else from the org."""
        keys = list(dict.fromkeys(keys))
        ledger = self.state.ledger_lookup(objmap.sobject, keys)
        known = {k: e.salesforce_id for k, e in ledger.items() if e.salesforce_id}
        known.update({k: "(adopted)" for k in keys if k in self._assumed and k not in known})
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
        """Upsert the rows of a transformed frame whose synced values changed and are not older
        than the values the record holds (the existence of records is judged as ever)."""
        report = LoadReport(objmap.sobject)
        if frame.empty:
            return report
        existing = self.existing_ids(objmap, frame[objmap.key_source])
        payloads = payload_frame(frame, objmap, existing)
        hashes = self._hashes(payloads, objmap)
        moments = _moments(frame[objmap.key_source], frame[objmap.moment_source]) if objmap.moment_source else {}
        unchanged = self.state.unchanged(objmap.sobject, hashes)
        stale = self._stale(objmap, moments, unchanged)
        send = payloads[~payloads[objmap.external_id].isin([*unchanged, *stale])]
        report.unchanged = len(payloads) - len(send)
        new = is_new(send, objmap, existing)
        if self.dry_run:
            report.created, report.updated = int(new.sum()), int((~new).sum())
            return report
        return self._send(send, objmap, hashes, moments, report)

    def retry_payloads(self, objmap: ObjectMap) -> LoadReport:
        """Send again the payloads dead-lettered at load by earlier runs (not those older than
        what the record now holds: their letters are resolved, a fresher load superseded them)."""
        letters = self.state.open_dead_letters(objmap.sobject, stage="load")
        payloads = [json.loads(letter.payload) for letter in letters if letter.payload]
        report = LoadReport(objmap.sobject)
        if not payloads or self.dry_run:
            return report
        frame = pd.DataFrame(payloads)
        keys = frame[objmap.external_id]
        moments = {}
        if SOURCE_AT in frame.columns:  # letters written before the ledger kept moments have none
            moments = _moments(keys, frame.pop(SOURCE_AT).map(parse_iso, na_action="ignore"))
        stale = self._stale(objmap, moments, set())
        if stale:
            self.state.resolve_dead_letters(objmap.sobject, stale, self.run_id, stage="load")
            report.unchanged = len(stale)
            frame = frame[~keys.isin(list(stale))]
        existing = self.existing_ids(objmap, frame[objmap.external_id])
        # Re-apply the ownership policy: a record created meanwhile gets no create-only values.
        create_only = [c for c in frame.columns if c not in objmap.payload_columns(creating=False)]
        frame.loc[frame[objmap.external_id].isin(list(existing)), create_only] = None
        return self._send(frame, objmap, self._hashes(frame, objmap), moments, report)

    def _stale(self, objmap: ObjectMap, moments: Mapping[str, datetime], unchanged: set[str]) -> set[str]:
        """The keys of ``moments`` whose ledger holds values of a later source moment: not to send.

        An unchanged row whose moment is later than the ledger's moves the ledger's forward
        (Salesforce holds values that fresh), so that an older row cannot follow it in. Keys
        without a moment, here or in the ledger, are sent as ever.
        """
        if not moments:
            return set()
        recorded = self.state.source_moments(objmap.sobject, moments)
        stale = {key for key, at in recorded.items() if at > moments[key]}
        fresher = {key: moments[key] for key in unchanged if key in moments and key not in stale}
        fresher = {key: at for key, at in fresher.items() if key not in recorded or at > recorded[key]}
        if fresher and not self.dry_run:
            self.state.advance_source_at(objmap.sobject, fresher)
        return stale

    def _hashes(self, payloads: pd.DataFrame, objmap: ObjectMap) -> dict[str, str]:
        view = ledger_view(payloads.reindex(columns=objmap.payload_columns(creating=False)), objmap)
        return {
            row[objmap.external_id]: payload_hash({k: _jsonable(v) for k, v in row.items()}) for row in _records(view)
        }

    def _send(
        self,
        send: pd.DataFrame,
        objmap: ObjectMap,
        hashes: dict[str, str],
        moments: Mapping[str, datetime],
        report: LoadReport,
    ) -> LoadReport:
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
    def _letter_payload(row: Mapping[str, Any], moment: datetime | None) -> dict[str, Any]:
        """A failed row's payload as stored in its dead letter, with its source moment if it has one."""
        payload = {k: _jsonable(v) for k, v in row.items()}
        return payload if moment is None else {**payload, SOURCE_AT: iso(moment)}
