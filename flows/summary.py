"""Run summaries as Markdown, for Prefect artifacts and the command line."""

from __future__ import annotations

from typing import Any


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_markdown(title: str, data: dict[str, Any]) -> str:
    """A run's counts, rejects, API calls and watermarks (never any secret: only counts and times)."""
    parts = [f"# {title}{' (dry run: nothing written)' if data.get('dry_run') else ''}"]
    extracted = data.get("extracted", {})
    parts.append("## Extracted\n" + _table(["entity", "records"], [[k, v] for k, v in extracted.items()]))
    loads = data.get("loads", {})
    verb = "would " if data.get("dry_run") else ""
    parts.append(
        "## Loaded\n"
        + _table(
            ["object", f"{verb}create", f"{verb}update", "unchanged", "failed", "errors"],
            [
                [name, r["created"], r["updated"], r["unchanged"], r["failed"], r["errors"] or ""]
                for name, r in loads.items()
            ],
        )
    )
    rejected = data.get("rejected", {})
    if rejected:
        rows = [[k, v] for k, v in rejected.items()]
        parts.append("## Rejected (dead letters)\n" + _table(["reason", "records"], rows))
    calls = data.get("api_calls", {})
    rows = [[system, endpoint, n] for system, counts in calls.items() for endpoint, n in counts.items()]
    parts.append("## API calls\n" + _table(["system", "endpoint", "calls"], rows))
    marks = [
        [e, (data.get("watermark_before") or {}).get(e), (data.get("watermark_after") or {}).get(e, "unchanged")]
        for e in (data.get("windows") or {})
    ]
    if marks:
        parts.append("## Watermarks\n" + _table(["entity", "before", "after"], marks))
    return "\n\n".join(parts)
