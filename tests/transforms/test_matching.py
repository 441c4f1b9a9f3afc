"""Matching existing Salesforce records and routing orders (rule R3, R7; transforms.matching)."""

from __future__ import annotations

from dataclasses import replace

from tests.transforms.factories import QUEUE, customer, existing, order, row, run
from transforms.frames import customers_frame, orders_frame
from transforms.mapping import ACCOUNT, CONTACT, MAPPING
from transforms.matching import lookup_emails
from transforms.pipeline import transform

CSR = "005000000000000CSR"


def _account(
    sf_id: str, name: str, key: str | None = None, csr: str | None = None, created: str = "2024-01-01T00:00:00.000+0000"
) -> dict:
    return {"Id": sf_id, "Name": name, "BigCommerce_Account_Key__c": key, "Assigned_CSR__c": csr,
            "OwnerId": "005OWNER", "CreatedDate": created}  # fmt: skip


def _contact(
    sf_id: str, email: str, account_id: str, key: str | None = None, created: str = "2024-01-01T00:00:00.000+0000"
) -> dict:
    return {"Id": sf_id, "Email": email, "AccountId": account_id, "BigCommerce_Contact_Key__c": key,
            "CreatedDate": created}  # fmt: skip


def test_existing_contact_and_company_account_are_adopted() -> None:
    """Seed 000 step 18: Salesforce found Garth by email and company and tied him to the order."""
    known = existing(
        accounts=[_account("001A", "MARKEY METALS INC")],
        contacts=[_contact("003A", "Garth.Markey@MarkeyMetals.com", "001A")],
    )
    result = run(orders=[order(1001)], known=known)
    adoptions = result.adoptions
    assert adoptions.to_dict("records") == [
        {"sobject": "Account", "salesforce_id": "001A", "external_id_field": "BigCommerce_Account_Key__c",
         "key": "co:markey metals", "matched_on": "name"},
        {"sobject": "Contact", "salesforce_id": "003A", "external_id_field": "BigCommerce_Contact_Key__c",
         "key": "garth.markey@markeymetals.com", "matched_on": "email"},
    ]  # fmt: skip
    assert row(result.orders, "order_key", "1001")["owner_id"] == QUEUE  # the account has no CSR


def test_orders_of_an_account_with_a_csr_go_to_the_csr() -> None:
    known = existing(accounts=[_account("001A", "Markey Metals", csr=CSR)])
    result = run(
        orders=[order(1001), order(1002, billing={"company": "Other Co", "email": "o@other.com"})], known=known
    )
    assert row(result.orders, "order_key", "1001")["owner_id"] == CSR
    assert row(result.orders, "order_key", "1002")["owner_id"] == QUEUE


def test_keyed_account_routes_and_is_not_adopted_again() -> None:
    known = existing(
        accounts=[
            _account("001K", "Markey Metals (keyed)", key="CO:MARKEY METALS", csr=CSR),  # keys are case-insensitive
            _account("001B", "Markey Metals"),  # would match by name, but the key is taken
        ],
        contacts=[_contact("003K", "garth.markey@markeymetals.com", "001K", key="garth.markey@markeymetals.com"),
                  _contact("003B", "garth.markey@markeymetals.com", "001B")],
    )  # fmt: skip
    result = run(orders=[order(1001)], known=known)
    assert result.adoptions.empty
    assert result.orders.iloc[0]["owner_id"] == CSR


def test_blank_assigned_csr_means_queue() -> None:
    known = existing(accounts=[_account("001A", "Markey Metals", csr="  ")])
    assert run(orders=[order(1001)], known=known).orders.iloc[0]["owner_id"] == QUEUE


def test_several_candidates_oldest_then_smallest_id() -> None:
    known = existing(
        accounts=[
            _account("001C", "Markey Metals", created="2023-05-01T00:00:00.000+0000"),
            _account("001B", "markey metals", created="2022-01-01T00:00:00.000+0000"),
            _account("001A", "Markey Metals, Inc.", created="2022-01-01T00:00:00.000+0000"),
            _account("0019", "Markey Metals", created=None),
        ],
        contacts=[_contact("003B", "garth.markey@markeymetals.com", "001B", created="2021-01-01T00:00:00Z"),
                  _contact("003A", "GARTH.MARKEY@MARKEYMETALS.COM", "001A", created="2021-01-01T00:00:00Z")],
    )  # fmt: skip
    result = run(orders=[order(1001)], known=known)
    assert dict(zip(result.adoptions["sobject"], result.adoptions["salesforce_id"], strict=True)) == {
        "Account": "001A",
        "Contact": "003A",
    }


