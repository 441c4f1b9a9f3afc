"""The sandbox org's SOQL engine: parser, Salesforce semantics, REST record shapes and errors."""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from sandbox.org.schema import OrgSchema, load_schema
from sandbox.org.soql import (
    And,
    BooleanLiteral,
    Comparison,
    DateFunction,
    DateLiteral,
    DateTimeLiteral,
    FieldRef,
    FunctionCall,
    Not,
    NullLiteral,
    NumberLiteral,
    Or,
    OrderItem,
    QueryResult,
    SoqlError,
    StringLiteral,
    _Compiler,
    parse,
    run_query,
)
from sandbox.org.storage import create_tables, quote, salesforce_id, to_db

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)  # a Friday; the week began on Sunday 2024-03-10


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Org:
    """An in-memory org: the real tables, rows inserted directly, ids by nickname."""

    def __init__(self) -> None:
        self.schema: OrgSchema = load_schema()
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        create_tables(self.conn, self.schema)
        self.ids: dict[str, str] = {}
        self._seq: dict[str, int] = {}

    def add(self, nick: str, object_name: str, **values: Any) -> str:
        obj = self.schema.object(object_name)
        assert obj is not None
        self._seq[obj.key_prefix] = self._seq.get(obj.key_prefix, 0) + 1
        record_id = salesforce_id(obj.key_prefix, self._seq[obj.key_prefix])
        values = {"Id": record_id, "IsDeleted": False, **values}
        fields = [obj.field(k) for k in values]
        assert all(fields), values
        cols = ", ".join(quote(f.name) for f in fields if f)
        marks = ", ".join("?" * len(values))
        params = [to_db(f, v) for f, v in zip(fields, values.values(), strict=True) if f]
        self.conn.execute(f"INSERT INTO {quote(obj.name)} ({cols}) VALUES ({marks})", params)
        self.ids[nick] = record_id
        return record_id

    def query(self, soql: str, **kw: Any) -> QueryResult:
        kw.setdefault("now", NOW)
        return run_query(self.conn, self.schema, soql, **kw)

    def nicks(self, soql: str, **kw: Any) -> list[str]:
        """The nicknames of the records a query returns, in order."""
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r["Id"]] for r in self.query(soql, **kw).records]

    def nickset(self, soql: str, **kw: Any) -> set[str]:
        return set(self.nicks(soql, **kw))


@functools.cache
def _org() -> Org:
    org = Org()
    u = org.add("una", "User", Name="Una User", FirstName="Una", LastName="User", Username="una@example.com",
                Alias="una", Email="una@example.com", IsActive=True)  # fmt: skip
    q = org.add("queue", "Group", Name="eCommerce Orders", DeveloperName="eCommerce_Orders", Type="Queue",
                Email="orders@example.com")  # fmt: skip
    acme = org.add("acme", "Account", Name="Acme", OwnerId=u, Assigned_CSR__c=u, Phone="555-0100",
                   BillingCity="Boston", BigCommerce_Account_Key__c="bc-1",
                   CreatedDate=_dt("2024-03-15T09:00:00"))  # fmt: skip
    obrien = org.add("obrien", "Account", Name="O'Brien", OwnerId=u, CreatedDate=_dt("2024-03-14T23:59:59"))
    org.add("pct", "Account", Name="100% Pure_Co", OwnerId=u, BillingCity="boston",
            CreatedDate=_dt("2024-03-01T00:00:00"))  # fmt: skip
    org.add("slash", "Account", Name="Back\\slash", OwnerId=u, BillingCity="Austin",
            CreatedDate=_dt("2024-02-20T10:00:00"))  # fmt: skip
    org.add("inject", "Account", Name="x' OR Name != 'x", OwnerId=u, BillingCity="",
            CreatedDate=_dt("2024-03-16T00:00:00"))  # fmt: skip
    org.add("deleted_account", "Account", Name="Gone Co", OwnerId=u, IsDeleted=True,
            CreatedDate=_dt("2024-03-15T10:00:00"))  # fmt: skip

    ann = org.add("ann", "Contact", FirstName="Ann", LastName="Able", Name="Ann Able", Email="a@b.com",
                  AccountId=acme, OwnerId=u)  # fmt: skip
    org.add("pat", "Contact", FirstName="Pat", LastName="O'Brien", Name="Pat O'Brien", Email="o'brien@x.com",
            AccountId=obrien, OwnerId=u)  # fmt: skip
    org.add("nobody", "Contact", LastName="Nobody", Name="Nobody", OwnerId=u)

    common = {"Status": "Draft", "Stage__c": None}
    o1 = org.add("o1", "Order", **common, AccountId=acme, OwnerId=u, EffectiveDate=date(2024, 3, 1), Name="First",
                 BigCommerce_Order_Id__c="1001", BigCommerce_Total__c=10.0, Paid__c=True, BillToContactId=ann,
                 CreatedDate=_dt("2024-03-15T08:00:00"))  # fmt: skip
    org.add("o2", "Order", **common, AccountId=acme, OwnerId=q, EffectiveDate=date(2024, 3, 10),
            BigCommerce_Order_Id__c="1002", BigCommerce_Total__c=25.5, Paid__c=False,
            CreatedDate=_dt("2024-03-14T12:00:00"))  # fmt: skip
    org.add("o3", "Order", Status="Activated", AccountId=obrien, OwnerId=q, EffectiveDate=date(2024, 2, 1),
            Name="third", BigCommerce_Order_Id__c="1003", Paid__c=False,
            CreatedDate=_dt("2024-03-01T00:00:00"))  # fmt: skip
    org.add("o4", "Order", **common, AccountId=obrien, OwnerId=u, EffectiveDate=date(2024, 3, 16), Name="Fourth",
            BigCommerce_Order_Id__c="1004", BigCommerce_Total__c=100.0, Paid__c=True,
            CreatedDate=_dt("2024-03-16T00:00:00"))  # fmt: skip
    org.add("o5", "Order", **common, AccountId=acme, OwnerId=u, EffectiveDate=date(2024, 3, 2), Name="Deleted",
            BigCommerce_Order_Id__c="1005", IsDeleted=True, CreatedDate=_dt("2024-03-15T09:00:00"))  # fmt: skip

    org.add("t1", "Task", Subject="Call", Status="Not Started", Priority="Normal", OwnerId=u, WhatId=o1, WhoId=ann,
            ActivityDate=date(2024, 3, 15), Reconcile_Key__c="k1")  # fmt: skip
    org.add("t2", "Task", Subject="Email", Status="Completed", Priority="High", OwnerId=u, WhatId=acme)
    org.add("t3", "Task", Subject="Other", Status="Deferred", Priority="Low", OwnerId=u)
    org.conn.commit()
    return org


