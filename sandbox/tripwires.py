"""Tripwires: run a callback once the N-th matching request has been handled, before its answer leaves.

Crash tests need to stop a client at an exact point of its conversation with a service: "the
org has committed the third sObject Collections write, and the client has not heard back".
A :class:`Tripwire` counts the requests whose method and path match and, when the ``nth``
one's response starts (the service's handler has returned, so its writes are committed),
calls its action *before* the response is passed on to the client; it then disarms itself.
A test hosting the sandbox in a thread (:meth:`sandbox.server.SandboxServer.start_in_thread`)
arms one per service and SIGKILLs the client process from the action::

    proc = subprocess.Popen(...)  # the client
    wire = server.org.tripwires.arm(r"/composite/sobjects", lambda trip: proc.kill(), method="PATCH", nth=3)
    proc.wait()
    assert wire.tripped.is_set()

This is an in-process Python API only (an action is a Python callable); there is no admin
endpoint for it. Counting starts with the requests that arrive after :meth:`Tripwires.arm`;
admin requests (``/__sandbox``) are never counted. With nothing armed, requests are served
exactly as without tripwires.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trip:
    """The request that tripped a wire: what it was, the status it is answered with, its rank."""

    method: str
    path: str
    status: int
    nth: int


TripAction = Callable[[Trip], None]


class Tripwire:
    """One armed wire: fires once, at the ``nth`` request matching ``method`` and ``path``.

    ``tripped`` is set once the action has run (or raised: the error is kept in ``error`` and
    logged, never passed to the service); ``trip`` then says which request tripped it.
    """

    def __init__(self, path: str, action: TripAction, *, method: str = "*", nth: int = 1) -> None:
        if nth < 1:
            raise ValueError(f"nth must be at least 1, not {nth}")
        self.pattern = re.compile(path)
        self.method = method.upper()
        self.nth = nth
        self.action = action
        self.seen = 0
        self.trip: Trip | None = None
        self.error: BaseException | None = None
        self.tripped = threading.Event()

    def matches(self, method: str, path: str) -> bool:
        """Whether a request counts towards this wire."""
        return self.method in ("*", method.upper()) and self.pattern.search(path) is not None

    def fire(self, trip: Trip) -> None:
        """Run the action for ``trip`` and mark the wire tripped (the caller already disarmed it)."""
        self.trip = trip
        try:
            self.action(trip)
        except Exception as exc:  # an action's failure must not become the service's
            self.error = exc
            log.exception("tripwire action failed for %s %s", trip.method, trip.path)
        finally:
            self.tripped.set()

    def __repr__(self) -> str:
        return f"Tripwire({self.method} {self.pattern.pattern!r}, nth={self.nth}, seen={self.seen})"


class Tripwires:
    """The wires armed on one service; thread-safe (tests arm from their thread, the server counts in its)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wires: list[Tripwire] = []

    @property
    def armed(self) -> bool:
        """Whether any wire is armed (a cheap check the middleware makes on every request)."""
        return bool(self._wires)

    def arm(self, path: str, action: TripAction, *, method: str = "*", nth: int = 1) -> Tripwire:
        """Arm a wire: ``action`` runs when the ``nth`` request from now whose method is ``method``
        (``*`` for any) and whose path matches the regular expression ``path`` (searched, as in
        scripted faults) has been handled, just before its response is sent. Every answer counts,
        an error or an injected fault as well (:attr:`Trip.status` says which it was).

        The action runs on the server's event loop thread: keep it short (a ``kill`` is).
        """
        wire = Tripwire(path, action, method=method, nth=nth)
        with self._lock:
            self._wires.append(wire)
        return wire

    def disarm(self, wire: Tripwire) -> None:
        """Remove ``wire`` if it is still armed (it keeps its count and ``tripped`` state)."""
        with self._lock:
            if wire in self._wires:
                self._wires.remove(wire)

    def disarm_all(self) -> None:
        """Remove every armed wire."""
        with self._lock:
            self._wires.clear()

    def answered(self, method: str, path: str, status: int) -> None:
        """Count a handled request whose response is about to start; fire the wires it trips.

        Called by :class:`sandbox.http.SandboxMiddleware`. Wires are taken off under the lock,
        so each fires exactly once however many threads answer at the same time; their
        actions run outside it.
        """
        due: list[tuple[Tripwire, Trip]] = []
        with self._lock:
            for wire in list(self._wires):
                if not wire.matches(method, path):
                    continue
                wire.seen += 1
                if wire.seen >= wire.nth:
                    self._wires.remove(wire)
                    due.append((wire, Trip(method.upper(), path, status, wire.seen)))
        for wire, trip in due:
            wire.fire(trip)
