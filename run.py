#!/usr/bin/env python3
"""Bootstrap and run homehub from a checkout, needing nothing but Python 3.11+.

    python3 run.py demo     start the emulated demo home (hub + devices + relay)
    python3 run.py test     run the whole test suite
    python3 run.py lint     ruff and mypy

The first run makes a virtual environment in .venv and installs homehub with its test tools;
later runs reuse it (and reinstall only when pyproject.toml changed). Extra arguments go to the
underlying command, e.g. `python3 run.py test -k shadow` or `python3 run.py demo --json`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HOMEHUB_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".homehub-installed"


def _say(text: str) -> None:
    print(f"[run.py] {text}", file=sys.stderr, flush=True)


def ensure_venv() -> None:
    """Create .venv and install homehub[dev] into it when missing or out of date."""
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py must explain itself on old Pythons
        sys.exit(f"homehub needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PY.exists():
        _say(f"creating a virtual environment in {VENV} ...")
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as err:  # e.g. Debian without python3-venv
            sys.exit(
                f"could not create {VENV}: {err}\n"
                "On Debian/Ubuntu install it with: sudo apt install python3-venv"
            )
    _say("installing homehub and its dependencies (the first time takes a minute or two) ...")
    steps = [
        [str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(PY), "-m", "pip", "install", "--quiet", "--progress-bar", "off", "-e", f"{ROOT}[dev]"],
    ]
    for step in steps:
        if subprocess.call(step) != 0:
            sys.exit("installing failed (see pip's message above); check your network and retry")
    STAMP.write_text(wanted)
    _say("installed.")


def main(argv: list[str]) -> int:
    """Dispatch `demo`, `test` or `lint`."""
    if not argv or argv[0] not in ("demo", "test", "lint", "homehub"):
        print(__doc__)
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if command == "demo":
        return subprocess.call([str(BIN / "homehub"), "demo", *rest], env=env)
    if command == "homehub":
        return subprocess.call([str(BIN / "homehub"), *rest], env=env)
    if command == "test":
        return subprocess.call([str(PY), "-m", "pytest", *rest], cwd=ROOT, env=env)
    code = subprocess.call([str(PY), "-m", "ruff", "check", "."], cwd=ROOT, env=env)
    return code or subprocess.call([str(PY), "-m", "mypy"], cwd=ROOT, env=env)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
