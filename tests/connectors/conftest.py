"""Cassette policy for the connector contract tests (pytest-recording / vcrpy).

Cassettes pin the exact requests each connector sends. They are recorded against the sandbox
(``pytest tests/connectors --record-mode=once`` after deleting the cassette) and replayed with
``--record-mode=none`` (pytest-recording's default, so CI never records). Host and port are not
matched (the sandbox picks free ports), everything else is. Secrets are scrubbed from requests
and responses before anything is written; ``test_cassettes.py`` scans every cassette for them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

REDACTED = "<redacted>"
SECRET_HEADERS = ("X-Auth-Token", "Authorization", "Cookie", "Set-Cookie")
SECRET_FIELDS = ("access_token", "password", "client_secret", "assertion", "refresh_token", "sessionId", "signature")
_XML_SECRETS = re.compile(r"<(?P<tag>(?:\w+:)?(?:password|sessionId))>[^<]*</(?P=tag)>")
_SESSION_IDS = re.compile(r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}")


def scrub_text(text: str) -> str:
    """Remove secrets from a request or response body (JSON, form or SOAP XML)."""
    # Inside XML the marker is escaped, so a scrubbed SOAP envelope still parses on replay.
    xml = text.lstrip().startswith("<")
    marker = REDACTED.replace("<", "&lt;").replace(">", "&gt;") if xml else REDACTED
    text = _XML_SECRETS.sub(lambda m: f"<{m['tag']}>{marker}</{m['tag']}>", text)
    text = _SESSION_IDS.sub(marker, text)
    try:
        data = json.loads(text)
    except ValueError:
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs and "=" in text and not text.lstrip().startswith("<"):
            return urlencode([(k, REDACTED if k in SECRET_FIELDS else v) for k, v in pairs])
        return text
    return json.dumps(_scrub_json(data))


def _scrub_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: REDACTED if k in SECRET_FIELDS else _scrub_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub_json(v) for v in data]
    return data


def scrub_request(request: Any) -> Any:
    """vcrpy hook: scrub a request body (headers go through ``filter_headers``)."""
    if request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        request.body = scrub_text(body).encode()
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy hook: scrub a response body and secret headers."""
    body = response.get("body", {}).get("string")
    if body:
        text = body.decode() if isinstance(body, bytes) else body
        response["body"]["string"] = scrub_text(text).encode()
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in {h.lower() for h in SECRET_HEADERS}:
            headers[name] = [REDACTED]
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """pytest-recording's configuration for every connector cassette."""
    return {
        "filter_headers": [(h, REDACTED) for h in SECRET_HEADERS],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": ["method", "path", "query", "body"],
        "decode_compressed_response": True,
    }
