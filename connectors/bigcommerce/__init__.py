"""The BigCommerce extraction connector: v3 customers and v2 orders, page by page.

``client`` (HTTP session, auth, retries, pacing, call counts, keyset paging), ``streams`` (the
customers and orders streams, the call formula, :class:`BigCommerceStore`) and ``parsing``
(RFC 2822 / ISO 8601 dates and exact decimal money). Use::

    with BigCommerceStore(settings.bc) as store:
        for page in store.orders(window):
            ...
"""

from connectors.bigcommerce.client import (
    BigCommerceApiError,
    BigCommerceClient,
    BigCommerceError,
    RateLimit,
    RetriesExhausted,
)
from connectors.bigcommerce.streams import BigCommerceStore, CustomersStream, OrdersStream, min_api_calls

__all__ = [
    "BigCommerceApiError",
    "BigCommerceClient",
    "BigCommerceError",
    "BigCommerceStore",
    "CustomersStream",
    "OrdersStream",
    "RateLimit",
    "RetriesExhausted",
    "min_api_calls",
]
