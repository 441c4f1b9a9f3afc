"""The sandbox org's schema: standard objects and fields, plus the project's custom fields.

Custom fields are read from the Salesforce metadata source files under
``deployments/salesforce/force-app`` — the very files an admin deploys to a real org — so the
sandbox and production cannot drift apart. Standard objects carry the subset of their real
fields that an eCommerce integration touches, with Salesforce's real types, lengths,
required-ness and picklists.

Names are case-insensitive in Salesforce; lookups here are too, and each definition keeps its
canonical spelling for responses.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

FieldType = Literal[
    "id", "string", "textarea", "email", "phone", "url", "picklist", "boolean",
    "date", "datetime", "currency", "double", "int", "reference",
]  # fmt: skip

METADATA_DIR = Path(__file__).resolve().parents[2] / "deployments" / "salesforce" / "force-app" / "main" / "default"
_NS = {"md": "http://soap.sforce.com/2006/04/metadata"}


@dataclass(frozen=True)
class FieldDef:
    """One field, with what ``describe`` reports and what the org enforces."""

    name: str
    type: FieldType
    label: str = ""
    length: int = 0  # text types; 0 otherwise
    required: bool = False  # required on create (not nillable, createable, no default)
    createable: bool = True
    updateable: bool = True
    unique: bool = False
    external_id: bool = False
    case_sensitive: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    custom: bool = False
    calculated: bool = False
    auto_number: bool = False
    precision: int = 0
    scale: int = 0
    description: str = ""

    @property
    def is_text(self) -> bool:
        return self.type in ("id", "string", "textarea", "email", "phone", "url", "picklist", "reference")

    @property
    def filterable(self) -> bool:
        return self.type != "textarea" or self.length <= 255


@dataclass
class ObjectDef:
    """One sObject type and its fields (keyed by lower-cased name)."""

    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    queueable: bool = False

    def add(self, f: FieldDef) -> None:
        self.fields[f.name.lower()] = f

    def field(self, name: str) -> FieldDef | None:
        """The field named ``name`` (any case), or None."""
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name`` (``Account`` → ``AccountId``)."""
        lowered = name.lower()
        for f in self.fields.values():
            if f.relationship_name and f.relationship_name.lower() == lowered:
                return f
        return None

    @property
    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.external_id]


@dataclass
class OrgSchema:
    """All objects of the org (keyed by lower-cased name)."""

    objects: dict[str, ObjectDef]

    def object(self, name: str) -> ObjectDef | None:
        """The object named ``name`` (any case), or None."""
        return self.objects.get(name.lower())

    def by_prefix(self, key_prefix: str) -> ObjectDef | None:
        """The object whose record ids start with ``key_prefix`` (e.g. ``001`` → Account)."""
        return next((o for o in self.objects.values() if o.key_prefix == key_prefix), None)


# ---------------------------------------------------------------------------------------------
# Standard objects
# ---------------------------------------------------------------------------------------------


def _text(name: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, kw.pop("type", "string"), length=length, **kw)


def _ref(name: str, to: tuple[str, ...], rel: str, **kw: Any) -> FieldDef:
    return FieldDef(name, "reference", length=18, reference_to=to, relationship_name=rel, **kw)


def _system_fields() -> list[FieldDef]:
    ro = {"createable": False, "updateable": False}
    return [
        FieldDef("Id", "id", length=18, **ro),
        FieldDef("IsDeleted", "boolean", default=False, **ro),
        FieldDef("CreatedDate", "datetime", **ro),
        _ref("CreatedById", ("User",), "CreatedBy", **ro),
        FieldDef("LastModifiedDate", "datetime", **ro),
        _ref("LastModifiedById", ("User",), "LastModifiedBy", **ro),
        FieldDef("SystemModstamp", "datetime", **ro),
    ]


def _address(prefix: str) -> list[FieldDef]:
    return [
        _text(f"{prefix}Street", 255, type="textarea"),
        _text(f"{prefix}City", 40),
        _text(f"{prefix}State", 80),
        _text(f"{prefix}PostalCode", 20),
        _text(f"{prefix}Country", 80),
    ]


_OWNER = _ref("OwnerId", ("User",), "Owner")
_OWNER_OR_QUEUE = _ref("OwnerId", ("Group", "User"), "Owner")

TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")


