"""Open the connections a flow needs from the settings: store, org, state store.

The one place where settings become connectors; production and sandbox differ only in the
settings given here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from simple_salesforce.format import format_soql

from connectors.bigcommerce import BigCommerceStore
from connectors.salesforce import SalesforceClient
from connectors.settings import Settings
from flows.steps import Resources
from state import StateStore
from transforms.mapping import MAPPING, SalesforceMapping


def _one_id(client: SalesforceClient, soql: str, what: str) -> str:
    found = client.query(soql)
    if found.empty:
        raise RuntimeError(f"{what} not found in Salesforce; run `store-sync doctor`")
    return str(found["Id"].iloc[0])


@contextmanager
def open_resources(settings: Settings, mapping: SalesforceMapping = MAPPING) -> Iterator[Resources]:
    """Connections for one flow run, closed at the end."""
    with (
        BigCommerceStore(settings.bc) as store,
        SalesforceClient(settings.sf) as crm,
        StateStore.open(settings.state_url) as state,
    ):
        queue_id = _one_id(
            crm,
            format_soql("SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = {}", mapping.order_queue),
            f"the queue {mapping.order_queue}",
        )
        user_id = _one_id(
            crm, format_soql("SELECT Id FROM User WHERE Username = {}", settings.sf.username), "the integration user"
        )
        yield Resources(
            store=store,
            crm=crm,
            state=state,
            mapping=mapping,
            queue_id=queue_id,
            integration_user_id=user_id,
            instance_url=crm.instance_url,
        )
