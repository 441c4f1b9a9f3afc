"""Helpers for the connector's tests: sandbox servers, settings, data in windows of their own."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from connectors.base import Window
from connectors.bigcommerce import BigCommerceClient, BigCommerceStore
from connectors.bigcommerce.streams import expected_records, lane_bounds, lanes_for
from connectors.http import make_session
from connectors.settings import BigCommerceSettings
from sandbox.config import SandboxConfig
from sandbox.faults import FaultSettings, ScriptedFault
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB

#: Long past, so that a record the store touches now leaves every window the tests read.
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
#: The backoff of the tests' clients: the first retry waits at most this long.
BACKOFF = 0.02
SLOW_SECONDS = 2.0
READ_TIMEOUT = 1.0


def start_server(home: Path, **config: Any) -> SandboxServer:
    """A sandbox on free loopback ports with ``config`` (a quota too large to matter by default)."""
    defaults: dict[str, Any] = {
        "rate_limit_quota": 1_000_000,
        "rate_limit_window_ms": 400,
        "store_faults": FaultSettings(slow_seconds=SLOW_SECONDS),
    }
    return SandboxServer(SandboxConfig(home=home, store_port=0, org_port=0, **{**defaults, **config})).start_in_thread()


def settings_for(server: SandboxServer, **overrides: Any) -> BigCommerceSettings:
    """Settings reaching ``server``; never read from the environment or a ``.env`` file."""
    values: dict[str, Any] = {
        "api_url": server.info.store_url,
        "access_token": SecretStr(server.credentials.bc_access_token),
        "ca_bundle": server.certificate.ca_path,
        "connect_timeout": 2.0,
        "read_timeout": READ_TIMEOUT,
        "max_attempts": 4,
        "max_retry_seconds": 10.0,
        **overrides,
    }
    return BigCommerceSettings(_env_file=None, **values)  # type: ignore[call-arg]


class Sleeps(list[float]):
    """A ``sleep`` that really sleeps and remembers each wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


def make_store(
    server: SandboxServer, sleep: Callable[[float], None] = time.sleep, **overrides: Any
) -> BigCommerceStore:
    """A store reading ``server`` with a short backoff (close it after use)."""
    settings = settings_for(server, **overrides)
    return BigCommerceStore(settings, client=BigCommerceClient(settings, sleep=sleep, backoff_base=BACKOFF))


def admin(server: SandboxServer) -> requests.Session:
    """A session for the sandbox's admin endpoints."""
    return make_session(server.certificate.ca_path)


def script_faults(server: SandboxServer, *faults: dict[str, Any]) -> None:
    """Queue scripted faults on the store (``{"kind": ..., "path": ..., "count": ...}``)."""
    server.store.faults.add_script(ScriptedFault.model_validate(f) for f in faults)


def settled_counts(server: SandboxServer) -> dict[str, int]:
    """The store's request counts per endpoint, once they hold still.

    The store counts a request just after its answer has gone out, so a client may already hold
    the answer of a request not counted yet: wait until two reads 50 ms apart agree.
    """
    deadline = time.monotonic() + 2
    last = server.store.counters.snapshot()["endpoints"]
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = server.store.counters.snapshot()["endpoints"]
        if now == last:
            break
        last = now
    return last


def store_requests(server: SandboxServer, endpoint: str) -> int:
    """Requests the store has answered for ``endpoint`` (``v2/orders``), faulted ones included.

    A request a fault answered before routing is counted under its raw path, the others under
    the route's template; both are summed.
    """
    suffix = f"/{endpoint}"
    counts = settled_counts(server)
    return sum(n for key, n in counts.items() if key.startswith("GET /stores/") and key.endswith(suffix))


_DAYS = itertools.count(1)


def fresh_window() -> Window:
    """A day of its own (no other caller gets it), as a window: whole seconds, bounds inclusive.

    Windows are a day apart, so records just outside one (a boundary test's) fall in no other.
    """
    start = EPOCH + timedelta(days=2 * next(_DAYS))
    return Window(start, start + timedelta(days=1) - timedelta(seconds=1))


def insert_orders(db: StoreDB, moments: Iterable[datetime], **fields: Any) -> list[int]:
    """Minimal guest orders created and modified at ``moments``; returns their ids (ascending)."""
    return db.insert_orders(
        [
            {
                "date_created": moment,
                "date_modified": moment,
                "billing_address": {"first_name": "Test", "last_name": f"Buyer{i}", "email": f"buyer{i}@example.com"},
                "products": [],
                "shipping_addresses": [],
                **fields,
            }
            for i, moment in enumerate(moments)
        ]
    )


def insert_customers(db: StoreDB, moments: Iterable[datetime], tag: str) -> list[int]:
    """Minimal customers created and modified at ``moments`` (emails unique by ``tag``); their ids."""
    return db.insert_customers(
        [
            {
                "email": f"{tag}-{i}@example.com",
                "first_name": "Test",
                "last_name": f"Customer{i}",
                "date_created": moment,
                "date_modified": moment,
                "addresses": [{"first_name": "Test", "last_name": f"Customer{i}", "city": "Columbus"}],
            }
            for i, moment in enumerate(moments)
        ]
    )


def spread(window: Window, count: int) -> list[datetime]:
    """``count`` distinct whole seconds inside ``window``, in order."""
    return [window.start + timedelta(seconds=10 * i + 1) for i in range(count)]


def ids_of(pages: Iterable[list[dict[str, Any]]]) -> list[int]:
    """The ids of every record of ``pages``, in order."""
    return [record["id"] for page in pages for record in page]


def lane_ranges(ids: list[int], page_size: int, most: int = 4) -> list[tuple[int, int]]:
    """The lanes of a window holding ``ids`` (ascending; more than its first page)."""
    first = ids[:page_size]
    above = first[-1] + 1
    return lane_bounds(above, ids[-1], lanes_for(expected_records(first, (above, ids[-1])), page_size, most))


def lane_sizes(ids: list[int], page_size: int, most: int = 4) -> list[int]:
    """Orders per lane of a window holding ``ids`` (the last lane has no upper bound)."""
    ranges = lane_ranges(ids, page_size, most)
    return [sum(low <= i and (i <= high or n == len(ranges) - 1) for i in ids) for n, (low, high) in enumerate(ranges)]
