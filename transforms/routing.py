"""Who owns a new order: the account's assigned CSR, or the eCommerce orders queue.

``owner_id`` is CREATE_ONLY in the mapping: the loader sends it for new orders only, so an
order a CSR has taken (its owner changed) keeps its owner (rule R7).
"""

from __future__ import annotations

import pandas as pd

from transforms.text import TEXT


def route_orders(account_keys: pd.Series, known_accounts: pd.DataFrame, queue_id: str) -> pd.Series:
    """The ``owner_id`` of each order, given its account key.

    ``known_accounts`` (:attr:`transforms.matching.Matches.accounts`) holds, by account key,
    the ``assigned_csr`` of each account Salesforce already has (keyed or adopted).
    """
    if not isinstance(queue_id, str) or not queue_id.strip():
        raise ValueError("queue_id must be the Id of the eCommerce orders queue")
    csr = account_keys.map(known_accounts["assigned_csr"]).astype(TEXT)
    # R7: an account with an assigned CSR gives them the order; otherwise it waits in the queue.
    return csr.fillna(queue_id.strip())
