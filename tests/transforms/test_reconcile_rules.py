"""The rules on one order (R9-R11): set-code parsing, name comparison, terms, payment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.reconcile_rules import (
    CODES,
    OrderFacts,
    Rules,
    check_order,
    is_captured,
    missing_in_salesforce,
    name_keys,
    names_match,
    parse_set_code,
    under_customer,
)
from transforms.text import clean_scalar


def facts(**fields: object) -> OrderFacts:
    """Seed 001's order 420 once the CSR is done: clean."""
    base: dict[str, object] = {
        "order_key": "420", "set_code": "109337 Sefton", "last_name": "Sefton", "suggested_set_code": "109337-Sefton",
        "account_name": "Sefton Services, Inc.", "account_astea_key": "109337 Sefton", "terms": "Pre-Pay",
        "payment_status": "captured", "paid": True,
    }  # fmt: skip
    return OrderFacts(**{**base, **fields})  # type: ignore[arg-type]


def found(**fields: object) -> list[str]:
    return [f.code for f in check_order(facts(**fields))]


@pytest.mark.parametrize(
    ("value", "kind", "name"),
    [(None, "missing", None), ("", "missing", None), (" \t\n", "missing", None),
     ("109337-Sefton", "ok", "Sefton"), ("109337 Sefton", "ok", "Sefton"), (" 109337 - sefton ", "ok", "sefton"),
     ("109337  Sefton", "ok", "Sefton"), ("109337\u00a0Sefton", "ok", "Sefton"), ("109337 -Sefton", "ok", "Sefton"),
     ("109337-Van der Berg", "ok", "Van der Berg"), ("109337-O'Brien", "ok", "O'Brien"),
     ("Sefton", "malformed", None), ("109338-Sefton", "malformed", None), ("1093370-Sefton", "malformed", None),
     ("109337Sefton", "malformed", None), ("109337-", "malformed", None), ("109337", "malformed", None),
     ("109337 -", "malformed", None), ("109337--Sefton", "malformed", None), ("109337- -Sefton", "malformed", None),
     ("109337–Sefton", "malformed", None), ("ASTEA 109337-Sefton", "malformed", None),
     ("109337-'", "malformed", None), ("109337_Sefton", "malformed", None)],
)  # fmt: skip
def test_parse_set_code(value: str | None, kind: str, name: str | None) -> None:
    parsed = parse_set_code(value)
    assert (parsed.kind, parsed.name) == (kind, name)
    assert parsed.text == (clean_scalar(value) if value else None)


def test_the_customer_number_comes_from_the_caller() -> None:
    assert parse_set_code("200001-Sefton", "200001").kind == "ok"
    assert parse_set_code("109337-Sefton", "200001").kind == "malformed"
    assert found(set_code="109337-Sefton") == []
    assert [f.code for f in check_order(facts(set_code="109337-Sefton"), Rules("200001"))] == ["SET_CODE_NOT_109337"]


@pytest.mark.parametrize(
    ("name_part", "last_name"),
    [("OBrien", "O'Brien"), ("O'Brien", "O’Brien"), ("obrien", "O'Brien"), ("O Brien", "O'Brien"),
     ("VanderBerg", "Van der Berg"), ("Van der Berg", "Van  der Berg"), ("SmithJones", "Smith-Jones"),
     ("Smith Jones", "Smith-Jones"), ("Muller", "Müller"), ("Mueller", "Müller"), ("Müller", "Mueller"),
     ("müller", "MÜLLER"), ("Nunez", "Núñez"), ("ZOE", "Zoë"), ("Oster", "Øster"), ("Oester", "Øster"),
     ("Strasse", "Straße"), ("dangelo", "D'Angelo"), ("StJohn", "St. John"), ("Lodz", "Łódź"),
     ("Sefton Columbus", "Sefton"), ("Sefton, Columbus OH", "Sefton"), ("Van der Berg Ohio", "Van der Berg"),
     ("Whoever", "'"), ("Whoever", "")],
)  # fmt: skip
def test_names_that_match(name_part: str, last_name: str) -> None:
    assert names_match(name_part, last_name)


