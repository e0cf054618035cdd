"""ECHONET Lite benchmark: discovery of 50 emulated nodes and datagrams per poll.

Prints `name: value` lines (N = 50, or 10 with --quick):
    discovery_N_s           discovery of N nodes (static host list, unicast), seconds
    discovery_N_multicast_s   the same by multicast Get 0xD6 alone, in a private network
                              namespace; "not possible here (why)" when no namespace can be
                              made, "failed: found k of N" (exit 1) when multicast lost nodes
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

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        return []  # a fresh hub: nothing adopted before

    def storage_dir(self, integration: str) -> Path:
        raise RuntimeError("the ECHONET integration keeps no files")


async def run(prefix: str, multicast: bool, count: int = NODES) -> dict[str, float]:
    hosts = [f"{prefix}.{10 + i}" for i in range(count)]
    nodes = [EchonetNode(bind=h, objects=OBJECTS, multicast=multicast) for h in hosts]
    for node in nodes:
        await node.start()
    hub = CountingHub()
    integ = EchonetIntegration()
    await integ.setup(hub, {
        "bind": f"{prefix}.2", "hosts": [] if multicast else hosts, "multicast": multicast,
        "poll_interval_s": 3600, "timeout_s": 2, "retries": 1, "discovery_wait_s": 0.3,
        "adopt": "auto",  # multicast finds are added at once, not offered for adoption
    })
    try:
        started = time.perf_counter()
        await integ.discover()
        elapsed = time.perf_counter() - started
        found = len(integ.nodes())
        if found != count:
            raise SystemExit(f"discovered {found} of {count} nodes")
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


class NotPossibleHere(Exception):
    """This machine cannot make the network namespace (not a failure of the code measured)."""


def multicast_in_namespace(count: int) -> float:
    """Discovery time by multicast, measured in a private network namespace.

    Raises NotPossibleHere when no namespace with loopback multicast can be made, and
    SystemExit("found k of N") when the namespace works but discovery lost nodes."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        raise NotPossibleHere("needs unshare and ip")
    setup = ("ip link set lo up && ip link set lo multicast on && "
             "ip route add 224.0.0.0/4 dev lo")
    probe = subprocess.run(["unshare", "-n", "sh", "-c", setup], capture_output=True,
                           text=True, timeout=30, check=False)
    if probe.returncode != 0:
        raise NotPossibleHere(probe.stderr.strip().splitlines()[-1] if probe.stderr.strip()
                              else f"unshare -n exited {probe.returncode}")
    script = setup + " && exec \"$0\" \"$@\" --inner-multicast"
    done = subprocess.run(["unshare", "-n", "sh", "-c", script, sys.executable, __file__,
                           "--nodes", str(count)],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        raise SystemExit(last.replace("discovered", "found"))
    return float(json.loads(done.stdout.strip().splitlines()[-1])["discovery_s"])


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help=f"10 nodes instead of {NODES} (CI keeps the bench from rotting)")
    parser.add_argument("--nodes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--inner-multicast", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    count = args.nodes or (10 if args.quick else NODES)
    if args.inner_multicast:
        print(json.dumps(asyncio.run(run("127.0.0", multicast=True, count=count))))
        return 0
    figures = asyncio.run(run("127.0.41", multicast=False, count=count))
    print(f"discovery_{count}_s: {figures['discovery_s']:.3f}")
    failed = False
    try:
        print(f"discovery_{count}_multicast_s: {multicast_in_namespace(count):.3f}")
    except NotPossibleHere as why:
        print(f"discovery_{count}_multicast_s: not possible here ({why})")
    except SystemExit as lost:  # the namespace worked; discovery did not
        print(f"discovery_{count}_multicast_s: failed: {lost}")
        failed = True
    print(f"round_trips_per_poll: {figures['round_trips_per_poll']:.2f}")
    print(f"answers_per_poll: {figures['answers_per_poll']:.2f}")
    if figures["round_trips_per_poll"] > 1.0:  # the target: one request per device per poll
        print("round_trips_per_poll above its target of 1", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
