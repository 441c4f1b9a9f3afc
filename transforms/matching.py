"""Matching buyers with what Salesforce already holds, instead of duplicating it (rule R3).

The caller reads :class:`ExistingRecords` from Salesforce before the transform: the accounts
and contacts that carry our keys, and the candidates CSRs typed before the integration (no key
yet). For each account and contact key of the batch, :func:`match` finds

* the existing record already carrying the key (the loader's upsert will match it), or else
* a record to **adopt**: the loader stamps our key on it first, so the upsert then updates it
  instead of creating a duplicate:

  - a Contact without a key whose Email, trimmed and lower-cased, equals the contact key;
  - for a company key, an Account without a key whose Name normalises
    (:func:`transforms.identity.company_norm`) to the same key ("SEFTON SERVICES INC");
  - for a person's own account (buyer without a company), the Account of an existing Contact
    with the buyer's email, if that Account has no key and is named after the buyer (its Name
    normalises like "First Last"). An Account named otherwise is a company the CSR filed the
    person under; stamping the person's key on it would stop that company's buyers from ever
    matching it by name, so it is left alone and the person gets an account of their own.

  Several candidates: the oldest ``CreatedDate``, then the smallest ``Id``. A record is adopted
  for one key at most (company matches first, then person accounts in key order).

Column names follow the mapping (the external-id fields, ``assigned_csr_field``), so an org
with other names changes :mod:`transforms.mapping` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from transforms.identity import company_keys, contact_keys, person_account_keys
from transforms.mapping import SalesforceMapping
from transforms.text import TEXT, clean_text

ADOPTION_COLUMNS: tuple[str, ...] = ("sobject", "salesforce_id", "external_id_field", "key", "matched_on")
#: ``matched_on`` values of adoptions.
BY_EMAIL, BY_NAME, BY_CONTACT_ACCOUNT = "email", "name", "contact_account"


@dataclass(frozen=True)
class ExistingRecords:
    """Salesforce records read before the transform (either frame may be empty or lack columns).

    ``accounts``: ``Id``, ``Name``, the account external id (``BigCommerce_Account_Key__c``),
    the assigned-CSR field (``Assigned_CSR__c``), ``OwnerId``, ``CreatedDate``.
    ``contacts``: ``Id``, ``Email``, ``AccountId``, the contact external id
    (``BigCommerce_Contact_Key__c``), ``CreatedDate``. Dates may be datetimes or ISO text.

    What to read: every Account whose key is null (matching by name needs
    :func:`transforms.identity.company_norm`, which SOQL cannot do) or not null (or only those
    with the batch's keys), and the Contacts whose ``Email`` is one of :func:`lookup_emails`
    (SOQL compares emails case-insensitively) together with the Accounts they belong to.
    """

    accounts: pd.DataFrame = field(default_factory=pd.DataFrame)
    contacts: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class Matches:
    """What :func:`match` found: the adoptions, and for each account key of the batch that
    Salesforce already knows (by key or by adoption), its ``salesforce_id`` and ``assigned_csr``."""

    adoptions: pd.DataFrame
    accounts: pd.DataFrame  # index: account_key; columns salesforce_id, assigned_csr


def lookup_emails(customers: pd.DataFrame, orders: pd.DataFrame) -> list[str]:
    """The batch's contact keys (lower-cased emails, sorted), from the frames of
    :mod:`transforms.frames`: the existing Contacts to read before the transform have these."""
    emails = pd.concat([customers["email"], orders["billing_email"]], ignore_index=True)
    return sorted(contact_keys(emails).dropna().unique())


def _text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype=TEXT)
    values = frame[column]
    text = values.where(values.isna(), values.astype(str)).astype(TEXT)
    return clean_text(text)


def _prepare(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Existing records as text columns renamed to short names, with a sortable ``created``."""
    prepared = pd.DataFrame({short: _text_column(frame, sf) for short, sf in columns.items()}, index=frame.index)
    created = frame["CreatedDate"] if "CreatedDate" in frame.columns else pd.Series(pd.NaT, index=frame.index)
    prepared["created"] = pd.to_datetime(created, utc=True, errors="coerce", format="ISO8601")
    return prepared.dropna(subset=["id"]).reset_index(drop=True)


def _oldest(candidates: pd.DataFrame, by: str) -> pd.DataFrame:
    """One candidate per ``by`` value: the oldest CreatedDate (unknown dates last), then smallest Id."""
    ordered = candidates.sort_values([by, "created", "id"], na_position="last", kind="stable")
    return ordered.drop_duplicates(by, keep="first")


def _adoptions(found: pd.DataFrame, sobject: str, external_id: str, matched_on: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sobject": sobject,
            "salesforce_id": found["id"].to_numpy(),
            "external_id_field": external_id,
            "key": found["key"].to_numpy(),
            "matched_on": matched_on,
        },
        columns=list(ADOPTION_COLUMNS),
    ).astype(TEXT)