@pytest.mark.parametrize(
    ("name_part", "last_name"),
    [("Markey", "Sefton"), ("Seftons", "Sefton"), ("Sef", "Sefton"), ("Eric Sefton", "Sefton"),
     ("Smith", "Smith-Jones"), ("SeftonColumbus", "Sefton"), ("Sefton-Columbus", "Sefton"), ("Wang", "王")],
)  # fmt: skip
def test_names_that_do_not_match(name_part: str, last_name: str) -> None:
    assert not names_match(name_part, last_name)


@given(st.text(min_size=1, max_size=30))
def test_a_well_formed_set_code_of_any_last_name_names_it(last_name: str) -> None:
    """Whatever the buyer typed, ``109337-<last name>`` (the suggestion) passes the rules."""
    cleaned = clean_scalar(last_name)
    if cleaned is None or not any(c.isalnum() for c in cleaned) or cleaned[0] in "-":
        return
    parsed = parse_set_code(f"109337-{cleaned}")
    assert parsed.kind == "ok" and parsed.name is not None
    assert names_match(parsed.name, cleaned)
    assert name_keys(cleaned) <= name_keys(parsed.name) | name_keys(cleaned)
    assert found(set_code=f"109337-{cleaned}", last_name=cleaned, account_astea_key=None) == []


@pytest.mark.parametrize(
    ("key", "under"),
    [("109337", True), ("109337-Sefton", True), ("109337 Sefton", True), ("109337Sefton", True),
     (" 109337-Sefton ", True), ("1093370", False), ("204511", False), ("", False), (None, False),
     ("X109337", False)],
)  # fmt: skip
def test_under_customer(key: str | None, under: bool) -> None:
    assert under_customer(key) is under


@pytest.mark.parametrize(
    ("status", "captured"),
    [("captured", True), ("Captured ", True), ("paid", True), ("partially refunded", True), ("authorized", False),
     ("capture pending", False), ("refunded", False), ("void", False), ("", False), (None, False)],
)  # fmt: skip
def test_captured_payment_statuses(status: str | None, captured: bool) -> None:
    assert is_captured(status) is captured


def test_each_rule_alone_and_together() -> None:
    assert found() == []
    assert found(set_code=None) == ["SET_CODE_MISSING"]
    assert found(set_code="Sefton") == ["SET_CODE_NOT_109337"]
    assert found(set_code="109337-Markey") == ["SET_CODE_NAME_MISMATCH"]
    assert found(set_code="109337-Markey", last_name=None) == []  # nothing to compare with
    assert found(terms="Pay by PO") == ["TERMS_NOT_PREPAY"]
    assert found(terms="Pay by PO", account_astea_key="204511") == []
    assert found(terms="Pay by PO", account_astea_key=None, set_code="109337-Sefton") == ["TERMS_NOT_PREPAY"]
    assert found(terms="Pay by PO", account_astea_key=None, set_code=None) == ["SET_CODE_MISSING"]
    assert found(paid=False) == ["PAID_UNTICKED"]
    assert found(paid=False, payment_status="authorized") == []
    everything = found(set_code=" ", terms="Pay by PO", paid=False)
    assert everything == ["SET_CODE_MISSING", "TERMS_NOT_PREPAY", "PAID_UNTICKED"]
    assert everything == [c for c in CODES if c in everything]


def test_messages_say_what_to_do() -> None:
    (missing,) = check_order(facts(set_code=None))
    assert "blank" in missing.message and "109337-Sefton" in missing.message and "ASTEA" in missing.message
    (unknown,) = check_order(facts(set_code=None, suggested_set_code=None))
    assert "109337-<the customer's last name>" in unknown.message
    (malformed,) = check_order(facts(set_code="109337Sefton"))
    assert "'109337Sefton'" in malformed.message and "correct the field to 109337-Sefton" in malformed.message
    (mismatch,) = check_order(facts(set_code="109337 Markey"))
    assert "'Markey'" in mismatch.message and "'Sefton'" in mismatch.message
    (terms,) = check_order(facts(terms="Pay by PO"))
    assert "Sefton Services, Inc." in terms.message and "back to Pre-Pay" in terms.message
    (paid,) = check_order(facts(paid=False, payment_status="partially refunded"))
    assert "'partially refunded'" in paid.message and "tick Paid" in paid.message
    missing_order = missing_in_salesforce("1002", "2026-11-23")
    assert missing_order.code == "MISSING_IN_SALESFORCE" and "1002 (placed 2026-11-23)" in missing_order.message
