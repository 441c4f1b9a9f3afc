"""The command line's Prefect defaults: in force before Prefect reads its settings, and never over the user's."""

from __future__ import annotations

import os
import subprocess
import sys

from flows.serving import SERVER_START_TIMEOUT

PROBE = (
    "import flows.cli; from prefect.settings import get_current_settings as s; "
    "print(s().server.ephemeral.startup_timeout_seconds, s().server.analytics_enabled)"
)


def _probe(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_") and k != "DO_NOT_TRACK"}
    out = subprocess.run(  # noqa: S603 (our interpreter)
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_cli_gives_a_fresh_server_database_time_to_be_created() -> None:
    # Prefect's own default (20 s) is shorter than creating its database takes on a new 2-core machine.
    assert _probe() == [str(SERVER_START_TIMEOUT), "False"]


def test_a_setting_the_user_made_stands() -> None:
    assert _probe(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="45")[0] == "45"