@pytest.fixture
def org() -> Org:
    return _org()


def error_of(org: Org, soql: str, **kw: Any) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        org.query(soql, **kw)
    return caught.value


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


def test_parse_builds_the_ast() -> None:
    q = parse(
        "select Id, Account.Name from Contact where (Email != null or Name like 'A%') and not Phone = '1' "
        "order by Account.Name desc nulls last, Id limit 10 offset 5"
    )
    assert q.select == (FieldRef(("Id",)), FieldRef(("Account", "Name")))
    assert q.sobject == "Contact"
    assert q.where == And((
        Or((Comparison(FieldRef(("Email",)), "!=", NullLiteral()),
            Comparison(FieldRef(("Name",)), "LIKE", StringLiteral("A%", "A%")))),
        Not(Comparison(FieldRef(("Phone",)), "=", StringLiteral("1", "1"))),
    ))  # fmt: skip
    assert q.order_by == (OrderItem(FieldRef(("Account", "Name")), True, False), OrderItem(FieldRef(("Id",))))
    assert (q.limit, q.offset) == (10, 5)


def test_parse_literals_and_operators() -> None:
    q = parse(
        "SELECT Id FROM Order WHERE a = 1 AND b <> -2.5 AND c IN ('x', null) AND d NOT IN (true, false) "
        "AND e >= 2024-01-31 AND f < 2024-01-31T10:00:00Z AND g > TODAY AND h <= LAST_N_DAYS:30"
    )
    assert isinstance(q.where, And)
    ops = [(c.op, c.value) for c in q.where.operands if isinstance(c, Comparison)]
    assert ops == [
        ("=", NumberLiteral(1)),
        ("!=", NumberLiteral(-2.5)),
        ("IN", (StringLiteral("x", "x"), NullLiteral())),
        ("NOT_IN", (BooleanLiteral(True), BooleanLiteral(False))),
        (">=", DateLiteral(date(2024, 1, 31))),
        ("<", DateTimeLiteral(datetime(2024, 1, 31, 10, tzinfo=UTC))),
        (">", DateFunction("TODAY")),
        ("<=", DateFunction("LAST_N_DAYS", 30)),
    ]


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2024-01-31T10:00:00Z", datetime(2024, 1, 31, 10, tzinfo=UTC)),
        ("2024-01-31T10:00:00.250Z", datetime(2024, 1, 31, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2024-01-31T10:00:00+05:30", datetime(2024, 1, 31, 4, 30, tzinfo=UTC)),
        ("2024-01-31T10:00:00-0800", datetime(2024, 1, 31, 18, tzinfo=UTC)),
        ("2024-01-31t01:00:00.5-01:00", datetime(2024, 1, 31, 2, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_datetime_literals_normalise_to_utc(literal: str, expected: datetime) -> None:
    where = parse(f"SELECT Id FROM Order WHERE CreatedDate = {literal}").where
    assert isinstance(where, Comparison) and where.value == DateTimeLiteral(expected)


@pytest.mark.parametrize(
    ("literal", "value", "pattern"),
    [
        (r"'O\'Brien'", "O'Brien", "O'Brien"),
        (r"'back\\slash'", "back\\slash", "back\\\\slash"),
        (r"'a\nb\tc\rd\be\ff'", "a\nb\tc\rd\be\ff", "a\nb\tc\rd\be\ff"),
        (r"'say \"hi\"'", 'say "hi"', 'say "hi"'),
        (r"'50\% off\_now'", "50% off_now", "50\\% off\\_now"),
        (r"'100%_'", "100%_", "100%_"),
        (r"'caf\u00e9'", "café", "café"),
        ("'tab\tinside'", "tab\tinside", "tab\tinside"),
    ],
)
def test_parse_string_escapes(literal: str, value: str, pattern: str) -> None:
    where = parse(f"SELECT Id FROM Account WHERE Name = {literal}").where
    assert isinstance(where, Comparison) and where.value == StringLiteral(value, pattern)


def test_parse_keywords_are_case_insensitive_and_names_may_be_keywords() -> None:
    assert parse("select id from order order by name").order_by == (OrderItem(FieldRef(("name",))),)
    assert parse("SELECT Id FROM Group WHERE Type = 'Queue'").sobject == "Group"
    assert parse("SeLeCt Id FrOm Account a WhErE a.Name = 'x' LiMiT 1").alias == "a"


def test_parse_is_cached() -> None:
    text = "SELECT Id FROM Account WHERE Name = 'cached'"
    assert parse(text) is parse(text)


def test_parse_aggregates() -> None:
    q = parse(
        "SELECT Status, COUNT(Id) n, SUM(BigCommerce_Total__c) FROM Order GROUP BY Status ORDER BY COUNT(Id) DESC"
    )
    assert q.select[1] == FunctionCall("COUNT", FieldRef(("Id",)), "n")
    assert q.group_by == (FieldRef(("Status",)),)
    assert q.order_by == (OrderItem(FunctionCall("COUNT", FieldRef(("Id",))), True),)


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("BigCommerce_Total__c = 25.5", {"o2"}),
        ("BigCommerce_Total__c != 25.5", {"o1", "o3", "o4"}),  # null totals count as "not equal"
        ("BigCommerce_Total__c <> 25.5", {"o1", "o3", "o4"}),
        ("BigCommerce_Total__c < 25.5", {"o1"}),
        ("BigCommerce_Total__c <= 25.5", {"o1", "o2"}),
        ("BigCommerce_Total__c > 25.5", {"o4"}),
        ("BigCommerce_Total__c >= 25.5", {"o2", "o4"}),
        ("BigCommerce_Total__c > 10", {"o2", "o4"}),
        ("NOT BigCommerce_Total__c > 10", {"o1", "o3"}),
        ("BigCommerce_Total__c IN (10, 100)", {"o1", "o4"}),
        ("BigCommerce_Total__c NOT IN (10, 100)", {"o2", "o3"}),
        ("BigCommerce_Total__c = null", {"o3"}),
        ("BigCommerce_Total__c != null", {"o1", "o2", "o4"}),
        ("BigCommerce_Total__c IN (10, null)", {"o1", "o3"}),
        ("BigCommerce_Order_Id__c IN ('1001', '1003', 'nope')", {"o1", "o3"}),
        ("BigCommerce_Order_Id__c NOT IN ('1001', '1003')", {"o2", "o4"}),
        ("BigCommerce_Order_Id__c > '1002'", {"o3", "o4"}),
        ("Paid__c = true", {"o1", "o4"}),
        ("Paid__c = FALSE", {"o2", "o3"}),
        ("Paid__c != true", {"o2", "o3"}),
        ("Status = 'draft'", {"o1", "o2", "o4"}),
        ("Name != 'FIRST'", {"o2", "o3", "o4"}),  # o2 has no Name: included, as in Salesforce
        ("Name = null", {"o2"}),
        ("Name = ''", {"o2"}),
        ("Name != ''", {"o1", "o3", "o4"}),
        ("Name LIKE 'f%'", {"o1", "o4"}),
        ("Name LIKE '_hird'", {"o3"}),
        ("Name LIKE '%R%'", {"o1", "o3", "o4"}),
        ("NOT Name LIKE '%r%'", {"o2"}),
        ("Status = 'Draft' AND Paid__c = true", {"o1", "o4"}),
        ("Status = 'Activated' OR Paid__c = true", {"o1", "o3", "o4"}),
        ("Status = 'Draft' AND (Paid__c = false OR BigCommerce_Total__c > 50)", {"o2", "o4"}),
        ("NOT (Status = 'Draft' AND Paid__c = true)", {"o2", "o3"}),
        ("NOT (Status = 'Activated' OR BigCommerce_Total__c < 20)", {"o2", "o4"}),
        ("(((Status = 'Activated')))", {"o3"}),
    ],
)
def test_operators(org: Org, where: str, expected: set[str]) -> None:
    assert org.nickset(f"SELECT Id FROM Order WHERE {where}") == expected


def test_escaped_apostrophe_and_injection_text_are_data(org: Org) -> None:
    assert org.nicks(r"SELECT Id FROM Account WHERE Name = 'O\'Brien'") == ["obrien"]
    # Looks like an injection, but is one properly escaped literal: it matches only itself.
    assert org.nicks(r"SELECT Id FROM Account WHERE Name = 'x\' OR Name != \'x'") == ["inject"]
    assert org.nicks(r"SELECT Id FROM Account WHERE Name = 'Back\\slash'") == ["slash"]
    assert org.nicks(r"SELECT Id FROM Contact WHERE Email IN ('o\'brien@x.com')") == ["pat"]


def test_like_escapes_wildcards(org: Org) -> None:
    assert org.nickset("SELECT Id FROM Account WHERE Name LIKE '100%'") == {"pct"}
    assert org.nickset(r"SELECT Id FROM Account WHERE Name LIKE '100\%%'") == {"pct"}
    assert org.nickset(r"SELECT Id FROM Account WHERE Name LIKE '%\_%'") == {"pct"}
    assert org.nickset(r"SELECT Id FROM Account WHERE Name LIKE '%e\_%'") == {"pct"}
    assert org.nickset(r"SELECT Id FROM Account WHERE Name LIKE '%\%_P%'") == {"pct"}
    assert org.nickset(r"SELECT Id FROM Account WHERE Name LIKE 'back\\%'") == {"slash"}
    assert org.nickset(r"SELECT Id FROM Account WHERE Name LIKE '%\_x%'") == set()
    assert error_of(org, "SELECT Id FROM Account WHERE Name LIKE 'O''Brien'").error_code == "MALFORMED_QUERY"


def test_case_insensitive_values_and_names(org: Org) -> None:
    result = org.query("select id, NAME, billingcity from ACCOUNT where name = 'ACME' and BILLINGCITY like 'bOS%'")
    assert result.records == [{
        "attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{org.ids['acme']}"},
        "Id": org.ids["acme"], "Name": "Acme", "BillingCity": "Boston",
    }]  # fmt: skip
    assert org.nickset("SELECT Id FROM Account WHERE BillingCity = 'BOSTON'") == {"acme", "pct"}


def test_empty_string_is_null_for_text(org: Org) -> None:
    assert org.nickset("SELECT Id FROM Account WHERE BillingCity = null") == {"obrien", "inject"}
    assert org.nickset("SELECT Id FROM Account WHERE BillingCity IN ('Austin', '')") == {"slash", "obrien", "inject"}


def test_ids_fifteen_and_eighteen_characters(org: Org) -> None:
    acme = org.ids["acme"]
    assert org.nicks(f"SELECT Id FROM Account WHERE Id = '{acme}'") == ["acme"]
    assert org.nicks(f"SELECT Id FROM Account WHERE Id = '{acme[:15]}'") == ["acme"]
    assert org.nickset(f"SELECT Id FROM Order WHERE AccountId IN ('{acme}')") == {"o1", "o2"}
    assert org.nickset("SELECT Id FROM Contact WHERE AccountId = null") == {"nobody"}


def test_date_and_datetime_literals(org: Org) -> None:
    assert org.nickset("SELECT Id FROM Order WHERE EffectiveDate = 2024-03-10") == {"o2"}
    assert org.nickset("SELECT Id FROM Order WHERE EffectiveDate > 2024-03-01") == {"o2", "o4"}
    assert org.nickset("SELECT Id FROM Order WHERE CreatedDate = 2024-03-15T08:00:00Z") == {"o1"}
    assert org.nickset("SELECT Id FROM Order WHERE CreatedDate = 2024-03-15T03:00:00-0500") == {"o1"}
    assert org.nickset("SELECT Id FROM Order WHERE CreatedDate = 2024-03-15T13:30:00.000+05:30") == {"o1"}
    assert org.nickset("SELECT Id FROM Order WHERE CreatedDate >= 2024-03-15T00:00:00Z") == {"o1", "o4"}
    assert org.nickset("SELECT Id FROM Order WHERE CreatedDate < 2024-03-15T08:00:00.001Z") == {"o1", "o2", "o3"}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", {"acme"}),
        ("CreatedDate = YESTERDAY", {"obrien"}),
        ("CreatedDate = TOMORROW", {"inject"}),
        ("CreatedDate > TODAY", {"inject"}),
        ("CreatedDate >= TODAY", {"acme", "inject"}),
        ("CreatedDate < TODAY", {"obrien", "pct", "slash"}),
        ("CreatedDate <= TODAY", {"acme", "obrien", "pct", "slash"}),
        ("CreatedDate != TODAY", {"obrien", "pct", "slash", "inject"}),
        ("CreatedDate = LAST_N_DAYS:1", {"acme", "obrien"}),
        ("CreatedDate = LAST_N_DAYS:14", {"acme", "obrien", "pct"}),
        ("CreatedDate = LAST_90_DAYS", {"acme", "obrien", "pct", "slash"}),
        ("CreatedDate = NEXT_N_DAYS:1", {"inject"}),
        ("CreatedDate = THIS_MONTH", {"acme", "obrien", "pct", "inject"}),
        ("CreatedDate = LAST_MONTH", {"slash"}),
        ("CreatedDate = THIS_WEEK", {"acme", "obrien", "inject"}),
        ("CreatedDate = N_DAYS_AGO:1", {"obrien"}),
        ("CreatedDate IN (YESTERDAY, TOMORROW)", {"obrien", "inject"}),
        ("CreatedDate = THIS_YEAR", {"acme", "obrien", "pct", "slash", "inject"}),
        ("CreatedDate = LAST_YEAR", set()),
    ],
)
def test_relative_date_literals_on_datetime_fields(org: Org, where: str, expected: set[str]) -> None:
    assert org.nickset(f"SELECT Id FROM Account WHERE {where}") == expected


