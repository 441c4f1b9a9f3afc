"""The hostile-input corpus: named broken or awkward orders, and what the pipeline must make of them.

Each :class:`Case` changes a clean guest order (its own buyer, so cases never merge) either
through :class:`~sandbox.store.db.StoreDB` (values a real store can hold) or, where StoreDB
normalises the value away (unparseable dates, non-numeric totals, a missing billing address),
in the stored JSON document itself (``raw``), which the sandbox API then serves as is. ``expect``
is either a reason code (the order is dead-lettered) or ``"loaded"`` with the normalised values
the org must hold (``order``: Order fields; ``contact``: the bill-to Contact's fields;
``account``: the Account's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Change = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    """One corpus entry."""

    name: str
    change: Change
    expect: str  # a reason code, or "loaded"
    order: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] = field(default_factory=dict)
    account: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # stored-document fields set after the insert
    raw_billing: dict[str, Any] | None = None  # replaces the stored billing address (None: keep)
    fix: dict[str, Any] | None = None  # billing address fields that repair a rejected case

    def source_id(self, order_id: int) -> str:
        """The id the extract sees (the stored id, unless the case breaks it)."""
        return str(self.raw.get("id", order_id))


def billing(**fields: Any) -> Change:
    """Set billing address fields."""

    def change(order: dict[str, Any]) -> None:
        order["billing_address"].update(fields)

    return change


def top(**fields: Any) -> Change:
    """Set order fields."""

    def change(order: dict[str, Any]) -> None:
        order.update(fields)

    return change


def nothing(_: dict[str, Any]) -> None:
    """Leave the order as it is (the change is made in the raw document)."""


LONG_COMPANY = ("Consolidated " + "Industrial " * 30)[:295] + " Inc."  # 300 characters
SOQL = "' OR Name != '"

CASES: list[Case] = [
    # -- required values
    Case("missing_email", billing(email=""), "missing_email", fix={"email": "fixed.missing@example.com"}),
    Case("missing_first_name", billing(first_name=""), "missing_first_name", fix={"first_name": "Fixed"}),
    Case("blank_first_name", billing(first_name="   "), "missing_first_name", fix={"first_name": "Fixed"}),
    Case("missing_last_name", billing(last_name=""), "missing_last_name", fix={"last_name": "Fixed"}),
    Case("missing_street", billing(street_1=""), "missing_street", fix={"street_1": "1 Fixed St"}),
    Case("missing_city", billing(city=""), "missing_city", fix={"city": "Fixedville"}),
    Case("missing_state", billing(state=""), "missing_state", fix={"state": "Ohio"}),
    Case("missing_zip", billing(zip=""), "missing_postal_code", fix={"zip": "44135"}),
    # The v2 API always serves a billing_address object (empty fields when none was stored), so
    # an order stored without one fails on its first required value, the email.
    Case("guest_without_billing_address", nothing, "missing_email", raw_billing={}),
    # -- emails
    Case("malformed_email", billing(email="not-an-email"), "invalid_email", fix={"email": "fixed.bad@example.com"}),
    Case("email_two_ats", billing(email="a@b@example.com"), "invalid_email"),
    Case("email_with_space", billing(email="john smith@example.com"), "invalid_email"),
    Case("email_non_ascii_local", billing(email="josé@example.com"), "invalid_email"),
    Case("email_local_part_65", billing(email="x" * 65 + "@example.com"), "invalid_email"),
    Case("email_no_tld", billing(email="someone@localhost"), "invalid_email"),
    Case(
        "email_upper_case", billing(email="Case.Twin@Example.COM"), "loaded", contact={"Email": "case.twin@example.com"}
    ),
    Case(
        "email_same_but_lower_case",
        billing(email="case.twin@example.com"),
        "loaded",
        contact={"Email": "case.twin@example.com"},
    ),
    Case(
        "email_surrounding_spaces",
        billing(email="  spaced.out@example.com  "),
        "loaded",
        contact={"Email": "spaced.out@example.com"},
    ),
    Case(
        "email_plus_tag", billing(email="buyer+ats@example.com"), "loaded", contact={"Email": "buyer+ats@example.com"}
    ),
    # -- names and companies
    Case("blank_company", billing(company="   "), "loaded"),
    # The mapping truncates names to what Salesforce holds (Account.Name 255, FirstName 40).
    Case("company_300_chars", billing(company=LONG_COMPANY), "loaded", account={"Name": LONG_COMPANY[:255].rstrip()}),
    Case("html_entities_in_name", billing(first_name="Ben &amp; Jerry", last_name="O&#39;Neil"), "loaded"),
    Case(
        "emoji_in_name",
        billing(first_name="Zoë 🚀", last_name="Starr"),
        "loaded",
        contact={"FirstName": "Zoë 🚀", "LastName": "Starr"},
    ),
    Case("emoji_company", billing(company="🔧🔩 Tools"), "loaded"),
    Case(
        "right_to_left_name",
        billing(first_name="محمد", last_name="الأحمد"),
        "loaded",
        contact={"FirstName": "محمد", "LastName": "الأحمد"},
    ),
    Case("hebrew_company", billing(company='חברה בע"מ'), "loaded"),
    Case(
        "apostrophe_name",
        billing(first_name="Siobhan", last_name="O'Brien"),
        "loaded",
        contact={"LastName": "O'Brien"},
        order={"Suggested_Set_Code__c": "109337-O'Brien"},
    ),
    Case(
        "double_quotes_name",
        billing(first_name='"Big" Al', last_name="Quote"),
        "loaded",
        contact={"FirstName": '"Big" Al'},
    ),
    Case(
        "backslash_name",
        billing(first_name="Back\\slash", last_name="Slash"),
        "loaded",
        contact={"FirstName": "Back\\slash"},
    ),
    Case("soql_in_last_name", billing(first_name="Robert", last_name=SOQL), "loaded", contact={"LastName": SOQL}),
    Case("soql_in_company", billing(company="Acme' OR Name != '"), "loaded"),
    Case(
        "percent_and_underscore",
        billing(first_name="100%_", last_name="Wild_card%"),
        "loaded",
        contact={"LastName": "Wild_card%"},
    ),
    Case("null_as_last_name", billing(first_name="Jane", last_name="Null"), "loaded", contact={"LastName": "Null"}),
    Case("newline_in_name", billing(first_name="Line\nBreak", last_name="Tab\tName"), "loaded"),
    Case("zero_width_space_name", billing(first_name="Zero\u200bWidth", last_name="Space"), "loaded"),
    Case("first_name_100_chars", billing(first_name="A" * 100), "loaded", contact={"FirstName": "A" * 40}),
    Case("street_300_chars", billing(street_1="9" * 300), "loaded", contact={}),
    Case("last_name_81_chars", billing(last_name="L" * 81), "field_too_long", fix={"last_name": "Short"}),
    Case("zip_21_chars", billing(zip="4" * 21), "field_too_long"),
    Case("phone_41_chars", billing(phone="5" * 41), "field_too_long"),
    Case("decomposed_accents", billing(first_name="Jose\u0301", last_name="Nun\u0303ez"), "loaded"),
    # -- dates and money
    # An unparseable date cannot be served: the sandbox's v2 serializer formats stored epochs and
    # answers 500 for anything else (so does the real API never send one); transforms/ tests cover it.
    Case("epoch_zero_created_date", top(date_created=0), "loaded", order={"EffectiveDate": "1970-01-01"}),
    Case("far_future_created_date", top(date_created="2999-01-01T00:00:00+00:00"), "loaded"),
    Case("negative_total", top(total_inc_tax="-15.00", total_ex_tax="-15.00"), "invalid_amount"),
    Case("non_numeric_total", nothing, "invalid_amount", raw={"total_inc_tax": "twelve dollars"}),
    Case("total_too_large", top(total_inc_tax="1000000000000000.0000"), "invalid_amount"),
    Case(
        "zero_total", top(total_inc_tax="0.0000", total_ex_tax="0.0000"), "loaded", order={"BigCommerce_Total__c": 0.0}
    ),
    Case("four_decimal_total", top(total_inc_tax="12.3456", total_ex_tax="12.3456"), "loaded"),
    # -- ids
    Case("unknown_customer_id", top(customer_id=987654), "loaded"),
    Case("non_numeric_customer_id", nothing, "invalid_id", raw={"customer_id": "abc"}),
    Case("non_numeric_order_id", nothing, "invalid_id", raw={"id": "ord-x"}),
]
