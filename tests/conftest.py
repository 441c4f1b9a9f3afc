"""Fixtures shared by the whole suite: a sandbox served from a thread on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.http import make_session
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test saying why."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the reference material in ../shared is not checked out beside the repo")
    return path


def _start(home: Path, **overrides: object) -> SandboxServer:
    config = SandboxConfig(home=home, store_port=0, org_port=0, **overrides)
    return SandboxServer(config).start_in_thread()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """One sandbox for the session (empty store and org unless a test adds data)."""
    server = _start(tmp_path_factory.mktemp("sandbox"))
    yield server
    server.stop()


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """A sandbox of the test's own (own data, counters and faults)."""
    server = _start(tmp_path / "sandbox")
    yield server
    server.stop()


@pytest.fixture
def ca_session(sandbox: SandboxServer) -> Iterator[requests.Session]:
    """A requests session trusting the sandbox CA (despite REQUESTS_CA_BUNDLE)."""
    session = make_session(sandbox.certificate.ca_path)
    yield session
    session.close()
