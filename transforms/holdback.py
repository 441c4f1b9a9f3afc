"""Holding back the rows of a window whose adoption did not go through.

An adoption stamps our external id on a record a CSR made (:mod:`transforms.matching`); the
upserts that follow then update that record, and were planned as updates (no create-only
values). When Salesforce refuses the stamp (a validation rule on the CSR's record, a record
deleted meanwhile, a lock that outlasted the retries), an upsert by that key would *create* a
second record of the same buyer. So the key's rows leave the window's load, with every row
that names a held record as its parent (a new Contact of a held Account, a new Order of a held
Account or Contact), and the caller dead-letters the source records they came from at the
transform stage (:func:`held_sources`): the next run fetches them again by id and proposes the
adoption anew.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from transforms.mapping import MAPPING, ObjectMap, SalesforceMapping


def held_keys(adoptions: pd.DataFrame, refused_ids: Collection[str]) -> dict[str, set[str]]:
    """sObject → our keys of the ``adoptions`` whose records (``salesforce_id``) were not stamped."""
    refused = adoptions[adoptions["salesforce_id"].isin(list(refused_ids))]
    return {str(s): set(group["key"]) for s, group in refused.groupby("sobject")}


def held_rows(payloads: pd.DataFrame, objmap: ObjectMap, held: Mapping[str, Collection[str]]) -> pd.Series:
    """Which payload rows of ``objmap`` to hold back: those of a held key, and those whose parent
    reference names a held record (``held``: sObject → keys, compared case-insensitively as
    Salesforce compares external ids)."""
    out = pd.Series(False, index=payloads.index)
    checks = [(objmap.sobject, objmap.external_id)] + [(p.parent, p.column) for p in objmap.parents]
    for sobject, column in checks:
        keys = {str(k).lower() for k in held.get(sobject, ())}
        if keys and column in payloads.columns:
            out |= payloads[column].astype("string").str.lower().isin(keys).fillna(False).astype(bool)
    return out


def held_sources(held: Mapping[str, pd.DataFrame], mapping: SalesforceMapping = MAPPING) -> dict[str, list[str]]:
    """The store records (``orders``, ``customers`` → ids) the held-back payloads came from (sObject → rows)."""
    orders = held.get(mapping.order.sobject, pd.DataFrame())
    contacts = held.get(mapping.contact.sobject, pd.DataFrame())
    customer_field = next(f.target for f in mapping.contact.fields if f.source == "customer_id")
    order_ids = orders[mapping.order.external_id].astype(str).tolist() if not orders.empty else []
    customer_ids = contacts[customer_field].dropna().astype(str).tolist() if customer_field in contacts else []
    return {"orders": sorted(set(order_ids)), "customers": sorted(set(customer_ids) - {""})}
