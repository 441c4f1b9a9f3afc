"""Run the ``sync`` flow's own body in this process, without the Prefect engine (for child processes).

Starting Prefect's ephemeral API costs 20-30 s per process; the crash and concurrency tests start
dozens. The flow function (``sync.fn``) and the step functions run unchanged; only the Prefect
task wrappers, the run logger and the artifact call are replaced by plain equivalents. Prints the
run's result as one JSON line; exits 3 with ``LEASE_HELD <message>`` on stderr when another
sync holds the lease.

``RUN_SYNC_ORDERS_PER_BATCH`` (a number) makes the run's order batches that small, so that a
small store is extracted in several batches (the crash test kills runs between two of them).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

ORDERS_PER_BATCH_ENV = "RUN_SYNC_ORDERS_PER_BATCH"


def main() -> int:
    """Run one sync; the exit code says how it went."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    from prefect import Task

    import flows.steps as steps
    import flows.sync as flow_module
    from state.lease import LeaseHeld

    for name, value in vars(steps).copy().items():
        if isinstance(value, Task):  # every task of the steps, whatever their names
            setattr(steps, name, value.fn)
    flow_module.get_run_logger = lambda: logging.getLogger("flows.sync")  # type: ignore[assignment]
    if batch := os.environ.get(ORDERS_PER_BATCH_ENV):
        # Loudly: a renamed constant would otherwise leave the test's batches silently large.
        if not hasattr(steps, "ORDERS_PER_BATCH"):
            print(f"{ORDERS_PER_BATCH_ENV}: flows.steps has no ORDERS_PER_BATCH to set", file=sys.stderr)
            return 2
        steps.ORDERS_PER_BATCH = int(batch)

    def no_artifact(**_: Any) -> None:
        return None

    flow_module.create_markdown_artifact = no_artifact  # type: ignore[assignment]
    try:
        result = flow_module.sync.fn()
    except LeaseHeld as exc:
        print(f"LEASE_HELD {exc}", file=sys.stderr)
        return 3
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
