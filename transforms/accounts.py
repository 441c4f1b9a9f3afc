"""Accounts: one per company, or per person buying without a company (rule R2).

From the accepted buyer rows (:func:`transforms.identity.assign_accounts`), per account key:

* ``account_name``: for a company, its :func:`transforms.identity.best_spelling` over every
  row of the batch; for a person, "First Last" from the freshest row;
* ``phone``: the freshest given; address: all lines from the freshest row that has one;
* ``customer_group``: the freshest customer group of a registered customer's own record.
  A *new* account (not in Salesforce yet) only guests bought for gets ``"0"``
  (BigCommerce's id for "no group") from :func:`default_guest_group`, so the CSR still sees
  that it came from eCommerce (seed 000, step 13). Otherwise an unknown group stays missing:
  an existing account keeps whatever it has, and one with registered buyers whose records are
  not in the batch is not "no group".

``Name`` is CREATE_ONLY in the mapping, so the spelling chosen matters only for a new account.

Each synced group of values comes with the moment of the row that supplied it (``phone_at``,
``address_at``, ``customer_group_at``; see :func:`transforms.people.moment_column`): they come
from different rows, so one moment per account could not say which of them a later batch or run
may overwrite. The name needs none: it is only ever written when the account is created.
"""

from __future__ import annotations

import pandas as pd

from transforms.identity import best_spelling
from transforms.people import ADDRESS, ADDRESS_COLUMNS, Groups, moment_column

NO_GROUP = "0"


def build_accounts(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per account key, sorted by it (with ``guests_only``, for :func:`default_guest_group`)."""
    groups = Groups.of(rows, "account_key")
    names = groups.from_freshest(rows, ["account_name"])["account_name"]
    names = best_spelling(rows["account_key"], rows["company"]).reindex(groups.keys).fillna(names)
    known = groups.latest_given(rows, ["phone", "customer_group"])  # only customer records have a group
    address = groups.freshest_address(rows)
    accounts = pd.concat([names.rename("account_name"), known, address], axis=1)
    moments = [moment_column(group) for group in ("phone", ADDRESS, "customer_group")]
    accounts = accounts[["account_name", "phone", *ADDRESS_COLUMNS, "customer_group", *moments]]
    accounts["guests_only"] = groups.freshest(rows["customer_id"].notna()) < 0
    return accounts.reset_index()


def default_guest_group(accounts: pd.DataFrame, existing_keys: pd.Index) -> pd.DataFrame:
    """``accounts`` with ``customer_group`` "0" where the account is new, only guests bought
    for it and no group is known; ``existing_keys``: account keys Salesforce already has."""
    new_guest = (
        accounts["guests_only"] & accounts["customer_group"].isna() & ~accounts["account_key"].isin(existing_keys)
    )
    return accounts.assign(customer_group=accounts["customer_group"].mask(new_guest, NO_GROUP))
