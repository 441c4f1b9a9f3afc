"""No secret in any recorded cassette: tokens, passwords, session ids, client secrets, assertions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.connectors.conftest import REDACTED, scrub_text

CASSETTES = sorted(Path(__file__).parent.rglob("cassettes/**/*.yaml"))
LEAKS = [
    re.compile(r"X-Auth-Token:\s*\n?\s*-\s*(?!'?<redacted>)\S{8,}", re.I),
    re.compile(r"Authorization:\s*\n?\s*-\s*(?!'?<redacted>)\S{8,}", re.I),
    re.compile(r'"(access_token|password|client_secret|sessionId|assertion|signature)"\s*:\s*"(?!<redacted>)[^"]+"'),
    re.compile(r"<(\w+:)?(password|sessionId)>(?!<redacted>|&lt;redacted&gt;)[^<]+<"),
    re.compile(r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}"),
    re.compile(r"(^|[&?\s])(password|client_secret|assertion)=(?!%3Credacted%3E|<redacted>)[^&\s]+"),
]


def test_the_scrubber_removes_each_kind_of_secret() -> None:
    soap = "<n1:password>hunter2token</n1:password><sessionId>00D5g000004ATSs!AQEAQ1234567890abcdefghij</sessionId>"
    assert "hunter2" not in scrub_text(soap) and "AQEAQ" not in scrub_text(soap)
    assert "&lt;redacted&gt;" in scrub_text(soap)  # escaped: the envelope stays valid XML
    assert REDACTED in scrub_text('{"access_token": "00D!ab", "instance_url": "https://x"}')
    form = scrub_text("grant_type=password&client_id=abc&client_secret=s3cret&password=p4ss")
    assert "s3cret" not in form and "p4ss" not in form and "client_id=abc" in form


@pytest.mark.parametrize("cassette", CASSETTES, ids=[c.name for c in CASSETTES])
def test_cassette_holds_no_secret(cassette: Path) -> None:
    text = cassette.read_text()
    for pattern in LEAKS:
        match = pattern.search(text)
        assert match is None, f"{cassette.name}: possible secret {match.group(0)[:60]!r}"
