"""Code run in child processes by the tests (kept import-light for spawn start-up)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from state import LeaseHeld, StateStore


def open_and_contend_for_lease(url: str, holder: str, barrier: Any, results: Any) -> None:
    """Race the other processes twice: to open (migrate) the store, then to take lease ``sync``.

    Reports ``(holder, "won" | "held" | "error", detail)`` on ``results``.
    """
    try:
        barrier.wait(timeout=60)
        store = StateStore.open(url)
    except Exception as error:  # reported to the parent rather than lost in the child's stderr
        results.put((holder, "error", f"open: {error!r}"))
        barrier.abort()
        return
    try:
        barrier.wait(timeout=60)
        try:
            store.acquire_lease("sync", holder, timedelta(minutes=5))
            results.put((holder, "won", None))
        except LeaseHeld as held:
            results.put((holder, "held", held.holder))
    except Exception as error:
        results.put((holder, "error", repr(error)))
    finally:
        store.close()
