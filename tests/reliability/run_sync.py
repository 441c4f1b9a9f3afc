"""Run the ``sync`` flow's own body in this process, without the Prefect engine (for child processes).

Starting Prefect's ephemeral API costs 20-30 s per process; the crash and concurrency tests start
dozens. The flow function (``sync.fn``) and the step functions run unchanged; only the Prefect
task wrappers, the run logger and the artifact call are replaced by plain equivalents. Prints the
run's result as one JSON line; exits 3 with ``LEASE_HELD <message>`` on stderr when another
sync holds the lease.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any


def main() -> int:
    """Run one sync; the exit code says how it went."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    import flows.steps as steps
    import flows.sync as flow_module
    from state.lease import LeaseHeld

    for name in ("transform_batch", "record_rejects", "adopt", "load_batch"):
        setattr(steps, name, getattr(steps, name).fn)
    flow_module.get_run_logger = lambda: logging.getLogger("flows.sync")  # type: ignore[assignment]

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
