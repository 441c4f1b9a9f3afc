"""``store-sync doctor`` says what is ready and what to fix."""

from __future__ import annotations

import pytest

from flows.doctor import diagnose
from sandbox.server import SandboxServer


def test_everything_ready_on_the_sandbox(seeded: SandboxServer) -> None:
    checks = diagnose()
    assert [c.name for c in checks] == ["settings", "BigCommerce store", "Salesforce org", "state store"]
    assert all(c.ok for c in checks), [str(c) for c in checks if not c.ok]


def test_every_problem_is_reported_at_once(seeded: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATS_BC_ACCESS_TOKEN", "wrong-token")
    monkeypatch.setenv("ATS_SF_PASSWORD", "wrong-password")
    checks = {c.name: c for c in diagnose()}
    assert not checks["BigCommerce store"].ok and "401" in checks["BigCommerce store"].detail
    assert not checks["Salesforce org"].ok and "INVALID_LOGIN" in checks["Salesforce org"].detail
    assert checks["state store"].ok
    shown = " ".join(c.detail for c in checks.values())
    assert "wrong-token" not in shown and "wrong-password" not in shown
