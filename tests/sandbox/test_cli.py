"""The sandbox command line end to end: a real background daemon on free ports, in a scratch home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.http import make_session
from connectors.settings import Settings
from flows.cli import app
from sandbox.cli import running_info

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("cli") / "sandbox"
    invoke("sandbox", "start", "--home", str(home), "--store-port", "0", "--org-port", "0", "--orders", "40")
    yield home
    invoke("sandbox", "stop", "--home", str(home))
    assert running_info(home) is None


def test_start_seeds_runs_in_the_background_and_says_how_to_connect(home: Path) -> None:
    info = running_info(home)
    assert info is not None
    output = invoke("sandbox", "status", "--home", str(home))
    assert "running" in output and "store orders" in output and "40" in output
    session = make_session(info.ca_path)
    assert session.get(f"{info.org_url}/services/data/", timeout=10).status_code == 200
    # Starting again reports the running one instead of starting a second.
    assert "already running" in invoke("sandbox", "start", "--home", str(home))


def test_env_points_the_pipeline_settings_at_the_sandbox(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = invoke("sandbox", "env", "--home", str(home)).splitlines()
    exported = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert set(exported) >= {"ATS_BC_API_URL", "ATS_BC_ACCESS_TOKEN", "ATS_SF_LOGIN_URL", "ATS_SF_PASSWORD"}
    monkeypatch.setenv("ATS_TARGET", "sandbox")
    monkeypatch.setenv("ATS_SANDBOX_HOME", str(home))
    settings = Settings()
    assert settings.bc.api_url == exported["ATS_BC_API_URL"].strip('"')
    assert settings.sf.login_url == exported["ATS_SF_LOGIN_URL"].strip('"')
    assert "**" in repr(settings.sf.password) and settings.sf.password.get_secret_value() not in repr(settings)


def test_simulate_adds_store_activity_and_inspection_commands_show_it(home: Path) -> None:
    assert "new orders: 3" in invoke("sandbox", "simulate", "--home", str(home), "--orders", "3", "--seed", "1")
    output = invoke("sandbox", "orders", "--home", str(home), "--limit", "3")
    assert "3 records" in output
    output = invoke("sandbox", "soql", "SELECT Name FROM Group WHERE Type = 'Queue'", "--home", str(home))
    assert "eCommerce Orders" in output
    assert "requests" in invoke("sandbox", "counters", "--home", str(home))


def test_a_bad_query_is_a_clear_error(home: Path) -> None:
    result = runner.invoke(app, ["sandbox", "soql", "SELECT Nope FROM Account", "--home", str(home)])
    assert result.exit_code == 1
    assert "INVALID_FIELD" in result.output


def test_faults_are_validated_per_service(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sandbox", "start", "--home", str(tmp_path), "--fault", "store:lock_row=0.1"])
    assert result.exit_code != 0
    assert "not a store fault" in result.output


def test_env_of_a_sandbox_that_is_not_running_says_so_on_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sandbox", "env", "--home", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "not running" in result.stderr and "export" not in result.stdout
