"""Keys and names of accounts and contacts (transforms.identity, rule R2 and R3)."""

from __future__ import annotations

import pandas as pd
import pytest

from transforms.identity import (
    ACCOUNT_KEY_LIMIT,
    assign_accounts,
    best_spelling,
    company_keys,
    company_norm,
    contact_keys,
)


@pytest.mark.parametrize(
    "spelling",
    ["Sefton Services, Inc.", "SEFTON SERVICES INC", " Sefton Services Inc ", "sefton services", "Sefton Services LLC",
     "Sefton Services Co.", "Sefton Services, Ltd.", "Sefton Services Corp", "Sefton Services Corporation",
     "Sefton Services Company", "Sefton Services GmbH", "Sefton Services PLC", "Sefton Services, Inc. Ltd",
     "Sefton Services L.L.C.", "Sefton  Services\tInc", "ＳＥＦＴＯＮ Services Inc"],
)  # fmt: skip
def test_spellings_of_one_company_share_a_key(spelling: str) -> None:
    assert company_norm(spelling) == "sefton services"


@pytest.mark.parametrize(
    ("name", "norm"),
    [
        ("The Company Inc", "the company"),  # never reduced to filler words only
        ("Company Inc", "company"),
        ("Inc", "inc"),
        ("Smith & Co.", "smith"),
        ("Smith and Sons", "smith and sons"),
        ("Smith & Sons", "smith and sons"),
        ("O'Brien Supply", "obrien supply"),
        ("Barry-Hamilton", "barry hamilton"),
        ("Müller GmbH", "müller"),
        ("🚀🚀", "🚀🚀"),  # only symbols: kept rather than empty
        ("...", "..."),
        ("3M Company", "3m"),
        ("Co Co", "co"),
    ],
)
def test_company_norm_examples(name: str, norm: str) -> None:
    assert company_norm(name) == norm
    assert company_norm(norm) == norm


def test_company_and_person_keys_cannot_collide() -> None:
    rows = pd.DataFrame(
        {
            "email": ["Eric@X.com", "eric@x.com", "Jane@Y.com"],
            "company": ["eric@x.com", None, None],
            "first_name": ["Eric", "Eric", "Jane"],
            "last_name": ["Sefton", "Sefton", "Doe"],
        },
        dtype="str",
    )
    out = assign_accounts(rows)
    assert out["contact_key"].tolist() == ["eric@x.com", "eric@x.com", "jane@y.com"]
    assert out["account_key"].tolist() == ["co:eric xcom", "email:eric@x.com", "email:jane@y.com"]
    assert out["account_name"].tolist() == ["eric@x.com", "Eric Sefton", "Jane Doe"]


def test_long_company_keys_fit_the_field_and_stay_distinct() -> None:
    a, b = "Acme " * 80 + "North", "Acme " * 80 + "South"
    keys = company_keys(pd.Series([a, b], dtype="str")).tolist()
    assert all(len(k) <= ACCOUNT_KEY_LIMIT for k in keys)
    assert keys[0] != keys[1] and keys[0].startswith("co:acme acme")


def test_contact_keys_trim_and_lower() -> None:
    assert contact_keys(pd.Series(["Garth.Markey@MarkeyMetals.com", None], dtype="str")).fillna("-").tolist() == [
        "garth.markey@markeymetals.com",
        "-",
    ]


def test_best_spelling_most_frequent_then_mixed_case_then_code_point_order() -> None:
    keys = pd.Series(["k1"] * 4 + ["k2"] * 2 + ["k3"] * 2, dtype="str")
    spellings = pd.Series(
        [
            *["SEFTON INC", "Sefton, Inc.", "SEFTON INC", "Sefton Inc"],  # most frequent wins even in capitals
            *["MARKEY METALS", "Markey Metals"],  # a tie: mixed case wins
            *["Beta Co", "Alpha Co"],  # a tie of mixed case: code-point order
        ],
        dtype="str",
    )
    best = best_spelling(keys, spellings)
    assert best.to_dict() == {"k1": "SEFTON INC", "k2": "Markey Metals", "k3": "Alpha Co"}
