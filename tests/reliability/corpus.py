"""The hostile-input corpus: named broken or awkward records, what the pipeline must make of them,
and how they are planted in a sandbox store.

**Guest cases** change a clean guest order (its own buyer, so cases never merge). **Registered
cases** (``customer`` set) add a v3 customer record and an order of that customer
(``customer_id`` > 0) whose billing address repeats the customer's details, as a registered
checkout does; ``customer`` changes the customer record, ``change`` the order. The customer
record is dated after its order was placed, so where both are loaded the customer's own values
are the freshest (the bill-to Contact shows them, not the checkout's).

Values go in through :class:`~sandbox.store.db.StoreDB` (what a real store can hold) or, where
StoreDB refuses or normalises them (unparseable totals, a missing billing address, a blank
email, two emails differing only in case), straight into the stored JSON document (``raw``,
``raw_billing``, ``raw_customer``), which the sandbox API then serves as is. Some records are
also *served twice*: a copy of the stored row under a later id carries the same document, so
the API serves the same id again on a later page; or *deleted*: the customer row is removed
after its order was placed.

``expect`` is the order's outcome and ``customer_expect`` the customer record's: a reason code
(the record is dead-lettered) or ``"loaded"``. Expected org values: ``order`` (Order fields),
``contact`` (the order's bill-to Contact), ``account`` (the order's Account), ``customer_contact``
(the Contact keyed by the customer record's email; ``Account.Name`` style paths reach its
parents). A :class:`Ref` stands for a value known only once planted (ids, generated emails).
``fix`` (billing address fields) and ``customer_fix`` (customer fields) repair a rejected case.

An unparseable date cannot be planted: the sandbox serialises stored epochs and answers 500 for
anything else (and neither does the real API send one); ``tests/transforms/test_validation.py``
covers orders' and customers' unparseable dates.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.store.db import StoreDB

Change = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Ref:
    """An expected value fixed only when the corpus is planted: ``email`` (the buyer's drafted
    email), ``person_name`` ("First Last" as drafted), ``company`` (as drafted) or
    ``customer_id``, of this case or of the case named ``case``."""

    name: str
    case: str | None = None


EMAIL, PERSON_NAME, COMPANY, CUSTOMER_ID = Ref("email"), Ref("person_name"), Ref("company"), Ref("customer_id")


@dataclass(frozen=True)
class Case:
    """One corpus entry (see the module docstring)."""

    name: str
    change: Change
    expect: str  # a reason code, or "loaded"
    order: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] = field(default_factory=dict)
    account: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # stored-document fields set after the insert
    raw_billing: dict[str, Any] | None = None  # replaces the stored billing address (None: keep)
    fix: dict[str, Any] | None = None  # billing address fields that repair a rejected order
    order_served_twice: bool = False
    # -- registered cases only
    customer: Change | None = None  # set: the order is a registered customer's; changes its v3 record
    customer_expect: str = "loaded"
    customer_contact: dict[str, Any] = field(default_factory=dict)
    raw_customer: dict[str, Any] = field(default_factory=dict)
    customer_fix: dict[str, Any] | None = None  # customer fields that repair a rejected customer
    customer_served_twice: bool = False
    delete_customer: bool = False

    def source_id(self, order_id: int) -> str:
        """The order id the extract sees (the stored id, unless the case breaks it)."""
        return str(self.raw.get("id", order_id))

    @property
    def registered(self) -> bool:
        """Whether the case has a customer record (which the store still holds)."""
        return self.customer is not None and not self.delete_customer


# -- changes -----------------------------------------------------------------------------------


def billing(**fields: Any) -> Change:
    """Set billing address fields of the order."""

    def change(order: dict[str, Any]) -> None:
        order["billing_address"].update(fields)

    return change


def top(**fields: Any) -> Change:
    """Set fields of the record (order or customer)."""

    def change(record: dict[str, Any]) -> None:
        record.update(fields)

    return change


def address_book(**fields: Any) -> Change:
    """Set fields of a customer's first address."""

    def change(customer: dict[str, Any]) -> None:
        customer["addresses"][0].update(fields)

    return change


def chain(*changes: Change) -> Change:
    """All of ``changes``, in order."""

    def change(record: dict[str, Any]) -> None:
        for one in changes:
            one(record)

    return change


def nothing(_: dict[str, Any]) -> None:
    """Leave the record as it is (the change, if any, is made in the raw document)."""


