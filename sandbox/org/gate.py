"""What every authenticated REST and Bulk call of the sandbox org goes through.

:class:`Org` bundles the service's state (records, sessions); :func:`api` wraps an endpoint
with the checks the real org makes before doing any work, in its order:

1. the API version in the URL exists (else 404 ``NOT_FOUND``);
2. the session is live (else 401 ``INVALID_SESSION_ID``; a scripted ``session_expired`` fault
   revokes the presented session first, so the client has to log in again);
3. the daily API request allowance is not used up (else 403 ``REQUEST_LIMIT_EXCEEDED``; a
   ``request_limit`` fault answers the same once) — the count lives in the org's SQLite file,
   so a restart keeps it;

and every answer carries ``Sforce-Limit-Info: api-usage=N/M``. :class:`~sandbox.org.errors.ApiError`
raised by an endpoint becomes its error response; anything else becomes Salesforce's 500
``UNKNOWN_EXCEPTION`` (and is logged).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sandbox.config import SandboxConfig
from sandbox.http import ServiceContext
from sandbox.org.auth import Session, SessionStore, bearer_token
from sandbox.org.errors import INVALID_SESSION_MESSAGE, ApiError, error_response, not_found
from sandbox.org.records import OrgDB
from sandbox.org.schema import ObjectDef, OrgSchema

log = logging.getLogger(__name__)

MIN_VERSION, MAX_VERSION = 31, 62
API_USAGE = "api"  # name of the daily request counter in OrgDB
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class Org:
    """The running org: its context, records and sessions."""

    ctx: ServiceContext
    db: OrgDB
    sessions: SessionStore
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> SandboxConfig:
        return self.ctx.config

    @property
    def schema(self) -> OrgSchema:
        return self.db.schema

    def object(self, name: str) -> ObjectDef:
        """The sObject named in a URL, or the 404 the real org gives."""
        obj = self.schema.object(name)
        if obj is None:
            raise not_found()
        return obj

    def lock_fault(self, method: str, path: str) -> Callable[[], bool]:
        """A per-record check for the ``lock_row`` fault of this request."""
        faults = self.ctx.faults
        return lambda: faults.take(["lock_row"], method, path) is not None

    def limit_header(self, used: int) -> dict[str, str]:
        """``Sforce-Limit-Info`` for ``used`` requests today."""
        return {"Sforce-Limit-Info": f"api-usage={used}/{self.config.daily_api_limit}"}


def valid_version(version: str) -> bool:
    """Whether ``59.0``-style ``version`` is one the org serves."""
    major, dot, minor = version.partition(".")
    return dot == "." and minor == "0" and major.isdigit() and MIN_VERSION <= int(major) <= MAX_VERSION


def unknown_exception() -> ApiError:
    """Salesforce's answer to an internal error (with an error id, as the real one has)."""
    error_id = f"{random.randint(10**8, 10**9 - 1)}-{random.randint(10**4, 10**5 - 1)} ({random.randint(-(10**9), -1)})"
    return ApiError(
        500,
        "UNKNOWN_EXCEPTION",
        f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}",
    )


def session_of(request: Request) -> Session:
    """The session :func:`api` validated for this request."""
    return request.state.session  # type: ignore[no-any-return]


async def json_body(request: Request) -> Any:
    """The request body as JSON, or Salesforce's 400 ``JSON_PARSER_ERROR``."""
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at [line:{exc.lineno}, column:{exc.colno}]" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "Invalid UTF-8"
        raise ApiError(400, "JSON_PARSER_ERROR", f"{reason}{where}") from None


def api(org: Org, handler: Endpoint) -> Endpoint:
    """``handler`` behind the version, session and API-limit checks, with ``Sforce-Limit-Info``."""

    async def endpoint(request: Request) -> Response:
        version = request.path_params.get("version")
        if version is not None and not valid_version(version):
            return error_response(not_found())
        session = org.sessions.validate(bearer_token(request))
        if session is None:
            return error_response(ApiError(401, "INVALID_SESSION_ID", INVALID_SESSION_MESSAGE))
        method, path = request.method, request.url.path
        faults = org.ctx.faults
        if faults.take(["session_expired"], method, path):
            org.sessions.revoke(session.token)
            return error_response(ApiError(401, "INVALID_SESSION_ID", INVALID_SESSION_MESSAGE))
        limit = org.config.daily_api_limit
        if faults.take(["request_limit"], method, path):
            used = await run_in_threadpool(org.db.usage, API_USAGE)
            return error_response(request_limit_error(org, used))
        used, counted = await run_in_threadpool(org.db.add_usage, API_USAGE, 1, limit=limit)
        if not counted:
            return error_response(request_limit_error(org, used))
        request.state.session = session
        try:
            response = await handler(request)
        except ApiError as error:
            response = error_response(error)
        except Exception:
            log.exception("sandbox org: %s %s failed", method, path)
            response = error_response(unknown_exception())
        response.headers.update(org.limit_header(used))
        return response

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint


def request_limit_error(org: Org, used: int) -> ApiError:
    """403 ``REQUEST_LIMIT_EXCEEDED`` (with the usage header)."""
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers=org.limit_header(used))
