#!/usr/bin/env python3
"""Bootstrap for newcomers and CI: the README's two commands, with nothing but Python 3.11.

    python3 dev.py demo    # set up, start the local sandbox, run the main job on it
    python3 dev.py test    # set up, run the whole default test suite

Set-up creates ``.venv`` and installs the project with the versions pinned in
``requirements.lock``; it is skipped when neither file changed since the last install.
Any other arguments are passed on (``python3 dev.py test -k soql``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".ats-store-sync-installed"
INPUTS = ("pyproject.toml", "requirements.lock")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def setup() -> None:
    """Create the virtual environment and install the pinned dependencies (idempotent)."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"ats-store-sync needs Python 3.11; this is {sys.version.split()[0]}")
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    print("installing pinned dependencies (first run takes a few minutes) ...", flush=True)
    subprocess.run(
        [str(PY), "-m", "pip", "install", "--quiet", "-c", "requirements.lock", "-e", ".[dev]"],
        cwd=ROOT,
        check=True,
    )
    STAMP.write_text(fingerprint)


def lock() -> int:
    """Resolve ``pyproject.toml`` afresh into ``.venv`` and pin the result in ``requirements.lock``."""
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "-e", ".[dev]"], cwd=ROOT, check=True)
    frozen = subprocess.run(
        [str(PY), "-m", "pip", "freeze", "--exclude-editable"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    (ROOT / "requirements.lock").write_text(frozen)
    STAMP.write_text(_fingerprint())
    return 0


def main(argv: list[str]) -> int:
    """Run ``setup`` then the named command inside the virtual environment."""
    if not argv or argv[0] not in {"setup", "demo", "test", "lock"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "lock":
        return lock()
    setup()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if command == "demo":
        return subprocess.call([str(BIN / "store-sync"), "demo", *rest], cwd=ROOT, env=env)
    if command == "test":
        return subprocess.call([str(PY), "-m", "pytest", *rest], cwd=ROOT, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
