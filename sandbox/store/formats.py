"""Dates and money the way BigCommerce writes and reads them.

BigCommerce uses three date formats, and a client that mixes them up loses records:

* v2 (orders) answers in RFC 2822, always UTC: ``Wed, 10 Jan 2018 21:05:30 +0000``, and takes
  RFC 2822 or ISO 8601 with an offset in its ``min_/max_date_*`` filters;
* v3 (customers) answers in ISO 8601 UTC with a ``Z``: ``2021-07-28T19:00:38Z``, and takes
  ``2024-05-14T09:34:00`` or ``2024-05-14`` in its ``date_*`` filters;
* v2 customer groups answer ``2023-07-17 06:30:41`` (no zone at all).

The store keeps every date as integer epoch seconds (UTC), so filters and sorts are exact at
second precision whatever format a client used. Money is a string with four decimals
(``"361.9500"``), as in every v2 response.
"""

from __future__ import annotations

import email.utils
import functools
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

DateInput = datetime | str | int | float

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FOUR_PLACES = Decimal("0.0001")
_MONEY = re.compile(r"-?\d+\.\d{4}\Z")


# -- storage ---------------------------------------------------------------------------------


def to_epoch(value: DateInput) -> int:
    """Whole epoch seconds of an aware datetime, an epoch number, or an ISO 8601/RFC 2822 string.

    Naive datetimes are refused: a sandbox that guessed their zone would hide the very
    time-zone bugs it exists to reveal.
    """
    if isinstance(value, bool):
        raise TypeError("a date cannot be a bool")
    if isinstance(value, int | float):
        return math.floor(value)
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a date: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: give a time zone (e.g. datetime.now(UTC))")
    return math.floor(value.timestamp())


def from_epoch(seconds: int) -> datetime:
    """The aware UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)


# -- output ----------------------------------------------------------------------------------


def rfc2822(seconds: int) -> str:
    """v2 format, always UTC: ``Wed, 10 Jan 2018 21:05:30 +0000``."""
    return email.utils.format_datetime(from_epoch(seconds))


def iso_z(seconds: int) -> str:
    """v3 format: ``2021-07-28T19:00:38Z``."""
    return from_epoch(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def plain_utc(seconds: int) -> str:
    """v2 customer-group format, zone-less: ``2023-07-17 06:30:41``."""
    return from_epoch(seconds).strftime("%Y-%m-%d %H:%M:%S")


def money(value: object) -> str:
    """A v2 amount: ``361.95`` -> ``"361.9500"`` (None counts as zero)."""
    # Fast path: bulk inserts normalize millions of amounts, most already in this form.
    if type(value) is str and _MONEY.match(value):
        return value
    return _money(value)


@functools.lru_cache(maxsize=65_536)
def _money(value: object) -> str:
    if value is None or value == "":
        return "0.0000"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return str(amount.quantize(_FOUR_PLACES))


def units(amount: str) -> int:
    """A :func:`money` string as an integer count of ten-thousandths (exact, fast arithmetic)."""
    return int(amount.replace(".", ""))


def from_units(count: int) -> str:
    """The :func:`money` string of ``count`` ten-thousandths."""
    whole, fraction = divmod(abs(count), 10_000)
    return f"{'-' if count < 0 else ''}{whole}.{fraction:04d}"


def rate(value: object) -> str:
    """An exchange rate with ten decimals, as v2 writes ``currency_exchange_rate``."""
    return str(Decimal(str(1 if value in (None, "") else value)).quantize(Decimal("0.0000000001")))


# -- input -----------------------------------------------------------------------------------


def parse_datetime(text: str) -> datetime:
    """ISO 8601 (``2017-04-20T11:32:00.000-04:00``, ``...Z``, ``2017-04-20``) or RFC 2822.

    A value without a zone is taken as UTC; raises ValueError when it is neither format.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty date")
    if _DATE_ONLY.match(text):
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"not an RFC 2822 or ISO 8601 date: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def is_date_only(text: str) -> bool:
    """True for ``2024-05-14`` (a whole day) as opposed to an instant."""
    return bool(_DATE_ONLY.match(text.strip()))


def lower_bound(text: str) -> int:
    """Inclusive lower bound in epoch seconds: a fractional instant rounds up."""
    return math.ceil(parse_datetime(text).timestamp())


def upper_bound(text: str) -> int:
    """Inclusive upper bound in epoch seconds: a fractional instant rounds down."""
    return math.floor(parse_datetime(text).timestamp())
