"""SOQL results as DataFrames, and ``IN (...)`` queries over many values, split to fit.

:func:`records_frame` flattens REST query records: ``attributes`` dropped, parent records
become dotted columns (``Account.Name``, ``Account.Owner.Name``), child sub-queries become lists
of flattened records. Columns follow the query's SELECT list, so a frame has them even when no
row (or no row with that parent) came back.

:func:`in_queries` builds ``... WHERE Field IN (...)`` queries for any number of values. Every
value is quoted by simple-salesforce's :func:`~simple_salesforce.format.format_soql` (never by
string concatenation), and each query stays under both the SOQL statement limit (100,000
characters) and what fits in the URL of a REST ``GET query`` (16,384 bytes, URL-encoded).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus

import pandas as pd
from simple_salesforce.format import format_soql, quote_soql_value

SOQL_MAX_LENGTH = 100_000
URL_QUERY_MAX_BYTES = 15_000  # of the URL-encoded q=…, leaving room for host and path (16,384)
_FIELD_PATH = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*$")
_SELECT_LIST = re.compile(r"^\s*SELECT\s+(.*?)\s+FROM\s", re.IGNORECASE | re.DOTALL)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One query record as ``{column: value}`` with parents dotted and no ``attributes``."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "records" in value and "totalSize" in value:
            flat[name] = [flatten(child) for child in value.get("records") or []]
        elif isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def select_columns(soql: str) -> list[str]:
    """The plain field paths of the SELECT list (``Id``, ``Account.Name``), in order.

    Aggregates, functions, aliases and sub-queries are skipped: their columns come from the rows.
    """
    match = _SELECT_LIST.match(soql)
    if not match:
        return []
    items, depth, current = [], 0, ""
    for char in match.group(1):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return [item for item in items if _FIELD_PATH.match(item)]


def records_frame(records: Iterable[Mapping[str, Any]], soql: str) -> pd.DataFrame:
    """Flattened ``records`` as a frame (object columns: values exactly as Salesforce sent them)."""
    rows = [flatten(r) for r in records]
    columns: list[str] = []
    seen: dict[str, str] = {}  # lower-case name → column as Salesforce spells it
    for row in rows:
        for name in row:
            if name.lower() not in seen:
                seen[name.lower()] = name
                columns.append(name)
    # SELECT-list columns no row produced (no rows, or a parent null everywhere), and the
    # query's order: Salesforce's spelling wins over the query's (names are case-insensitive).
    ordered = [seen.get(c.lower(), c) for c in select_columns(soql)]
    ordered += [c for c in columns if c not in ordered]
    # A null parent comes back as ``"Account": null``: its dotted columns stand for it.
    lowered = [c.lower() for c in ordered]
    ordered = [c for c in ordered if not any(o.startswith(c.lower() + ".") for o in lowered)]
    return pd.DataFrame([[row.get(c) for c in ordered] for row in rows], columns=ordered, dtype=object)


def in_queries(
    template: str, values: Iterable[Any], *, max_length: int = SOQL_MAX_LENGTH,
    max_url_bytes: int = URL_QUERY_MAX_BYTES, **params: Any,
) -> list[str]:  # fmt: skip
    """``template`` formatted with ``format_soql`` once per chunk of ``values``.

    ``template`` holds one ``{values}`` placeholder where the ``IN`` list goes
    (``"SELECT Id FROM Contact WHERE Email IN {values}"``); other placeholders take ``params``,
    quoted the same way. Duplicate values are sent once; no values, no query.
    """
    unique = list(dict.fromkeys(v for v in values if v is not None))
    if not unique:
        return []
    base = format_soql(template, values=[], **params)  # "... IN ()"
    queries: list[str] = []
    chunk: list[Any] = []
    length, url_bytes = len(base), len(quote_plus(base))
    for value in unique:
        quoted = quote_soql_value(value)
        extra, extra_url = len(quoted) + 1, len(quote_plus(quoted)) + 3  # plus the "," (%2C)
        if length + extra > max_length or url_bytes + extra_url > max_url_bytes:
            if not chunk:
                raise ValueError(f"a single value does not fit in a query: {quoted[:40]}…")
            queries.append(format_soql(template, values=chunk, **params))
            chunk, length, url_bytes = [], len(base), len(quote_plus(base))
        chunk.append(value)
        length += extra
        url_bytes += extra_url
    queries.append(format_soql(template, values=chunk, **params))
    return queries
