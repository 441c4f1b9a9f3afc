"""Fixtures of the BigCommerce connector's tests: one sandbox for the package, windows of their own.

The package's sandbox has a quota too large to matter (the pacing tests start their own), a
short rate-limit window (so a 429's wait is short) and a ``slow`` fault slower than the clients'
read timeout. Each test reads its data in a window no other test writes to.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.base import Window
from connectors.bigcommerce import BigCommerceStore
from sandbox.faults import FaultSettings
from sandbox.server import SandboxServer
from sandbox.store.db import StoreDB
from tests.connectors.bigcommerce.helpers import SLOW_SECONDS, fresh_window, make_store, settled_counts, start_server


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The package's sandbox."""
    server = start_server(tmp_path_factory.mktemp("bigcommerce"))
    yield server
    server.stop()


@pytest.fixture
def live(server: SandboxServer) -> Iterator[SandboxServer]:
    """The package's sandbox with no fault pending and its counters at zero."""
    server.store.faults.configure(FaultSettings(slow_seconds=SLOW_SECONDS))
    settled_counts(server)  # the last test's last request may not be counted yet
    server.store.counters.reset()
    yield server
    server.store.faults.configure(FaultSettings(slow_seconds=SLOW_SECONDS))


@pytest.fixture
def db(server: SandboxServer) -> Iterator[StoreDB]:
    """Direct access to the sandbox store's data."""
    store_db = StoreDB(server.config.store_db)
    yield store_db
    store_db.close()


@pytest.fixture
def store(live: SandboxServer) -> Iterator[BigCommerceStore]:
    """A connector reading the package's sandbox with the tests' default settings."""
    with make_store(live) as connector:
        yield connector


@pytest.fixture
def window() -> Window:
    """A day no other test of the session writes records in."""
    return fresh_window()
