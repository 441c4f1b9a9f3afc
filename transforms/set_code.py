"""The ASTEA set code the pipeline suggests for each order (rule R8).

Every eCommerce order is billed in ASTEA under customer ``109337``
(:attr:`transforms.mapping.SalesforceMapping.astea_customer_number`) with a set code named
after the customer's last name: ``109337-Sefton``. A CSR types it into the order's ASTEA Key
Direct Billing field once the set code exists in ASTEA; the pipeline only *suggests* it in
``suggested_set_code`` and never fills the CSR's field, or a missing ASTEA set-up would go
unnoticed (rule R9's reconciliation looks for exactly that).
"""

from __future__ import annotations

import pandas as pd

from transforms.mapping import SalesforceMapping


def suggest_set_codes(last_names: pd.Series, mapping: SalesforceMapping) -> pd.Series:
    """``<customer number>-<last name>`` for each buyer's last name.

    The last name is kept as typed (accents, apostrophes, case), already trimmed and with each
    run of whitespace made one space by :func:`transforms.text.clean_text`: "Van  der Berg"
    suggests ``109337-Van der Berg``. Spaces are kept because the CSR types the name as the
    customer spells it and the reconciliation compares it with the customer's last name.
    """
    # R8: 109337 followed by a dash and the buyer's last name, into suggested_set_code only.
    return mapping.astea_customer_number + "-" + last_names