def registered(
    name: str, customer: Change = nothing, checkout: Change = nothing, *, expect: str = "loaded", **details: Any
) -> Case:
    """A registered case: ``customer`` changes the v3 record, ``checkout`` the order."""
    return Case(name, checkout, expect, customer=customer, **details)


# -- values ------------------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
# Registered records are dated well before the run (outside the next run's overlap): the order
# placed two days ago, the customer record edited since (so it is the freshest source).
ORDER_PLACED = NOW - timedelta(days=2)
CUSTOMER_CREATED = NOW - timedelta(days=3)
CUSTOMER_MODIFIED = NOW - timedelta(days=1)
CHECKOUT_STREET = "200 Checkout Rd"  # a registered order's billing street
PROFILE_STREET = "1 Member Way"  # its customer's address-book street
MEMBER_GROUP = 2
MEMBER_PHONE = "(330) 555-0100"

LONG_COMPANY = ("Consolidated " + "Industrial " * 30)[:295] + " Inc."  # 300 characters
LONG_MEMBER_COMPANY = ("Registered " + "Fabrication " * 30)[:295] + " LLC"  # 300 characters, another key
SOQL = "' OR Name != '"

GUEST_CASES: list[Case] = [
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
    # A guest order naming a customer the store does not have: the billing address is the buyer.
    Case(
        "unknown_customer_id",
        top(customer_id=987654),
        "loaded",
        contact={"Email": EMAIL, "BigCommerce_Customer_Id__c": "987654"},
    ),
    Case("non_numeric_customer_id", nothing, "invalid_id", raw={"customer_id": "abc"}),
    Case("non_numeric_order_id", nothing, "invalid_id", raw={"id": "ord-x"}),
    # The API serves the order again on a later page: extracted (and loaded) once. Dated in the
    # past, so the fix run's overlap does not read both copies on one page.
    Case(
        "order_served_twice_across_pages",
        top(date_created=ORDER_PLACED, date_modified=ORDER_PLACED),
        "loaded",
        order_served_twice=True,
        contact={"Email": EMAIL},
    ),
]

