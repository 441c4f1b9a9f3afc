"""The small interfaces the flows use to talk to the store and the org, and the extraction window.

Production and sandbox use the same implementations (``connectors.bigcommerce``,
``connectors.salesforce``); only their settings differ. Tests may substitute recorded or fake
implementations of these protocols.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas as pd

#: Columns of the frame every Salesforce write returns, one row per input record.
RESULT_COLUMNS = ["external_id", "salesforce_id", "created", "success", "error_code", "message", "fields"]


@dataclass(frozen=True)
class Window:
    """A closed time window ``[start, end]`` at second precision, fixed for a whole run."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.start > self.end:
            raise ValueError(f"window starts after it ends: {self.start} > {self.end}")

    @classmethod
    def incremental(
        cls, watermark: datetime | None, run_start: datetime, lag: timedelta, overlap: timedelta, initial: datetime
    ) -> Window:
        """The window of an incremental run.

        The upper bound is the run's start minus ``lag`` (records still being written are left
        for the next run); the lower bound is the watermark minus ``overlap`` (records that
        landed late on an earlier second are picked up again; the ledger drops the repeats), or
        ``initial`` on the first run. Both are truncated to whole seconds, the APIs' precision.
        """
        end = (run_start - lag).replace(microsecond=0)
        start = (watermark - overlap if watermark is not None else initial).replace(microsecond=0)
        return cls(min(start, end), end)


class StoreSource(Protocol):
    """The BigCommerce store, read page by page."""

    def customers(self, window: Window) -> Iterator[list[dict[str, Any]]]:
        """Pages of v3 customers (with addresses) modified in ``window``, in ascending id order, each once.

        The window as a whole is the unit of completeness: watermarks advance past it only after
        every page was loaded.
        """
        ...

    def orders(self, window: Window, *, field: str = "date_modified") -> Iterator[list[dict[str, Any]]]:
        """Pages of v2 orders (with consignments) whose ``field`` lies in ``window``, each once."""
        ...

    def customers_by_id(self, ids: Iterable[int]) -> Iterator[list[dict[str, Any]]]:
        """Pages of the v3 customers of ``ids`` (absent ids skipped)."""
        ...

    def orders_by_id(self, ids: Iterable[int]) -> Iterator[list[dict[str, Any]]]:
        """Pages of the v2 orders of ``ids`` (absent ids skipped)."""
        ...

    def api_calls(self) -> dict[str, int]:
        """Requests sent so far, per endpoint."""
        ...


class CrmSink(Protocol):
    """The Salesforce org."""

    def query(self, soql: str) -> pd.DataFrame:
        """All records of a query as one frame (parent fields flattened as ``Account.Name``)."""
        ...

    def query_sized(self, soql: str) -> tuple[int, Iterator[dict[str, Any]]]:
        """A query's ``totalSize`` (one call: its first page) and its records (the rest fetched as read)."""
        ...

    def query_in(self, template: str, values: Any, **params: Any) -> pd.DataFrame:
        """``template``'s ``{values}`` IN-list over all ``values`` (as many queries as needed), one frame.

        Every value is quoted by simple-salesforce's ``format_soql``; names come from the mapping.
        """
        ...

    def upsert(self, sobject: str, external_id_field: str, records: pd.DataFrame) -> pd.DataFrame:
        """Upsert by external id; one result row per record (:data:`RESULT_COLUMNS`), matched by key."""
        ...

    def update(self, sobject: str, records: pd.DataFrame) -> pd.DataFrame:
        """Update records by ``Id``; one result row per record, ``external_id`` holding the Id."""
        ...

    def describe(self, sobject: str) -> dict[str, Any]:
        """The object's describe result."""
        ...

    def api_calls(self) -> dict[str, int]:
        """Requests sent so far, per kind of call."""
        ...

    def api_usage(self) -> tuple[int, int] | None:
        """The org's daily API usage (used, limit) from the last ``Sforce-Limit-Info``, if seen."""
        ...


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