def test_last_n_days_ends_now_and_dates_use_whole_days(org: Org) -> None:
    # o1 was created at 08:00 today; "now" at 07:00 puts it in the future, outside LAST_N_DAYS.
    early = NOW.replace(hour=7)
    assert org.nickset("SELECT Id FROM Order WHERE CreatedDate = LAST_N_DAYS:1", now=early) == {"o2"}
    assert org.nickset("SELECT Id FROM Order WHERE CreatedDate = TODAY", now=early) == {"o1"}
    # date fields compare with days
    assert org.nickset("SELECT Id FROM Order WHERE EffectiveDate = LAST_N_DAYS:14") == {"o1", "o2"}
    assert org.nickset("SELECT Id FROM Order WHERE EffectiveDate > TODAY") == {"o4"}
    assert org.nickset("SELECT Id FROM Task WHERE ActivityDate = TODAY") == {"t1"}
    assert org.nickset("SELECT Id FROM Order WHERE EffectiveDate = NEXT_N_DAYS:3") == {"o4"}
    later = NOW + timedelta(days=30)
    assert org.nickset("SELECT Id FROM Order WHERE EffectiveDate = LAST_MONTH", now=later) == {"o1", "o2", "o4"}


# ---------------------------------------------------------------------------------------------
# Relationships and record shapes
# ---------------------------------------------------------------------------------------------


