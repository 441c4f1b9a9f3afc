"""Deployments: one source of truth, and they register with their schedules on a Prefect server."""

from __future__ import annotations

import asyncio

from deployments.schedules import DEPLOYMENTS, PREFECT_YAML, RECONCILE, SYNC, render_prefect_yaml, runner_deployments
from sandbox.server import SandboxServer


def test_prefect_yaml_is_rendered_from_the_schedules() -> None:
    assert PREFECT_YAML.read_text() == render_prefect_yaml(), "run `store-sync deployments render`"


def test_deployments_register_with_schedules_limits_and_typed_parameters(prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client

    ids = [deployment.apply() for deployment in runner_deployments()]

    async def read() -> list:
        async with get_client() as client:
            return [await client.read_deployment(i) for i in ids]

    registered = {d.name: d for d in asyncio.run(read())}
    assert set(registered) == {spec.name for spec in DEPLOYMENTS}
    sync = registered[SYNC.name]
    assert sync.schedules[0].schedule.interval.total_seconds() == 900
    assert sync.global_concurrency_limit is not None and sync.global_concurrency_limit.limit == 1
    reconcile = registered[RECONCILE.name]
    assert reconcile.schedules[0].schedule.cron == RECONCILE.cron
    backfill = registered["backfill-on-demand"]
    assert backfill.schedules == []
    properties = backfill.parameter_openapi_schema["properties"]
    assert properties["start"]["format"] == "date-time" and "start" in backfill.parameter_openapi_schema["required"]
    assert properties["entities"]["enum"] == ["all", "customers", "orders"]
    assert "description" in properties["chunk_hours"]


def test_a_backfill_started_through_the_api_with_parameters_completes(seeded: SandboxServer) -> None:
    from prefect.deployments import run_deployment
    from prefect.runner import Runner

    from deployments.schedules import BACKFILL
    from sandbox.org.records import OrgDB
    from tests.flows.conftest import AS_OF

    deployment = next(d for d in runner_deployments() if d.name == BACKFILL.name)
    deployment.apply()
    parameters = {"start": (AS_OF.replace(year=2025)).isoformat(), "end": AS_OF.replace(day=24).isoformat(),
                  "chunk_hours": 24 * 200}  # fmt: skip
    flow_run = run_deployment(f"backfill/{BACKFILL.name}", parameters=parameters, timeout=0)

    async def execute() -> None:
        # What a worker does with a scheduled run. Deprecated in 3.8 (FlowRunExecutorContext with
        # EngineCommandStarter replaces it) but the pinned Prefect has it; switch when upgrading.
        async with Runner() as runner:
            await runner.execute_flow_run(flow_run.id)

    asyncio.run(execute())
    from prefect.client.orchestration import get_client

    async def state() -> str:
        async with get_client() as client:
            return (await client.read_flow_run(flow_run.id)).state.type.value

    assert asyncio.run(state()) == "COMPLETED"
    assert OrgDB(seeded.config.org_db).count("Order") == 60
