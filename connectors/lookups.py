"""Reading what the org already holds for a batch, before the transform matches buyers to it.

:func:`read_existing` returns :class:`transforms.matching.ExistingRecords` with as few queries
as the batch allows (lookups by value go through the run's :class:`~connectors.org_index.OrgIndex`,
which reads a small org whole instead of probing it):

* Contacts whose Email is one of the batch's buyers (SOQL compares emails case-insensitively),
  except buyers the ledger has already loaded;
* Accounts carrying one of the batch's candidate account keys (their assigned CSR routes new
  orders) and the Accounts of the Contacts found;
* Accounts without a key that a CSR may have typed for a new company: matched by the first
  word of the name (``Name LIKE 'Sefton%'``, 50 names a query), or all keyless Accounts in one
  paged read when the org holds so few that this costs fewer calls (a backfill's many new
  companies). That read is started when the LIKEs would take several queries; its first page
  tells the total, and it goes on only if it stays the cheaper.

The transform decides the matches (normalised names, oldest first); this module only reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import pandas as pd
from simple_salesforce.format import format_soql

from connectors.base import chunks
from connectors.key_set import KeySet
from connectors.org_index import OrgIndex
from state import StateStore
from transforms.identity import company_keys, company_norm, contact_keys, person_account_keys
from transforms.mapping import SalesforceMapping
from transforms.matching import ExistingRecords, lookup_emails

NAME_PREFIXES_PER_QUERY = 50


#: The key each of some records is claimed by this window (``claimed(sobject, ids)``: Id → key,
#: for those of ``ids`` an earlier batch adopts; :class:`flows.window_keep.WindowAdoptions`).
Claims = Callable[[str, list[str]], Mapping[str, str]]


def _concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    present = [f for f in frames if not f.empty]
    return pd.concat(present, ignore_index=True).drop_duplicates("Id") if present else pd.DataFrame()


def _first_word(name: str) -> str:
    """The first word of the company's normal form (``"Diaz, Ltd."`` → ``diaz``): punctuation
    typed at checkout must not stop ``Name LIKE 'diaz%'`` from finding a CSR's ``DIAZ INC``."""
    words = company_norm(name).split() if name else []
    return words[0] if words else ""


def read_existing(
    index: OrgIndex,
    state: StateStore,
    mapping: SalesforceMapping,
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    made: KeySet | None = None,
    claimed: Claims | None = None,
) -> ExistingRecords:
    """The Accounts and Contacts of the org the batch's buyers may match (see the module doc).

    ``made``: keys of Accounts this run has already planned to create (written at the window's
    end, so neither the org nor the ledger has them yet); they count as existing too.
    ``claimed`` (:data:`Claims`): the keys of the records earlier batches of the window adopt
    (stamped at its end): they are read as carrying that key already, so that no later batch
    offers one of them to another key."""
    account, contact = mapping.account, mapping.contact
    account_fields = ["Id", "Name", account.external_id, mapping.assigned_csr_field, "OwnerId", "CreatedDate"]
    contact_fields = ["Id", "Email", "AccountId", contact.external_id, "CreatedDate"]

    emails = lookup_emails(customers, orders)
    loaded_contacts = state.ledger_lookup(contact.sobject, emails)
    new_emails = [e for e in emails if e not in loaded_contacts]
    contacts = index.lookup(contact.sobject, contact_fields, "Email", new_emails)

    companies = pd.concat([customers["company"], orders["billing_company"]], ignore_index=True).dropna()
    company_key_of = dict(zip(company_keys(companies), companies, strict=True))
    person_keys = person_account_keys(contact_keys(pd.Series(emails, dtype="str"))).tolist()
    candidate_keys = list(company_key_of) + person_keys
    by_key = index.lookup(account.sobject, account_fields, account.external_id, candidate_keys)
    ledger = {k: e.salesforce_id for k, e in state.ledger_lookup(account.sobject, candidate_keys).items()}
    planned = zip(candidate_keys, (made or KeySet()).contains(candidate_keys).tolist(), strict=True)
    # Not in Salesforce yet: an Id of their own, only so that no two look alike (never sent).
    ledger.update({k: f"(planned {k})" for k, p in planned if p and not ledger.get(k)})
    by_key = _with_ledger_accounts(by_key, ledger, account.external_id)
    known_keys = set(by_key[account.external_id].str.lower()) if not by_key.empty else set()
    new_companies = [name for key, name in company_key_of.items() if key.lower() not in known_keys]
    keyless = _keyless_accounts(index, account.sobject, account.external_id, account_fields, new_companies)

    account_ids = contacts["AccountId"].dropna().unique().tolist() if not contacts.empty else []
    of_contacts = index.lookup(account.sobject, account_fields, "Id", account_ids)
    accounts = _with_claims(_concat([by_key, keyless, of_contacts]), claimed, account.sobject, account.external_id)
    contacts = _with_claims(contacts, claimed, contact.sobject, contact.external_id)
    return ExistingRecords(accounts=accounts, contacts=contacts)


def _with_claims(found: pd.DataFrame, claimed: Claims | None, sobject: str, key_field: str) -> pd.DataFrame:
    """``found`` with the key each claimed record will carry, where it carries none yet."""
    if found.empty or claimed is None or key_field not in found.columns:
        return found
    claims = claimed(sobject, found["Id"].dropna().tolist())
    if not claims:
        return found
    keys = found["Id"].map(claims)
    take = keys.notna() & (found[key_field].isna() | (found[key_field].astype(str) == ""))
    if not take.any():
        return found
    found = found.copy()
    found.loc[take, key_field] = keys[take]
    return found


def _with_ledger_accounts(found: pd.DataFrame, ledger: dict[str, str | None], key_field: str) -> pd.DataFrame:
    """``found`` plus the Accounts the ledger holds (key → Salesforce id) and the read did not
    return: those this run made (a kept read does not read the integration user's own writes
    back; the ledger has them) or plans to make.

    They come with their Id and key only: made by the integration, they have no CSR yet, and the
    transform must count them as existing (a guest-only batch must not give an existing Account
    the new-account group default, say).
    """
    have = set(found[key_field].str.lower()) if not found.empty else set()
    extra = {k: sf_id for k, sf_id in ledger.items() if sf_id and k.lower() not in have}
    if not extra:
        return found
    made = pd.DataFrame({"Id": list(extra.values()), key_field: list(extra)}, dtype=object)
    return pd.concat([found, made], ignore_index=True) if not found.empty else made


def _keyless_accounts(
    index: OrgIndex, sobject: str, key_field: str, fields: list[str], companies: list[str]
) -> pd.DataFrame:
    select = ", ".join(fields)
    prefixes = sorted({w for w in map(_first_word, companies) if w})
    if not prefixes:
        return pd.DataFrame()
    like_queries = math.ceil(len(prefixes) / NAME_PREFIXES_PER_QUERY)
    if like_queries > 1:
        whole = index.keyless(sobject, fields, key_field, cheaper_than=like_queries)
        if whole is not None:
            return whole
    crm = index.crm
    frames = []
    for chunk in chunks(prefixes, NAME_PREFIXES_PER_QUERY):
        likes = " OR ".join(format_soql("Name LIKE '{:like}%'", p) for p in chunk)
        frames.append(crm.query(f"SELECT {select} FROM {sobject} WHERE {key_field} = null AND ({likes})"))  # noqa: S608
    return _concat(frames)