def _url(org: Org, object_name: str, nick: str, version: str = "59.0") -> str:
    return f"/services/data/v{version}/sobjects/{object_name}/{org.ids[nick]}"


def test_parent_fields_and_null_parents(org: Org) -> None:
    result = org.query("SELECT Name, Account.Name, Account.BillingCity, Email FROM Contact ORDER BY Name")
    assert result.total_size == 3
    assert result.records[0] == {
        "attributes": {"type": "Contact", "url": _url(org, "Contact", "ann")},
        "Name": "Ann Able",
        "Account": {"attributes": {"type": "Account", "url": _url(org, "Account", "acme")},
                    "Name": "Acme", "BillingCity": "Boston"},
        "Email": "a@b.com",
    }  # fmt: skip
    assert result.records[1]["Account"] is None and result.records[1]["Email"] is None
    assert list(result.records[1]) == ["attributes", "Name", "Account", "Email"]
    assert org.nicks("SELECT Id FROM Contact WHERE Account.Name = 'o\\'brien'") == ["pat"]


def test_custom_relationships_and_nested_parents(org: Org) -> None:
    record = org.query("SELECT Assigned_CSR__r.Name FROM Account WHERE Name = 'Acme'").records[0]
    assert record["Assigned_CSR__r"] == {"attributes": {"type": "User", "url": _url(org, "User", "una")},
                                         "Name": "Una User"}  # fmt: skip
    record = org.query("SELECT BillToContact.Email, Account.Owner.Alias FROM Order WHERE Name = 'First'").records[0]
    assert record["BillToContact"]["Email"] == "a@b.com"
    assert record["Account"]["Owner"] == {"attributes": {"type": "User", "url": _url(org, "User", "una")},
                                          "Alias": "una"}  # fmt: skip
    assert org.nickset("SELECT Id FROM Order WHERE Account.Owner.Name = 'una user'") == {"o1", "o2", "o3", "o4"}


