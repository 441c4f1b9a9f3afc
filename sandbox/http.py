"""What both sandbox services share over HTTP: request counters, latency, generic faults, admin API.

Each service (``sandbox.store.app``, ``sandbox.org.app``) is a Starlette app built from a
:class:`ServiceContext`; :func:`wrap_service` puts it behind :class:`SandboxMiddleware` and
mounts the admin endpoints under ``/__sandbox/``:

* ``GET  /__sandbox/counters``        requests per endpoint (``"GET /stores/{store_hash}/v2/orders"``),
  and the seconds the service spent answering them (``seconds``: after the injected latency)
* ``POST /__sandbox/counters/reset``
* ``GET  /__sandbox/faults``          settings, pending scripted faults, fired counts
* ``PUT  /__sandbox/faults``          replace the service's :class:`FaultSettings`
* ``POST /__sandbox/faults/script``   append scripted faults (a JSON list)

Admin requests are neither counted nor delayed nor faulted (nor trip a wire).

Each context also holds :class:`~sandbox.tripwires.Tripwires`: in-process callbacks run when the
N-th matching request has been handled, before its response leaves (crash tests kill the
client there).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.config import SandboxConfig, SandboxCredentials
from sandbox.faults import GENERIC_KINDS, FaultKind, FaultPlan, FaultSettings, ScriptedFault
from sandbox.tripwires import Tripwires

ADMIN_PREFIX = "/__sandbox"


class Counters:
    """Thread-safe request counts and service seconds per endpoint template."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._seconds: dict[str, float] = {}

    def add(self, key: str, n: int = 1, seconds: float = 0.0) -> None:
        """Count ``n`` requests of ``key`` that took the service ``seconds`` to answer."""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n
            self._seconds[key] = self._seconds.get(key, 0.0) + seconds

    def snapshot(self) -> dict[str, Any]:
        """``total``, ``endpoints`` (counts) and ``seconds`` (service time) per endpoint."""
        with self._lock:
            counts = dict(sorted(self._counts.items()))
            seconds = {k: round(v, 4) for k, v in sorted(self._seconds.items())}
        return {"total": sum(counts.values()), "endpoints": counts, "seconds": seconds}

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
            self._seconds.clear()


ErrorBody = Callable[[int, FaultKind, str], Response]


@dataclass
class ServiceContext:
    """Everything a service app needs; ``base_url`` is known once its socket is bound."""

    name: str
    config: SandboxConfig
    credentials: SandboxCredentials
    faults: FaultPlan = field(default_factory=FaultPlan)
    counters: Counters = field(default_factory=Counters)
    tripwires: Tripwires = field(default_factory=Tripwires)
    base_url: str = ""


def endpoint_key(scope: Scope) -> str:
    """``METHOD /path/template`` of the matched route, else the raw path."""
    route = scope.get("route")
    template = getattr(route, "path", None) or scope.get("path", "")
    # Mounted sub-apps: prefix the mount's own path.
    root = scope.get("root_path", "")
    return f"{scope.get('method', '')} {root}{template}"


class SandboxMiddleware:
    """Counts requests, adds latency and injects the generic faults before the service answers;
    springs the armed tripwires as a response starts."""

    def __init__(self, app: ASGIApp, ctx: ServiceContext, error_body: ErrorBody) -> None:
        self.app = app
        self.ctx = ctx
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.ctx.tripwires.armed:
            send = self._tripping(scope, send)
        plan = self.ctx.faults
        if plan.latency_seconds:
            await asyncio.sleep(plan.latency_seconds)
        started = time.perf_counter()  # service time: what the sandbox itself adds to the latency
        try:
            kind = plan.take(GENERIC_KINDS, scope["method"], scope["path"])
            if kind == "slow":
                await asyncio.sleep(plan.settings.slow_seconds)
            elif kind == "reset":
                await self._reset(send)
                return
            elif kind in ("server_error", "unavailable"):
                status = 500 if kind == "server_error" else 503
                await self.error_body(status, kind, scope["path"])(scope, receive, send)
                return
            await self.app(scope, receive, send)
        finally:
            self.ctx.counters.add(endpoint_key(scope), seconds=time.perf_counter() - started)

    def _tripping(self, scope: Scope, send: Send) -> Send:
        """``send``, telling the tripwires about the response first (the handler is done by then).

        Method and path are taken now: routing rewrites ``scope["path"]`` on the way in.
        """
        method, path, tripwires = scope["method"], scope["path"], self.ctx.tripwires

        async def send_after_tripwires(message: Message) -> None:
            if message["type"] == "http.response.start":
                tripwires.answered(method, path, message["status"])
            await send(message)

        return send_after_tripwires

    @staticmethod
    async def _reset(send: Send) -> None:
        # Promise a body, send part of it, then fail: uvicorn drops the connection, which the
        # client sees as a broken/reset connection mid-response.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b"[{", "more_body": True})
        raise ConnectionResetError("sandbox: injected connection reset")


def admin_routes(ctx: ServiceContext) -> list[Route]:
    """The ``/__sandbox`` endpoints common to both services."""

    async def counters(_: Request) -> Response:
        return JSONResponse(ctx.counters.snapshot())

    async def counters_reset(_: Request) -> Response:
        ctx.counters.reset()
        return JSONResponse(ctx.counters.snapshot())

    async def faults_get(_: Request) -> Response:
        return JSONResponse(ctx.faults.snapshot())

    async def faults_put(request: Request) -> Response:
        ctx.faults.configure(FaultSettings.model_validate(await request.json()))
        return JSONResponse(ctx.faults.snapshot())

    async def faults_script(request: Request) -> Response:
        ctx.faults.add_script(ScriptedFault.model_validate(item) for item in await request.json())
        return JSONResponse(ctx.faults.snapshot())

    return [
        Route("/counters", counters, methods=["GET"]),
        Route("/counters/reset", counters_reset, methods=["POST"]),
        Route("/faults", faults_get, methods=["GET"]),
        Route("/faults", faults_put, methods=["PUT"]),
        Route("/faults/script", faults_script, methods=["POST"]),
    ]


def wrap_service(
    ctx: ServiceContext,
    routes: list[Route | Mount],
    error_body: ErrorBody,
    extra_admin: list[Route] | None = None,
    exception_handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] | None = None,
    lifespan: Any = None,
) -> ASGIApp:
    """Build the service app with its admin mount, behind the sandbox middleware."""
    app = Starlette(
        routes=[Mount(ADMIN_PREFIX, routes=admin_routes(ctx) + (extra_admin or [])), *routes],
        exception_handlers=exception_handlers or {},
        lifespan=lifespan,
    )
    return SandboxMiddleware(app, ctx, error_body)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON with the compact separators the real APIs use (UTF-8, non-ASCII as is).

    Encoded by orjson: with :mod:`json` a page of 250 orders with their line items took the
    sandbox a third of its time to serve, on the cores the pipeline it serves runs on too (a
    real store serves from its own). The output is the same JSON (integer keys become strings,
    as with :mod:`json`)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )
