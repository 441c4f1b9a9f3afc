"""From transformed frames to Salesforce payload frames, by the mapping's ownership policies.

One payload frame per object and load: its columns are the external id, every field the
mapping lets the pipeline write, and the parent references (``Account.BigCommerce_Account_Key__c``).
Rows of records that already exist carry only ALWAYS values: their CREATE_ONLY columns are left
empty (NA), and the Salesforce connector never sends an empty value (it omits the field over
REST, leaves the cell empty over Bulk 2.0), so what a CSR owns is never overwritten.

The ledger compares :func:`ledger_view` rows: the ALWAYS part only, the same for a record
whether it is being created or updated, so a record created in one run is "unchanged" in the
next unless a synced value moved.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from transforms.mapping import ObjectMap


def _column(frame: pd.DataFrame, source: str | None, default: object) -> pd.Series:
    if source is None:
        return pd.Series([default] * len(frame), index=frame.index, dtype=object)
    return frame[source]


def payload_frame(frame: pd.DataFrame, objmap: ObjectMap, existing: Collection[str]) -> pd.DataFrame:
    """The payload of every row of ``frame``; ``existing`` holds the keys already in Salesforce."""
    keys = frame[objmap.key_source]
    new = ~keys.isin(list(existing))
    columns: dict[str, pd.Series] = {objmap.external_id: keys}
    for f in objmap.writable(creating=True):
        values = _column(frame, f.source, f.default)
        columns[f.target] = values if f in objmap.writable(creating=False) else values.where(new, None)
    for parent in objmap.parent_refs(creating=True):
        values = frame[parent.source]
        columns[parent.column] = values if parent in objmap.parent_refs(creating=False) else values.where(new, None)
    return pd.DataFrame(columns, index=frame.index).reset_index(drop=True)


def ledger_view(payloads: pd.DataFrame, objmap: ObjectMap) -> pd.DataFrame:
    """The columns of ``payloads`` the ledger hashes: the external id and the ALWAYS part."""
    return payloads[objmap.payload_columns(creating=False)]


def is_new(payloads: pd.DataFrame, objmap: ObjectMap, existing: Collection[str]) -> pd.Series:
    """Whether each payload row creates a record (its key is not in ``existing``)."""
    return ~payloads[objmap.external_id].isin(list(existing))