def match(
    account_keys: pd.Series,
    account_names: pd.Series,
    contact_key_values: pd.Series,
    existing: ExistingRecords,
    mapping: SalesforceMapping,
) -> Matches:
    """Match the batch's accounts (keys with their names) and contacts (keys) with ``existing``."""
    acct_key_field, contact_key_field = mapping.account.external_id, mapping.contact.external_id
    accounts = _prepare(
        existing.accounts, {"id": "Id", "name": "Name", "key": acct_key_field, "csr": mapping.assigned_csr_field}
    )
    contacts = _prepare(
        existing.contacts, {"id": "Id", "email": "Email", "account_id": "AccountId", "key": contact_key_field}
    )
    # Keys are case-insensitive in Salesforce: compare lower-cased.
    accounts["key"] = accounts["key"].str.lower()
    contacts["key"] = contacts["key"].str.lower()

    # R3: tie the buyer to the Contact and Account Salesforce already has, keyed or adoptable.
    free_contacts = contacts[contacts["key"].isna()].assign(key=contact_keys(contacts["email"]))
    wanted = free_contacts["key"].isin(contact_key_values) & ~free_contacts["key"].isin(contacts["key"])
    adopted_contacts = _oldest(free_contacts[wanted], "key")

    ours = pd.Series(account_names.to_numpy(), index=pd.Index(account_keys.to_numpy(), dtype=TEXT), dtype=TEXT)
    unclaimed = ours[~ours.index.isin(accounts["key"])]
    free_accounts = accounts[accounts["key"].isna()].assign(name_key=lambda f: company_keys(f["name"]))
    by_name = free_accounts.assign(key=free_accounts["name_key"])
    adopted_by_name = _oldest(by_name[by_name["key"].isin(unclaimed.index)], "key")
    adopted_people = _person_accounts(
        unclaimed, free_accounts[~free_accounts["id"].isin(adopted_by_name["id"])], contacts
    )

    adoptions = pd.concat(
        [
            _adoptions(adopted_by_name, mapping.account.sobject, acct_key_field, BY_NAME),
            _adoptions(adopted_people, mapping.account.sobject, acct_key_field, BY_CONTACT_ACCOUNT),
            _adoptions(adopted_contacts, mapping.contact.sobject, contact_key_field, BY_EMAIL),
        ],
        ignore_index=True,
    )
    adoptions = adoptions.sort_values(["sobject", "key"], kind="stable").reset_index(drop=True)

    keyed = _oldest(accounts[accounts["key"].isin(ours.index)], "key")
    known = pd.concat([keyed, adopted_by_name, adopted_people], ignore_index=True)
    known_accounts = pd.DataFrame(
        {"salesforce_id": known["id"].to_numpy(), "assigned_csr": known["csr"].to_numpy()},
        index=pd.Index(known["key"].to_numpy(), name="account_key", dtype=TEXT),
        dtype=TEXT,
    )
    return Matches(adoptions=adoptions, accounts=known_accounts)


def _person_accounts(unclaimed: pd.Series, free_accounts: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    """Adoptable accounts of buyers without a company: see the module docstring.

    ``unclaimed``: names by key of the batch's accounts no existing account carries;
    ``free_accounts``: existing accounts without a key (and not adopted otherwise), with
    ``name_key``, the company key of their Name.
    """
    # Start from the (few) existing contacts: the person account key their email would give.
    holders = pd.DataFrame(
        {"key": person_account_keys(contact_keys(contacts["email"])), "id": contacts["account_id"]}
    ).dropna()
    holders = holders[holders["key"].isin(unclaimed.index)]
    # The buyer's "First Last", normalised like a company name, must be the account's Name.
    holders["name_key"] = company_keys(pd.Series(unclaimed.reindex(holders["key"]).to_numpy(), index=holders.index))
    candidates = holders.merge(free_accounts.drop(columns="key"), on=["id", "name_key"])
    best = _oldest(candidates, "key")
    # An account is adopted once: by the first key (in key order) that chose it.
    return best.sort_values(["id", "key"]).drop_duplicates("id", keep="first")
