"""Reading what the org already holds for a batch, before the transform matches buyers to it.

:func:`read_existing` returns :class:`transforms.matching.ExistingRecords` with as few queries
as the batch allows:

* Contacts whose Email is one of the batch's buyers (SOQL compares emails case-insensitively),
  except buyers the ledger has already loaded;
* Accounts carrying one of the batch's candidate account keys (their assigned CSR routes new
  orders) and the Accounts of the Contacts found;
* Accounts without a key that a CSR may have typed for a new company: matched by the first
  word of the name (``Name LIKE 'Sefton%'``), or, for a batch with very many new companies
  (a backfill), all keyless Accounts in one paged scan, which is then the cheaper read.

The transform decides the matches (normalised names, oldest first); this module only reads.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from simple_salesforce.format import format_soql

from connectors.base import CrmSink, chunks
from state import StateStore
from transforms.identity import company_keys, contact_keys, person_account_keys
from transforms.mapping import SalesforceMapping
from transforms.matching import ExistingRecords, lookup_emails

NAME_PREFIXES_PER_QUERY = 50
#: Above this many new companies, reading every keyless Account costs fewer calls than LIKEs.
FULL_SCAN_ABOVE = 2_000


def _concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    present = [f for f in frames if not f.empty]
    return pd.concat(present, ignore_index=True).drop_duplicates("Id") if present else pd.DataFrame()


def _query_in(crm: CrmSink, sobject: str, fields: list[str], key: str, values: list[str]) -> pd.DataFrame:
    if not values:
        return pd.DataFrame()
    return crm.query_in(f"SELECT {', '.join(fields)} FROM {sobject} WHERE {key} IN {{values}}", values)  # noqa: S608


def _first_word(name: str) -> str:
    return name.strip().split()[0] if name and name.strip() else ""


def read_existing(
    crm: CrmSink,
    state: StateStore,
    mapping: SalesforceMapping,
    customers: pd.DataFrame,
    orders: pd.DataFrame,
) -> ExistingRecords:
    """The Accounts and Contacts of the org the batch's buyers may match (see the module doc)."""
    account, contact = mapping.account, mapping.contact
    account_fields = ["Id", "Name", account.external_id, mapping.assigned_csr_field, "OwnerId", "CreatedDate"]
    contact_fields = ["Id", "Email", "AccountId", contact.external_id, "CreatedDate"]

    emails = lookup_emails(customers, orders)
    loaded_contacts = state.ledger_lookup(contact.sobject, emails)
    new_emails = [e for e in emails if e not in loaded_contacts]
    contacts = _query_in(crm, contact.sobject, contact_fields, "Email", new_emails)

    companies = pd.concat([customers["company"], orders["billing_company"]], ignore_index=True).dropna()
    company_key_of = dict(zip(company_keys(companies), companies, strict=True))
    person_keys = person_account_keys(contact_keys(pd.Series(emails, dtype="str"))).tolist()
    candidate_keys = list(company_key_of) + person_keys
    by_key = _query_in(crm, account.sobject, account_fields, account.external_id, candidate_keys)
    known_keys = set(by_key[account.external_id].str.lower()) if not by_key.empty else set()
    known_keys |= set(state.ledger_lookup(account.sobject, list(company_key_of)))
    new_companies = [name for key, name in company_key_of.items() if key.lower() not in known_keys]
    keyless = _keyless_accounts(crm, account.sobject, account.external_id, account_fields, new_companies)

    account_ids = contacts["AccountId"].dropna().unique().tolist() if not contacts.empty else []
    of_contacts = _query_in(crm, account.sobject, account_fields, "Id", account_ids)
    return ExistingRecords(accounts=_concat([by_key, keyless, of_contacts]), contacts=contacts)


def _keyless_accounts(
    crm: CrmSink, sobject: str, key_field: str, fields: list[str], companies: list[str]
) -> pd.DataFrame:
    select = ", ".join(fields)
    if not companies:
        return pd.DataFrame()
    if len(companies) > FULL_SCAN_ABOVE:
        return crm.query(f"SELECT {select} FROM {sobject} WHERE {key_field} = null")  # noqa: S608 (mapping names)
    prefixes = sorted({w for w in map(_first_word, companies) if w})
    frames = []
    for chunk in chunks(prefixes, NAME_PREFIXES_PER_QUERY):
        likes = " OR ".join(format_soql("Name LIKE '{:like}%'", p) for p in chunk)
        frames.append(crm.query(f"SELECT {select} FROM {sobject} WHERE {key_field} = null AND ({likes})"))  # noqa: S608
    return _concat(frames)
