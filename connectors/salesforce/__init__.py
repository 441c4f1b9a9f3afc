"""The Salesforce loading connector: idempotent upserts by external id, queries, preflight.

:class:`SalesforceClient` implements :class:`connectors.base.CrmSink` on simple-salesforce:

* authentication by settings (:mod:`.auth`: password + token, client credentials, JWT bearer);
* writes by sObject Collections up to ``bulk_threshold`` records, Bulk API 2.0 above
  (:mod:`.writes`, :mod:`.collections`, :mod:`.bulk`), results matched by key, never inserts;
* values (:mod:`.values`): missing = leave unchanged, :data:`CLEAR` = set null, exact decimals;
* queries as DataFrames and chunked ``IN`` queries (:mod:`.query`);
* retries, re-login and the API budget stop (:mod:`.client`, :mod:`.retry`);
* a preflight of the org against :mod:`transforms.mapping` (:mod:`.preflight`).

Production and the sandbox differ only in :class:`connectors.settings.SalesforceSettings`.
"""

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.errors import (
    ApiBudgetExhausted,
    AuthenticationError,
    BulkJobError,
    PreflightFailed,
    SalesforceCallError,
    SalesforceConnectorError,
)
from connectors.salesforce.preflight import Problem, check_mapping
from connectors.salesforce.query import in_queries
from connectors.salesforce.retry import RetryPolicy
from connectors.salesforce.values import CLEAR

__all__ = [
    "CLEAR",
    "ApiBudgetExhausted",
    "AuthenticationError",
    "BulkJobError",
    "PreflightFailed",
    "Problem",
    "RetryPolicy",
    "SalesforceCallError",
    "SalesforceClient",
    "SalesforceConnectorError",
    "check_mapping",
    "in_queries",
]
