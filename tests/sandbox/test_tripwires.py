"""Tripwires: fire once, at the N-th matching request, after its handler ran and before the client hears back.

The end-to-end tests drive the session's sandbox org with simple-salesforce and its store with
requests; the others drive :class:`~sandbox.tripwires.Tripwires` directly (matching, counting,
thread safety).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from sandbox.server import SandboxServer
from sandbox.tripwires import Trip, Tripwires

pytestmark = pytest.mark.usefixtures("close_connections")


@pytest.fixture
def disarmed(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    """The session sandbox, with no wire left armed on either service after the test."""
    yield sandbox
    sandbox.org.tripwires.disarm_all()
    sandbox.store.tripwires.disarm_all()


def _account_names(server: SandboxServer, prefix: str) -> list[str]:
    """Names of the org's Accounts starting with ``prefix``, read from its file (as committed)."""
    conn = sqlite3.connect(f"file:{server.config.org_db}?mode=ro", uri=True, timeout=30)
    try:
        return [name for (name,) in conn.execute("SELECT Name FROM Account WHERE Name LIKE ?", (f"{prefix}%",))]
    finally:
        conn.close()


def _store_orders(server: SandboxServer, session: requests.Session) -> requests.Response:
    url = f"{server.info.store_url}v2/orders"
    return session.get(url, headers={"X-Auth-Token": server.credentials.bc_access_token}, timeout=10)


def test_fires_once_at_the_nth_match_after_the_handler_ran(disarmed: SandboxServer, sf: Salesforce) -> None:
    tag = uuid.uuid4().hex[:10]
    returned: list[str] = []
    seen: list[tuple[Trip, list[str], int]] = []

    def action(trip: Trip) -> None:
        # Had the response already left, the client would hear it during this pause.
        time.sleep(0.3)
        # What the org had committed, and how many creates the client had heard back from, at the trip.
        seen.append((trip, _account_names(disarmed, tag), len(returned)))

    wire = disarmed.org.tripwires.arm(r"/sobjects/Account/?$", action, method="POST", nth=2)
    for i in range(3):
        sf.query(f"SELECT Id FROM Account WHERE Name = '{tag}'")  # matches neither method nor path
        account_id = sf.Account.create({"Name": f"{tag} {i}"})["id"]
        returned.append(account_id)
        sf.Account.update(account_id, {"Phone": "1"})  # PATCH: no match

    assert wire.tripped.is_set() and wire.error is None
    assert len(seen) == 1, "a wire fires once"
    trip, committed, heard = seen[0]
    assert (trip.method, trip.status, trip.nth) == ("POST", 201, 2)
    assert trip.path.rstrip("/").endswith("/sobjects/Account")
    assert committed == [f"{tag} 0", f"{tag} 1"], "the second create was committed when the wire tripped"
    assert heard == 1, "the client had not received the second create's answer yet"
    assert not disarmed.org.tripwires.armed


def test_requests_before_arming_and_after_disarming_do_not_count(
    disarmed: SandboxServer, ca_session: requests.Session
) -> None:
    trips: list[Trip] = []
    assert _store_orders(disarmed, ca_session).status_code in (200, 204)  # before arming: not counted
    first = disarmed.store.tripwires.arm(r"/v2/orders$", trips.append, method="GET", nth=2)
    dropped = disarmed.store.tripwires.arm(r"/v2/orders$", trips.append, method="GET", nth=1)
    disarmed.store.tripwires.disarm(dropped)
    assert _store_orders(disarmed, ca_session).status_code in (200, 204)
    assert not first.tripped.is_set() and trips == []
    assert _store_orders(disarmed, ca_session).status_code in (200, 204)
    assert first.tripped.is_set() and [t.nth for t in trips] == [2]
    assert not dropped.tripped.is_set() and dropped.seen == 0
    assert not disarmed.store.tripwires.armed


def test_a_failing_action_is_kept_and_the_client_is_answered(
    disarmed: SandboxServer, ca_session: requests.Session
) -> None:
    def action(_: Trip) -> None:
        raise RuntimeError("boom")

    wire = disarmed.store.tripwires.arm(r"/v2/orders$", action)
    assert _store_orders(disarmed, ca_session).status_code in (200, 204)
    assert wire.tripped.is_set()
    assert isinstance(wire.error, RuntimeError)


def test_method_and_path_filters() -> None:
    wires = Tripwires()
    trips: list[Trip] = []
    wire = wires.arm(r"/jobs/ingest/[^/]+$", trips.append, method="get", nth=2)
    wires.answered("PATCH", "/services/data/v59.0/jobs/ingest/750x", 200)
    wires.answered("GET", "/services/data/v59.0/jobs/ingest/750x/successfulResults", 200)
    wires.answered("GET", "/services/data/v59.0/jobs/ingest/750x", 200)
    assert trips == [] and wire.seen == 1
    wires.answered("GET", "/services/data/v59.0/jobs/ingest/750y", 200)
    assert trips == [Trip("GET", "/services/data/v59.0/jobs/ingest/750y", 200, 2)]
    wires.answered("GET", "/services/data/v59.0/jobs/ingest/750z", 200)
    assert len(trips) == 1
    with pytest.raises(ValueError, match="nth"):
        wires.arm(".*", trips.append, nth=0)


def test_concurrent_answers_fire_each_wire_exactly_once() -> None:
    wires = Tripwires()
    fired: list[int] = []
    lock = threading.Lock()

    def action(trip: Trip) -> None:
        with lock:
            fired.append(trip.nth)

    armed = [wires.arm("/x", action, nth=n) for n in (1, 50, 400)]
    start = threading.Barrier(8)

    def answer() -> None:
        start.wait()
        for _ in range(100):
            wires.answered("GET", "/x", 200)

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fired) == [1, 50, 400]
    assert all(w.tripped.is_set() for w in armed) and not wires.armed
