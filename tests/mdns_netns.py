"""A network namespace whose loopback carries multicast, for the mDNS tests.

Loopback has no multicast by default, so zeroconf cannot work on it. As root, a test gets a
private namespace (nothing touches the host's network); with HOMEHUB_MDNS_HERE=1 it runs in the
current namespace, which the caller made multicast-capable (e.g. `unshare -rn` + `ip link set lo
multicast on`). Otherwise the test is skipped with a message saying how to run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@contextlib.contextmanager
def multicast_netns(prefix: str) -> Iterator[str | None]:
    """Yield a namespace name (None: use the current one), or skip the test."""
    if os.environ.get("HOMEHUB_MDNS_HERE") == "1":
        yield None
        return
    if os.geteuid() != 0:
        pytest.skip("mDNS tests need root to create a network namespace with loopback multicast; "
                    "run them with sudo, or inside `unshare -rn` with HOMEHUB_MDNS_HERE=1 "
                    "(see README)")
    if shutil.which("ip") is None:
        pytest.skip("mDNS tests need the `ip` tool (iproute2) to create a network namespace")
    name = f"{prefix}-{os.getpid()}"
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError as err:
        pytest.skip(f"cannot create a network namespace here: {err.stderr.decode().strip()}")
    try:
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "multicast", "on")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=20)


def run_probe(probe: Path, netns: str | None, timeout: float = 110) -> list[dict[str, Any]]:
    """Run a probe script (inside the namespace) and return the JSON events it printed."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{probe.parent}"}
    inside = ["ip", "netns", "exec", netns] if netns is not None else []
    proc = subprocess.run(
        [*inside, sys.executable, str(probe)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, f"probe failed: {events[-3:]}\n{proc.stderr[-3000:]}"
    return events
