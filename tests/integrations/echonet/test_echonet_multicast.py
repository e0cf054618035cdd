"""Multicast discovery and notifications, in a private network namespace.

The host's loopback usually has no MULTICAST flag and no route for 224.0.0.0/4, so the test
creates a network namespace (`unshare -n`, needs root or user namespaces), turns multicast on
for its loopback and runs the scenario there: nodes on 127.0.0.10-12 and 127.0.0.20, the
integration on 127.0.0.2 with no static hosts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SETUP = ("ip link set lo up && ip link set lo multicast on && "
         "ip route add 224.0.0.0/4 dev lo && exec \"$0\" echonet_multicast_scenario.py")


def test_multicast_discovery_and_inf_in_a_network_namespace() -> None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip to build a network namespace")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr.decode().strip()}")
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", SETUP, sys.executable],
        # tests/ too: the scenario's test kit reads where the shared test data is from there.
        cwd=HERE, env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"},
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["multicast_ok"] is True
    assert result["discovered"] == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert result["after_announce"][-1] == "127.0.0.20"
    assert result["inf_power"] is True
    # A real node sends each INF once: to the group when multicast works (not unicast too).
    assert result["inf_copies"] == [1, 1, 1]
    # A node that restarts and announces itself is re-read at once (power is off again).
    assert result["reread_power"] is False
    # adopt = "ask" in a real hub: multicast finds wait to be adopted, configured hosts do not.
    assert [key for key, _, _ in result["ask_discovered"]] == [
        "echonet-127.0.0.10", "echonet-127.0.0.11", "echonet-127.0.0.20"]
    assert {integ for _, _, integ in result["ask_discovered"]} == {"echonet"}
    assert result["ask_devices"] == ["127.0.0.12"]
    assert result["adopt_status"] == 200
    assert result["adopted_devices"] == ["127.0.0.10", "127.0.0.12"]
    assert result["adopted_online"] is True
    assert result["discovered_after_adopt"] == ["127.0.0.11", "127.0.0.20"]
    # After a restart the adopted node comes back by itself; the others are offered again.
    assert result["restart_nodes"] == ["127.0.0.10", "127.0.0.12"]
    assert result["restart_discovered"] == ["127.0.0.11", "127.0.0.20"]
    # pychonet finds the four nodes and our hub, whose node profile answers like any node's.
    assert sorted(result["pychonet"]) == sorted(
        ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.20", "127.0.0.2"])
