"""Each rule is cited as ``# Rn`` at exactly one place in transforms/, flows/ and connectors/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"#\s*(R\d+)\b")


def _citations() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for folder in ("transforms", "flows", "connectors"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                for rule in CITATION.findall(line):
                    found.setdefault(rule, []).append(f"{path.relative_to(ROOT)}:{number}")
    return found


@pytest.mark.parametrize("rule", [f"R{n}" for n in range(1, 13)])
def test_each_implemented_rule_is_cited_at_exactly_one_place(rule: str) -> None:
    places = _citations().get(rule, [])
    assert len(places) == 1, f"{rule} cited at {places or 'no place'}"


def test_no_rule_is_cited_twice() -> None:
    twice = {rule: places for rule, places in _citations().items() if len(places) > 1}
    assert not twice, twice