def _standard_objects() -> list[ObjectDef]:
    account = ObjectDef("Account", "001", "Account", "Accounts")
    for f in [
        _text("Name", 255, required=True),
        _OWNER,
        _text("Phone", 40, type="phone"),
        _text("Website", 255, type="url"),
        _text("Type", 255, type="picklist", picklist=("Prospect", "Customer - Direct", "Customer - Channel", "Other")),
        _text("Industry", 255, type="picklist", picklist=("Manufacturing", "Energy", "Transportation", "Other")),
        _text("AccountSource", 255, type="picklist", picklist=("Web", "Phone Inquiry", "Partner Referral", "Other")),
        _text("Description", 32000, type="textarea"),
        *_address("Billing"),
        *_address("Shipping"),
    ]:
        account.add(f)

    contact = ObjectDef("Contact", "003", "Contact", "Contacts")
    for f in [
        _text("FirstName", 40),
        _text("LastName", 80, required=True),
        _text("Name", 121, createable=False, updateable=False, calculated=True),
        _ref("AccountId", ("Account",), "Account"),
        _OWNER,
        _text("Email", 80, type="email"),
        _text("Phone", 40, type="phone"),
        _text("MobilePhone", 40, type="phone"),
        _text("Title", 128),
        _text("LeadSource", 255, type="picklist", picklist=("Web", "Phone Inquiry", "Partner Referral", "Other")),
        _text("Description", 32000, type="textarea"),
        *_address("Mailing"),
    ]:
        contact.add(f)

    order = ObjectDef("Order", "801", "Order", "Orders", queueable=True)
    for f in [
        _ref("AccountId", ("Account",), "Account", required=True),
        FieldDef("EffectiveDate", "date", required=True),
        # Status is required; the org only lets new orders be Draft (checked by the app).
        _text("Status", 255, type="picklist", picklist=("Draft", "Activated"), restricted=True, required=True),
        _text("StatusCode", 255, type="picklist", picklist=("Draft", "Activated"), createable=False, updateable=False),
        _text("OrderNumber", 30, createable=False, updateable=False, auto_number=True),
        _OWNER_OR_QUEUE,
        _text("Name", 80),
        _text("Type", 255, type="picklist", picklist=("New", "Renewal", "Upgrade")),
        _text("PoNumber", 80),
        _text("Description", 32000, type="textarea"),
        _ref("BillToContactId", ("Contact",), "BillToContact"),
        _ref("ShipToContactId", ("Contact",), "ShipToContact"),
        FieldDef("TotalAmount", "currency", precision=18, scale=2, createable=False, updateable=False,
                 calculated=True, default=0),
        FieldDef("ActivatedDate", "datetime", createable=False, updateable=False),
        *_address("Billing"),
        *_address("Shipping"),
    ]:  # fmt: skip
        order.add(f)

    task = ObjectDef("Task", "00T", "Task", "Tasks")
    for f in [
        _text("Subject", 255, type="picklist", picklist=("Call", "Email", "Send Letter", "Other")),
        _text("Status", 255, type="picklist", picklist=TASK_STATUSES, restricted=True, required=True,
              default="Not Started"),
        _text("Priority", 255, type="picklist", picklist=("High", "Normal", "Low"), restricted=True, required=True,
              default="Normal"),
        _OWNER,  # a Task is owned by a user, never by a queue
        _ref("WhatId", ("Account", "Order"), "What"),
        _ref("WhoId", ("Contact",), "Who"),
        FieldDef("ActivityDate", "date"),
        _text("Description", 32000, type="textarea"),
        FieldDef("IsClosed", "boolean", createable=False, updateable=False, calculated=True, default=False),
    ]:  # fmt: skip
        task.add(f)

    user = ObjectDef("User", "005", "User", "Users")
    for f in [
        _text("Username", 80, required=True),
        _text("FirstName", 40),
        _text("LastName", 80, required=True),
        _text("Name", 121, createable=False, updateable=False, calculated=True),
        _text("Email", 128, type="email", required=True),
        _text("Alias", 8, required=True),
        FieldDef("IsActive", "boolean", default=True),
        _text("Title", 80),
    ]:
        user.add(f)

    group = ObjectDef("Group", "00G", "Group", "Groups")
    for f in [
        _text("Name", 40, required=True),
        _text("DeveloperName", 80),
        _text("Type", 255, type="picklist", picklist=("Queue", "Regular"), restricted=True, required=True),
        _text("Email", 255, type="email"),
    ]:
        group.add(f)

    queue_sobject = ObjectDef("QueueSobject", "03g", "Queue Sobject", "Queue Sobjects")
    for f in [
        _ref("QueueId", ("Group",), "Queue", required=True),
        _text("SobjectType", 40, type="picklist", picklist=("Order", "Case", "Lead"), required=True),
    ]:
        queue_sobject.add(f)

    for obj in (account, contact, order, task, user, group, queue_sobject):
        for f in _system_fields():
            obj.add(f)
    return [account, contact, order, task, user, group, queue_sobject]


