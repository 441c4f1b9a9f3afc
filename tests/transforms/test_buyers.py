"""One Contact per person and one Account per company or person (rule R2, R3)."""

from __future__ import annotations

import pandas as pd

from tests.transforms.factories import at, customer, order, row, run
from transforms.mapping import MAPPING, Policy
from transforms.payloads import payload_frame

GARTH = "garth.markey@markeymetals.com"


def test_guest_who_registers_later_is_one_contact() -> None:
    guest = order(1001, customer_id=0, hours=0, billing={"email": "GARTH.Markey@MarkeyMetals.com "})
    registered = customer(
        77, hours=5, email=GARTH, first_name="Garth", last_name="Markey", company="Markey Metals", customer_group_id=2,
        addresses=[{"address1": "9 New Rd", "city": "Akron", "state_or_province": "Ohio", "postal_code": "44301",
                    "country": "United States"}],
    )  # fmt: skip
    result = run(customers=[registered], orders=[guest])
    assert len(result.contacts) == 1
    contact = result.contacts.iloc[0]
    assert contact["contact_key"] == GARTH
    assert contact["customer_id"] == "77"
    assert contact["email"] == GARTH  # the registered record is fresher
    assert contact["city"] == "Akron"
    account = row(result.accounts, "account_key", "co:markey metals")
    assert account["customer_group"] == "2"
    assert row(result.orders, "order_key", "1001")["contact_key"] == GARTH


def test_several_orders_of_one_buyer_make_one_contact_freshest_wins() -> None:
    orders = [
        order(1, hours=0, billing={"street_1": "Old St", "phone": "111"}),
        order(2, hours=2, billing={"street_1": "New St", "phone": ""}),  # newest, without a phone
        order(3, hours=1, billing={"street_1": "Mid St", "phone": "333"}),
    ]
    result = run(orders=orders)
    assert len(result.contacts) == 1 and len(result.orders) == 3
    contact = result.contacts.iloc[0]
    assert contact["street"] == "New St"
    assert contact["phone"] == "333"  # the freshest phone given


def test_address_lines_come_from_one_source() -> None:
    profile = customer(
        5, hours=9, email=GARTH, company="Markey Metals",
        addresses=[{"city": "Nowhere"}],  # no street: not an address to use
    )  # fmt: skip
    result = run(customers=[profile], orders=[order(1, hours=0)])
    contact = result.contacts.iloc[0]
    assert (contact["street"], contact["city"]) == ("4410 Industrial Pkwy", "Cleveland")


def test_customer_record_wins_a_tie_with_an_order() -> None:
    result = run(
        customers=[customer(5, hours=0, email=GARTH, first_name="Garth", last_name="Markey-Jones")],
        orders=[order(1, hours=0)],
    )
    assert result.contacts.iloc[0]["last_name"] == "Markey-Jones"
    assert result.orders.iloc[0]["suggested_set_code"] == "109337-Markey"  # the order keeps its own buyer's name


def test_spellings_of_one_company_make_one_account_named_by_the_commonest() -> None:
    billing = [
        {"company": "Sefton Services, Inc.", "email": "a@sefton.com"},
        {"company": "SEFTON SERVICES INC", "email": "b@sefton.com"},
        {"company": " Sefton Services Inc ", "email": "c@sefton.com"},
        {"company": "Sefton Services, Inc.", "email": "d@sefton.com"},
    ]
    result = run(orders=[order(i, billing=b) for i, b in enumerate(billing, start=1)])
    assert result.accounts[["account_key", "account_name"]].values.tolist() == [
        ["co:sefton services", "Sefton Services, Inc."]
    ]
    assert len(result.contacts) == 4
    assert set(result.contacts["account_key"]) == {"co:sefton services"}


def test_buyer_without_company_gets_a_person_account() -> None:
    result = run(orders=[order(1, billing={"company": "", "email": "Jane.Doe@Gmail.com", "first_name": "Jane",
                                           "last_name": "Doe"})])  # fmt: skip
    account = result.accounts.iloc[0]
    assert (account["account_key"], account["account_name"]) == ("email:jane.doe@gmail.com", "Jane Doe")
    assert result.contacts.iloc[0]["account_key"] == "email:jane.doe@gmail.com"


def test_customer_company_falls_back_to_the_address_company() -> None:
    profile = customer(5, company="")
    result = run(customers=[profile])
    assert result.accounts["account_key"].tolist() == ["co:sefton services"]


def test_customer_group_known_unknown_and_guest_only() -> None:
    orders = [
        order(1, customer_id=0, billing={"company": "Guest Co", "email": "g@guest.com"}),
        order(2, customer_id=44, billing={"company": "Known Later Co", "email": "k@known.com"}),
    ]
    result = run(customers=[customer(1)], orders=orders)
    groups = dict(zip(result.accounts["account_key"], result.accounts["customer_group"].fillna("?"), strict=True))
    assert groups == {"co:guest": "0", "co:known later": "?", "co:sefton services": "1"}


