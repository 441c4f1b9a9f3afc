"""What a window keeps across its batches: its customers on disk, its adoptions pickled."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from flows.window_keep import WindowAdoptions, WindowCustomers


@pytest.fixture
def window() -> Iterator[WindowCustomers]:
    kept = WindowCustomers()
    try:
        yield kept
    finally:
        kept.close()


def test_window_customers_are_kept_on_disk_each_taken_once_then_as_sent_before(window: WindowCustomers) -> None:
    window.add([{"id": 1, "v": "old"}, {"id": 2, "v": "a"}])
    window.add([{"id": 1, "v": "new"}, {"id": 3, "v": "ü" * 5_000}])  # a later copy replaces
    assert 1 in window and 4 not in window and window.missing([4, 1, 9]) == [4, 9]
    first, again = window.take([1, 4])
    assert first == [{"id": 1, "v": "new"}] and again == []
    first, again = window.take([1, 2])
    assert first == [{"id": 2, "v": "a"}] and again == [{"id": 1, "v": "new"}]
    assert window.rest() == [{"id": 3, "v": "ü" * 5_000}]
    assert window.rest() == []


def test_window_customers_without_an_id_are_each_kept_and_go_out_with_the_rest(window: WindowCustomers) -> None:
    window.add([{"name": "no id"}, {"id": "7", "name": "a text id"}, {"id": None}, {"id": 5}])
    window.add([{"name": "no id either"}])
    assert "7" not in window and None not in window and 5 in window
    assert window.take([5, "7", None]) == ([{"id": 5}], [])
    rest = window.rest()
    assert sorted(map(str, rest)) == sorted(
        map(str, [{"name": "no id"}, {"id": "7", "name": "a text id"}, {"id": None}, {"name": "no id either"}])
    )


def test_a_window_customer_added_again_after_going_out_goes_out_again_as_sent_before(window: WindowCustomers) -> None:
    window.add([{"id": 1, "v": "old"}])
    assert window.take([1]) == ([{"id": 1, "v": "old"}], [])
    window.add([{"id": 1, "v": "new"}])
    assert window.take([1]) == ([], [{"id": 1, "v": "new"}])
    assert window.rest() == []


def test_window_customers_added_by_one_thread_are_taken_whole_by_another(window: WindowCustomers) -> None:
    adder = threading.Thread(target=lambda: [window.add([{"id": i, "n": [i] * 50}]) for i in range(2_000)])
    adder.start()
    taken: list[dict] = []
    deadline = time.monotonic() + 30
    while (adder.is_alive() or len(taken) < 2_000) and time.monotonic() < deadline:
        taken += window.take([i for i in range(2_000) if i in window])[0]
    adder.join()
    assert sorted(r["id"] for r in taken) == list(range(2_000))
    assert all(r["n"] == [r["id"]] * 50 for r in taken)


def test_window_adoptions_come_back_as_added_and_as_the_claims_asked_for_the_later_batch_winning() -> None:
    adoptions = WindowAdoptions()
    first = pd.DataFrame(
        {"sobject": ["Account", "Contact"], "salesforce_id": ["001A", "003A"], "key": ["co:a", "p:a@x.com"]}
    )
    second = pd.DataFrame({"sobject": ["Account"], "salesforce_id": ["001A"], "key": ["co:b"]})
    adoptions.add(first)
    adoptions.add(first.iloc[:0])  # a batch without adoptions keeps nothing
    adoptions.add(second)
    frames = adoptions.frames()
    assert len(frames) == 2
    pd.testing.assert_frame_equal(frames[0], first)
    pd.testing.assert_frame_equal(frames[1], second)
    assert adoptions.claims("Account", ["001A", "001B"]) == {"001A": "co:b"}
    assert adoptions.claims("Contact", ["001A", "003A"]) == {"003A": "p:a@x.com"}
    assert adoptions.claims("Account", []) == {}
    assert WindowAdoptions().claims("Account", ["001A"]) == {} and WindowAdoptions().frames() == []
