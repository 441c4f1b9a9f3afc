"""Orders: one per BigCommerce order, tied to its buyer's Account and Contact.

* ``order_key``: the eCommerce order number as text (its own external id, rule R5);
* ``order_date``: the UTC calendar date of ``date_created`` (a :class:`datetime.date`);
* ``order_name``: ``ATS Store order <number>``, stable, so CSRs recognise it on the dashboard;
* billing columns from the billing address, ``ship_*`` from the first shipping consignment
  (missing for an order without one, e.g. digital goods: never guessed from billing);
* ``total``: ``total_inc_tax`` as a :class:`~decimal.Decimal` rounded half-up to cents, the
  scale of ``BigCommerce_Total__c`` (Currency 16,2). A Decimal keeps the amount exact;
  ``str()`` of it is the two-decimal text for Bulk CSV, and a JSON encoder should write it
  as a number or that text, never through float;
* ``store_status``, ``payment_status``, ``date_modified`` (aware UTC) as the store reports
  them; ``suggested_set_code`` (rule R8) and ``owner_id`` (rule R7).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from itertools import repeat

import numpy as np
import pandas as pd

from transforms.mapping import SalesforceMapping
from transforms.set_code import suggest_set_codes
from transforms.text import TEXT

_CENT = Decimal("0.01")
ORDER_NAME_PREFIX = "ATS Store order "


_ROUNDING = Context(rounding=ROUND_HALF_UP)  # precision 28: validated totals are below 10**14


def _cents(amounts: pd.Series) -> pd.Series:
    rounded = np.empty(len(amounts), dtype=object)
    rounded[:] = list(map(_ROUNDING.quantize, amounts, repeat(_CENT)))  # C calls, no Python frame per row
    return pd.Series(rounded, index=amounts.index, dtype=object)


def build_orders(rows: pd.DataFrame, owners: pd.Series, mapping: SalesforceMapping) -> pd.DataFrame:
    """One row per accepted order, sorted by order number.

    ``rows``: accepted order rows with identity columns; ``owners``: their ``owner_id``.
    """
    key = rows["source_id"].astype("string").astype(TEXT)
    orders = rows.assign(
        order_key=key,
        order_name=ORDER_NAME_PREFIX + key,
        order_date=rows["order_date"].dt.date,
        total=_cents(rows["total"]),
        suggested_set_code=suggest_set_codes(rows["last_name"], mapping),
        owner_id=owners,
    )
    return orders.sort_values("source_id", kind="stable").reset_index(drop=True)
