"""Salesforce error shapes: one exception for request-level errors, one record-level error type.

Salesforce reports errors in two ways, and the sandbox org mirrors both exactly:

* **request-level**: the whole call fails with an HTTP status and a JSON *list* of
  ``{"message", "errorCode"[, "fields"]}`` (REST, Bulk 2.0) — raised as :class:`ApiError` anywhere
  in the org and turned into a response by :func:`error_response`, the only place that builds
  such a body;
* **record-level**: one record of a DML call fails — :class:`RecordError`, rendered per API:
  ``errorCode`` in single-record REST, ``statusCode`` in sObject Collections, and the
  ``CODE:message:fields --`` text of Bulk 2.0's ``sf__Error`` column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.http import json_response

NOT_FOUND_MESSAGE = "The requested resource does not exist"
INVALID_SESSION_MESSAGE = "Session expired or invalid"


class ApiError(Exception):
    """A request-level failure: ``status`` plus one Salesforce error entry."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> list[dict[str, Any]]:
        """The JSON body Salesforce sends: a list holding one error."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]


def not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    """The 404 every unknown resource, object or record gets."""
    return ApiError(404, "NOT_FOUND", message)


def error_response(error: ApiError) -> Any:
    """The HTTP response for a request-level error (the one place such bodies are built)."""
    return json_response(error.body(), status=error.status, headers=error.headers)


@dataclass(frozen=True)
class RecordError:
    """Why one record of a DML operation failed."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def rest(self) -> dict[str, Any]:
        """Single-record REST shape (``errorCode``)."""
        return {"message": self.message, "errorCode": self.status_code, "fields": list(self.fields)}

    def collection(self) -> dict[str, Any]:
        """sObject Collections / SaveResult shape (``statusCode``)."""
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def bulk(self) -> str:
        """The ``sf__Error`` text of a Bulk 2.0 failed row."""
        return f"{self.status_code}:{self.message}:{','.join(self.fields)} --"


class RecordErrors(ApiError):
    """A failed single-record REST write: 400 listing each of the record's errors."""

    def __init__(self, errors: list[RecordError]) -> None:
        super().__init__(400, errors[0].status_code, errors[0].message, errors[0].fields)
        self.errors = errors

    def body(self) -> list[dict[str, Any]]:
        return [e.rest() for e in self.errors]


ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
