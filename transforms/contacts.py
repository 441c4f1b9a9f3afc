"""Contacts: one per person, whatever mix of customer records and orders names them (rule R3).

The contact key is the buyer's email (:func:`transforms.identity.contact_keys`), so a guest
who registers later, or orders several times, stays one Contact. Where the sources disagree,
the freshest wins (:func:`transforms.people.freshness_order`: a customer's ``date_modified``, an
order's ``date_created``; on a tie the customer's own record):

* names, email as typed and the contact's account: from the freshest source;
* the mailing address: from the freshest source that has one (all its lines together, never
  a street from one source and a city from another);
* phone: the freshest given; ``customer_id``: the freshest registered id (missing for a
  person only ever seen as a guest).

Each of these groups comes from its own row, and carries that row's moment (``seen_at`` for the
freshest source's, ``address_at``, ``phone_at``, ``customer_id_at``; see
:func:`transforms.people.moment_column`), so that a later batch or run holding only older rows for
a group does not overwrite it, while the groups it has fresher values for are written.
"""

from __future__ import annotations

import pandas as pd

from transforms.people import Groups


def build_contacts(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per contact key, sorted by it.

    ``rows``: accepted buyer rows with identity columns (:func:`transforms.identity.assign_accounts`).
    """
    groups = Groups.of(rows, "contact_key")
    people = groups.from_freshest(rows, ["account_key", "first_name", "last_name", "email"])
    known = groups.latest_given(rows, ["phone", "customer_id"])
    address = groups.freshest_address(rows)
    return pd.concat([people, known, address], axis=1).reset_index()