def test_person_account_adopted_only_when_named_after_the_buyer() -> None:
    solo = {"company": None, "email": "jane@gmail.com", "first_name": "Jane", "last_name": "Doe"}
    other = {"company": None, "email": "bob@gmail.com", "first_name": "Bob", "last_name": "Roe"}
    known = existing(
        accounts=[_account("001J", "JANE DOE", csr=CSR), _account("001X", "Acme Industrial")],
        contacts=[_contact("003J", "jane@gmail.com", "001J"), _contact("003X", "bob@gmail.com", "001X")],
    )
    result = run(orders=[order(1, billing=solo), order(2, billing=other)], known=known)
    accounts = result.adoptions[result.adoptions["sobject"] == "Account"]
    assert accounts[["salesforce_id", "key", "matched_on"]].values.tolist() == [
        ["001J", "email:jane@gmail.com", "contact_account"]
    ]  # Bob's contact sits under a company: left alone, Bob gets his own account
    assert row(result.orders, "order_key", "1")["owner_id"] == CSR
    assert row(result.orders, "order_key", "2")["owner_id"] == QUEUE
    assert set(result.adoptions[result.adoptions["sobject"] == "Contact"]["salesforce_id"]) == {"003J", "003X"}


def test_an_account_is_adopted_for_one_key_only() -> None:
    a = {"company": None, "email": "jd1@x.com", "first_name": "John", "last_name": "Doe"}
    b = {"company": None, "email": "jd2@x.com", "first_name": "John", "last_name": "Doe"}
    c = {"company": "John Doe", "email": "jd3@x.com", "first_name": "John", "last_name": "Doe"}
    known = existing(
        accounts=[_account("001D", "John Doe")],
        contacts=[_contact("0031", "jd1@x.com", "001D"), _contact("0032", "jd2@x.com", "001D")],
    )
    only_people = run(orders=[order(1, billing=a), order(2, billing=b)], known=known).adoptions
    assert only_people[only_people["sobject"] == "Account"]["key"].tolist() == ["email:jd1@x.com"]
    with_company = run(orders=[order(1, billing=a), order(3, billing=c)], known=known).adoptions
    assert with_company[with_company["sobject"] == "Account"]["key"].tolist() == ["co:john doe"]


def test_existing_frames_may_be_empty_or_lack_columns() -> None:
    known = existing(accounts=[{"Id": "001A", "Name": "Markey Metals"}], contacts=[])
    result = run(orders=[order(1001)], known=known)
    assert result.adoptions["salesforce_id"].tolist() == ["001A"]


def test_field_names_come_from_the_mapping() -> None:
    mapping = replace(
        MAPPING,
        account=replace(ACCOUNT, external_id="Shop_Key__c"),
        contact=replace(CONTACT, external_id="Shop_Person__c"),
        assigned_csr_field="Rep__c",
    )
    known = existing(
        accounts=[{"Id": "001A", "Name": "Other", "Shop_Key__c": "co:markey metals", "Rep__c": CSR}],
        contacts=[{"Id": "003A", "Email": "garth.markey@markeymetals.com", "Shop_Person__c": None}],
    )
    result = transform(customers_frame([]), orders_frame([order(1)]), known, QUEUE, mapping=mapping)
    assert result.orders.iloc[0]["owner_id"] == CSR
    assert result.adoptions.to_dict("records") == [
        {"sobject": "Contact", "salesforce_id": "003A", "external_id_field": "Shop_Person__c",
         "key": "garth.markey@markeymetals.com", "matched_on": "email"}
    ]  # fmt: skip


def test_registered_customer_matches_like_a_guest() -> None:
    known = existing(accounts=[_account("001S", "SEFTON SERVICES INC", csr=CSR)])
    result = run(
        customers=[customer(1)],
        orders=[order(420, customer_id=1, billing={"company": "Sefton Services, Inc."})],
        known=known,
    )
    assert result.orders.iloc[0]["owner_id"] == CSR
    assert result.adoptions[["salesforce_id", "key"]].values.tolist() == [["001S", "co:sefton services"]]


def test_guest_group_zero_only_for_new_accounts() -> None:
    known = existing(accounts=[_account("001A", "Markey Metals")])
    adopted = run(orders=[order(1001)], known=known).accounts.iloc[0]
    assert adopted.isna()["customer_group"]  # an existing account keeps the group it has
    new = run(orders=[order(1001)]).accounts.iloc[0]
    assert new["customer_group"] == "0"


def test_lookup_emails_lists_the_batch_contact_keys() -> None:
    customers = customers_frame([customer(1, email=" Eric@Sefton.com ")])
    orders = orders_frame(
        [order(1), order(2, billing={"email": "GARTH.markey@markeymetals.com"}), order(3, billing={"email": None})]
    )
    assert lookup_emails(customers, orders) == ["eric@sefton.com", "garth.markey@markeymetals.com"]