# ---------------------------------------------------------------------------------------------
# Custom fields from metadata source files
# ---------------------------------------------------------------------------------------------


def _tag(root: ET.Element, name: str, default: str = "") -> str:
    found = root.find(f"md:{name}", _NS)
    return found.text.strip() if found is not None and found.text else default


def parse_custom_field(path: Path) -> FieldDef:
    """A ``*.field-meta.xml`` file as a :class:`FieldDef`."""
    root = ET.parse(path).getroot()  # noqa: S314  (our own repository files)
    name = _tag(root, "fullName") or path.name.split(".")[0]
    kind = _tag(root, "type")
    flag = {n: _tag(root, n).lower() == "true" for n in ("required", "externalId", "unique", "caseSensitive")}
    common: dict[str, Any] = {
        "label": _tag(root, "label"),
        "description": _tag(root, "description"),
        "custom": True,
        "required": flag["required"],
        "external_id": flag["externalId"],
        "unique": flag["unique"],
        "case_sensitive": flag["caseSensitive"],
    }
    if kind in ("Text", "Email", "Phone", "Url", "TextArea", "LongTextArea"):
        types = {"Text": "string", "Email": "email", "Phone": "phone", "Url": "url"}
        length = int(_tag(root, "length", "255"))
        return FieldDef(name, types.get(kind, "textarea"), length=length, **common)  # type: ignore[arg-type]
    if kind == "Picklist":
        values = tuple(
            v.text.strip()
            for v in root.findall("md:valueSet/md:valueSetDefinition/md:value/md:fullName", _NS)
            if v.text
        )
        restricted = _tag(root, "valueSet/md:restricted").lower() == "true"
        return FieldDef(name, "picklist", length=255, picklist=values, restricted=restricted, **common)
    if kind == "Checkbox":
        common["required"] = False
        return FieldDef(name, "boolean", default=_tag(root, "defaultValue", "false").lower() == "true", **common)
    if kind in ("Currency", "Number", "Percent"):
        scale = int(_tag(root, "scale", "0"))
        ftype = "currency" if kind == "Currency" else ("int" if scale == 0 else "double")
        return FieldDef(name, ftype, precision=int(_tag(root, "precision", "18")), scale=scale, **common)  # type: ignore[arg-type]
    if kind in ("Date", "DateTime"):
        return FieldDef(name, "date" if kind == "Date" else "datetime", **common)
    if kind in ("Lookup", "MasterDetail"):
        rel = _tag(root, "relationshipName") + "__r"
        return FieldDef(name, "reference", length=18, reference_to=(_tag(root, "referenceTo"),),
                        relationship_name=rel, **common)  # fmt: skip
    raise ValueError(f"{path}: field type {kind!r} is not supported by the sandbox org")


def _with_custom_fields(objects: list[ObjectDef], metadata_dir: Path) -> list[ObjectDef]:
    by_name = {o.name: o for o in objects}
    for path in sorted(metadata_dir.glob("objects/*/fields/*.field-meta.xml")):
        obj = by_name.get(path.parents[1].name)
        if obj is None:
            raise ValueError(f"{path}: object {path.parents[1].name} is not in the sandbox org")
        obj.add(parse_custom_field(path))
    return objects


def queues_from_metadata(metadata_dir: Path = METADATA_DIR) -> list[dict[str, Any]]:
    """Queues in the metadata (``{"DeveloperName", "Name", "SobjectTypes"}``) for the org's seed."""
    queues = []
    for path in sorted(metadata_dir.glob("queues/*.queue-meta.xml")):
        root = ET.parse(path).getroot()  # noqa: S314
        queues.append({
            "DeveloperName": _tag(root, "fullName") or path.name.split(".")[0],
            "Name": _tag(root, "name"),
            "SobjectTypes": [e.text for e in root.findall("md:queueSobject/md:sobjectType", _NS) if e.text],
        })  # fmt: skip
    return queues


@functools.cache
def load_schema(metadata_dir: Path = METADATA_DIR) -> OrgSchema:
    """Standard objects plus the custom fields under ``metadata_dir`` (cached; treat as read-only)."""
    objects = _with_custom_fields(_standard_objects(), metadata_dir)
    return OrgSchema({o.name.lower(): o for o in objects})


def without_field(schema: OrgSchema, object_name: str, field_name: str) -> OrgSchema:
    """A copy of ``schema`` lacking one field (tests of preflight against a mis-configured org)."""
    objects = {}
    for key, obj in schema.objects.items():
        copy = replace(obj, fields=dict(obj.fields))
        if obj.name.lower() == object_name.lower():
            copy.fields.pop(field_name.lower(), None)
        objects[key] = copy
    return OrgSchema(objects)
