"""The describe shapes of the sandbox org: ``sobjects/`` (describeGlobal) and ``sobjects/X/describe``.

Built from the :class:`~sandbox.org.schema.OrgSchema`, with the keys and value types the REST
API returns (the ones simple-salesforce users and schema-checking connectors read: name, label,
type, length, nillable, createable, updateable, unique, externalId, idLookup, picklistValues,
restrictedPicklist, referenceTo, relationshipName, …).
"""

from __future__ import annotations

from typing import Any

from sandbox.org.schema import FieldDef, ObjectDef, OrgSchema
from sandbox.org.values import field_label, is_id_lookup

_SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "date": "xsd:date",
    "datetime": "xsd:dateTime", "currency": "xsd:double", "double": "xsd:double", "int": "xsd:int",
}  # fmt: skip
_NAME_FIELDS = {("Account", "Name"), ("Contact", "Name"), ("User", "Name"), ("Group", "Name"),
                ("Order", "OrderNumber"), ("Task", "Subject")}  # fmt: skip
_SYSTEM_NOT_NULL = {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                    "SystemModstamp", "OwnerId"}  # fmt: skip
# Child relationship names of the standard lookups (parent side), as the real org names them.
_CHILD_RELATIONSHIPS = {("Contact", "AccountId"): "Contacts", ("Order", "AccountId"): "Orders",
                        ("Task", "WhatId"): "Tasks", ("Task", "WhoId"): "Tasks",
                        ("QueueSobject", "QueueId"): "QueueSobjects"}  # fmt: skip
_FEED_ENABLED = {"Account", "Contact", "Order", "User"}


def object_urls(obj: ObjectDef, version: str) -> dict[str, str]:
    """The ``urls`` block of an object."""
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "describe": f"{base}/describe",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def global_entry(obj: ObjectDef, version: str) -> dict[str, Any]:
    """One object's entry of describeGlobal (also the ``objectDescribe`` of ``sobjects/X``)."""
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": True,
        "custom": False,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": True,
        "deprecatedAndHidden": False,
        "feedEnabled": obj.name in _FEED_ENABLED,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact"),
        "mruEnabled": True,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": obj.name not in ("QueueSobject",),
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
        "urls": object_urls(obj, version),
    }


def describe_global(schema: OrgSchema, version: str) -> dict[str, Any]:
    """``GET sobjects/``."""
    objects = sorted(schema.objects.values(), key=lambda o: o.name)
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [global_entry(o, version) for o in objects]}


def field_describe(obj: ObjectDef, f: FieldDef) -> dict[str, Any]:
    """One field of ``sobjects/X/describe``."""
    text = f.is_text and f.type not in ("id", "reference")
    length = f.length if text else (18 if f.type in ("id", "reference") else 0)
    defaulted = f.default is not None or f.name in _SYSTEM_NOT_NULL or f.auto_number
    picklist = [
        {
            "active": True,
            "defaultValue": value == f.default,
            "label": value,
            "validFor": None,
            "value": value,
        }
        for value in f.picklist
    ]
    return {
        "aggregatable": f.type != "textarea",
        "aiPredictionField": False,
        "autoNumber": f.auto_number,
        "byteLength": length * 3 if text else length,
        "calculated": f.calculated,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": f.case_sensitive,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": f.default if f.type == "boolean" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": defaulted,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": (f.precision or 18) if f.type == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": None,
        "filterable": f.filterable,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": f.type not in ("textarea", "currency", "double", "datetime"),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": is_id_lookup(obj, f),
        "inlineHelpText": f.description or None,
        "label": field_label(obj, f),
        "length": length if text else 0,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": (obj.name, f.name) in _NAME_FIELDS,
        "namePointing": len(f.reference_to) > 1,
        "nillable": not (f.required or f.type == "boolean" or f.name in _SYSTEM_NOT_NULL or f.auto_number),
        "permissionable": f.custom or not (f.required or f.name in _SYSTEM_NOT_NULL),
        "picklistValues": picklist,
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "precision": f.precision if f.type in ("currency", "double") else 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted,
        "scale": f.scale,
        "searchPrefilterable": False,
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type != "textarea",
        "type": f.type,
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
    }


def child_relationships(schema: OrgSchema, obj: ObjectDef) -> list[dict[str, Any]]:
    """Lookups of other objects pointing at ``obj``."""
    found = []
    for child in sorted(schema.objects.values(), key=lambda o: o.name):
        for f in child.fields.values():
            if f.type != "reference" or obj.name not in f.reference_to:
                continue
            name = f.relationship_name if f.custom else _CHILD_RELATIONSHIPS.get((child.name, f.name))
            found.append(
                {
                    "cascadeDelete": False,
                    "childSObject": child.name,
                    "deprecatedAndHidden": False,
                    "field": f.name,
                    "junctionIdListNames": [],
                    "junctionReferenceTo": [],
                    "relationshipName": name,
                    "restrictedDelete": False,
                }
            )
    return found


def describe_object(schema: OrgSchema, obj: ObjectDef, version: str) -> dict[str, Any]:
    """``GET sobjects/X/describe``."""
    return {
        **global_entry(obj, version),
        "actionOverrides": [],
        "childRelationships": child_relationships(schema, obj),
        "compactLayoutable": True,
        "fields": [field_describe(obj, f) for f in obj.fields.values()],
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": True,
                "developerName": "Master",
                "master": True,
                "name": "Master",
                "recordTypeId": "012000000000000AAA",
                "urls": {
                    "layout": f"/services/data/v{version}/sobjects/{obj.name}/describe/layouts/012000000000000AAA"
                },
            }
        ],
        "searchLayoutable": True,
        "supportedScopes": [{"label": "All " + obj.label_plural.lower(), "name": "everything"}],
    }
