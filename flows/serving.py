"""``store-sync serve``: one machine, one command, the three deployments on their schedules.

The ephemeral Prefect API that a plain flow call starts runs no scheduler and no UI, so
``serve`` needs a real Prefect server: it uses the one at ``PREFECT_API_URL`` if it answers,
else starts ``prefect server start`` on this machine (SQLite in ``PREFECT_HOME``; PostgreSQL
via ``PREFECT_SERVER_DATABASE_CONNECTION_URL``), then serves :data:`deployments.schedules.DEPLOYMENTS`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

SERVER_START_TIMEOUT = 180  # a fresh server database takes 30 s or more on 2 cores
#: No analytics from a batch job on a customer's machine. It also spares the temporary server its
#: telemetry heartbeat, a write that races the first flow run's on a fresh SQLite database and
#: logs a "database is locked" traceback (seen in benchmark runs).
NO_TELEMETRY = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
#: The settings a run of the command line starts Prefect's temporary server with, unless the user
#: set them: no telemetry, and time to create a fresh server database. Prefect waits 20 s by
#: default; creating the database on a new machine takes 30 s or more on 2 cores, so the README's
#: first command failed there with "Timed out while attempting to connect to ephemeral Prefect API".
CLI_PREFECT_DEFAULTS = {**NO_TELEMETRY, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(SERVER_START_TIMEOUT)}


def api_healthy(api_url: str) -> bool:
    """Whether a Prefect API answers its health check."""
    try:
        return requests.get(f"{api_url.rstrip('/')}/health", timeout=3).ok
    except requests.RequestException:
        return False


def ensure_server(api_url: str, log_path: Path = Path(".prefect-server.log")) -> subprocess.Popen | None:
    """Start a local Prefect server for ``api_url`` unless one answers; returns the process started."""
    if api_healthy(api_url):
        return None
    parsed = urlparse(api_url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise RuntimeError(f"no Prefect API answers at {api_url}, and it is not on this machine to start")
    env = {**os.environ, **NO_TELEMETRY}
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", parsed.hostname,
               "--port", str(parsed.port or 4200)]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 (our interpreter, prefect's own command)
        command, stdout=log_path.open("ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not api_healthy(api_url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Prefect server did not start; see {log_path}")
        time.sleep(1)
    return process


def serve_deployments(api_url: str) -> None:
    """Serve every deployment against ``api_url`` (starting a local server if needed) until stopped."""
    started = ensure_server(api_url)
    os.environ["PREFECT_API_URL"] = api_url
    from prefect import serve

    from deployments.schedules import runner_deployments

    print(f"Prefect UI: {api_url.removesuffix('/api')}  (Ctrl+C stops serving)", flush=True)
    try:
        serve(*runner_deployments())
    finally:
        if started is not None:
            started.terminate()
