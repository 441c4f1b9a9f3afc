"""The fewest API calls a load needs, and the time floor those calls imply.

Minimum calls, for a load of ``C`` customers and ``O`` orders into an empty org:

* BigCommerce (:func:`connectors.bigcommerce.streams.min_api_calls`, pages of 250):
  customers ``max(1, ceil(C / 250))``, orders ``O // 250 + 1`` (the last full page needs the
  ``204`` that shows it was the last);
* Salesforce writes, per object of ``n`` records: sObject Collections ``ceil(n / 200)`` up to
  ``bulk_threshold`` (2,000), else one Bulk API 2.0 job: :data:`BULK_CALLS_PER_JOB` calls
  (create, upload, close, at least one poll, the successful results; the failed results too
  when a record failed, which a clean load never needs);
* Salesforce fixed calls: one login, the eCommerce queue's Id and the integration user's Id
  (:func:`flows.resources.open_resources`);
* Salesforce matching reads (which buyers and keys the org already holds): the issue's formula
  has none, yet no loader that must not duplicate can skip them. The least any reader pays is
  each object it matches against (:data:`MATCHED_OBJECTS`) read once, whole:
  ``max(1, ceil(rows / 2000))`` calls for an object holding ``rows`` records
  (:func:`salesforce_min_reads`). What our reads *should* cost, call by call, is a separate
  formula (:class:`benchmarks.pipeline.CallLog`), checked exactly by the smoke test.

The time floor of ``calls`` under a per-request ``latency`` and a quota of ``quota`` requests
per ``window`` seconds, sent one at a time, is ``max(calls × latency, windows waited × window)``
with ``windows waited = ceil(calls / quota) − 1``; Salesforce has no short-window quota, so its
floor is ``calls × latency``. A run's floor is the sum of both (the pipeline alternates between
the two systems, never talks to both at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from connectors.bigcommerce.streams import min_api_calls
from connectors.salesforce.collections import COLLECTION_SIZE

#: Bulk 2.0 calls of one clean job: create, upload, close, one poll (at least), the successful results.
BULK_CALLS_PER_JOB = 5
#: Rows per page of a SOQL query (``query`` then ``query_more``).
QUERY_PAGE_ROWS = 2000
#: The objects a load reads to match buyers and keys against (once each, at the least).
MATCHED_OBJECTS = ("Account", "Contact", "Order")
#: login, the queue lookup, the integration user lookup.
FIXED_SALESFORCE_CALLS = {"login": 1, "queue lookup": 1, "integration user lookup": 1}


def bigcommerce_min_calls(customers: int, orders: int) -> dict[str, int]:
    """Fewest BigCommerce requests extracting ``customers`` and ``orders`` (per endpoint)."""
    return {"v3/customers": min_api_calls("customers", customers), "v2/orders": min_api_calls("orders", orders)}


def salesforce_min_reads(org_rows: dict[str, int]) -> dict[str, int]:
    """Fewest matching reads: every matched object read once, whole (``org_rows``: records per object)."""
    return {f"read {name}": max(1, math.ceil(org_rows.get(name, 0) / QUERY_PAGE_ROWS)) for name in MATCHED_OBJECTS}


def salesforce_write_calls(records: int, bulk_threshold: int = 2000, bulk_polls: int = 1) -> int:
    """Requests of one upsert (or update) of ``records`` rows of one object.

    ``ceil(n / 200)`` with sObject Collections up to ``bulk_threshold``, else one Bulk 2.0 job
    (``bulk_polls`` polls: the minimum is one).
    """
    if records <= 0:
        return 0
    if records <= bulk_threshold:
        return math.ceil(records / COLLECTION_SIZE)
    return BULK_CALLS_PER_JOB - 1 + max(1, bulk_polls)


def rate_limited_floor(calls: int, latency_s: float, quota: int, window_s: float) -> float:
    """Seconds ``calls`` sequential requests take at least: ``max(calls × latency, waits × window)``."""
    if calls <= 0:
        return 0.0
    windows_waited = math.ceil(calls / quota) - 1
    return max(calls * latency_s, windows_waited * window_s)


@dataclass(frozen=True)
class Floor:
    """The time floor of a run and its two parts, in seconds."""

    bigcommerce: float
    salesforce: float

    @property
    def total(self) -> float:
        """Both systems, one after the other."""
        return self.bigcommerce + self.salesforce


def time_floor(bc_calls: int, sf_calls: int, latency_s: float, quota: int, window_s: float) -> Floor:
    """The floor of ``bc_calls`` BigCommerce and ``sf_calls`` Salesforce requests (module docstring)."""
    return Floor(rate_limited_floor(bc_calls, latency_s, quota, window_s), sf_calls * latency_s)
