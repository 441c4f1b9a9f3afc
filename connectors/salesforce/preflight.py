"""Before any write: does the org have everything :mod:`transforms.mapping` names?

:func:`check_mapping` reads describe results and two small queries, and returns **every**
problem at once (an admin fixes them in one go), as :class:`Problem` values whose ``str`` reads
``Order.Stage__c: not createable (CREATE_ONLY needs createable)``. It checks:

* each object exists and can be created and updated;
* each external id exists, is an External ID, unique, createable and updateable (``update``
  stamps keys on adopted records);
* each field exists (describe lists only fields the user can read, which is all ``NEVER``
  needs), is createable for ``ALWAYS``/``CREATE_ONLY`` and updateable for ``ALWAYS``; a constant
  default of a picklist field is one of its active values; the org's length is not shorter
  than the mapping's ``max_length``;
* each parent reference names a relationship of the object, pointing at the parent object,
  writable as its policy needs, and the parent's external id is an External ID;
* the Account's assigned-CSR field is a lookup to User; Order's owner can be a queue; the queue
  (``Group`` of Type ``Queue`` with ``DeveloperName = mapping.order_queue``) exists and takes
  Orders (a ``QueueSobject`` row).

It is a pure function of its two callables, so it runs against the org
(:meth:`SalesforceClient.preflight`) or against recorded/fake describe results in tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from simple_salesforce.format import format_soql

from transforms.mapping import ObjectMap, ParentRef, Policy, SalesforceMapping

Describe = Callable[[str], Mapping[str, Any] | None]
Query = Callable[[str], pd.DataFrame]


@dataclass(frozen=True)
class Problem:
    """One thing the org lacks; ``issue`` is a stable code, ``detail`` the readable reason."""

    sobject: str
    field: str | None
    issue: str
    detail: str

    def __str__(self) -> str:
        where = f"{self.sobject}.{self.field}" if self.field else self.sobject
        return f"{where}: {self.detail}"


class _Checker:
    def __init__(self, describe: Describe) -> None:
        self._describe = describe
        self._cache: dict[str, Mapping[str, Any] | None] = {}
        self.problems: list[Problem] = []

    def add(self, sobject: str, field: str | None, issue: str, detail: str) -> None:
        self.problems.append(Problem(sobject, field, issue, detail))

    def describe(self, sobject: str) -> Mapping[str, Any] | None:
        if sobject not in self._cache:
            self._cache[sobject] = self._describe(sobject)
        return self._cache[sobject]

    def fields(self, sobject: str) -> dict[str, Mapping[str, Any]] | None:
        described = self.describe(sobject)
        if described is None:
            return None
        return {str(f["name"]).lower(): f for f in described.get("fields", [])}

    def writable(self, sobject: str, field: Mapping[str, Any], policy: Policy, name: str) -> None:
        """Createable for ALWAYS/CREATE_ONLY, updateable for ALWAYS."""
        if policy in (Policy.ALWAYS, Policy.CREATE_ONLY) and not field.get("createable"):
            self.add(sobject, name, "not_createable", f"not createable ({policy.name} needs createable)")
        if policy is Policy.ALWAYS and not field.get("updateable"):
            self.add(sobject, name, "not_updateable", "not updateable (ALWAYS needs updateable)")

    # -- per object ---------------------------------------------------------------------------

    def object_map(self, obj: ObjectMap) -> None:
        described = self.describe(obj.sobject)
        fields = self.fields(obj.sobject)
        if described is None or fields is None:
            self.add(obj.sobject, None, "missing_object", "object does not exist or is not accessible to this user")
            return
        for flag in ("createable", "updateable"):
            if not described.get(flag, True):
                self.add(obj.sobject, None, f"object_not_{flag}", f"records cannot be {flag.removesuffix('able')}d")
        self.external_id(obj.sobject, obj.external_id, fields)
        for fm in obj.fields:
            found = fields.get(fm.target.lower())
            if found is None:
                detail = f"field does not exist or is not readable ({fm.policy.name})"
                self.add(obj.sobject, fm.target, "missing_field", detail)
                continue
            self.writable(obj.sobject, found, fm.policy, fm.target)
            if fm.default is not None and found.get("type") in ("picklist", "multipicklist"):
                values = [p.get("value") for p in found.get("picklistValues") or [] if p.get("active", True)]
                if fm.default not in values:
                    self.add(obj.sobject, fm.target, "picklist_value",
                             f"default {fm.default!r} is not an active picklist value (has {values})")  # fmt: skip
            length = int(found.get("length") or 0)
            if fm.max_length and 0 < length < fm.max_length:
                self.add(obj.sobject, fm.target, "too_short",
                         f"holds {length} characters, the mapping allows {fm.max_length}")  # fmt: skip
        for ref in obj.parents:
            self.parent(obj.sobject, ref, fields)

    def external_id(self, sobject: str, name: str, fields: Mapping[str, Mapping[str, Any]]) -> None:
        found = fields.get(name.lower())
        if found is None:
            self.add(sobject, name, "missing_field", "external id field does not exist")
            return
        if not found.get("externalId"):
            self.add(sobject, name, "not_external_id", "is not marked External ID (upsert cannot match on it)")
        if not found.get("unique"):
            self.add(sobject, name, "not_unique", "is not Unique (two records could share a key)")
        self.writable(sobject, found, Policy.ALWAYS, name)

    def parent(self, sobject: str, ref: ParentRef, fields: Mapping[str, Mapping[str, Any]]) -> None:
        lookup = next(
            (f for f in fields.values() if str(f.get("relationshipName") or "").lower() == ref.relationship.lower()),
            None,
        )
        if lookup is None:
            self.add(sobject, ref.column, "missing_relationship", f"no relationship named {ref.relationship}")
            return
        if ref.parent not in (lookup.get("referenceTo") or []):
            self.add(sobject, ref.column, "wrong_parent",
                     f"{lookup['name']} points at {lookup.get('referenceTo')}, not {ref.parent}")  # fmt: skip
        self.writable(sobject, lookup, ref.policy, str(lookup["name"]))
        parent_fields = self.fields(ref.parent)
        if parent_fields is None:
            self.add(ref.parent, None, "missing_object", "parent object does not exist or is not accessible")
            return
        target = parent_fields.get(ref.parent_external_id.lower())
        if target is None or not (target.get("externalId") or target.get("idLookup")):
            self.add(ref.parent, ref.parent_external_id, "not_external_id",
                     f"cannot name a parent by it (from {sobject}.{ref.relationship})")  # fmt: skip

    # -- org-wide -----------------------------------------------------------------------------

    def routing(self, mapping: SalesforceMapping, query: Query) -> None:
        account, order = mapping.account.sobject, mapping.order.sobject
        account_fields = self.fields(account) or {}
        csr = account_fields.get(mapping.assigned_csr_field.lower())
        if csr is not None and "User" not in (csr.get("referenceTo") or []):
            self.add(account, mapping.assigned_csr_field, "wrong_parent", "is not a lookup to User")
        owner = (self.fields(order) or {}).get("ownerid")
        if owner is not None and "Group" not in (owner.get("referenceTo") or []):
            self.add(order, "OwnerId", "queue_not_allowed", "orders cannot be owned by a queue")
        queue = mapping.order_queue
        groups = query(format_soql("SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = {name}", name=queue))
        if groups.empty:
            self.add("Group", None, "missing_queue", f"no queue with DeveloperName {queue!r}")
            return
        supported = query(
            format_soql(
                "SELECT Id FROM QueueSobject WHERE QueueId = {queue_id} AND SobjectType = {sobject}",
                queue_id=str(groups["Id"].iloc[0]),
                sobject=order,
            )
        )
        if supported.empty:
            self.add("QueueSobject", None, "queue_not_for_object", f"queue {queue!r} does not accept {order} records")


def check_mapping(mapping: SalesforceMapping, describe: Describe, query: Query) -> list[Problem]:
    """All problems of the org for ``mapping``: ``describe(name)`` gives a describe result or None
    for a missing object, ``query(soql)`` a frame."""
    checker = _Checker(describe)
    for obj in mapping.objects:
        checker.object_map(obj)
    checker.routing(mapping, query)
    return checker.problems
