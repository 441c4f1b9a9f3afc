"""Run the sandbox store and org over HTTPS on loopback, in one process and one event loop.

:class:`SandboxServer` binds both sockets itself (port 0 picks free ports, which tests use),
serves them with uvicorn and TLS from :mod:`sandbox.tls`, and can run in the foreground (the
``store-sync sandbox start`` daemon) or in a background thread (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from sandbox.config import SandboxConfig, SandboxCredentials
from sandbox.http import ServiceContext
from sandbox.tls import issue_server_certificate


@dataclass(frozen=True)
class SandboxInfo:
    """What a client needs to reach a running sandbox (secrets come from ``credentials.json``)."""

    store_url: str  # https://127.0.0.1:PORT/stores/{hash}/
    store_hash: str
    org_url: str  # https://127.0.0.1:PORT  (login URL and instance URL alike)
    ca_path: str
    credentials_path: str
    jwt_key_path: str
    pid: int

    @property
    def store_base(self) -> str:
        """``https://host:port`` of the store, without the store path."""
        return self.store_url.split("/stores/")[0]

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)

    @classmethod
    def read(cls, config: SandboxConfig) -> SandboxInfo | None:
        """The info a running sandbox wrote, or None."""
        try:
            return cls(**json.loads(config.state_path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """Both services, ready to serve; ``contexts`` expose counters and fault plans to callers."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        # Imported here so that `sandbox.server` stays importable while a service is broken.
        from sandbox.org.app import create_org_app
        from sandbox.store.app import create_store_app

        self.config = config or SandboxConfig()
        self.config.home.mkdir(parents=True, exist_ok=True)
        self.credentials = SandboxCredentials.load_or_create(self.config)
        self.certificate = issue_server_certificate(self.config.home)
        self._store_sock = _bind(self.config.host, self.config.store_port)
        self._org_sock = _bind(self.config.host, self.config.org_port)
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        self.store = ServiceContext("store", self.config, self.credentials)
        self.org = ServiceContext("org", self.config, self.credentials)
        self.store.faults.configure(self.config.store_faults)
        self.org.faults.configure(self.config.org_faults)
        self.store.base_url = f"https://{host}:{self._store_sock.getsockname()[1]}"
        self.org.base_url = f"https://{host}:{self._org_sock.getsockname()[1]}"
        self._servers = [
            self._uvicorn(create_store_app(self.store)),
            self._uvicorn(create_org_app(self.org)),
        ]
        self._thread: threading.Thread | None = None

    def _uvicorn(self, app: object) -> uvicorn.Server:
        cfg = uvicorn.Config(
            app,  # type: ignore[arg-type]
            ssl_certfile=str(self.certificate.cert_chain_path),
            ssl_keyfile=str(self.certificate.key_path),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=1,
            # A leaked traceback of an injected reset is noise, not news.
            log_config=None,
        )
        server = uvicorn.Server(cfg)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        return server

    @property
    def info(self) -> SandboxInfo:
        return SandboxInfo(
            store_url=f"{self.store.base_url}/stores/{self.config.store_hash}/",
            store_hash=self.config.store_hash,
            org_url=self.org.base_url,
            ca_path=str(self.certificate.ca_path.resolve()),
            credentials_path=str(self.config.credentials_path.resolve()),
            jwt_key_path=str(self.config.jwt_key_path.resolve()),
            pid=os.getpid(),
        )

    async def serve(self) -> None:
        """Serve both services until :meth:`stop` is called."""
        await asyncio.gather(
            self._servers[0].serve(sockets=[self._store_sock]),
            self._servers[1].serve(sockets=[self._org_sock]),
        )

    def stop(self) -> None:
        """Stop serving; connections a client keeps open are dropped after a short grace."""
        for server in self._servers:
            server.should_exit = True
        if self._thread:
            self.config.state_path.unlink(missing_ok=True)
            self._thread.join(timeout=2)
            if self._thread.is_alive():
                # uvicorn waits for idle keep-alive TLS connections to close; don't wait for them.
                for server in self._servers:
                    server.force_exit = True
                self._thread.join(timeout=10)

    def start_in_thread(self) -> SandboxServer:
        """Serve from a daemon thread and return once both services accept connections.

        Like the daemon, it writes ``sandbox.json``, so ``ATS_TARGET=sandbox`` finds it.
        """
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not all(s.started for s in self._servers):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start; see the log above")
            time.sleep(0.02)
        self.config.state_path.write_text(self.info.to_json())
        return self

    def run_forever(self, state_path: Path | None = None) -> None:
        """Foreground mode for the daemon: write the state file, serve, remove it on exit."""
        import signal

        path = state_path or self.config.state_path

        def _exit(*_: object) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, _exit)
        signal.signal(signal.SIGINT, _exit)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

        async def main() -> None:
            task = asyncio.ensure_future(self.serve())
            while not all(s.started for s in self._servers):
                if task.done():
                    await task
                    return
                await asyncio.sleep(0.02)
            path.write_text(self.info.to_json())
            await task

        try:
            asyncio.run(main())
        finally:
            path.unlink(missing_ok=True)