def test_polymorphic_owner_queue_and_user(org: Org) -> None:
    records = org.query(
        "SELECT BigCommerce_Order_Id__c, Owner.Name, Owner.Type, Owner.Id FROM Order ORDER BY BigCommerce_Order_Id__c",
        api_version="60.0",
    ).records
    assert records[0]["Owner"] == {
        "attributes": {"type": "Name", "url": _url(org, "User", "una", "60.0")},
        "Name": "Una User", "Type": "User", "Id": org.ids["una"],
    }  # fmt: skip
    assert records[1]["Owner"] == {
        "attributes": {"type": "Name", "url": _url(org, "Group", "queue", "60.0")},
        "Name": "eCommerce Orders", "Type": "Queue", "Id": org.ids["queue"],
    }  # fmt: skip
    assert org.nickset("SELECT Id FROM Order WHERE Owner.Name = 'ECOMMERCE ORDERS'") == {"o2", "o3"}
    assert org.nickset("SELECT Id FROM Order WHERE Owner.Type = 'Queue'") == {"o2", "o3"}
    assert org.nickset("SELECT Id FROM Order WHERE Owner.Name LIKE 'una%'") == {"o1", "o4"}
    # A Task's owner is a user only (as in a real org): Owner is not polymorphic there.


def test_polymorphic_what_and_who(org: Org) -> None:
    records = org.query("SELECT Subject, What.Name, What.Type, Who.Name FROM Task ORDER BY Subject").records
    assert [(r["Subject"], r["What"] and r["What"]["Name"], r["What"] and r["What"]["Type"]) for r in records] == [
        ("Call", "First", "Order"), ("Email", "Acme", "Account"), ("Other", None, None),
    ]  # fmt: skip
    assert records[0]["What"]["attributes"] == {"type": "Name", "url": _url(org, "Order", "o1")}
    assert records[0]["Who"] == {"attributes": {"type": "Contact", "url": _url(org, "Contact", "ann")},
                                 "Name": "Ann Able"}  # fmt: skip
    assert records[1]["Who"] is None
    assert org.nickset("SELECT Id FROM Task WHERE What.Type = 'Account'") == {"t2"}


def test_value_types(org: Org) -> None:
    record = org.query(
        "SELECT Paid__c, BigCommerce_Total__c, EffectiveDate, CreatedDate, IsDeleted FROM Order WHERE Name = 'First'"
    ).records[0]
    assert record["Paid__c"] is True and record["IsDeleted"] is False
    assert record["BigCommerce_Total__c"] == 10.0 and isinstance(record["BigCommerce_Total__c"], float)
    assert record["EffectiveDate"] == "2024-03-01"
    assert record["CreatedDate"] == "2024-03-15T08:00:00.000+0000"


def test_object_name_prefix_and_alias(org: Org) -> None:
    records = org.query("SELECT Account.Name FROM Account WHERE Account.Name = 'Acme'").records
    assert [r["Name"] for r in records] == ["Acme"]
    records = org.query("SELECT a.Name, a.Owner.Name FROM Account a WHERE a.Name = 'Acme'").records
    assert records[0]["Owner"]["Name"] == "Una User"


