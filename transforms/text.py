"""Text clean-up shared by every rule: whitespace, HTML entities, control characters, lengths.

Shoppers type into web forms and BigCommerce stores what they typed, sometimes HTML-escaped
(``Markey &amp; Sons``). :func:`clean_text` undoes the escaping, turns every run of whitespace
(tabs, newlines, no-break spaces) and control character into one space, trims, and makes an
empty result missing. Everything else is kept as typed: case, accents, apostrophes, emoji,
right-to-left text, and text that looks like SOQL or SQL (it is data; the loader sends it as a
JSON or CSV value, never inside a query).

The string dtype here is pandas' python-backed ``str``, whose ``.str`` methods run a Python
call per element anyway. Columns repeat values a lot (states, countries, companies, the same
buyer on many orders), so :func:`map_unique` runs a scalar function once per distinct value
and broadcasts the result with numpy: that is the fast path used throughout ``transforms``.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

#: The dtype of every text column the transforms produce (missing values are NaN; use isna()).
TEXT = "str"


def map_unique(values: pd.Series, fn: Callable[[Any], Any], dtype: Any = TEXT, missing: Any = None) -> pd.Series:
    """``values.map(fn)`` computed once per distinct non-missing value; missing stays ``missing``."""
    # Factorizing and iterating a plain object array is several times faster than going
    # through the extension array of the str dtype.
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    results[:-1] = [fn(u) for u in uniques]
    results[-1] = missing  # code -1 (missing input) picks the last slot
    return pd.Series(results[codes], index=values.index, dtype=dtype)


class _ControlToSpace(dict[int, Any]):
    """A ``str.translate`` table turning control characters (Unicode Cc) into spaces.

    Filled lazily, so only characters actually seen are ever classified. Format characters
    (Cf: right-to-left marks, the zero-width joiner inside emoji sequences) are kept.
    """

    def __missing__(self, codepoint: int) -> Any:
        value = " " if unicodedata.category(chr(codepoint)) == "Cc" else codepoint
        self[codepoint] = value
        return value


_CONTROLS = _ControlToSpace()


def clean_scalar(value: str) -> str | None:
    """One value cleaned (see the module docstring); ``None`` when nothing is left.

    Idempotent: entities are unescaped until none is left, so ``&amp;amp;`` and ``&amp;`` both
    end as ``&`` and a second pass changes nothing.
    """
    if "&" in value:
        previous = None
        while previous != value:  # each pass shortens the text, so this ends
            previous, value = value, html.unescape(value)
    if not value.isprintable():  # rare: controls, or characters that merely print blank
        value = value.translate(_CONTROLS)
    text = " ".join(value.split())
    return text or None


def clean_text(values: pd.Series) -> pd.Series:
    """A text column cleaned by :func:`clean_scalar` (missing or blank -> missing)."""
    return map_unique(values, clean_scalar)


def coalesce(*columns: pd.Series) -> pd.Series:
    """The first non-missing value of ``columns``, row by row."""
    result = columns[0]
    for column in columns[1:]:
        result = result.fillna(column)
    return result


def join_lines(first: pd.Series, second: pd.Series) -> pd.Series:
    """Two address lines as one Salesforce street (lines separated by a newline, as Salesforce does)."""
    both = first.notna() & second.notna()
    joined = first.where(~both, first + "\n" + second)
    return joined.fillna(second)


def longer_than(values: pd.Series, limit: int) -> pd.Series:
    """True where a value is longer than ``limit`` as Salesforce counts: UTF-16 code units.

    An emoji outside the Basic Multilingual Plane counts 2. A value can only exceed the limit
    in code units when it has more than ``limit / 2`` code points, so only those are encoded.
    """
    points = values.str.len()  # float, NaN where missing: comparisons with NaN are False
    maybe = points > limit // 2
    result = points > limit
    if maybe.any():
        units = map_unique(values[maybe], lambda v: len(v.encode("utf-16-le")) // 2, dtype="int64", missing=0)
        result = result.copy()
        result[maybe] = units > limit
    return result


def truncate(values: pd.Series, limit: int) -> pd.Series:
    """``values`` cut to ``limit`` UTF-16 code units where longer (see :func:`truncate_scalar`)."""
    long = longer_than(values, limit)
    if not long.any():
        return values
    values = values.copy()
    values[long] = map_unique(values[long], lambda v: truncate_scalar(v, limit))
    return values


def truncate_scalar(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` UTF-16 code units, never splitting a surrogate pair, then trimmed."""
    encoded = value.encode("utf-16-le")
    if len(encoded) <= 2 * limit:
        return value
    cut = encoded[: 2 * limit]
    if 0xD8 <= cut[-1] <= 0xDB:  # the last unit is a high surrogate: drop the half character
        cut = cut[:-2]
    return cut.decode("utf-16-le").rstrip()
