"""The reliability summary: one row per scenario (cases, records, lost, duplicated, passed).

Tests attach their numbers with the ``metrics`` fixture (``item.user_properties``); the
conftest collects outcomes and calls :func:`write_reports` at the end of the session, which
writes ``reports/reliability.json`` and ``reports/reliability.md`` and returns the table text.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPORT_DIR = Path(__file__).resolve().parents[2] / "reports"


@dataclass
class CaseResult:
    """One test's outcome and numbers."""

    scenario: str
    case: str
    outcome: str  # passed | failed | xfailed | xpassed | skipped
    records: int = 0
    lost: int = 0
    duplicated: int = 0
    notes: str = ""


@dataclass
class ScenarioRow:
    """The totals of one scenario."""

    scenario: str
    cases: int = 0
    records: int = 0
    lost: int = 0
    duplicated: int = 0
    passed: int = 0
    failed: int = 0
    xfailed: int = 0
    skipped: int = 0
    case_results: list[CaseResult] = field(default_factory=list)


def summarise(results: list[CaseResult]) -> list[ScenarioRow]:
    """Rows per scenario, in first-seen order."""
    rows: dict[str, ScenarioRow] = {}
    for r in results:
        row = rows.setdefault(r.scenario, ScenarioRow(r.scenario))
        row.cases += 1
        row.records += r.records
        row.lost += r.lost
        row.duplicated += r.duplicated
        bucket = {"passed": "passed", "xpassed": "failed", "failed": "failed", "xfailed": "xfailed"}.get(
            r.outcome, "skipped"
        )
        setattr(row, bucket, getattr(row, bucket) + 1)
        row.case_results.append(r)
    return list(rows.values())


HEADER = ("scenario", "cases", "records", "lost", "duplicated", "passed", "failed", "xfail(bug)", "skipped")


def table(rows: list[ScenarioRow]) -> list[tuple[str, ...]]:
    """The summary table's cells (header first)."""
    cells = [HEADER]
    for r in rows:
        cells.append(
            (r.scenario, *(str(v) for v in (r.cases, r.records, r.lost, r.duplicated, r.passed, r.failed,
                                             r.xfailed, r.skipped)))
        )  # fmt: skip
    return cells


def text_table(rows: list[ScenarioRow]) -> str:
    """The table as aligned plain text for the terminal."""
    cells = table(rows)
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)


def markdown(rows: list[ScenarioRow], generated: str) -> str:
    """The report as Markdown: the summary, then every case."""
    cells = table(rows)
    lines = [f"# Reliability and security suite\n\nGenerated {generated}.\n"]
    lines.append("| " + " | ".join(cells[0]) + " |")
    lines.append("|" + "---|" * len(cells[0]))
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    lines.append("\n## Cases\n")
    lines.append("| scenario | case | outcome | records | lost | duplicated | notes |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in rows:
        for c in r.case_results:
            note = c.notes.replace("|", "\\|").replace("\n", " ")[:300]
            lines.append(
                f"| {c.scenario} | `{c.case}` | {c.outcome} | {c.records} | {c.lost} | {c.duplicated} | {note} |"
            )
    return "\n".join(lines) + "\n"


def write_reports(results: list[CaseResult], directory: Path = REPORT_DIR) -> str:
    """Write ``reliability.json`` and ``reliability.md``; return the terminal table."""
    rows = summarise(results)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "generated": generated,
        "scenarios": [{k: v for k, v in asdict(r).items() if k != "case_results"} for r in rows],
        "cases": [asdict(c) for c in results],
    }
    (directory / "reliability.json").write_text(json.dumps(data, indent=2) + "\n")
    (directory / "reliability.md").write_text(markdown(rows, generated))
    return text_table(rows)
