"""``store-sync serve``: starts a Prefect server with its UI when none answers, and serves the deployments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
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


def _ctrl_c_works() -> None:
    """In the child: Ctrl+C's default action, as in a terminal. A suite started in the background
    by a non-interactive shell (``.ci/run &``) runs with SIGINT ignored, which children inherit,
    and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(process: subprocess.Popen[bytes]) -> list[str]:
    """The process's output lines so far, read by a thread as they come (the list grows)."""
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            lines.append(raw.decode(errors="replace"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_serve_starts_a_server_and_registers_the_schedules(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{_free_port()}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": api}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "flows.cli", "serve", "--api-url", api], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_ctrl_c_works,
    )  # fmt: skip
    output = _lines(process)
    try:
        deadline = time.monotonic() + 240
        registered: dict[str, dict] = {}
        # Registered, and serving (as a person sees it before pressing Ctrl+C): a Ctrl+C while the
        # runner is still starting is another matter, and Prefect's.
        while len(registered) < len(DEPLOYMENTS) or not any("being served" in line for line in output):
            assert process.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "serve did not register the deployments in time: " + "".join(output)
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
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError("serve did not stop on Ctrl+C within 120 s: " + "".join(output[-40:])) from None
