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


@pytest.mark.parametrize("rule", ["R1", "R2", "R3", "R7", "R8"])
def test_transform_rules_are_cited_once_in_transforms(rule: str) -> None:
    places = _citations().get(rule, [])
    assert len(places) == 1, places
    assert places[0].startswith("transforms/")


def test_transforms_cite_no_rule_owned_elsewhere() -> None:
    """Defaults and ownership (R4, R5, R6, R12) live in the mapping; the rest in other packages."""
    for rule, places in _citations().items():
        if rule in {"R1", "R2", "R3", "R7", "R8"}:
            continue
        ours = [p for p in places if p.startswith("transforms/") and not p.startswith("transforms/mapping.py")]
        assert not ours, f"{rule} cited in {ours}"
