"""Fixtures of the reliability suite, and the summary table printed and written at the end of a run.

* ``prefect_api``: a Prefect test harness for tests that run the real flow (logs, artifacts);
* ``sandbox_factory``: sandboxes of any size, stopped at the end of the test;
* ``metrics``: a test's numbers (records, lost, duplicated, notes) for the summary.

The summary (``pytest_terminal_summary``) covers only the tests of this folder, and is written
to ``reports/reliability.json`` and ``reports/reliability.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import SandboxServer
from tests.reliability.harness import make_sandbox
from tests.reliability.report import CaseResult, write_reports

_HERE = Path(__file__).resolve().parent
_RESULTS: dict[str, CaseResult] = {}

SandboxFactory = Callable[..., SandboxServer]


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A temporary Prefect API for the session (20-30 s to start on 2 cores)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[SandboxFactory]:
    """``make(name, orders=..., seed=..., **config)``: a running, seeded sandbox under ``tmp_path``."""
    servers: list[SandboxServer] = []

    def make(name: str = "sandbox", **kwargs: Any) -> SandboxServer:
        server = make_sandbox(tmp_path / name, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def metrics(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``metrics(records=, lost=, duplicated=, notes=)``: numbers for this test's summary row."""

    def add(**values: Any) -> None:
        request.node.user_properties.append(("reliability", values))

    return add


def _scenario(item: pytest.Item) -> str:
    return Path(str(item.fspath)).stem.removeprefix("test_")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if not Path(str(item.fspath)).resolve().is_relative_to(_HERE):
        return report
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        values: dict[str, Any] = {}
        for key, value in item.user_properties:
            if key == "reliability":
                for k, v in value.items():
                    values[k] = values.get(k, 0) + v if isinstance(v, int) else v
        _RESULTS[item.nodeid] = CaseResult(
            scenario=_scenario(item),
            case=item.name,
            outcome=outcome,
            records=int(values.get("records", 0)),
            lost=int(values.get("lost", 0)),
            duplicated=int(values.get("duplicated", 0)),
            notes=str(values.get("notes", "")),
        )
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _RESULTS:
        return
    text = write_reports(list(_RESULTS.values()))
    terminalreporter.write_sep("=", "reliability summary (reports/reliability.md)")
    terminalreporter.write_line(text)