REGISTERED_CASES: list[Case] = [
    # -- the customer record's required values: the customer is dead-lettered; its order (whose
    # billing address has them) still loads, from the billing address alone.
    registered(
        "customer_missing_email",
        raw_customer={"email": ""},
        customer_expect="missing_email",
        customer_fix={"email": EMAIL},
        contact={"Email": EMAIL, "BigCommerce_Customer_Id__c": CUSTOMER_ID, "MailingStreet": CHECKOUT_STREET},
    ),
    registered(
        "customer_malformed_email",
        top(email="member-without-at.example.com"),
        customer_expect="invalid_email",
        customer_fix={"email": EMAIL},
        contact={"Email": EMAIL, "BigCommerce_Customer_Id__c": CUSTOMER_ID, "MailingStreet": CHECKOUT_STREET},
    ),
    registered(
        "customer_missing_first_name",
        top(first_name=""),
        customer_expect="missing_first_name",
        customer_fix={"first_name": "Fixed"},
        contact={"BigCommerce_Customer_Id__c": CUSTOMER_ID, "MailingStreet": CHECKOUT_STREET},
    ),
    registered(
        "customer_blank_last_name",
        top(last_name="   "),
        customer_expect="missing_last_name",
        customer_fix={"last_name": "Fixed"},
        contact={"BigCommerce_Customer_Id__c": CUSTOMER_ID},
    ),
    # No fix: retried on the next run, it stays dead-lettered.
    registered("customer_null_last_name", raw_customer={"last_name": None}, customer_expect="missing_last_name"),
    registered(
        "customer_last_name_81_chars",
        top(last_name="M" * 81),
        customer_expect="field_too_long",
        customer_fix={"last_name": "Short"},
    ),
    registered(
        "customer_phone_41_chars",
        top(phone="5" * 41),
        customer_expect="field_too_long",
        customer_fix={"phone": MEMBER_PHONE},
    ),
    # -- emails (rule R3: the email is the person, whatever its case)
    registered(
        "customer_email_upper_case",
        top(email="Member.Upper@Example.COM"),
        billing(email="Member.Upper@Example.COM"),
        contact={"Email": "Member.Upper@Example.COM", "BigCommerce_Contact_Key__c": "member.upper@example.com"},
    ),
    registered(
        "customer_email_surrounding_spaces",
        top(email="  member.spaced@example.com "),
        billing(email="  member.spaced@example.com "),
        contact={"Email": "member.spaced@example.com", "BigCommerce_Customer_Id__c": CUSTOMER_ID},
    ),
    # Two customer records whose emails differ only in case (the store refuses that, so the second
    # is planted raw): one Contact, with the fresher record's spelling and customer id.
    registered(
        "customer_email_case_twin_older",
        top(email="Member.Twin@Example.COM", date_modified=CUSTOMER_MODIFIED - timedelta(hours=6)),
        billing(email="Member.Twin@Example.COM"),
        contact={"Email": "member.twin@example.com"},
        customer_contact={"BigCommerce_Customer_Id__c": Ref("customer_id", "customer_email_case_twin_newer")},
    ),
    registered(
        "customer_email_case_twin_newer",
        checkout=billing(email="member.twin@example.com"),
        raw_customer={"email": "member.twin@example.com"},
        contact={"Email": "member.twin@example.com", "BigCommerce_Customer_Id__c": CUSTOMER_ID},
    ),
    # A guest order by someone who registered later with the email in another case: one Contact.
    registered(
        "customer_registered_after_guest_order",
        top(email="later.member@example.com"),
        chain(top(customer_id=0), billing(email="Later.Member@Example.com")),
        contact={"Email": "later.member@example.com", "BigCommerce_Customer_Id__c": CUSTOMER_ID},
    ),
    # -- companies (rule R2: a checkout without a company takes the customer record's)
    registered(
        "customer_blank_company",
        chain(top(company="   "), address_book(company="")),
        billing(company=""),
        account={"Name": PERSON_NAME},
    ),
    registered(
        "customer_company_only_in_address_book",
        chain(top(company=""), address_book(company="Address Book Supply")),
        billing(company=""),
        account={"Name": "Address Book Supply"},
    ),
    registered(
        "customer_company_300_chars",
        top(company=LONG_MEMBER_COMPANY),
        billing(company=""),
        account={"Name": LONG_MEMBER_COMPANY[:255].rstrip()},
    ),
    registered(
        "customer_right_to_left_company",
        top(company='מתכת השרון בע"מ'),
        billing(company=""),
        account={"Name": 'מתכת השרון בע"מ'},
    ),
    registered(
        "customer_soql_in_company",
        top(company="Member' OR Name != '"),
        billing(company=""),
        account={"Name": "Member' OR Name != '"},
    ),
    # -- names, from the customer record (fresher than the checkout's)
    registered(
        "customer_html_entities_in_name",
        top(first_name="Ben &amp; Jerry", last_name="O&#39;Member"),
        contact={"FirstName": "Ben & Jerry", "LastName": "O'Member", "MailingStreet": PROFILE_STREET},
    ),
    registered(
        "customer_emoji_in_name",
        top(first_name="Zoë 🚀", last_name="Starr-Member"),
        contact={"FirstName": "Zoë 🚀", "LastName": "Starr-Member"},
    ),
    registered(
        "customer_right_to_left_name",
        top(first_name="فاطمة", last_name="الزهراء"),
        contact={"FirstName": "فاطمة", "LastName": "الزهراء"},
    ),
    registered(
        "customer_quotes_in_name",
        top(first_name='"Big" Seán', last_name="O’Neill"),
        contact={"FirstName": '"Big" Seán', "LastName": "O’Neill"},
        account={"eCommerce_Customer_Group__c": str(MEMBER_GROUP)},
    ),
    registered("customer_soql_in_last_name", top(last_name=SOQL), contact={"LastName": SOQL}),
    registered("customer_numeric_first_name", raw_customer={"first_name": 42}, contact={"FirstName": "42"}),
    registered("customer_first_name_100_chars", top(first_name="M" * 100), contact={"FirstName": "M" * 40}),
    # -- the rest of the record
    registered(
        "customer_without_addresses",
        top(addresses=[]),
        contact={"MailingStreet": CHECKOUT_STREET, "BigCommerce_Customer_Id__c": CUSTOMER_ID},
        account={"BillingStreet": CHECKOUT_STREET},
    ),
    registered("customer_unknown_group", top(customer_group_id=999), account={"eCommerce_Customer_Group__c": "999"}),
    registered(
        "customer_far_future_created_date",
        top(date_created=datetime(2999, 1, 1, tzinfo=UTC)),
        contact={"BigCommerce_Customer_Id__c": CUSTOMER_ID, "MailingStreet": PROFILE_STREET},
    ),
    # -- ids
    # The customer is gone by the time of the run: its order loads from the billing address, and
    # without the customer record (and a company at checkout) the account is the person's (R2).
    registered(
        "customer_deleted_after_ordering",
        checkout=billing(company=""),
        delete_customer=True,
        contact={"BigCommerce_Customer_Id__c": CUSTOMER_ID, "MailingStreet": CHECKOUT_STREET},
        account={"Name": PERSON_NAME},
    ),
    registered(
        "customer_served_twice_across_pages",
        customer_served_twice=True,
        contact={"BigCommerce_Customer_Id__c": CUSTOMER_ID, "MailingStreet": PROFILE_STREET},
    ),
    # -- the order broken, the customer fine: the customer's Contact and Account load alone.
    registered(
        "registered_order_missing_street",
        top(company="Street Fix Supply"),
        billing(street_1="", company=""),
        expect="missing_street",
        fix={"street_1": "1 Fixed St"},
        customer_contact={"Account.Name": "Street Fix Supply", "MailingStreet": PROFILE_STREET},
    ),
    registered(
        "registered_order_negative_total",
        checkout=top(total_inc_tax="-15.00", total_ex_tax="-15.00"),
        expect="invalid_amount",
        customer_contact={"MailingStreet": PROFILE_STREET, "Account.Name": COMPANY},
    ),
]

