"""The store's request quota: N requests per fixed window, shared by every client of the store.

BigCommerce meters OAuth clients per store (Standard/Plus: 150 requests per 30 s) and reports
the meter on every response:

* ``X-Rate-Limit-Time-Window-Ms``  the window's length;
* ``X-Rate-Limit-Time-Reset-Ms``   milliseconds until the quota refills;
* ``X-Rate-Limit-Requests-Quota``  requests allowed per window;
* ``X-Rate-Limit-Requests-Left``   requests left in this window.

Once the quota is spent every request gets a 429 (with the same headers, ``Requests-Left: 0``,
plus ``X-Retry-After`` in seconds) until the window ends. A window starts with the first request
after the previous one ended, so an idle store always has its full quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaState:
    """The meter as one response reports it."""

    window_ms: int
    reset_ms: int
    quota: int
    left: int

    def headers(self) -> dict[str, str]:
        """The ``X-Rate-Limit-*`` headers (and ``X-Retry-After`` when nothing is left)."""
        headers = {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(self.reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self.left),
        }
        if self.left == 0:
            headers["X-Retry-After"] = str(max(1, math.ceil(self.reset_ms / 1000)))
        return headers

    def as_json(self) -> dict[str, int]:
        """For the admin API."""
        return {"window_ms": self.window_ms, "reset_ms": self.reset_ms, "quota": self.quota, "left": self.left}


class RateLimiter:
    """Thread-safe fixed-window request counter."""

    def __init__(self, quota: int, window_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        """``quota`` requests per ``window_ms`` milliseconds; ``clock`` returns seconds."""
        self.quota = quota
        self.window_ms = window_ms
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0

    def _roll(self, now: float) -> None:
        if self._window_start is None or (now - self._window_start) * 1000 >= self.window_ms:
            self._window_start, self._used = now, 0

    def _state(self, now: float, left: int) -> QuotaState:
        assert self._window_start is not None
        elapsed_ms = (now - self._window_start) * 1000
        reset_ms = max(1, math.ceil(self.window_ms - elapsed_ms))
        return QuotaState(self.window_ms, reset_ms, self.quota, left)

    def take(self) -> tuple[bool, QuotaState]:
        """Spend one request if any is left: (allowed, meter after this request)."""
        with self._lock:
            now = self._clock()
            self._roll(now)
            if self._used >= self.quota:
                return False, self._state(now, 0)
            self._used += 1
            return True, self._state(now, self.quota - self._used)

    def spent(self) -> QuotaState:
        """The meter as if the quota were spent now (an injected ``rate_limit`` fault)."""
        with self._lock:
            now = self._clock()
            self._roll(now)
            return self._state(now, 0)

    def peek(self) -> QuotaState:
        """The meter without spending anything."""
        with self._lock:
            now = self._clock()
            self._roll(now)
            return self._state(now, self.quota - self._used)

    def reset(self) -> None:
        """Forget the current window: the next request starts a full one."""
        with self._lock:
            self._window_start, self._used = None, 0
