"""The sandbox Salesforce org: an ASGI app answering like the real APIs simple-salesforce uses.

:func:`create_org_app` assembles, under ``/services``:

* login — SOAP ``/services/Soap/u/{version}`` and OAuth ``/services/oauth2/token`` (password,
  client credentials, JWT bearer) and ``/services/oauth2/revoke`` (:mod:`sandbox.org.auth`);
* the REST API under ``/services/data/`` (:mod:`sandbox.org.rest`);
* Bulk API 2.0 ingest under ``/services/data/vXX.X/jobs/ingest`` (:mod:`sandbox.org.bulk`);

behind :func:`sandbox.http.wrap_service` (request counters, latency, generic faults) with the
org's own admin routes under ``/__sandbox/org/``:

* ``POST /__sandbox/org/sessions/expire`` — end every session (clients get 401
  ``INVALID_SESSION_ID`` and must log in again);
* ``GET /__sandbox/org/api-usage`` and ``PUT /__sandbox/org/api-usage`` with ``{"used": N}`` —
  today's API request count (``N`` of ``daily_api_limit``);
* ``GET /__sandbox/org/jobs`` — Bulk 2.0 jobs, all users, with their state;
* ``POST /__sandbox/org/reset`` — delete every record (the seed is re-created).

Paths are matched with or without a trailing slash, as Salesforce does (simple-salesforce sends
``query/``, ``sobjects/Account/`` …); an unknown path gets the real 404 ``NOT_FOUND`` body.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.faults import FaultKind
from sandbox.http import ServiceContext, json_response, wrap_service
from sandbox.org.auth import Authenticator, LoginUser, SessionStore, oauth_error, soap_fault
from sandbox.org.bulk import BulkJobs, bulk_routes
from sandbox.org.errors import ApiError, error_response, not_found
from sandbox.org.gate import API_USAGE, Org, unknown_exception
from sandbox.org.records import OrgDB
from sandbox.org.rest import rest_routes


class _Services:
    """``/services`` sub-application: trailing slashes ignored, JSON 404 for unknown paths."""

    def __init__(self, routes: list[Route]) -> None:
        self.router = Router(routes, redirect_slashes=False, default=self._not_found)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            # Mutated in place: the sandbox counters read the matched route from this scope.
            scope["path"] = path.rstrip("/")
        await self.router(scope, receive, send)

    @staticmethod
    async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(not_found())(scope, receive, send)


def error_body(status: int, kind: FaultKind, path: str) -> Response:
    """Bodies of the generic faults (500/503), in the shape the path's API uses."""
    if "/Soap/" in path:
        code = "sf:SERVER_UNAVAILABLE" if status == 503 else "sf:UNKNOWN_EXCEPTION"
        return soap_fault(code, f"{code[3:]}: Server temporarily unavailable", status=status)
    if "/oauth2/" in path:
        return oauth_error("unknown_error", "retry your request", status=status)
    if status == 503:
        return error_response(ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable"))
    return error_response(unknown_exception())


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors (404, 405) in Salesforce's JSON shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error = ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{request.method}' not allowed. Allowed are {allowed.replace(', ', ',')}",
        )
        return error_response(error)
    if exc.status_code == 404:
        return error_response(not_found())
    return json_response([{"message": str(exc.detail), "errorCode": "UNKNOWN_EXCEPTION"}], status=exc.status_code)


def create_org_app(ctx: ServiceContext) -> ASGIApp:
    """The org's ASGI app for ``ctx`` (records in ``ctx.config.org_db``)."""
    db = OrgDB(ctx.config.org_db, username=ctx.credentials.sf_username)
    user = db.get("User", db.user_id) or {}
    sessions = SessionStore(ctx.config.session_lifetime_seconds)
    org = Org(ctx, db, sessions)
    auth = Authenticator(
        ctx,
        sessions,
        LoginUser(db.user_id, ctx.credentials.sf_username, str(user.get("Name") or ""), str(user.get("Email") or "")),
    )
    jobs = BulkJobs(org)
    org.extras["jobs"] = jobs
    services = _Services(
        [
            Route("/Soap/u/{version}", auth.soap_login, methods=["POST"]),
            Route("/oauth2/token", auth.token, methods=["POST"]),
            Route("/oauth2/revoke", auth.revoke, methods=["POST"]),
            *bulk_routes(org, jobs),
            *rest_routes(org),
        ]
    )

    async def expire_sessions(_: Request) -> Response:
        return json_response({"expired": sessions.expire_all()})

    async def usage_get(_: Request) -> Response:
        used = await run_in_threadpool(db.usage, API_USAGE)
        return json_response({"used": used, "max": ctx.config.daily_api_limit})

    async def usage_put(request: Request) -> Response:
        data: Any = await request.json()
        await run_in_threadpool(db.set_usage, API_USAGE, int(data["used"]))
        return await usage_get(request)

    async def jobs_list(_: Request) -> Response:
        return json_response([job.info() for job in jobs.all()])

    async def reset(_: Request) -> Response:
        await run_in_threadpool(db.reset)
        return json_response({"reset": True})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await jobs.shutdown()
            db.close()

    return wrap_service(
        ctx,
        [Mount("/services", app=services)],
        error_body,
        extra_admin=[
            Route("/org/sessions/expire", expire_sessions, methods=["POST"]),
            Route("/org/api-usage", usage_get, methods=["GET"]),
            Route("/org/api-usage", usage_put, methods=["PUT"]),
            Route("/org/jobs", jobs_list, methods=["GET"]),
            Route("/org/reset", reset, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _http_exception},
        lifespan=lifespan,
    )
