"""The store's records: how stored data is completed on the way in and rendered on the way out.

A *record* is what :class:`sandbox.store.db.StoreDB` keeps: a v2 order (or v3 customer, v2
customer group) with every field the real API returns, dates as epoch seconds and money as
four-decimal strings. :func:`normalize_order` and friends fill what a caller left out with the
values a real store would show (so a data generator can give only what it cares about) and
reject unknown fields (so a typo fails loudly instead of vanishing). ``render_*`` turn records
into the exact JSON bodies of the API, in the field order BigCommerce uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.store.formats import from_units, iso_z, money, plain_utc, rate, rfc2822, to_epoch, units

Record = dict[str, Any]

# -- order statuses --------------------------------------------------------------------------

# id -> (name, control-panel sort order, system description); from the v2 spec and reference.
ORDER_STATUSES: dict[int, tuple[str, int, str]] = {
    0: (
        "Incomplete",
        0,
        "An incomplete order happens when a shopper reached the payment page, but did not complete the transaction.",
    ),
    1: ("Pending", 1, "Customer started the checkout process, but did not complete it."),
    2: (
        "Shipped",
        8,
        "Order has been shipped, but receipt has not been confirmed; seller has used the Ship Items action.",
    ),
    3: (
        "Partially Shipped",
        6,
        "Only some items in the order have been shipped, due to some products being pre-order only or other reasons.",
    ),
    4: ("Refunded", 11, "Seller has used the Refund action."),
    5: ("Cancelled", 9, "Seller has cancelled an order, due to a stock inconsistency or other reasons."),
    6: ("Declined", 10, "Seller has marked the order as declined for lack of manual payment, or other reasons."),
    7: ("Awaiting Payment", 2, "Customer has completed checkout process, but payment has yet to be confirmed."),
    8: (
        "Awaiting Pickup",
        5,
        "Order has been pulled, and is awaiting customer pickup from a seller-specified location.",
    ),
    9: (
        "Awaiting Shipment",
        4,
        "Order has been pulled and packaged, and is awaiting collection from a shipping provider.",
    ),
    10: ("Completed", 7, "Client has paid for their digital product and their file(s) are available for download."),
    11: ("Awaiting Fulfillment", 3, "Customer has completed the checkout process and payment has been confirmed."),
    12: ("Manual Verification Required", 13, "Order is on hold while some aspect needs to be manually confirmed."),
    13: (
        "Disputed",
        12,
        "Customer has initiated a dispute resolution process for the PayPal transaction that paid for the order.",
    ),
    14: ("Partially Refunded", 14, "Seller has partially refunded the order."),
}

PAYMENT_STATUSES = frozenset(
    {
        "authorized", "captured", "capture pending", "declined", "held for review", "paid",
        "partially refunded", "pending", "refunded", "void", "void pending", "",
    }
)  # fmt: skip


def status_entry(status_id: int, count: int | None = None) -> dict[str, Any]:
    """One status as ``/v2/order_statuses`` (and, with ``count``, ``/v2/orders/count``) show it."""
    name, sort_order, description = ORDER_STATUSES[status_id]
    entry: dict[str, Any] = {
        "id": status_id,
        "name": name,
        "system_label": name,
        "custom_label": name,
        "system_description": description,
    }
    if count is not None:
        entry["count"] = count
        entry["sort_order"] = sort_order
    return entry


# -- field catalogues (order = the real API's) -----------------------------------------------

BILLING_ADDRESS_DEFAULTS: Record = {
    "first_name": "", "last_name": "", "company": "", "street_1": "", "street_2": "", "city": "",
    "state": "", "zip": "", "country": "United States", "country_iso2": "US", "phone": "",
    "email": "", "form_fields": [],
}  # fmt: skip

# Order fields before the sub-resource links, then after them; None = computed or required.
ORDER_HEAD: Record = {
    "id": None, "customer_id": 0, "date_created": None, "date_modified": None, "date_shipped": None,
    "status_id": 11, "status": None,
    "subtotal_ex_tax": None, "subtotal_inc_tax": None, "subtotal_tax": None,
    "base_shipping_cost": "0.0000", "shipping_cost_ex_tax": "0.0000", "shipping_cost_inc_tax": "0.0000",
    "shipping_cost_tax": "0.0000", "shipping_cost_tax_class_id": 2,
    "base_handling_cost": "0.0000", "handling_cost_ex_tax": "0.0000", "handling_cost_inc_tax": "0.0000",
    "handling_cost_tax": "0.0000", "handling_cost_tax_class_id": 2,
    "base_wrapping_cost": "0.0000", "wrapping_cost_ex_tax": "0.0000", "wrapping_cost_inc_tax": "0.0000",
    "wrapping_cost_tax": "0.0000", "wrapping_cost_tax_class_id": 3,
    "total_ex_tax": None, "total_inc_tax": None, "total_tax": None,
    "is_tax_inclusive_pricing": False, "items_total": None, "items_shipped": None,
    "payment_method": "Credit Card", "payment_provider_id": "", "payment_status": "authorized",
    "refunded_amount": "0.0000", "order_is_digital": None, "store_credit_amount": "0.0000",
    "gift_certificate_amount": "0.0000", "ip_address": "", "ip_address_v6": "", "geoip_country": "",
    "geoip_country_iso2": "", "currency_id": 1, "currency_code": "USD", "currency_exchange_rate": "1.0000000000",
    "default_currency_id": 1, "default_currency_code": "USD", "staff_notes": "", "customer_message": "",
    "discount_amount": "0.0000", "coupon_discount": "0.0000", "shipping_address_count": None,
    "is_deleted": False, "ebay_order_id": "0", "cart_id": "", "billing_address": None,
    "is_email_opt_in": False, "credit_card_type": None, "order_source": "www", "channel_id": 1,
    "external_source": None,
}  # fmt: skip
ORDER_TAIL: Record = {
    "external_id": None, "external_merchant_id": None, "tax_provider_id": "BasicTaxProvider",
    "customer_locale": "en", "external_order_id": "", "store_default_currency_code": "USD",
    "store_default_to_transactional_exchange_rate": "1.0000000000", "custom_status": None,
}  # fmt: skip
ORDER_DEFAULTS: Record = {**ORDER_HEAD, **ORDER_TAIL}
ORDER_MONEY = frozenset(
    {
        "subtotal_ex_tax", "subtotal_inc_tax", "subtotal_tax", "base_shipping_cost", "shipping_cost_ex_tax",
        "shipping_cost_inc_tax", "shipping_cost_tax", "base_handling_cost", "handling_cost_ex_tax",
        "handling_cost_inc_tax", "handling_cost_tax", "base_wrapping_cost", "wrapping_cost_ex_tax",
        "wrapping_cost_inc_tax", "wrapping_cost_tax", "total_ex_tax", "total_inc_tax", "total_tax",
        "refunded_amount", "store_credit_amount", "gift_certificate_amount", "discount_amount", "coupon_discount",
    }
)  # fmt: skip
ORDER_RATES = frozenset({"currency_exchange_rate", "store_default_to_transactional_exchange_rate"})
# Kept with the order, served by sub-resources rather than inline.
ORDER_CHILDREN = ("products", "shipping_addresses", "coupons")

PRODUCT_DEFAULTS: Record = {
    "id": None, "order_id": None, "product_id": 0, "variant_id": 0, "order_pickup_method_id": 0,
    "order_address_id": None, "name": "", "name_customer": None, "name_merchant": None, "sku": "",
    "upc": "", "type": "physical", "base_price": None, "price_ex_tax": "0.0000", "price_inc_tax": None,
    "price_tax": None, "base_total": None, "total_ex_tax": None, "total_inc_tax": None,
    "total_tax": None, "weight": "0.0000", "width": "0.0000", "height": "0.0000", "depth": "0.0000", "quantity": 1,
    "base_cost_price": "0.0000", "cost_price_inc_tax": "0.0000", "cost_price_ex_tax": "0.0000",
    "cost_price_tax": "0.0000",
    "is_refunded": False, "quantity_refunded": 0, "refund_amount": "0.0000", "return_id": 0,
    "wrapping_id": 0, "wrapping_name": "", "base_wrapping_cost": "0.0000", "wrapping_cost_ex_tax": "0.0000",
    "wrapping_cost_inc_tax": "0.0000", "wrapping_cost_tax": "0.0000", "wrapping_message": "",
    "quantity_shipped": 0, "event_name": None, "event_date": None, "fixed_shipping_cost": "0.0000",
    "ebay_item_id": "", "ebay_transaction_id": "", "option_set_id": None,
    "parent_order_product_id": None, "is_bundled_product": False, "bin_picking_number": "",
    "external_id": None, "brand": "", "applied_discounts": [], "product_options": [],
    "configurable_fields": [], "gift_certificate_id": None, "discounted_total_inc_tax": None,
}  # fmt: skip
PRODUCT_MONEY = frozenset(
    {
        "base_price", "price_ex_tax", "price_inc_tax", "price_tax", "base_total", "total_ex_tax",
        "total_inc_tax", "total_tax", "weight", "width", "height", "depth", "base_cost_price",
        "cost_price_inc_tax", "cost_price_ex_tax", "cost_price_tax", "refund_amount",
        "base_wrapping_cost", "wrapping_cost_ex_tax", "wrapping_cost_inc_tax", "wrapping_cost_tax",
        "fixed_shipping_cost", "discounted_total_inc_tax",
    }
)  # fmt: skip

SHIPPING_ADDRESS_DEFAULTS: Record = {
    "id": None, "order_id": None, "first_name": "", "last_name": "", "company": "", "street_1": "",
    "street_2": "", "city": "", "zip": "", "country": "United States", "country_iso2": "US",
    "state": "", "email": "", "phone": "", "items_total": None, "items_shipped": None,
    "shipping_method": "Fixed Shipping", "base_cost": "0.0000", "cost_ex_tax": "0.0000", "cost_inc_tax": "0.0000",
    "cost_tax": "0.0000", "cost_tax_class_id": 2, "base_handling_cost": "0.0000", "handling_cost_ex_tax": "0.0000",
    "handling_cost_inc_tax": "0.0000", "handling_cost_tax": "0.0000", "handling_cost_tax_class_id": 2,
    "shipping_zone_id": 1, "shipping_zone_name": "United States", "form_fields": [],
}  # fmt: skip
SHIPPING_MONEY = frozenset(
    {
        "base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax", "base_handling_cost",
        "handling_cost_ex_tax", "handling_cost_inc_tax", "handling_cost_tax",
    }
)  # fmt: skip
# Consignment objects carry the same costs as numbers (shippingConsignment_Get in the v2 spec).
CONSIGNMENT_ADDRESS_FIELDS = (
    "first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip", "country",
    "country_iso2", "phone", "email", "form_fields", "shipping_method",
)  # fmt: skip
CONSIGNMENT_COST_FIELDS = (
    "base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax", "cost_tax_class_id", "base_handling_cost",
    "handling_cost_ex_tax", "handling_cost_inc_tax", "handling_cost_tax", "handling_cost_tax_class_id",
    "shipping_zone_id", "shipping_zone_name",
)  # fmt: skip
# The real API inlines at most this many line items per consignment, with a __warning__.
CONSIGNMENT_LINE_ITEM_CAP = 50

COUPON_DEFAULTS: Record = {
    "id": None, "coupon_id": 0, "order_id": None, "code": "", "amount": 0, "type": 2, "discount": 0,
}  # fmt: skip

CUSTOMER_DEFAULTS: Record = {
    "id": None, "authentication": {"force_password_reset": False}, "company": "",
    "customer_group_id": 0, "email": None, "first_name": "", "last_name": "", "notes": "",
    "phone": "", "registration_ip_address": "", "tax_exempt_category": "", "date_created": None,
    "date_modified": None, "accepts_product_review_abandoned_cart_emails": False,
    "origin_channel_id": 1, "channel_ids": [1],
}  # fmt: skip
# Sub-resources only shown with ?include=...
CUSTOMER_INCLUDED: Record = {
    "addresses": [], "attributes": [], "form_fields": [], "store_credit_amounts": [{"amount": 0}],
}  # fmt: skip
CUSTOMER_ALL: Record = {**CUSTOMER_DEFAULTS, **CUSTOMER_INCLUDED}
CUSTOMER_INCLUDES = frozenset({"addresses", "storecredit", "attributes", "formfields"})

ADDRESS_DEFAULTS: Record = {
    "id": None, "customer_id": None, "first_name": "", "last_name": "", "company": "", "address1": "",
    "address2": "", "city": "", "state_or_province": "", "postal_code": "", "country": "United States",
    "country_code": "US", "phone": "", "address_type": "residential", "form_fields": [],
}  # fmt: skip
ATTRIBUTE_DEFAULTS: Record = {
    "id": None, "customer_id": None, "attribute_id": None, "attribute_value": "",
    "date_created": None, "date_modified": None,
}  # fmt: skip

GROUP_DEFAULTS: Record = {
    "id": None, "name": None, "is_default": False, "category_access": {"type": "all"},
    "discount_rules": [], "date_created": None, "date_modified": None, "is_group_for_guests": False,
}  # fmt: skip

# Not order fields proper: derived ones are recomputed, children are normalized on their own.
_ORDER_IGNORED = frozenset({"status", "custom_status", "shipping_address_count", *ORDER_CHILDREN})


# -- normalization ---------------------------------------------------------------------------
#
# A normalized record keeps what its caller gave (checked, money formatted, dates as epoch
# seconds) plus what the store derives (totals, counts, status names), and nothing else: the
# defaults are filled in on reading (``complete_*``). Stored that way an order is a fifth of the
# JSON to write and parse, which is what makes bulk inserts of 100k orders take seconds.


def _checked(kind: str, given: Record, defaults: Record, ignore: frozenset[str] = frozenset()) -> Record:
    """A copy of ``given`` without the ``ignore``d keys; any other unknown key raises ValueError."""
    extra = given.keys() - defaults.keys()
    if not extra:
        return dict(given)
    if extra - ignore:
        raise ValueError(f"unknown {kind} field(s): {', '.join(sorted(extra - ignore))}")
    return {k: v for k, v in given.items() if k not in extra}


def _complete(record: Record, defaults: Record, shared: bool = False) -> Record:
    """``record`` with every field of ``defaults`` it lacks, in the API's field order.

    ``shared``: the defaults' lists and dicts go in as they are (for a record only rendered and
    then dropped, never changed); otherwise every record gets its own copies."""
    full = {**defaults, **record}
    if shared:
        return full
    for key in _mutable_keys(defaults):
        if key not in record:
            full[key] = _fresh(defaults[key])
    return full


def _fresh(value: list[Any] | dict[str, Any]) -> Any:
    # Default lists and dicts are at most two levels deep ([{"amount": 0}]).
    if isinstance(value, list):
        return [dict(v) if isinstance(v, dict) else v for v in value]
    return dict(value)


_MUTABLE_KEYS: dict[int, tuple[Record, tuple[str, ...]]] = {}


def _mutable_keys(defaults: Record) -> tuple[str, ...]:
    # Keyed by identity because every read calls this; the defaults are module constants, and
    # the entry keeps a reference so that an id can never be reused.
    entry = _MUTABLE_KEYS.get(id(defaults))
    if entry is None:
        entry = _MUTABLE_KEYS[id(defaults)] = (
            defaults,
            tuple(k for k, v in defaults.items() if isinstance(v, list | dict)),
        )
    return entry[1]


def _format_money(record: Record, fields: frozenset[str]) -> None:
    for field in fields & record.keys():
        if record[field] is not None:
            record[field] = money(record[field])


def _dates(record: Record, kind: str, names: Iterable[str] = ("date_created", "date_modified")) -> None:
    for name in names:
        if record.get(name) is None:
            raise ValueError(f"{kind} needs {name} (StoreDB supplies it)")
        record[name] = to_epoch(record[name])


def normalize_product(given: Record, order_id: int, default_address_id: int | None) -> Record:
    """An order line item; totals follow price x quantity unless given."""
    p = _checked("order product", given, PRODUCT_DEFAULTS)
    if p.get("id") is None:
        raise ValueError("order product without id (StoreDB assigns them)")
    p["order_id"] = order_id
    if p.get("order_address_id") is None:
        p["order_address_id"] = default_address_id or 0
    for alias in ("name_customer", "name_merchant"):
        if not p.get(alias):
            p[alias] = p.get("name", "")
    _format_money(p, PRODUCT_MONEY)
    p["price_ex_tax"] = ex_tax = p.get("price_ex_tax", PRODUCT_DEFAULTS["price_ex_tax"])
    if p.get("price_inc_tax") is None:
        p["price_inc_tax"] = ex_tax
    if p.get("price_tax") is None:
        p["price_tax"] = from_units(units(p["price_inc_tax"]) - units(ex_tax))
    if p.get("base_price") is None:
        p["base_price"] = ex_tax
    quantity = int(p.get("quantity", PRODUCT_DEFAULTS["quantity"]))
    for total, unit in _PRODUCT_TOTALS:
        if p.get(total) is None:
            p[total] = from_units(units(p[unit]) * quantity)
    if p.get("discounted_total_inc_tax") is None:
        p["discounted_total_inc_tax"] = p["total_inc_tax"]
    return p


_PRODUCT_TOTALS = (
    ("base_total", "base_price"),
    ("total_ex_tax", "price_ex_tax"),
    ("total_inc_tax", "price_inc_tax"),
    ("total_tax", "price_tax"),
)


def _quantity(product: Record, field: str = "quantity") -> int:
    return int(product.get(field, PRODUCT_DEFAULTS[field]))


def normalize_shipping_address(given: Record, order_id: int, products: list[Record]) -> Record:
    """An order shipping address; item counts follow its products unless given."""
    a = _checked("shipping address", given, SHIPPING_ADDRESS_DEFAULTS, ignore=frozenset({"shipping_quotes"}))
    if a.get("id") is None:
        raise ValueError("shipping address without id (StoreDB assigns them)")
    a["order_id"] = order_id
    mine = [p for p in products if p["order_address_id"] == a["id"]]
    if a.get("items_total") is None:
        a["items_total"] = sum(_quantity(p) for p in mine)
    if a.get("items_shipped") is None:
        a["items_shipped"] = sum(_quantity(p, "quantity_shipped") for p in mine)
    _format_money(a, SHIPPING_MONEY)
    return a


def normalize_order(given: Record) -> Record:
    """A stored order from a (possibly partial) v2 order with nested lists.

    ``given`` needs ``id``, ``date_created`` and ``date_modified`` (StoreDB supplies them),
    children with ids, and should have a ``billing_address`` with an email. Totals, item
    counts, status names and the like are derived when absent, the way a store computes them.
    """
    order = _checked("order", given, ORDER_DEFAULTS, ignore=_ORDER_IGNORED)
    order_id = order.get("id")
    if order_id is None:
        raise ValueError("order needs an id (StoreDB supplies it)")
    _dates(order, "order")
    if order.get("date_shipped") in (None, ""):
        order.pop("date_shipped", None)
    else:
        order["date_shipped"] = to_epoch(order["date_shipped"])
    status_id = order.get("status_id", ORDER_DEFAULTS["status_id"])
    if status_id not in ORDER_STATUSES:
        raise ValueError(f"unknown status_id {status_id!r} (0..14)")
    if order.get("payment_status", "") not in PAYMENT_STATUSES:
        raise ValueError(f"unknown payment_status {order['payment_status']!r}")
    order["customer_id"] = int(order.get("customer_id") or 0)
    order["status"] = order["custom_status"] = ORDER_STATUSES[status_id][0]
    order["billing_address"] = _checked("billing address", given.get("billing_address") or {}, BILLING_ADDRESS_DEFAULTS)

    addresses_in = list(given.get("shipping_addresses") or [])
    first_address_id = addresses_in[0].get("id") if addresses_in else None
    products = [normalize_product(p, order_id, first_address_id) for p in given.get("products") or []]
    order["products"] = products
    order["shipping_addresses"] = [normalize_shipping_address(a, order_id, products) for a in addresses_in]
    order["coupons"] = [
        {**_checked("coupon", c, COUPON_DEFAULTS), "order_id": order_id} for c in given.get("coupons") or []
    ]
    _format_money(order, ORDER_MONEY)
    for field in ORDER_RATES & order.keys():
        order[field] = rate(order[field])
    _derive_order_totals(order)
    if order.get("items_total") is None:
        order["items_total"] = sum(_quantity(p) for p in products)
    if order.get("items_shipped") is None:
        order["items_shipped"] = sum(_quantity(p, "quantity_shipped") for p in products)
    if order.get("order_is_digital") is None:
        order["order_is_digital"] = bool(products) and all(p.get("type") == "digital" for p in products)
    order["shipping_address_count"] = len(order["shipping_addresses"])
    return order


def _derive_order_totals(order: Record) -> None:
    """Subtotals from the products, totals from subtotal + shipping + handling + wrapping - discounts."""

    def amount(field: str) -> int:
        return units(order.get(field) or ORDER_DEFAULTS[field])

    for suffix in ("ex_tax", "inc_tax", "tax"):
        subtotal, total = f"subtotal_{suffix}", f"total_{suffix}"
        if order.get(subtotal) is None:
            order[subtotal] = from_units(sum(units(p[f"total_{suffix}"]) for p in order["products"]))
        if order.get(total) is None:
            parts = (subtotal, f"shipping_cost_{suffix}", f"handling_cost_{suffix}", f"wrapping_cost_{suffix}")
            value = sum(amount(part) for part in parts)
            if suffix != "tax":
                value = max(value - amount("discount_amount") - amount("coupon_discount"), 0)
            order[total] = from_units(value)


def normalize_customer(given: Record) -> Record:
    """A stored v3 customer (addresses and attributes need their ids; StoreDB assigns them)."""
    customer = _checked("customer", given, CUSTOMER_ALL, ignore=frozenset({"address_count", "attribute_count"}))
    if customer.get("id") is None or not customer.get("email"):
        raise ValueError("customer needs id and email")
    _dates(customer, "customer")
    customer_id = customer["id"]
    addresses = [
        {**_checked("customer address", a, ADDRESS_DEFAULTS), "customer_id": customer_id}
        for a in customer.get("addresses") or []
    ]
    if any(a.get("id") is None for a in addresses):
        raise ValueError("customer address without id (StoreDB assigns them)")
    attributes = []
    for given_attribute in customer.get("attributes") or []:
        attribute = {**_checked("customer attribute", given_attribute, ATTRIBUTE_DEFAULTS), "customer_id": customer_id}
        for field in ("date_created", "date_modified"):
            attribute[field] = to_epoch(attribute.get(field) or customer[field])
        attributes.append(attribute)
    customer["addresses"], customer["attributes"] = addresses, attributes
    return customer


def normalize_group(given: Record) -> Record:
    """A stored v2 customer group."""
    group = _checked("customer group", given, GROUP_DEFAULTS)
    if group.get("id") is None or not group.get("name"):
        raise ValueError("customer group needs id and name")
    _dates(group, "customer group")
    return group


def complete_order(order: Record, with_children: bool = True, shared: bool = False) -> Record:
    """Every field of a stored order (its children too, unless ``with_children`` is false);
    ``shared`` as for :func:`_complete` (a read-only view)."""
    full = _complete({k: v for k, v in order.items() if k not in ORDER_CHILDREN}, ORDER_DEFAULTS, shared)
    full["billing_address"] = _complete(order["billing_address"], BILLING_ADDRESS_DEFAULTS, shared)
    if with_children:
        full["products"] = [_complete(p, PRODUCT_DEFAULTS, shared) for p in order["products"]]
        full["shipping_addresses"] = [
            _complete(a, SHIPPING_ADDRESS_DEFAULTS, shared) for a in order["shipping_addresses"]
        ]
        full["coupons"] = [_complete(c, COUPON_DEFAULTS, shared) for c in order["coupons"]]
    return full


def complete_customer(customer: Record) -> Record:
    """Every field of a stored customer, sub-resources included."""
    full = _complete(customer, CUSTOMER_ALL)
    full["addresses"] = [_complete(a, ADDRESS_DEFAULTS) for a in full["addresses"]]
    full["attributes"] = [_complete(a, ATTRIBUTE_DEFAULTS) for a in full["attributes"]]
    return full


def complete_group(group: Record) -> Record:
    """Every field of a stored customer group."""
    return _complete(group, GROUP_DEFAULTS)


# -- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    """Builds the ``{"url", "resource"}`` pairs v2 uses to point at sub-resources."""

    api_base: str  # https://host:port/stores/{hash}/v2

    def __call__(self, resource: str) -> dict[str, str]:
        """The link to ``resource`` (a path under /v2, such as ``/orders/100/products``)."""
        return {"url": self.api_base + resource, "resource": resource}


def render_order(order: Record, links: Links, consignments: str | None = None, line_items: bool = False) -> Record:
    """A v2 order body.

    ``consignments`` is None (a link to the sub-resource), ``"object"`` or ``"array"`` (the
    legacy structure: the same object, wrapped in a one-element list); ``line_items`` inlines
    the products in each consignment instead of links to them.
    """
    body: Record = {field: order[field] for field in ORDER_HEAD}
    body["date_created"] = rfc2822(order["date_created"])
    body["date_modified"] = rfc2822(order["date_modified"])
    body["date_shipped"] = "" if order["date_shipped"] is None else rfc2822(order["date_shipped"])
    oid = order["id"]
    if consignments is None:
        body["consignments"] = links(f"/orders/{oid}/consignments")
    else:
        inline = render_consignments(order, links, line_items)
        body["consignments"] = inline if consignments == "object" else [inline]
    body["products"] = links(f"/orders/{oid}/products")
    # The real API spells this resource without the underscore (and serves both spellings).
    body["shipping_addresses"] = links(f"/orders/{oid}/shippingaddresses")
    body["coupons"] = links(f"/orders/{oid}/coupons")
    body.update({field: order[field] for field in ORDER_TAIL})
    return body


def render_product(product: Record) -> Record:
    """A v2 order product (the spec's ``orderProducts`` allows no other fields)."""
    return {field: product[field] for field in PRODUCT_DEFAULTS}


def render_shipping_address(address: Record, links: Links) -> Record:
    """A v2 order shipping address with its ``shipping_quotes`` link."""
    body = {field: address[field] for field in SHIPPING_ADDRESS_DEFAULTS if field != "form_fields"}
    body["shipping_quotes"] = links(f"/orders/{address['order_id']}/shippingaddresses/{address['id']}/shippingquotes")
    body["form_fields"] = address["form_fields"]
    return body


def render_coupon(coupon: Record) -> Record:
    """A v2 order coupon."""
    return {field: coupon[field] for field in COUPON_DEFAULTS}


def render_consignments(order: Record, links: Links, line_items: bool) -> Record:
    """The ``orderConsignment_Get`` object: shipping per address, downloads, gift certificates."""
    oid = order["id"]
    products = order["products"]

    def items(selected: list[Record]) -> tuple[list[Record], bool]:
        if line_items:
            return [render_product(p) for p in selected[:CONSIGNMENT_LINE_ITEM_CAP]], len(
                selected
            ) > CONSIGNMENT_LINE_ITEM_CAP
        return [links(f"/orders/{oid}/products/{p['id']}") for p in selected], False

    shipping = []
    for address in order["shipping_addresses"]:
        aid = address["id"]
        line, capped = items([p for p in products if p["order_address_id"] == aid and p["type"] == "physical"])
        consignment: Record = {"id": aid}
        consignment.update({f: address[f] for f in CONSIGNMENT_ADDRESS_FIELDS})
        consignment["line_items"] = line
        consignment["items_total"] = address["items_total"]
        consignment["items_shipped"] = address["items_shipped"]
        for field in CONSIGNMENT_COST_FIELDS:
            value = address[field]
            consignment[field] = _number(value) if field in SHIPPING_MONEY else value
        consignment["shipping_quotes"] = links(f"/orders/{oid}/consignments/shipping/{aid}/shipping_quotes")
        if capped:
            consignment["__warning__"] = {
                "message": f"Not all line items of this consignment are returned with this response, only "
                f"{CONSIGNMENT_LINE_ITEM_CAP} are included. Please use the `/v2/orders/{{order_id}}/products` "
                "endpoint to fetch all line items."
            }
        shipping.append(consignment)
    email = order["billing_address"]["email"]
    digital = [p for p in products if p["type"] == "digital"]
    gifts = [p for p in products if p["type"] == "giftcertificate"]
    return {
        "pickups": [],
        "shipping": shipping,
        "downloads": [{"recipient_email": email, "line_items": items(digital)[0]}] if digital else [],
        "email": {"gift_certificates": [{"recipient_email": email, "line_items": items(gifts)[0]}] if gifts else []},
    }


def _number(amount: str) -> int | float:
    """A money string as the JSON number consignments use: ``"5.1000"`` -> 5.1, ``"0.0000"`` -> 0."""
    value = float(amount)
    return int(value) if value.is_integer() else value


def render_customer(customer: Record, includes: frozenset[str] | set[str]) -> Record:
    """A v3 customer; sub-resources only when ``includes`` names them (as the API does)."""
    body = {field: customer[field] for field in CUSTOMER_DEFAULTS}
    body["date_created"] = iso_z(customer["date_created"])
    body["date_modified"] = iso_z(customer["date_modified"])
    with_form_fields = "formfields" in includes
    if "addresses" in includes:
        body["addresses"] = [
            {k: v for k, v in a.items() if with_form_fields or k != "form_fields"} for a in customer["addresses"]
        ]
        body["address_count"] = len(customer["addresses"])
    if "attributes" in includes:
        body["attributes"] = [
            {**a, "date_created": iso_z(a["date_created"]), "date_modified": iso_z(a["date_modified"])}
            for a in customer["attributes"]
        ]
        body["attribute_count"] = len(customer["attributes"])
    if with_form_fields:
        body["form_fields"] = [{**f, "customer_id": customer["id"]} for f in customer["form_fields"]]
    if "storecredit" in includes:
        body["store_credit_amounts"] = customer["store_credit_amounts"]
    return body


def render_group(group: Record) -> Record:
    """A v2 customer group (dates without a zone, as the real endpoint writes them)."""
    body = dict(group)
    body["date_created"] = plain_utc(group["date_created"])
    body["date_modified"] = plain_utc(group["date_modified"])
    return body