CASES: list[Case] = GUEST_CASES + REGISTERED_CASES


# -- planting ----------------------------------------------------------------------------------

GUEST_TEMPLATE_ID = 100  # Garth Markey's guest order in every seeded store


@dataclass(frozen=True)
class Planted:
    """Where the corpus went in the store."""

    order_ids: dict[str, int]  # case name -> order id
    customer_ids: dict[str, int]  # case name -> customer id (registered cases)
    buyers: dict[str, dict[str, str]]  # case name -> the values a Ref names
    page_size: int | None  # the extract's page size that puts served-twice copies on later pages

    def resolve(self, value: Any, case: str) -> Any:
        """``value``, or the planted value a :class:`Ref` stands for."""
        return self.buyers[value.case or case][value.name] if isinstance(value, Ref) else value


@contextmanager
def _raw(store_db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(store_db, timeout=30)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def _set_raw(conn: sqlite3.Connection, table: str, record_id: int, fields: dict[str, Any]) -> None:
    """Write values StoreDB would refuse or normalise straight into the stored document."""
    (doc,) = conn.execute(f"SELECT doc FROM {table} WHERE id = ?", (record_id,)).fetchone()
    conn.execute(f"UPDATE {table} SET doc = ? WHERE id = ?", (json.dumps({**json.loads(doc), **fields}), record_id))
    conn.commit()  # before StoreDB's next write, which takes the database's write lock


def _serve_twice(conn: sqlite3.Connection, table: str, record_id: int) -> int:
    """Copy a stored row to a new, later row id; the copy's document keeps the original id."""
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] != "id"]
    # Customers' email column is unique; the served email is the document's, not the column's.
    values = ["'served.twice.' || email" if c == "email" and table == "customers" else c for c in columns]
    cursor = conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {table} WHERE id = ?",
        (record_id,),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _position(conn: sqlite3.Connection, table: str, row_id: int) -> int:
    """The row's place in the first run's extract: rows modified until now, by row id."""
    query = f"SELECT COUNT(*) FROM {table} WHERE id < ? AND date_modified <= ?"
    return conn.execute(query, (row_id, int(datetime.now(UTC).timestamp()))).fetchone()[0]