# ---------------------------------------------------------------------------------------------
# ORDER BY, LIMIT, OFFSET, COUNT(), aggregates, queryAll
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Name", ["o2", "o1", "o4", "o3"]),  # ASC: nulls first; case-insensitive
        ("Name ASC NULLS LAST", ["o1", "o4", "o3", "o2"]),
        ("Name DESC", ["o3", "o4", "o1", "o2"]),  # DESC: nulls last
        ("Name DESC NULLS FIRST", ["o2", "o3", "o4", "o1"]),
        ("BigCommerce_Total__c DESC", ["o4", "o2", "o1", "o3"]),
        ("Account.Name DESC, EffectiveDate", ["o3", "o4", "o1", "o2"]),
        ("Owner.Name, BigCommerce_Order_Id__c DESC", ["o3", "o2", "o4", "o1"]),
        ("Paid__c, CreatedDate DESC", ["o2", "o3", "o4", "o1"]),
    ],
)
def test_order_by(org: Org, order: str, expected: list[str]) -> None:
    assert org.nicks(f"SELECT Id FROM Order ORDER BY {order}") == expected


def test_limit_offset_and_default_order(org: Org) -> None:
    assert org.nicks("SELECT Id FROM Order") == ["o1", "o2", "o3", "o4"]  # stable: insertion order
    assert org.nicks("SELECT Id FROM Order ORDER BY BigCommerce_Order_Id__c LIMIT 2") == ["o1", "o2"]
    assert org.nicks("SELECT Id FROM Order ORDER BY BigCommerce_Order_Id__c LIMIT 2 OFFSET 1") == ["o2", "o3"]
    assert org.nicks("SELECT Id FROM Order ORDER BY BigCommerce_Order_Id__c OFFSET 3") == ["o4"]
    assert org.nicks("SELECT Id FROM Order LIMIT 0") == []


def test_count(org: Org) -> None:
    assert org.query("SELECT COUNT() FROM Order") == QueryResult(4, [])
    assert org.query("SELECT count() FROM Order WHERE Owner.Type = 'Queue'") == QueryResult(2, [])
    assert org.query("SELECT COUNT() FROM Order LIMIT 3") == QueryResult(3, [])
    assert org.query("SELECT COUNT() FROM Order", include_deleted=True) == QueryResult(5, [])


def test_aggregates(org: Org) -> None:
    result = org.query(
        "SELECT Status, COUNT(Id), SUM(BigCommerce_Total__c) total, MAX(EffectiveDate), COUNT(Name) "
        "FROM Order GROUP BY Status ORDER BY Status"
    )
    assert result.records == [
        {"attributes": {"type": "AggregateResult"}, "Status": "Activated", "expr0": 1, "total": None,
         "expr1": "2024-02-01", "expr2": 1},
        {"attributes": {"type": "AggregateResult"}, "Status": "Draft", "expr0": 3, "total": 135.5,
         "expr1": "2024-03-16", "expr2": 2},
    ]  # fmt: skip
    assert org.query("SELECT COUNT(Id) FROM Order").records == [{"attributes": {"type": "AggregateResult"}, "expr0": 4}]
    grouped = org.query("SELECT Owner.Name, COUNT_DISTINCT(AccountId) n FROM Order GROUP BY Owner.Name "
                        "ORDER BY COUNT_DISTINCT(AccountId) DESC, Owner.Name")  # fmt: skip
    assert [(r["Name"], r["n"]) for r in grouped.records] == [("eCommerce Orders", 2), ("Una User", 2)]
    avg = org.query("SELECT AVG(BigCommerce_Total__c) FROM Order WHERE Paid__c = true").records[0]["expr0"]
    assert avg == pytest.approx(55.0)


def test_include_deleted(org: Org) -> None:
    assert "o5" not in org.nickset("SELECT Id FROM Order")
    assert org.nickset("SELECT Id FROM Order WHERE IsDeleted = true", include_deleted=True) == {"o5"}
    assert org.nickset("SELECT Id FROM Account WHERE CreatedDate = TODAY", include_deleted=True) == {
        "acme", "deleted_account"}  # fmt: skip


def test_fields_function(org: Org) -> None:
    record = org.query("SELECT FIELDS(ALL) FROM Order WHERE Name = 'First' LIMIT 1").records[0]
    assert record["BigCommerce_Order_Id__c"] == "1001" and record["Status"] == "Draft"
    custom = org.query("SELECT FIELDS(CUSTOM) FROM Account LIMIT 200").records[0]
    assert all(k.endswith("__c") for k in custom if k != "attributes")
    assert error_of(org, "SELECT FIELDS(ALL) FROM Order").error_code == "MALFORMED_QUERY"


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_unknown_field_message_matches_salesforce(org: Org) -> None:
    err = error_of(org, "SELECT Foo FROM Account")
    assert err.error_code == "INVALID_FIELD"
    assert err.message == (
        "\nSELECT Foo FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' on entity 'Account'. "
        "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
        "Please reference your WSDL or the describe call for the appropriate names."
    )


def test_unknown_object(org: Org) -> None:
    err = error_of(org, "SELECT Id FROM Foo")
    assert err.error_code == "INVALID_TYPE"
    assert err.message.endswith(
        "sObject type 'Foo' is not supported. If you are attempting to use a custom object, be sure to append "
        "the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
    )
    assert "ERROR at Row:1:Column:16" in err.message


