"""Stable JSON for the state store: payload hashes and the JSON text columns.

``payload_hash`` must give the same digest for the same logical payload in every run and on every
machine, so the JSON is canonical: keys sorted, no whitespace, and the usual non-JSON values of an
ETL payload rendered one fixed way (Decimal as a normalised fixed-point string so ``1.10`` and
``1.1`` agree, date/time as ISO 8601, aware datetimes converted to UTC, sets sorted, numpy-style
scalars unwrapped). Anything else is a TypeError rather than a silently unstable ``repr``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def _default(value: Any) -> Any:
    """``json.dumps`` fallback for values JSON has no type for (called only for those)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        # normalize() drops trailing zeros; format "f" avoids the exponent normalize() may add.
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=lambda item: dumps(item))
    if isinstance(value, Mapping):
        return dict(value)
    item = getattr(value, "item", None)
    if callable(item):  # numpy / pandas scalars (int64, float64, bool_) unwrap to Python values
        return item()
    raise TypeError(f"payload value of type {type(value).__name__} has no stable JSON form: {value!r}")


# One encoder for every call: json.dumps with non-default options builds a new one each time,
# which is a third of the cost of hashing 100k small payloads.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, compact separators, non-JSON values per :func:`_default`."""
    return _ENCODER.encode(value)


def loads(text: str | None) -> Any:
    """JSON text back to Python (None stays None)."""
    return None if text is None else json.loads(text)


def payload_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of ``payload`` (what the ledger compares)."""
    return text_hash(dumps(payload))


def text_hash(canonical: str) -> str:
    """The :func:`payload_hash` of a payload whose canonical JSON (:func:`dumps`) is ``canonical``."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
