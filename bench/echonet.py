"""ECHONET Lite benchmark: discovery of 50 emulated nodes and datagrams per poll.

Prints `name: value` lines:
    discovery_50_s          discovery of 50 nodes (static host list, unicast), seconds
    discovery_50_multicast_s  the same by multicast Get 0xD6 alone, in a private network
                              namespace (only when `unshare -n` works here)
    round_trips_per_poll    request datagrams sent per device per poll (target 1)
    answers_per_poll        answer datagrams received per device per poll

Nodes listen on 127.0.41.10-59 (127.0.0.10-59 inside the namespace), the controller on .2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.model import DeviceDescription, DiscoveredDevice  # noqa: E402
from integrations.echonet.emulator import EchonetNode  # noqa: E402
from integrations.echonet.integration import EchonetIntegration  # noqa: E402

NODES = 50
OBJECTS = ["aircon", "meter"]


class CountingHub:
    """A HubPort that only counts."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceDescription] = {}
        self.reports = 0

    async def add_device(self, description: DeviceDescription) -> None:
        self.devices[description.id] = description

    async def report(self, device_id: str, values: Mapping[str, Any], *,
                     timestamp: float | None = None) -> None:
        self.reports += 1

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        return None

    async def discovered(self, found: DiscoveredDevice) -> None:
        return None

    def device(self, device_id: str) -> DeviceDescription | None:
        return self.devices.get(device_id)


async def run(prefix: str, multicast: bool) -> dict[str, float]:
    hosts = [f"{prefix}.{10 + i}" for i in range(NODES)]
    nodes = [EchonetNode(bind=h, objects=OBJECTS, multicast=multicast) for h in hosts]
    for node in nodes:
        await node.start()
    hub = CountingHub()
    integ = EchonetIntegration()
    await integ.setup(hub, {
        "bind": f"{prefix}.2", "hosts": [] if multicast else hosts, "multicast": multicast,
        "poll_interval_s": 3600, "timeout_s": 2, "retries": 1, "discovery_wait_s": 0.3,
    })
    try:
        started = time.perf_counter()
        await integ.discover()
        elapsed = time.perf_counter() - started
        found = len(integ.nodes())
        if found != NODES:
            raise SystemExit(f"discovered {found} of {NODES} nodes")
        stats = integ.client.transport.stats
        sent, received = stats.sent, stats.received
        await integ.poll_once()
        devices = len(hub.devices)
        return {
            "discovery_s": elapsed,
            "round_trips_per_poll": (stats.sent - sent) / devices,
            "answers_per_poll": (stats.received - received) / devices,
        }
    finally:
        await integ.shutdown()
        for node in nodes:
            await node.stop()


def multicast_in_namespace() -> float | None:
    """Discovery time by multicast, measured in a private network namespace, if possible."""
    if shutil.which("unshare") is None:
        return None
    script = ("ip link set lo up && ip link set lo multicast on && "
              "ip route add 224.0.0.0/4 dev lo && exec \"$0\" \"$1\" --inner-multicast")
    done = subprocess.run(["unshare", "-n", "sh", "-c", script, sys.executable, __file__],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return None
    return float(json.loads(done.stdout.strip().splitlines()[-1])["discovery_s"])


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inner-multicast", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner_multicast:
        print(json.dumps(asyncio.run(run("127.0.0", multicast=True))))
        return 0
    figures = asyncio.run(run("127.0.41", multicast=False))
    print(f"discovery_50_s: {figures['discovery_s']:.3f}")
    mc = multicast_in_namespace()
    print(f"discovery_50_multicast_s: {mc:.3f}" if mc is not None
          else "discovery_50_multicast_s: unavailable")
    print(f"round_trips_per_poll: {figures['round_trips_per_poll']:.2f}")
    print(f"answers_per_poll: {figures['answers_per_poll']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
