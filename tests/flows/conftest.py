"""Flow tests: one Prefect test harness for the session, and a seeded sandbox the settings point at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.config import SandboxConfig
from sandbox.generator import seed
from sandbox.server import SandboxServer

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API for the whole session (it takes 20-30 s to start on 2 cores)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> Iterator[SandboxServer]:
    """A sandbox of the test's own, seeded with a small store and org, and the pipeline pointed at it."""
    home = tmp_path / "sandbox"
    config = SandboxConfig(home=home, store_port=0, org_port=0)
    seed(config, orders=60, seed=7, as_of=AS_OF)
    server = SandboxServer(config).start_in_thread()
    monkeypatch.setenv("ATS_TARGET", "sandbox")
    monkeypatch.setenv("ATS_SANDBOX_HOME", str(home))
    monkeypatch.setenv("ATS_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield server
    server.stop()