def test_html_entities_in_names_are_unescaped() -> None:
    result = run(orders=[order(1, billing={"company": "Markey &amp; Sons", "last_name": "O&#39;Brien"})])
    assert result.accounts.iloc[0]["account_name"] == "Markey & Sons"
    assert result.contacts.iloc[0]["last_name"] == "O'Brien"
    assert result.orders.iloc[0]["suggested_set_code"] == "109337-O'Brien"


def test_unicode_and_soql_looking_text_is_kept() -> None:
    billing = {"company": "مصنع الشرق 🏭", "first_name": "Zoë", "last_name": "D'Angelo' OR Name LIKE '%"}
    result = run(orders=[order(1, billing=billing)])
    assert result.rejects.empty
    assert result.accounts.iloc[0]["account_name"] == "مصنع الشرق 🏭"
    assert result.contacts.iloc[0]["last_name"] == "D'Angelo' OR Name LIKE '%"


def test_order_without_company_takes_the_company_on_the_customer_record() -> None:
    eric = {"company": "", "first_name": "Eric", "last_name": "Sefton", "email": "eric.sefton@seftonservices.com"}
    result = run(customers=[customer(1)], orders=[order(420, customer_id=1, billing=eric)])
    assert result.orders.iloc[0]["account_key"] == "co:sefton services"
    assert result.accounts["account_key"].tolist() == ["co:sefton services"]
    # Without the customer record the billing address alone decides: the person's own account.
    alone = run(orders=[order(420, customer_id=1, billing=eric)])
    assert alone.orders.iloc[0]["account_key"] == "email:eric.sefton@seftonservices.com"


def test_accounts_and_contacts_carry_the_moment_the_buyer_typed_their_values() -> None:
    """Each group of values carries the ``seen_at`` of the row it came from: an order's
    ``date_created`` (a capture that moves ``date_modified`` later is not buyer data), a customer
    record's ``date_modified``."""
    captured = order(1, hours=1, date_modified=at(50), billing={"street_1": "Old St"})
    newer = order(2, hours=3, billing={"street_1": "New St"})
    profile = customer(9, hours=2, date_created=at(-10))
    result = run(customers=[profile], orders=[captured, newer])
    account = row(result.accounts, "account_key", "co:markey metals")
    assert (account["street"], account["address_at"], account["phone_at"]) == ("New St", at(3), at(3))
    assert pd.isna(account["customer_group_at"])  # no group known: no moment either
    garth = row(result.contacts, "contact_key", GARTH)
    assert (garth["seen_at"], garth["address_at"], garth["phone_at"]) == (at(3), at(3), at(3))
    assert pd.isna(garth["customer_id"]) and pd.isna(garth["customer_id_at"])  # a guest
    eric = row(result.contacts, "contact_key", "eric.sefton@seftonservices.com")
    sefton = row(result.accounts, "account_key", eric["account_key"])
    assert (eric["seen_at"], eric["customer_id_at"], sefton["customer_group_at"]) == (at(2), at(2), at(2))
    alone = run(orders=[captured])  # the captured order alone, as in the run after its capture
    assert alone.accounts.iloc[0]["address_at"] == alone.contacts.iloc[0]["seen_at"] == at(1)


def test_each_group_has_the_moment_of_the_row_that_supplied_it() -> None:
    """Campos Group: the newest order has no phone, so the phone is an older order's, with that
    order's moment, while the address and the names are the newest order's."""
    campos = {"company": "Campos Group", "email": "ana@campos.example"}
    newest = order(310, hours=21, billing={**campos, "phone": "", "street_1": "21 Nov St"})
    phoned = order(181, hours=1, billing={**campos, "phone": "556", "street_1": "31 Oct St"})
    result = run(orders=[newest, phoned])
    account = row(result.accounts, "account_key", "co:campos group")
    assert (account["phone"], account["phone_at"]) == ("556", at(1))
    assert (account["street"], account["address_at"]) == ("21 Nov St", at(21))
    contact = row(result.contacts, "contact_key", "ana@campos.example")
    assert (contact["phone"], contact["phone_at"], contact["seen_at"]) == ("556", at(1), at(21))


def test_every_synced_buyer_field_has_a_moment_and_no_moment_is_sent() -> None:
    """The loader can only keep a value from going back in time if the mapping says which moment
    governs it: every field an Account or Contact update sends has one. Moments are never sent."""
    result = run(orders=[order(1)])
    for objmap, frame in ((MAPPING.account, result.accounts), (MAPPING.contact, result.contacts)):
        assert all(f.moment for f in objmap.writable(creating=False)), objmap.sobject
        assert not any(f.moment for f in objmap.fields if f.policy is not Policy.ALWAYS), objmap.sobject
        assert set(objmap.moment_columns) <= set(frame.columns)
        assert not set(objmap.moment_columns) & set(payload_frame(frame, objmap, existing=()).columns)
    assert MAPPING.order.moment_columns == [] and "seen_at" not in result.orders.columns
