"""mDNS discovery end to end: an emulated ESPHome node announces itself, DiscoveryService finds
it, the ESPHome integration adopts it; address changes and goodbyes are followed.

mDNS needs multicast, which loopback does not carry by default. The probe therefore runs in a
private network namespace whose loopback has multicast switched on; nothing leaves this machine
and the shared namespace is untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.discovery import FoundService, esphome_device

ROOT = Path(__file__).resolve().parents[3]
PROBE = Path(__file__).with_name("mdns_probe.py")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("mDNS test needs root to create a network namespace with loopback multicast")
    if shutil.which("ip") is None:
        pytest.skip("mDNS test needs the `ip` tool (iproute2) to create a network namespace")
    name = f"hh-esphome-{os.getpid()}"
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


def run_probe(netns: str) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, str(PROBE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, f"probe failed: {events[-3:]}\n{proc.stderr[-3000:]}"
    return events


def test_emulated_node_is_discovered_adopted_and_followed(netns: str) -> None:
    events = run_probe(netns)
    mac = next(e for e in events if e["event"] == "mac")
    key = f"esphome-{mac['mac']}"
    found = [e for e in events if e["event"] == "found" and e["key"] == key]
    assert found, events
    first = found[0]
    assert first["integration"] == "esphome"
    assert first["address"] == "127.0.0.40"
    assert first["port"] == mac["port"]
    assert first["name"] == "Garage Node"
    assert first["properties"]["version"]

    adopted = next(e for e in events if e["event"] == "adopted")
    assert adopted["devices"] == [key]
    assert adopted["online"] == {key: True}

    mover = [
        e["address"] for e in events if e["event"] == "found" and e["key"] == "esphome-02000000aa01"
    ]
    assert mover[0] == "127.0.0.45"
    assert mover[-1] == "127.0.0.46"

    assert any(
        e["event"] == "found" and e["key"] == "hub-homehub-test" and e["port"] == 8123
        for e in events
    )
    removed = {e["key"] for e in events if e["event"] == "removed"}
    assert key in removed
    assert events[-1]["event"] == "done"


def test_esphome_converter() -> None:
    found = FoundService(
        type="_esphomelib._tcp.local.",
        name="porch._esphomelib._tcp.local.",
        addresses=["127.0.0.50", "127.0.0.51"],
        port=6053,
        properties={
            "mac": "AA:BB:CC:00:11:22",
            "api_encryption": "Noise_NNpsk0",
            "board": "esp32dev",
        },
    )
    dev = esphome_device(found)
    assert dev is not None
    assert dev.key == "esphome-aabbcc001122"
    assert dev.name == "porch"
    assert dev.address == "127.0.0.50"
    assert dev.model == "esp32dev"
    assert dev.properties["encrypted"] == "yes"
    assert (
        esphome_device(
            FoundService("_esphomelib._tcp.local.", "x._esphomelib._tcp.local.", [], 6053)
        )
        is None
    )
