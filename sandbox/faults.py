"""Injected latency and faults, shared by the sandbox store and org.

A :class:`FaultPlan` decides, request by request, whether to answer normally or with a fault.
Two sources, checked in this order:

* **scripted** faults: "the next N requests matching METHOD and a path regex get KIND", for
  deterministic tests (``POST /__sandbox/faults`` with ``{"script": [...]}``);
* **rates**: each kind fires with a probability, drawn from a seeded RNG so a run repeats.

The generic kinds (``server_error``, ``unavailable``, ``slow``, ``reset``) are applied by
:mod:`sandbox.http` for both services; the service-specific kinds (BigCommerce 429s,
Salesforce ``UNABLE_TO_LOCK_ROW``, ``INVALID_SESSION_ID``, ``REQUEST_LIMIT_EXCEEDED``) are asked
for by the service apps themselves via :meth:`FaultPlan.take`.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

FaultKind = Literal[
    # generic, both services
    "server_error",  # HTTP 500
    "unavailable",  # HTTP 503
    "slow",  # answer after `slow_seconds` (longer than a client's read timeout)
    "reset",  # connection dropped in the middle of the response
    # BigCommerce store
    "rate_limit",  # 429 with X-Rate-Limit-* headers (as if the quota were spent)
    "throttle",  # 429 without rate-limit headers (platform load)
    # Salesforce org
    "lock_row",  # UNABLE_TO_LOCK_ROW on a single record of a collection or bulk job
    "session_expired",  # 401 INVALID_SESSION_ID (the session is revoked server-side)
    "request_limit",  # 403 REQUEST_LIMIT_EXCEEDED
]

GENERIC_KINDS: tuple[FaultKind, ...] = ("server_error", "unavailable", "slow", "reset")


class ScriptedFault(BaseModel):
    """The next ``count`` requests whose method and path match get ``kind``."""

    kind: FaultKind
    path: str = Field(".*", description="regular expression searched in the request path")
    method: str = Field("*", description="HTTP method, or * for any")
    count: int = Field(1, ge=1)


class FaultSettings(BaseModel):
    """Latency and fault rates of one service (all rates are probabilities per request or row)."""

    latency_ms: float = Field(0, ge=0, description="added to every request")
    slow_seconds: float = Field(30, ge=0, description="delay of a `slow` fault")
    seed: int = 0
    rates: dict[FaultKind, float] = Field(default_factory=dict)
    script: list[ScriptedFault] = Field(default_factory=list)


class FaultPlan:
    """Thread-safe, seeded decision maker for one service's faults."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        """Replace rates, latency and script (counters of fired faults are kept)."""
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)
            self._script = [s.model_copy() for s in settings.script]
            self.fired: dict[str, int] = getattr(self, "fired", {})

    def add_script(self, faults: Iterable[ScriptedFault]) -> None:
        """Append scripted faults to the queue."""
        with self._lock:
            self._script.extend(f.model_copy() for f in faults)

    @property
    def latency_seconds(self) -> float:
        return self.settings.latency_ms / 1000.0

    def take(self, kinds: Iterable[FaultKind], method: str = "*", path: str = "") -> FaultKind | None:
        """Return the fault to inject now among ``kinds``, or None; scripted faults come first."""
        wanted = tuple(kinds)
        with self._lock:
            for i, scripted in enumerate(self._script):
                if scripted.kind not in wanted:
                    continue
                if scripted.method not in ("*", method.upper()) or not re.search(scripted.path, path):
                    continue
                scripted.count -= 1
                if scripted.count <= 0:
                    del self._script[i]
                return self._fire(scripted.kind)
            for kind in wanted:
                rate = self.settings.rates.get(kind, 0.0)
                if rate > 0 and self._rng.random() < rate:
                    return self._fire(kind)
        return None

    def _fire(self, kind: FaultKind) -> FaultKind:
        self.fired[kind] = self.fired.get(kind, 0) + 1
        return kind

    def snapshot(self) -> dict:
        """The current settings, pending script and fired counts, as JSON-able data."""
        with self._lock:
            return {
                "settings": self.settings.model_dump(),
                "pending_script": [s.model_dump() for s in self._script],
                "fired": dict(self.fired),
            }
