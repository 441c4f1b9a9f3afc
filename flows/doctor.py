"""``store-sync doctor``: check everything a run needs, and say what to fix.

Each check runs even when an earlier one failed, so one run lists every problem: settings,
the store (credentials, reachability), the org (login, objects, fields, picklists, the queue)
and the state store (migrations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connectors.settings import Settings


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what, whether it passed, and what to do if not."""

    name: str
    ok: bool
    detail: str = ""


def _run(name: str, check: Callable[[], str]) -> Check:
    try:
        return Check(name, True, check())
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def diagnose(settings: Settings | None = None) -> list[Check]:
    """Every check, in order; nothing is written anywhere."""
    try:
        settings = settings or Settings()
    except Exception as exc:
        return [Check("settings", False, f"{exc} (see README: Configuration)")]
    checks = [Check("settings", True, f"target {settings.target}, state {settings.state_url.split('://')[0]}")]

    def store() -> str:
        from connectors.bigcommerce import BigCommerceStore

        if not settings.bc.api_url or not settings.bc.access_token.get_secret_value():
            raise ValueError("set ATS_BC_API_URL and ATS_BC_ACCESS_TOKEN (a read-only API account)")
        with BigCommerceStore(settings.bc) as client:
            client.client.get("v2/time")
            limit = client.rate_limit()
        return f"reachable; rate limit {limit.left}/{limit.quota} left" if limit else "reachable"

    def org() -> str:
        from connectors.salesforce import SalesforceClient

        with SalesforceClient(settings.sf) as client:
            client.login()
            problems = client.preflight()
            if problems:
                listed = "\n    ".join(str(p) for p in problems)
                raise RuntimeError(
                    f"{len(problems)} problem(s); deploy deployments/salesforce (README: Going to production):"
                    f"\n    {listed}"
                )
            usage = client.api_usage()
        return f"fields, picklists and queue present; API usage {usage[0]}/{usage[1]}" if usage else "ready"

    def state() -> str:
        from state import StateStore

        with StateStore.open(settings.state_url) as store:
            marks = store.get_watermarks()
        return "migrated; watermarks " + (", ".join(f"{e} {w.ts.isoformat()}" for e, w in marks.items()) or "none yet")

    checks += [_run("BigCommerce store", store), _run("Salesforce org", org), _run("state store", state)]
    return checks
