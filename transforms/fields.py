"""What the mapping says about the transformed frames: their columns and their lengths.

:mod:`transforms.mapping` is the contract with the loader: each Salesforce field reads the
frame column named by its ``source``. The output frames therefore carry exactly
:func:`output_columns`; a value longer than a field's ``max_length`` is cut by :func:`fit`
when the field allows truncation, and otherwise makes validation reject the record
(:func:`strict_limits`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from transforms.mapping import ObjectMap
from transforms.text import TEXT, truncate


@dataclass(frozen=True)
class Limit:
    """The tightest length a column must respect without truncation, and the field imposing it."""

    length: int
    field: str  # "Contact.LastName"


def output_columns(objects: ObjectMap) -> list[str]:
    """The key column, each mapped field's source, each parent reference's source, then the
    source moment columns (:attr:`ObjectMap.moment_columns`: for the loader, never payload columns)."""
    columns = [objects.key_source]
    columns += [f.source for f in objects.fields if f.source]
    columns += [p.source for p in objects.parents]
    columns += objects.moment_columns
    return list(dict.fromkeys(columns))  # unique, in order


def strict_limits(objects: Iterable[ObjectMap]) -> dict[str, Limit]:
    """Column -> the smallest ``max_length`` among fields that read it and may not truncate."""
    limits: dict[str, Limit] = {}
    for obj in objects:
        for f in obj.fields:
            if f.source and f.max_length and not f.truncate:
                known = limits.get(f.source)
                if known is None or f.max_length < known.length:
                    limits[f.source] = Limit(f.max_length, f"{obj.sobject}.{f.target}")
    return limits


def fit(frame: pd.DataFrame, objects: ObjectMap) -> pd.DataFrame:
    """``frame`` restricted to :func:`output_columns`, truncating where the mapping allows it."""
    shaped = frame[output_columns(objects)]
    cut = {
        f.source: truncate(shaped[f.source], f.max_length)
        for f in objects.fields
        if f.source and f.max_length and f.truncate and shaped[f.source].dtype == TEXT
    }
    return shaped.assign(**cut) if cut else shaped
