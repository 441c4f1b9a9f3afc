"""Entry point of the background sandbox process: ``python -m sandbox.daemon HOME``.

``store-sync sandbox start`` writes the run's configuration to ``HOME/config.json`` and starts
this module detached; it serves until SIGTERM and keeps ``HOME/sandbox.json`` while it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer


def config_path(home: Path) -> Path:
    """Where ``start`` leaves the configuration of the run."""
    return home / "config.json"


def main(home: str) -> None:
    """Serve the sandbox configured in ``home`` until terminated."""
    path = config_path(Path(home))
    config = SandboxConfig.model_validate_json(path.read_text()) if path.exists() else SandboxConfig(home=Path(home))
    SandboxServer(config).run_forever()


if __name__ == "__main__":
    main(sys.argv[1])
