"""The one declaration of every Salesforce object and field the pipeline reads or writes.

Each target field has a :class:`Policy`:

* ``ALWAYS``: pipeline-owned, sent on create and on every update (names, addresses, phone,
  customer group, payment status, suggested set code...);
* ``CREATE_ONLY``: sent only when the record does not exist yet (new-account defaults, the
  order's start state, its owner); afterwards a CSR owns the value;
* ``NEVER``: CSR-owned; never sent. Listed so preflight can check the field exists and the
  reconciliation can read it.

Object and field API names default to those of ``../shared/reference/business-process.md``
and of ``deployments/salesforce/``; an org with other names changes this file and no code.
The transforms produce frames whose columns are the ``source`` names below; the loader turns
them into Salesforce payloads with :func:`ObjectMap.payload_columns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Policy(StrEnum):
    """Who owns a field's value once the record exists."""

    ALWAYS = "always"
    CREATE_ONLY = "create_only"
    NEVER = "never"


@dataclass(frozen=True)
class FieldMap:
    """One Salesforce field: where its value comes from and who owns it.

    ``source`` names a column of the transformed frame; ``default`` is a constant used when
    ``source`` is None. ``max_length`` is Salesforce's limit; a longer value is truncated when
    ``truncate`` is set, otherwise the record is rejected.

    ``moment`` names the frame column holding the source moment of the value (when the buyer typed
    it; never sent): fields sharing it were chosen together, from one source row. The loader does
    not write a group over values of a later moment the record already holds, so values only move
    forward in source time whatever the batching. Only meaningful for ALWAYS fields: a record that
    does not exist yet gets every value.
    """

    target: str
    policy: Policy
    source: str | None = None
    default: Any = None
    max_length: int | None = None
    truncate: bool = False
    moment: str | None = None


@dataclass(frozen=True)
class ParentRef:
    """A reference to a parent record by its external id (``"Account": {"Key__c": ...}``)."""

    relationship: str  # Salesforce relationship name, e.g. "Account", "BillToContact"
    parent: str  # parent sObject, e.g. "Account"
    parent_external_id: str  # the parent's external-id field
    source: str  # frame column holding the parent's key
    policy: Policy = Policy.ALWAYS

    @property
    def column(self) -> str:
        """The flat column name used in payload frames and Bulk CSV headers."""
        return f"{self.relationship}.{self.parent_external_id}"


@dataclass(frozen=True)
class ObjectMap:
    """One sObject: its external id, its fields and its parent references."""

    sobject: str
    external_id: str  # unique external-id field the pipeline upserts by
    key_source: str  # frame column holding the external id value
    fields: tuple[FieldMap, ...]
    parents: tuple[ParentRef, ...] = ()

    def writable(self, creating: bool) -> list[FieldMap]:
        """Fields sent when creating (ALWAYS and CREATE_ONLY) or updating (ALWAYS)."""
        allowed = {Policy.ALWAYS, Policy.CREATE_ONLY} if creating else {Policy.ALWAYS}
        return [f for f in self.fields if f.policy in allowed]

    def parent_refs(self, creating: bool) -> list[ParentRef]:
        """Parent references sent when creating or updating."""
        allowed = {Policy.ALWAYS, Policy.CREATE_ONLY} if creating else {Policy.ALWAYS}
        return [p for p in self.parents if p.policy in allowed]

    def payload_columns(self, creating: bool) -> list[str]:
        """Columns of a payload frame: the external id, writable fields, parent references."""
        return [
            self.external_id,
            *(f.target for f in self.writable(creating)),
            *(p.column for p in self.parent_refs(creating)),
        ]

    def field(self, target: str) -> FieldMap:
        """The mapping of ``target`` (KeyError when the mapping has no such field)."""
        for f in self.fields:
            if f.target == target:
                return f
        raise KeyError(f"{self.sobject}.{target} is not in the mapping")

    @property
    def moment_columns(self) -> list[str]:
        """The frame columns holding source moments (:attr:`FieldMap.moment`), each once, in order."""
        return list(dict.fromkeys(f.moment for f in self.fields if f.moment))

    @property
    def never_written(self) -> list[str]:
        return [f.target for f in self.fields if f.policy is Policy.NEVER]


@dataclass(frozen=True)
class SalesforceMapping:
    """Everything the pipeline needs to know about the org's names."""

    account: ObjectMap
    contact: ObjectMap
    order: ObjectMap
    task: ObjectMap
    #: DeveloperName of the queue that owns orders of accounts without an assigned CSR.
    order_queue: str = "eCommerce_Orders"
    #: Account lookup to the CSR user who owns the account's new orders.
    assigned_csr_field: str = "Assigned_CSR__c"
    #: The ASTEA customer number every eCommerce order is billed under.
    astea_customer_number: str = "109337"
    #: Salesforce field names read by reconciliation (R8-R11).
    reads: dict[str, str] = field(default_factory=dict)

    @property
    def objects(self) -> tuple[ObjectMap, ...]:
        return (self.account, self.contact, self.order, self.task)


A, C, N = Policy.ALWAYS, Policy.CREATE_ONLY, Policy.NEVER


def _address(prefix: str) -> tuple[FieldMap, ...]:
    """The five address fields of a compound address (``Billing``, ``Mailing``): one group of
    values, taken whole from one source row (``address_at``)."""
    return (
        FieldMap(f"{prefix}Street", A, "street", max_length=255, truncate=True, moment="address_at"),
        FieldMap(f"{prefix}City", A, "city", max_length=40, truncate=True, moment="address_at"),
        FieldMap(f"{prefix}State", A, "state", max_length=80, truncate=True, moment="address_at"),
        FieldMap(f"{prefix}PostalCode", A, "postal_code", max_length=20, moment="address_at"),
        FieldMap(f"{prefix}Country", A, "country", max_length=80, truncate=True, moment="address_at"),
    )