def _page_size(conn: sqlite3.Connection, copies: dict[str, list[tuple[int, int]]]) -> int | None:
    """The largest page size that puts every served-twice copy on a later page than its original
    (None when nothing is served twice). ``copies``: table -> (original id, copy row id).

    A customer copy may not end a page that has a next one either: the v3 cursor after it would
    point back to its original's id.
    """
    places = {t: [(_position(conn, t, o), _position(conn, t, c)) for o, c in pairs] for t, pairs in copies.items()}
    if not any(places.values()):
        return None
    customers = _position(conn, "customers", 2**62)  # all of them

    def fits(size: int) -> bool:
        apart = all(o // size < c // size for pairs in places.values() for o, c in pairs)
        return apart and all((c + 1) % size or c + 1 == customers for _, c in places["customers"])

    size = next((size for size in range(250, 0, -1) if fits(size)), None)
    assert size is not None, "no page size puts each served-twice copy on a later page than its original"
    return size


def _guest_draft(template: dict[str, Any], i: int) -> dict[str, Any]:
    order = copy.deepcopy(template)
    for key in ("id", "date_created", "date_modified", "status", "custom_status"):
        order.pop(key, None)
    for child in ("products", "shipping_addresses", "coupons"):
        for item in order.get(child, []):
            item.pop("id", None)
            item.pop("order_id", None)
            item.pop("order_address_id", None)
    order["customer_id"] = 0
    order["billing_address"].update(
        first_name=f"Case{i}", last_name=f"Buyer{i}", company=f"Corpus Co {i}", email=f"case{i}@corpus.example.com"
    )
    return order


def _customer_draft(i: int) -> dict[str, Any]:
    person = {"first_name": f"Member{i}", "last_name": f"Reg{i}", "company": f"Member Co {i}", "phone": MEMBER_PHONE}
    return {
        **person,
        "email": f"member{i}@corpus.example.com",
        "customer_group_id": MEMBER_GROUP,
        "date_created": CUSTOMER_CREATED,
        "date_modified": CUSTOMER_MODIFIED,
        "addresses": [
            {**person, "address1": PROFILE_STREET, "city": "Akron", "state_or_province": "Ohio",
             "postal_code": "44308", "country": "United States", "country_code": "US"}
        ],
    }  # fmt: skip


def _registered_draft(order: dict[str, Any], customer: dict[str, Any], customer_id: int) -> dict[str, Any]:
    """``order`` (a guest draft) as the checkout of ``customer``: its details, its id, older dates."""
    order.update(customer_id=customer_id, date_created=ORDER_PLACED, date_modified=ORDER_PLACED)
    order["billing_address"].update(
        {k: customer[k] for k in ("first_name", "last_name", "company", "email")}, street_1=CHECKOUT_STREET
    )
    return order


def plant(store_db: Path, cases: Iterable[Case]) -> Planted:
    """Add ``cases`` to the seeded store at ``store_db``."""
    store = StoreDB(store_db)
    template = store.get_order(GUEST_TEMPLATE_ID)
    assert template is not None
    order_ids: dict[str, int] = {}
    customer_ids: dict[str, int] = {}
    buyers: dict[str, dict[str, str]] = {}
    served_twice: dict[str, list[int]] = {"orders": [], "customers": []}
    deleted: list[int] = []
    with _raw(store_db) as conn:
        for i, case in enumerate(cases):
            order = _guest_draft(template, i)
            if case.customer is not None:
                profile = _customer_draft(i)
                customer = copy.deepcopy(profile)
                case.customer(customer)
                (customer_id,) = store.insert_customers([customer])
                customer_ids[case.name] = customer_id
                buyers[case.name] = {"email": profile["email"], "company": profile["company"],
                                     "person_name": f"Member{i} Reg{i}", "customer_id": str(customer_id)}  # fmt: skip
                # The checkout repeats the clean profile: the case's change is the customer record's alone.
                order = _registered_draft(order, profile, customer_id)
                if case.raw_customer:
                    _set_raw(conn, "customers", customer_id, case.raw_customer)
                if case.delete_customer:
                    deleted.append(customer_id)
                if case.customer_served_twice:
                    served_twice["customers"].append(customer_id)
            else:
                billing_address = order["billing_address"]
                buyers[case.name] = {"email": billing_address["email"], "company": billing_address["company"],
                                     "person_name": f"Case{i} Buyer{i}"}  # fmt: skip
            case.change(order)
            (order_id,) = store.insert_orders([order])
            order_ids[case.name] = order_id
            if case.raw or case.raw_billing is not None:
                raw = {**case.raw, **({} if case.raw_billing is None else {"billing_address": case.raw_billing})}
                _set_raw(conn, "orders", order_id, raw)
            if case.order_served_twice:
                served_twice["orders"].append(order_id)
        conn.executemany("DELETE FROM customers WHERE id = ?", [(c,) for c in deleted])
        # The copies come last, so each is on a later page than its original.
        copies = {t: [(o, _serve_twice(conn, t, o)) for o in ids] for t, ids in served_twice.items()}
        page_size = _page_size(conn, copies)
    store.close()
    return Planted(order_ids, customer_ids, buyers, page_size)


def served_customers(store_db: Path) -> dict[str, str | None]:
    """The store's customers as the API serves them (each id once): id -> email as stored."""
    conn = sqlite3.connect(f"file:{store_db}?mode=ro", uri=True, timeout=30)
    try:
        docs = [json.loads(doc) for (doc,) in conn.execute("SELECT doc FROM customers ORDER BY id")]
    finally:
        conn.close()
    served: dict[str, str | None] = {}
    for doc in docs:
        served.setdefault(str(doc["id"]), doc.get("email"))
    return served
