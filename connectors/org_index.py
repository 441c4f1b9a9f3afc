"""Org records by one field's values, read in as few calls as the org's size allows.

Looking up ``n`` values by ``IN`` lists takes one ``query`` per list that fits in a REST URL
(:func:`connectors.salesforce.query.in_queries`: about 400 emails or 2,000 order numbers each).
When the org holds few records with that field set (a backfill into a young org), reading all
of them once costs less: one call per 2,000 rows. :class:`OrgIndex` starts that read whenever
probing would take more than one call; its first page tells the total (``totalSize``), and the
read goes on only if its remaining pages cost fewer calls than the probes would, else the
values are probed (the first page was the price of knowing, as a ``COUNT()`` would have been).
It keeps what a full read brought for the rest of the run, so the later batches of a backfill
ask again for nothing but what changed.

What changed is read before a later use of a kept read more than :data:`FRESH_FOR` old, in
one query per object for all its kept reads: records modified since the oldest of them by
anyone but the integration user (``LastModifiedById``). The integration user's own writes are
not read back: the state store's ledger holds them, and callers must look there too
(:func:`connectors.lookups.read_existing` adds the ledger's Accounts and those the run plans to
create; the loader asks the ledger first, and counts the run's adoptions as existing). So a
CSR's edit made during a run is seen as an ``IN`` list sent at most :data:`FRESH_FOR` earlier
would see it (the race an ``IN`` list has between its query and the load that follows it, a
little wider). A record deleted during the run stays in the kept read (a plain query does not
return deleted records); an ``IN`` list sent just before the deletion has the same blind spot,
and the upsert by external id that follows cannot create a duplicate.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd
from simple_salesforce.format import format_soql

from connectors.base import CrmSink
from connectors.salesforce.query import in_queries, records_frame

#: Rows a ``query`` or ``query_more`` call returns (the REST default batch size).
ROWS_PER_CALL = 2000
#: A kept read younger than this is used as it is (the batches of a run reuse it within seconds).
FRESH_FOR = timedelta(seconds=30)
#: How far back a refresh reads, for clock skew between us and Salesforce's ``SystemModstamp``.
CLOCK_MARGIN = timedelta(minutes=5)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Kept:
    """Every record of an object with a field set (or, ``keyless``, without it: :meth:`OrgIndex.keyless`),
    as of ``read_at`` (minus the margin), with ``fields``.

    Kept pickled, as one block: a kept read lives for the run, and as a frame of strings with an
    index of its values it raised the first batch's peak at 100k orders by about 7 MB more (the
    benchmark's org of 10,579 CSR-made Accounts and their Contacts), its strings made among the
    first batch's objects and each one holding the freed memory around it
    (:mod:`flows.window_keep`). Each use unpickles it (milliseconds for tens of thousands of
    rows) and lets the copy go.
    """

    def __init__(self, fields: list[str], frame: pd.DataFrame, read_at: datetime, *, keyless: bool = False) -> None:
        self.fields = list(fields)
        self.read_at = read_at
        self.keyless = keyless
        self.frame = frame

    @property
    def frame(self) -> pd.DataFrame:
        """The records, as a frame of ``fields`` (a copy of the kept one)."""
        return pickle.loads(self._pickled)  # noqa: S301 (our own pickle)

    @frame.setter
    def frame(self, frame: pd.DataFrame) -> None:
        self._pickled = pickle.dumps(frame.reset_index(drop=True), protocol=pickle.HIGHEST_PROTOCOL)


class OrgIndex:
    """Per-run reader of org records by a field's values (module docstring).

    ``clock`` stamps the reads (tests pass one they move on).
    """

    def __init__(
        self, crm: CrmSink, integration_user_id: str | None = None, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.crm = crm
        self.integration_user_id = integration_user_id
        self._clock = clock
        self._too_big: set[tuple[str, str]] = set()  # reads that cost more than probing
        self._kept: dict[tuple[str, str], _Kept] = {}
        self._keyless: dict[tuple[str, str], _Kept] = {}
        self._keyless_calls: dict[tuple[str, str], int] = {}  # what a whole keyless read costs

    def lookup(self, sobject: str, fields: list[str], key: str, values: list[str]) -> pd.DataFrame:
        """Records of ``sobject`` whose ``key`` is one of ``values`` (compared case-insensitively,
        as Salesforce compares emails and external ids), with ``fields`` (``key`` among them)."""
        values = [v for v in dict.fromkeys(values) if v is not None and v != ""]
        if not values:
            return pd.DataFrame(columns=fields)
        kept = self._kept.get((sobject, key))
        if kept is not None and set(fields) <= set(kept.fields):
            self._refresh(sobject)
            return _select(kept.frame, fields, key, values)
        whole = self._whole(sobject, fields)
        if whole is not None:  # every record of the object is kept: look there, ask nobody
            found = _select(whole, fields, key, values)
            return found.drop_duplicates("Id", ignore_index=True) if "Id" in fields else found
        template = f"SELECT {', '.join(fields)} FROM {sobject} WHERE {key} IN {{values}}"  # noqa: S608 (mapping names)
        probes = len(in_queries(template, values))
        if probes > 1 and (sobject, key) not in self._too_big:
            kept = self._read_all(sobject, fields, key, probes)
            if kept is not None:
                return _select(kept.frame, fields, key, values)
        return self.crm.query_in(template, values)

    def keyless(self, sobject: str, fields: list[str], key: str, *, cheaper_than: int) -> pd.DataFrame | None:
        """Every record of ``sobject`` without ``key`` (with ``fields``), if reading them whole
        costs fewer than ``cheaper_than`` calls, else None. A whole read is kept for the run (and
        refreshed like the others), so that each batch of a backfill does not read it again."""
        kept = self._keyless.get((sobject, key))
        if kept is not None and set(fields) <= set(kept.fields):
            self._refresh(sobject)
            return kept.frame[fields].reset_index(drop=True)
        known = self._keyless_calls.get((sobject, key))
        if known is not None and known - 1 >= cheaper_than:
            return None  # its first page told the total already: no call to learn it again
        read_at = self._clock()
        soql = f"SELECT {', '.join(fields)} FROM {sobject} WHERE {key} = null"  # noqa: S608 (mapping names)
        calls, frame = read_whole_sized(self.crm, soql, cheaper_than=cheaper_than)
        self._keyless_calls[(sobject, key)] = calls
        if frame is None:
            return None
        frame = frame.reindex(columns=fields)
        self._keyless[(sobject, key)] = _Kept(fields, frame, read_at, keyless=True)
        return frame

    # -- internals ---------------------------------------------------------------------------------

    def _read_all(self, sobject: str, fields: list[str], key: str, probes: int) -> _Kept | None:
        """Every record with ``key`` set, kept for the run; None (and never tried again for this
        object and field) when its pages after the first would cost ``probes`` calls or more."""
        read_at = self._clock()
        soql = f"SELECT {', '.join(fields)} FROM {sobject} WHERE {key} != null"  # noqa: S608 (mapping names)
        frame = read_whole(self.crm, soql, cheaper_than=probes)
        if frame is None:
            self._too_big.add((sobject, key))
            return None
        kept = _Kept(fields, frame.reindex(columns=fields), read_at)
        self._kept[(sobject, key)] = kept
        return kept

    def _refresh(self, sobject: str) -> None:
        """Merge records changed since the last read (by anyone but the integration user) into
        every kept read of ``sobject``: one query for them all, once the oldest is stale."""
        kept = [(key, k) for (s, key), k in [*self._kept.items(), *self._keyless.items()] if s == sobject]
        read_at = self._clock()
        oldest = min(k.read_at for _, k in kept)
        if read_at - oldest < FRESH_FOR:
            return
        fields = list(dict.fromkeys(f for _, k in kept for f in k.fields))
        soql = f"SELECT {', '.join(fields)} FROM {sobject} WHERE SystemModstamp >= {{since:literal}}"  # noqa: S608
        soql = format_soql(soql, since=(oldest - CLOCK_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if self.integration_user_id:
            soql += format_soql(" AND LastModifiedById != {}", self.integration_user_id)
        changed = self.crm.query(soql).reindex(columns=fields)
        for key, one in kept:
            one.read_at = read_at
            if changed.empty:
                continue
            frame = one.frame
            rest = frame[~frame["Id"].isin(set(changed["Id"]))]
            has_key = changed[key].notna() & (changed[key].astype(str) != "")
            mine = changed.loc[~has_key if one.keyless else has_key, one.fields]
            one.frame = pd.concat([rest, mine], ignore_index=True) if not rest.empty else mine

    def _whole(self, sobject: str, fields: list[str]) -> pd.DataFrame | None:
        """The object's every record, when the run keeps both the records with some field set and
        those without it (read whole: :meth:`lookup` and :meth:`keyless`), with ``fields``; brought
        up to date first."""
        for (name, key), keyed in self._kept.items():
            keyless = self._keyless.get((name, key))
            if name == sobject and keyless is not None and set(fields) <= set(keyed.fields) & set(keyless.fields):
                self._refresh(sobject)
                return pd.concat([keyed.frame[fields], keyless.frame[fields]], ignore_index=True)
        return None


def _select(frame: pd.DataFrame, fields: list[str], key: str, values: list[str]) -> pd.DataFrame:
    """The rows of ``frame`` whose ``key`` is one of ``values`` (case-insensitively), with ``fields``,
    in the frame's order."""
    column = frame[key]
    wanted = {str(v).lower() for v in values}
    return frame.loc[column.notna() & column.astype(str).str.lower().isin(wanted), fields].reset_index(drop=True)


def read_whole(crm: CrmSink, soql: str, *, cheaper_than: int) -> pd.DataFrame | None:
    """Every record of ``soql``, if its pages after the first cost fewer than ``cheaper_than``
    calls (the alternative's cost); else None, the first page read only to learn the total."""
    return read_whole_sized(crm, soql, cheaper_than=cheaper_than)[1]


def read_whole_sized(crm: CrmSink, soql: str, *, cheaper_than: int) -> tuple[int, pd.DataFrame | None]:
    """:func:`read_whole`, with the calls a whole read of ``soql`` takes (from its first page)."""
    total, records = crm.query_sized(soql)
    calls = max(1, math.ceil(total / ROWS_PER_CALL))
    if calls - 1 >= cheaper_than:
        return calls, None
    return calls, records_frame(records, soql)