ACCOUNT = ObjectMap(
    sobject="Account",
    external_id="BigCommerce_Account_Key__c",
    key_source="account_key",
    fields=(
        # The name is the company as typed at first sight; once the account exists a CSR owns it.
        FieldMap("Name", C, "account_name", max_length=255, truncate=True),
        # Moments: each group of values comes from its own source row (transforms/accounts.py).
        FieldMap("Phone", A, "phone", max_length=40, moment="phone_at"),
        *_address("Billing"),
        FieldMap("eCommerce_Customer_Group__c", A, "customer_group", max_length=40, moment="customer_group_at"),
        # R4: new eCommerce accounts start inactive and pre-paid; CSRs change both later.
        FieldMap("Repair_Account_Status__c", C, default="None"),
        FieldMap("Repair_Account_Terms__c", C, default="Pre-Pay"),
        FieldMap("ASTEA_Key__c", N),
        FieldMap("Assigned_CSR__c", N),
    ),
)

CONTACT = ObjectMap(
    sobject="Contact",
    external_id="BigCommerce_Contact_Key__c",
    key_source="contact_key",
    fields=(
        # Moments: each group of values comes from its own source row (transforms/contacts.py).
        FieldMap("FirstName", A, "first_name", max_length=40, truncate=True, moment="seen_at"),
        FieldMap("LastName", A, "last_name", max_length=80, moment="seen_at"),
        FieldMap("Email", A, "email", max_length=80, moment="seen_at"),
        FieldMap("Phone", A, "phone", max_length=40, moment="phone_at"),
        *_address("Mailing"),
        FieldMap("BigCommerce_Customer_Id__c", A, "customer_id", max_length=20, moment="customer_id_at"),
    ),
    # A CSR may move a contact to another account; the pipeline sets the account only once.
    parents=(ParentRef("Account", "Account", "BigCommerce_Account_Key__c", "account_key", C),),
)

ORDER = ObjectMap(
    sobject="Order",
    # R5: the eCommerce order number lives in its own unique external id, not OrderNumber.
    external_id="BigCommerce_Order_Id__c",
    key_source="order_key",
    fields=(
        FieldMap("EffectiveDate", A, "order_date"),
        # Seed 001 step 8: CSRs edit the order name (they type the ASTEA Job # there), so it is set once.
        FieldMap("Name", C, "order_name", max_length=80, truncate=True),
        FieldMap("BillingStreet", A, "street", max_length=255, truncate=True),
        FieldMap("BillingCity", A, "city", max_length=40, truncate=True),
        FieldMap("BillingState", A, "state", max_length=80, truncate=True),
        FieldMap("BillingPostalCode", A, "postal_code", max_length=20),
        FieldMap("BillingCountry", A, "country", max_length=80, truncate=True),
        FieldMap("ShippingStreet", A, "ship_street", max_length=255, truncate=True),
        FieldMap("ShippingCity", A, "ship_city", max_length=40, truncate=True),
        FieldMap("ShippingState", A, "ship_state", max_length=80, truncate=True),
        FieldMap("ShippingPostalCode", A, "ship_postal_code", max_length=20),
        FieldMap("ShippingCountry", A, "ship_country", max_length=80, truncate=True),
        FieldMap("BigCommerce_Total__c", A, "total"),
        FieldMap("BigCommerce_Status__c", A, "store_status", max_length=40),
        FieldMap("BigCommerce_Date_Modified__c", A, "date_modified"),
        FieldMap("Payment_Status__c", A, "payment_status", max_length=40),
        FieldMap("Suggested_Set_Code__c", A, "suggested_set_code", max_length=80, truncate=True),
        # R6: orders arrive in stage Order Accepted as Draft; activation is a CSR's step.
        FieldMap("Status", C, default="Draft"),
        FieldMap("Stage__c", C, default="Order Accepted"),
        FieldMap("OwnerId", C, "owner_id"),
        # R12: the ASTEA job number, like the set code and Paid, belongs to the CSR.
        FieldMap("ASTEA_Job_Number__c", N),
        FieldMap("ASTEA_Key_Direct_Billing__c", N),
        FieldMap("Paid__c", N),
        FieldMap("Reconcile_Status__c", N),
    ),
    parents=(
        # AccountId can only change while an order is Draft; the pipeline sets it once.
        ParentRef("Account", "Account", "BigCommerce_Account_Key__c", "account_key", C),
        ParentRef("BillToContact", "Contact", "BigCommerce_Contact_Key__c", "contact_key", C),
    ),
)

TASK = ObjectMap(
    sobject="Task",
    external_id="Reconcile_Key__c",
    key_source="task_key",
    fields=(
        FieldMap("Subject", A, "subject", max_length=255, truncate=True),
        FieldMap("Description", A, "description", max_length=32000, truncate=True),
        FieldMap("Status", A, "status"),
        FieldMap("Priority", C, default="High"),
        FieldMap("OwnerId", C, "owner_id"),
        FieldMap("WhatId", C, "order_id"),
        FieldMap("ActivityDate", C, "due_date"),
    ),
)

MAPPING = SalesforceMapping(
    account=ACCOUNT,
    contact=CONTACT,
    order=ORDER,
    task=TASK,
    reads={
        "order_set_code": "ASTEA_Key_Direct_Billing__c",
        "order_paid": "Paid__c",
        "order_status_flag": "Reconcile_Status__c",
        "account_astea_key": "ASTEA_Key__c",
        "account_terms": "Repair_Account_Terms__c",
    },
)
