"""``store-sync serve``: starts a Prefect server with its UI when none answers, and serves the deployments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from deployments.schedules import DEPLOYMENTS, RECONCILE, SYNC


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _deployments(api: str) -> list[dict]:
    response = requests.post(f"{api}/deployments/filter", json={}, timeout=5)
    response.raise_for_status()
    return response.json()


def test_serve_starts_a_server_and_registers_the_schedules(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{_free_port()}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": api}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "flows.cli", "serve", "--api-url", api], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        registered: dict[str, dict] = {}
        while len(registered) < len(DEPLOYMENTS):
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "serve did not register the deployments in time"
            time.sleep(2)
            try:
                registered = {d["name"]: d for d in _deployments(api)}
            except requests.RequestException:
                continue
        assert registered[SYNC.name]["schedules"][0]["schedule"]["interval"] == 900
        assert registered[RECONCILE.name]["schedules"][0]["schedule"]["cron"] == RECONCILE.cron
        assert registered["backfill-on-demand"]["schedules"] == []
    finally:
        # Ctrl+C: serve stops, and stops the server it started.
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
