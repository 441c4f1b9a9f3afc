"""HTTP sessions that verify TLS against a configured CA bundle, whatever the environment says.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` override a session-level
``Session.verify`` (requests issue #3829), so a session pointed at a private CA (the sandbox's,
or a corporate proxy's) would still verify against the system bundle and fail. simple-salesforce
sends every call through the session it is given, without a per-request ``verify``, so the fix
has to live in the session: :class:`PinnedCASession` keeps its own ``verify`` and still honours
the environment's proxy settings. Verification is never turned off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests


class PinnedCASession(requests.Session):
    """A session whose ``verify`` (a CA bundle path or True) wins over the environment."""

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # `verify` is None unless the caller passed it per request; then the session's own wins.
        if verify is None and self.verify not in (None, True):
            settings["verify"] = self.verify
        if settings.get("verify") is False:
            raise ValueError("TLS verification cannot be disabled")
        return settings


def make_session(ca_bundle: str | Path | None = None, user_agent: str = "ats-store-sync") -> requests.Session:
    """A session verifying against ``ca_bundle`` (or the default trust store when None)."""
    session = PinnedCASession()
    if ca_bundle:
        path = Path(ca_bundle)
        if not path.is_file():
            raise FileNotFoundError(f"CA bundle {path} does not exist")
        session.verify = str(path)
    session.headers["User-Agent"] = user_agent
    return session
