"""The deployments of ats-store-sync: their schedules and parameters, declared once.

``store-sync serve`` turns :data:`DEPLOYMENTS` into served deployments; ``prefect.yaml`` (for
work-pool deployments with ``prefect deploy --all``) is rendered from them by
``store-sync deployments render`` and a test checks the committed file still matches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

PREFECT_YAML = Path(__file__).with_name("prefect.yaml")
#: Time zone of the morning reconciliation (``ATS_SCHEDULE_TIMEZONE``).
DEFAULT_TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: which flow, when, with what parameters, how many at once."""

    name: str
    entrypoint: str  # "flows/sync.py:sync"
    description: str
    interval: timedelta | None = None
    cron: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency_limit: int | None = None
    tags: tuple[str, ...] = ("ats-store-sync",)

    @property
    def flow_name(self) -> str:
        return self.entrypoint.split(":")[1]


def timezone() -> str:
    """The reconciliation's time zone, from the environment."""
    return os.environ.get("ATS_SCHEDULE_TIMEZONE", DEFAULT_TIMEZONE)


# R13: store changes reach Salesforce on the next scheduled run, with no manual export.
SYNC = DeploymentSpec(
    name="sync-every-15-minutes",
    entrypoint="flows/sync.py:sync",
    description="Store changes (customers, orders) into Salesforce, incrementally.",
    interval=timedelta(minutes=15),
    concurrency_limit=1,
)
RECONCILE = DeploymentSpec(
    name="reconcile-every-morning",
    entrypoint="flows/reconcile.py:reconcile_orders",
    description="Flag eCommerce orders whose ASTEA set code a CSR must fix.",
    cron="30 6 * * *",
    parameters={"window_days": 30, "write_back": True},
    concurrency_limit=1,
)
BACKFILL = DeploymentSpec(
    name="backfill-on-demand",
    entrypoint="flows/backfill.py:backfill",
    description="A date range of store changes, chunk by chunk; started by hand from the UI.",
)
DEPLOYMENTS: tuple[DeploymentSpec, ...] = (SYNC, RECONCILE, BACKFILL)


def _schedule(spec: DeploymentSpec) -> list[dict[str, Any]]:
    if spec.interval is not None:
        return [{"interval": int(spec.interval.total_seconds()), "timezone": "UTC"}]
    if spec.cron is not None:
        return [{"cron": spec.cron, "timezone": timezone()}]
    return []


def prefect_yaml(work_pool: str = "ats-store-sync") -> dict[str, Any]:
    """The content of ``prefect.yaml`` for ``prefect deploy --all`` on a process work pool."""
    return {
        "name": "ats-store-sync",
        "prefect-version": "3.8.8",
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $ATS_STORE_SYNC_DIR }}"}}],
        "deployments": [
            {
                "name": spec.name,
                "entrypoint": spec.entrypoint,
                "description": spec.description,
                "tags": list(spec.tags),
                "parameters": spec.parameters,
                "schedules": _schedule(spec),
                **({"concurrency_limit": spec.concurrency_limit} if spec.concurrency_limit else {}),
                "work_pool": {"name": work_pool},
            }
            for spec in DEPLOYMENTS
        ],
    }


def render_prefect_yaml() -> str:
    """``prefect.yaml`` as text, with a header saying where it comes from."""
    header = "# Rendered from deployments/schedules.py by `store-sync deployments render`; edit that, not this.\n"
    return header + yaml.safe_dump(prefect_yaml(), sort_keys=False)


def runner_deployments() -> list[Any]:
    """The deployments as Prefect runner deployments, for ``serve``."""
    from flows.backfill import backfill
    from flows.reconcile import reconcile_orders
    from flows.sync import sync

    flows = {"sync": sync, "reconcile_orders": reconcile_orders, "backfill": backfill}
    deployments = []
    for spec in DEPLOYMENTS:
        kwargs: dict[str, Any] = {"description": spec.description, "tags": list(spec.tags)}
        if spec.interval is not None:
            kwargs["interval"] = spec.interval
        if spec.cron is not None:
            from prefect.client.schemas.schedules import CronSchedule

            kwargs["schedule"] = CronSchedule(cron=spec.cron, timezone=timezone())
        deployments.append(
            flows[spec.flow_name].to_deployment(
                spec.name,
                parameters=spec.parameters or None,
                concurrency_limit=spec.concurrency_limit,
                **kwargs,
            )
        )
    return deployments
