"""BigCommerce error bodies, which differ between the two API generations.

* v2 (``/v2/...``): a JSON array of ``{"status", "message"}`` objects, e.g.
  ``[{"status": 404, "message": "The requested resource was not found."}]``;
* v3 (``/v3/...``): one object ``{"status", "title", "type", "errors"}``, ``errors`` mapping
  a field or filter to what is wrong with it.

Handlers raise :class:`ApiError`; :func:`error_response` renders it in the shape the request's
path calls for, so no handler writes an error body itself.
"""

from __future__ import annotations

import re

from starlette.responses import Response

from sandbox.faults import FaultKind
from sandbox.http import json_response

STATUS_CODES_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"

_V2_PATH = re.compile(r"^/stores/[^/]+/v2(/|$)")

# Default texts per status, where a handler has nothing more specific to say.
MESSAGES = {
    400: "The request was malformed.",
    401: "Unauthorized: the X-Auth-Token header is missing or not valid for this store.",
    404: "The requested resource was not found.",
    405: "The requested method is not supported by this resource.",
    406: "Only application/json responses are available; check the Accept header.",
    413: "The request asked for too many objects: the maximum limit is 250.",
    415: "Only application/json request bodies are accepted; check the Content-Type header.",
    422: "The request could not be processed: some of its values are not valid.",
    429: "Too many requests: the store's API quota for this time window is spent.",
    500: "Internal Server Error",
    503: "Service Unavailable: the store is down for maintenance.",
}


class ApiError(Exception):
    """An error answer: ``status``, a message (v2 ``message`` / v3 ``title``) and v3 ``errors``."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``message`` defaults to the usual text for ``status``."""
        self.status = status
        self.message = message or MESSAGES.get(status, "Error")
        self.errors = errors or {}
        self.headers = headers or {}
        super().__init__(f"{status} {self.message}")


def is_v2(path: str) -> bool:
    """Whether ``path`` is under a store's ``/v2`` API (else errors take the v3 shape)."""
    return bool(_V2_PATH.match(path))


def error_response(path: str, error: ApiError) -> Response:
    """``error`` as a response in the v2 or v3 shape, according to ``path``."""
    if is_v2(path):
        body: object = [{"status": error.status, "message": error.message}]
    else:
        body = {"status": error.status, "title": error.message, "type": STATUS_CODES_URL, "errors": error.errors}
    return json_response(body, error.status, headers=error.headers or None)


def error_body(status: int, kind: FaultKind, path: str) -> Response:
    """The body of an injected generic fault (500 ``server_error``, 503 ``unavailable``)."""
    return error_response(path, ApiError(status))