@pytest.mark.parametrize(
    ("soql", "code", "message"),
    [
        ("SELECT Id FROM Account WHERE Nmae = 'x'", "INVALID_FIELD", "No such column 'Nmae' on entity 'Account'"),
        ("SELECT Foo.Name FROM Account", "INVALID_FIELD", "Didn't understand relationship 'Foo' in field path"),
        ("SELECT AccountId.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'AccountId'"),
        ("SELECT Account.Nope FROM Contact", "INVALID_FIELD", "No such column 'Nope' on entity 'Account'"),
        ("SELECT Owner.Foo FROM Order", "INVALID_FIELD", "No such column 'Foo' on entity 'Name'"),
        ("SELECT Owner.Profile.Name FROM Order", "INVALID_FIELD", "Didn't understand relationship 'Profile'"),
        (
            "SELECT Id FROM Order WHERE Paid__c = 'true'",
            "INVALID_FIELD",
            "value of filter criterion for field 'Paid__c' must be of type boolean and should not be enclosed in "
            "quotes",
        ),
        ("SELECT Id FROM Order WHERE Paid__c = 1", "INVALID_FIELD", "must be of type boolean"),
        (
            "SELECT Id FROM Order WHERE BigCommerce_Total__c = '10'",
            "INVALID_FIELD",
            "field 'BigCommerce_Total__c' must be of type double and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Order WHERE BigCommerce_Order_Id__c = 1001",
            "INVALID_FIELD",
            "field 'BigCommerce_Order_Id__c' must be of type string and should be enclosed in quotes",
        ),
        ("SELECT Id FROM Order WHERE Name = TODAY", "INVALID_FIELD", "must be of type string"),
        ("SELECT Id FROM Order WHERE Name = 2024-01-01", "INVALID_FIELD", "must be of type string"),
        (
            "SELECT Id FROM Order WHERE EffectiveDate = '2024-01-01'",
            "INVALID_FIELD",
            "field 'EffectiveDate' must be of type date and should not be enclosed in quotes",
        ),
        ("SELECT Id FROM Order WHERE EffectiveDate = 2024-01-01T00:00:00Z", "INVALID_FIELD", "must be of type date"),
        (
            "SELECT Id FROM Order WHERE CreatedDate > 2024-01-01",
            "INVALID_FIELD",
            "field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes",
        ),
        ("SELECT Id FROM Order WHERE Status IN ('Draft', 5)", "INVALID_FIELD", "must be of type string"),
        ("SELECT Id FROM Order WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"),
        ("SELECT Id FROM Order WHERE AccountId = 5", "INVALID_FIELD", "must be of type id"),
        (
            "SELECT Id FROM Order WHERE BigCommerce_Total__c LIKE '1%'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid operator",
        ),
        (
            "SELECT Id FROM Account WHERE Description = 'x'",
            "INVALID_FIELD",
            "field 'Description' can not be filtered in a query call",
        ),
        ("SELECT Id FROM Account ORDER BY Description", "INVALID_FIELD", "can not be sorted"),
        ("SELECT Id, Name, id FROM Account", "MALFORMED_QUERY", "duplicate field selected: Id"),
        ("SELECT COUNT(), Id FROM Account", "MALFORMED_QUERY", "COUNT()"),
        (
            "SELECT Status, Name, COUNT(Id) FROM Order GROUP BY Status",
            "MALFORMED_QUERY",
            "Field must be grouped or aggregated: Name",
        ),
        ("SELECT SUM(Name) FROM Order", "INVALID_FIELD", "does not support aggregate operator SUM"),
        ("SELECT toLabel(Status) FROM Order", "MALFORMED_QUERY", "unexpected token: 'TOLABEL'"),
        ("SELECT Id FROM Account ORDER BY COUNT(Id)", "MALFORMED_QUERY", "grouped or aggregated"),
        ("SELECT Id FROM", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        ("SELECT FROM Account", "MALFORMED_QUERY", "unexpected token: 'Account'"),
        ("SELECT Id Account", "MALFORMED_QUERY", "unexpected token: 'Account'"),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        (
            "SELECT Id FROM Account WHERE Name = 'a' AND Phone = 'b' OR Phone = 'c'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        ("SELECT Id FROM Account WHERE Name = Acme", "MALFORMED_QUERY", "unexpected token: 'Acme'"),
        ('SELECT Id FROM Account WHERE Name = "Acme"', "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Account WHERE Name NOT LIKE 'a%'", "MALFORMED_QUERY", "unexpected token: 'LIKE'"),
        ("SELECT Id FROM Account WHERE Name INCLUDES ('a')", "MALFORMED_QUERY", "unexpected token: 'INCLUDES'"),
        ("SELECT Id FROM Account WHERE Name IN 'a'", "MALFORMED_QUERY", "unexpected token: ''a''"),
        ("SELECT Id FROM Account WHERE Name = :name", "MALFORMED_QUERY", "Bind variables only allowed in Apex code"),
        ("SELECT Id FROM Account WHERE Name = 'open", "MALFORMED_QUERY", "mismatched character '<EOF>'"),
        (r"SELECT Id FROM Account WHERE Name = 'bad\qescape'", "MALFORMED_QUERY", "Illegal character sequence '\\q'"),
        ("SELECT Id FROM Account LIMIT ten", "MALFORMED_QUERY", "unexpected token: 'ten'"),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)",
            "MALFORMED_QUERY",
            "unexpected token: 'SELECT'",
        ),
        ("SELECT Id FROM Account WHERE CreatedDate = 2024-02-30T00:00:00Z", "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS", "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Account;", "MALFORMED_QUERY", "unexpected token: ';'"),
    ],
)
def test_errors(org: Org, soql: str, code: str, message: str) -> None:
    err = error_of(org, soql)
    assert (err.error_code, message in err.message) == (code, True), err.message
    assert re.search(r"\nERROR at Row:\d+:Column:\d+\n", err.message)
    assert str(err).startswith(code)


