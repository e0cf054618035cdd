"""Run inside a fresh network namespace whose loopback carries multicast (see the test).

Prints one JSON line with what the integration found through multicast alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from echonet_testkit import RecordingHub, wait_for

from integrations.echonet.emulator import EchonetNode
from integrations.echonet.integration import EchonetIntegration


async def main() -> dict[str, object]:
    nodes = [EchonetNode(bind=f"127.0.0.{10 + i}", objects=["aircon", "meter"], multicast=True,
                         unicast_inf=False) for i in range(3)]
    for node in nodes:
        await node.start()
    hub = RecordingHub()
    integ = EchonetIntegration()
    await integ.setup(hub, {"bind": "127.0.0.2", "multicast": True, "hosts": [],
                            "poll_interval_s": 3600, "timeout_s": 1, "retries": 1,
                            "discovery_wait_s": 0.5})
    result: dict[str, object] = {"multicast_ok": integ.client.transport.multicast_ok}
    try:
        started = time.monotonic()
        await integ.discover()
        result["discovered"] = sorted(integ.nodes())
        result["discovery_s"] = round(time.monotonic() - started, 3)
        # A node that starts later announces itself (INF 0xD5) and is added without asking.
        late = EchonetNode(bind="127.0.0.20", objects=["light"], multicast=True,
                           unicast_inf=False)
        await late.start()
        nodes.append(late)
        await wait_for(lambda: "127.0.0.20" in integ.nodes(), what="announced node")
        result["after_announce"] = sorted(integ.nodes())
        # A change at a unit reaches the hub by multicast INF only (unicast INF is off).
        light = next(d.id for d in hub.devices.values() if d.address == "127.0.0.20")
        await wait_for(lambda: hub.reported.get(light, {}).get("power") is False, what="poll")
        await late.change("light", 0x80, b"\x30")
        await wait_for(lambda: hub.reported[light].get("power") is True, what="multicast INF")
        result["inf_power"] = hub.reported[light]["power"]
    finally:
        await integ.shutdown()
        for node in nodes:
            await node.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
    sys.exit(0)
