"""How a window's records are cut into batches (:func:`flows.steps.batches`), on a fake store.

Each window customer goes out once as a batch's own record, with the first batch holding one of
its orders (the last batch takes those without one); a batch whose orders need a record that
went out before, or lies outside the window, carries it as context, fetched by id only when the
window does not hold it.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

import flows.steps as steps
from connectors.base import Window

WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


class FakeStore:
    """Pages of two records; ``by_id`` customers outside the window, fetched by id."""

    def __init__(self, customers: list[dict], orders: list[dict], by_id: list[dict] | None = None) -> None:
        self._customers, self._orders = customers, orders
        self._by_id = {c["id"]: c for c in [*customers, *(by_id or [])]}
        self.fetched: list[list[int]] = []

    @staticmethod
    def _pages(records: list[dict]) -> Iterator[list[dict]]:
        for i in range(0, len(records), 2):
            yield records[i : i + 2]

    def customers(self, window: Window) -> Iterator[list[dict]]:
        return self._pages(self._customers)

    def orders(self, window: Window) -> Iterator[list[dict]]:
        return self._pages(self._orders)

    def customers_by_id(self, ids: Iterable[int]) -> Iterator[list[dict]]:
        ids = list(ids)
        self.fetched.append(ids)
        yield [self._by_id[i] for i in ids if i in self._by_id]


def _cut(store: FakeStore, per_batch: int, monkeypatch: pytest.MonkeyPatch) -> list[steps.Batch]:
    monkeypatch.setattr(steps, "ORDERS_PER_BATCH", per_batch)
    res: Any = SimpleNamespace(store=store)
    return list(steps.batches(res, {"customers": WINDOW, "orders": WINDOW}, retry=False))


def _ids(records: list[dict]) -> list[int]:
    return sorted(r["id"] for r in records)


def test_each_customer_goes_out_once_and_again_as_context(monkeypatch: pytest.MonkeyPatch) -> None:
    customers = [{"id": i} for i in (1, 2, 3)]  # 3 has no order in the window
    orders = [{"id": 10, "customer_id": 1}, {"id": 11, "customer_id": 0},
              {"id": 12, "customer_id": 2}, {"id": 13, "customer_id": 1}]  # fmt: skip
    store = FakeStore(customers, orders)
    first, last = _cut(store, 2, monkeypatch)
    assert _ids(first.orders) == [10, 11] and _ids(first.customers) == [1] and first.context == set()
    # Customer 1 went out with the first batch: here it is context. 3 has no order: it goes out
    # with the last batch.
    assert _ids(last.orders) == [12, 13] and _ids(last.customers) == [1, 2, 3] and last.context == {"1"}
    assert sum(b.extracted_customers for b in (first, last)) == len(customers)
    assert store.fetched == []  # everything came from the window


def test_many_customers_without_an_order_go_after_the_last_batch_in_batches_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(steps, "REST_WITH_LAST", 2)
    customers = [{"id": i} for i in range(1, 7)]  # 2-6 have no order in the window
    store = FakeStore(customers, [{"id": 10, "customer_id": 1}, {"id": 11, "customer_id": 0}])
    cut = _cut(store, 3, monkeypatch)
    assert [(_ids(b.orders), _ids(b.customers), b.context) for b in cut] == [
        ([10, 11], [1], set()),
        ([], [2, 3, 4], set()),
        ([], [5, 6], set()),
    ]
    # As many as REST_WITH_LAST still go with the last batch.
    few = _cut(FakeStore(customers[:3], [{"id": 10, "customer_id": 1}]), 3, monkeypatch)
    assert [(_ids(b.orders), _ids(b.customers)) for b in few] == [([10], [1, 2, 3])]
    # A window of customers only: the empty batch of orders, then theirs.
    alone = _cut(FakeStore(customers, []), 4, monkeypatch)
    assert [(_ids(b.orders), _ids(b.customers)) for b in alone] == [([], []), ([], [1, 2, 3, 4]), ([], [5, 6])]


def test_customers_outside_the_window_are_fetched_by_id(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FakeStore([{"id": 1}], [{"id": 10, "customer_id": 7}, {"id": 11, "customer_id": 1}], by_id=[{"id": 7}])
    (only,) = _cut(store, 10, monkeypatch)
    assert _ids(only.customers) == [1, 7] and only.context == {"7"} and only.extracted_customers == 1
    assert store.fetched == [[7]]


def test_an_empty_window_is_one_empty_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    (only,) = _cut(FakeStore([], []), 10, monkeypatch)
    assert only.customers == [] and only.orders == []


def test_a_window_that_fills_its_batches_exactly_has_no_extra_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FakeStore([{"id": 1}, {"id": 2}], [{"id": 10, "customer_id": 1}, {"id": 11, "customer_id": 1}])
    cut = _cut(store, 2, monkeypatch)  # one batch exactly: customer 2 (no order) goes with it, the last
    assert [(_ids(b.orders), _ids(b.customers)) for b in cut] == [([10, 11], [1, 2])]


class _Handshake(FakeStore):
    """The customers' stream gives its last page only once every order page has been read: read
    one after the other, the streams would wait on each other forever."""

    def __init__(self, customers: list[dict], orders: list[dict]) -> None:
        super().__init__(customers, orders)
        self.orders_read = threading.Event()

    def customers(self, window: Window) -> Iterator[list[dict]]:
        pages = list(self._pages(self._customers))
        yield from pages[:-1]
        assert self.orders_read.wait(timeout=10), "the orders were not read while the customers were"
        yield pages[-1]

    def orders(self, window: Window) -> Iterator[list[dict]]:
        yield from self._pages(self._orders)
        self.orders_read.set()


def test_the_two_streams_are_read_at_the_same_time(monkeypatch: pytest.MonkeyPatch) -> None:
    customers = [{"id": i} for i in (1, 2, 3)]
    orders = [{"id": 10 + i, "customer_id": 1 + i % 3} for i in range(5)]
    (batch,) = _cut(_Handshake(customers, orders), 100, monkeypatch)
    assert _ids(batch.customers) == [1, 2, 3] and _ids(batch.orders) == [10, 11, 12, 13, 14]


class _Broken(FakeStore):
    def customers(self, window: Window) -> Iterator[list[dict]]:
        yield [{"id": 1}]
        raise RuntimeError("the store said no")


def test_an_error_reading_the_customers_is_raised_before_any_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="the store said no"):
        _cut(_Broken([], [{"id": 10, "customer_id": 1}]), 100, monkeypatch)


class _Record(dict):
    """A record a weak reference can follow (plain dicts cannot be weakly referenced)."""


def test_a_batch_s_records_are_freed_once_its_consumer_drops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The run drops each batch and returns its memory before asking for the next: the records
    # must not stay alive in the generator meanwhile (they did: 140 MB a 10,000-order batch).
    refs: list[weakref.ref[_Record]] = []

    def pages(_: Window) -> Iterator[list[dict]]:  # made as read: nothing but the batches holds them
        for first in range(10, 16, 2):
            page = [_Record(id=i, customer_id=0) for i in (first, first + 1)]
            refs.extend(weakref.ref(r) for r in page)
            yield page

    monkeypatch.setattr(steps, "ORDERS_PER_BATCH", 2)
    res: Any = SimpleNamespace(store=SimpleNamespace(orders=pages))
    pending = steps.batches(res, {"orders": WINDOW}, retry=False)
    first = next(pending)
    assert _ids(first.orders) == [10, 11]
    del first
    gc.collect()
    # Suspended after the first batch: its records are gone; the page read ahead (12, 13) lives.
    assert [r() is None for r in refs] == [True, True, False, False]
    assert [_ids(b.orders) for b in pending] == [[12, 13], [14, 15]]