def test_error_location_on_later_lines(org: Org) -> None:
    err = error_of(org, "SELECT Id\nFROM Account\nWHERE  Bogus__c = 'x'")
    assert err.message.startswith("\nWHERE  Bogus__c = 'x'\n       ^\nERROR at Row:3:Column:8\n")


# ---------------------------------------------------------------------------------------------
# Safety and performance
# ---------------------------------------------------------------------------------------------


def test_literals_are_bound_never_interpolated(org: Org) -> None:
    soql = (r"SELECT Id FROM Account WHERE Name = 'x\' OR 1=1 --' AND Phone IN ('555', 'a\"b') "
            "AND CreatedDate > 2024-01-01T00:00:00Z AND Owner.Name LIKE 'Una%'")  # fmt: skip
    plan = _Compiler(org.schema, parse(soql), include_deleted=False, now=NOW).compile()
    for value in ("1=1", "555", 'a"b', "2024", "Una"):
        assert value not in plan.sql
    assert "x' OR 1=1 --" in plan.params and "Una%" in plan.params
    assert org.query(soql).records == []


def test_indexed_lookups_use_sqlite_indexes() -> None:
    org = Org()
    acme = org.add("acme", "Account", Name="Acme")
    rows = [(f"8015g{i:010d}AAA", acme, "Draft", "2024-01-01", f"BC{i}", 0) for i in range(1, 50_001)]
    org.conn.executemany(
        'INSERT INTO "Order" (Id, AccountId, Status, EffectiveDate, BigCommerce_Order_Id__c, IsDeleted) '
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    wanted = [f"bc{i}" for i in range(20_000, 20_200)]  # other case: the lookup is case-insensitive
    soql = format_soql("SELECT Id, BigCommerce_Order_Id__c, Account.Name FROM Order "
                       "WHERE BigCommerce_Order_Id__c IN {}", wanted)  # fmt: skip
    plan = _Compiler(org.schema, parse(soql), include_deleted=False, now=NOW).compile()
    explained = " ".join(str(r) for r in org.conn.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params))
    assert "USING INDEX ix_Order_BigCommerce_Order_Id__c" in explained
    started = time.perf_counter()
    result = org.query(soql)
    assert time.perf_counter() - started < 1.0
    assert result.total_size == 200
    assert result.records[0]["Account"]["Name"] == "Acme"
    one = org.query("SELECT Id FROM Order WHERE BigCommerce_Order_Id__c = 'BC77'").records
    assert one[0]["Id"] == "8015g0000000077AAA"


# ---------------------------------------------------------------------------------------------
# simple-salesforce's format_soql, and properties
# ---------------------------------------------------------------------------------------------


def test_format_soql_output_parses_and_matches(org: Org) -> None:
    soql = format_soql("SELECT Id FROM Contact WHERE Email IN {}", ["a@b.com", "o'brien@x.com"])
    assert org.nickset(soql) == {"ann", "pat"}
    soql = format_soql("SELECT Id FROM Account WHERE Name = {} OR Name = {}", "O'Brien", "x' OR Name != 'x")
    assert org.nickset(soql) == {"obrien", "inject"}
    since = datetime(2024, 3, 15, 3, 0, tzinfo=timezone(timedelta(hours=-5)))  # 08:00 UTC
    soql = format_soql("SELECT Id FROM Order WHERE CreatedDate >= {} AND Paid__c = {} AND Name != {}",
                       since, True, None)  # fmt: skip
    assert org.nickset(soql) == {"o1", "o4"}
    soql = format_soql("SELECT Id FROM Order WHERE EffectiveDate < {} AND BigCommerce_Total__c > {}",
                       date(2024, 3, 15), 5)  # fmt: skip
    assert org.nickset(soql) == {"o1", "o2"}
    soql = format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}%'", "100% P")
    assert org.nickset(soql) == {"pct"}
    soql = format_soql("SELECT Id FROM Account WHERE Name LIKE '%{:like}'", "Pure_Co")
    assert org.nickset(soql) == {"pct"}


# Any text an HTTP request can carry: no NUL, no lone surrogates.
_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=40)


@given(_TEXT)
@settings(max_examples=150, deadline=None)
def test_any_string_round_trips_through_an_escaped_literal(value: str) -> None:
    where = parse(format_soql("SELECT Id FROM Account WHERE Name = {}", value)).where
    assert isinstance(where, Comparison) and isinstance(where.value, StringLiteral)
    assert where.value.value == value
    like = parse(format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}'", value)).where
    assert isinstance(like, Comparison) and isinstance(like.value, StringLiteral)
    assert like.value.value == value


@functools.cache
def _property_org() -> Org:
    return Org()


@given(_TEXT)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_stored_strings_are_found_by_equality_and_like(value: str) -> None:
    org = _property_org()
    org.conn.execute('DELETE FROM "Account"')
    org.add("target", "Account", Name=value)
    org.add("other", "Account", Name=value + "x")
    equal = org.nicks(format_soql("SELECT Id FROM Account WHERE Name = {}", value))
    assert equal == ["target"]
    like = org.nicks(format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}'", value))
    assert like == ["target"]
    prefix = org.nickset(format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}%'", value))
    assert prefix == {"target", "other"}
