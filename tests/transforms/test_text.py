"""Text clean-up and Salesforce lengths (transforms.text)."""

from __future__ import annotations

import pandas as pd
import pytest

from transforms.text import clean_scalar, clean_text, join_lines, longer_than, map_unique, truncate, truncate_scalar


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("  Markey   Metals ", "Markey Metals"),
        ("Markey &amp; Sons", "Markey & Sons"),
        ("Tom &amp;amp; Jerry", "Tom & Jerry"),  # escaped twice
        ("O&#39;Brien", "O'Brien"),
        ("line\none\tand\u00a0nbsp", "line one and nbsp"),
        ("bell\x07char\x00", "bell char"),
        ("   ", None),
        ("", None),
        ("Zoë D'Angelo", "Zoë D'Angelo"),
        ("👷‍♀️ Crew 🚀", "👷‍♀️ Crew 🚀"),  # emoji with zero-width joiner kept
        ("\u200fשלום עולם", "\u200fשלום עולם"),  # right-to-left text and its mark kept
        ("x'; DELETE FROM Account --", "x'; DELETE FROM Account --"),  # SOQL-looking text is data
        ("AT&T", "AT&T"),
    ],
)
def test_clean_scalar(given: str, expected: str | None) -> None:
    assert clean_scalar(given) == expected
    if expected is not None:
        assert clean_scalar(expected) == expected  # idempotent


def test_clean_text_keeps_index_and_missing() -> None:
    values = pd.Series([" a ", None, "a", "  "], index=[5, 6, 7, 8], dtype="str")
    cleaned = clean_text(values)
    assert list(cleaned.index) == [5, 6, 7, 8]
    assert cleaned.tolist()[0] == "a" and cleaned.tolist()[2] == "a"
    assert cleaned.isna().tolist() == [False, True, False, True]


def test_map_unique_calls_once_per_distinct_value() -> None:
    calls: list[str] = []
    values = pd.Series(["a", "b", "a", None, "b"], dtype="str")
    result = map_unique(values, lambda v: calls.append(v) or v.upper())
    assert sorted(calls) == ["a", "b"]
    assert result.fillna("-").tolist() == ["A", "B", "A", "-", "B"]


def test_join_lines() -> None:
    first = pd.Series(["77 Commerce Dr", "1 Main St", None], dtype="str")
    second = pd.Series(["Suite 5", None, "Unit 2"], dtype="str")
    assert join_lines(first, second).tolist() == ["77 Commerce Dr\nSuite 5", "1 Main St", "Unit 2"]


def test_lengths_count_utf16_units() -> None:
    values = pd.Series(["abcd", "ab🚀", "abc", None], dtype="str")  # 🚀 counts 2
    assert longer_than(values, 3).tolist() == [True, True, False, False]
    assert truncate(values, 3).fillna("-").tolist() == ["abc", "ab", "abc", "-"]  # never half an emoji


def test_truncate_scalar_trims_the_cut() -> None:
    assert truncate_scalar("Sefton Services", 7) == "Sefton"
    assert truncate_scalar("short", 80) == "short"
