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


async def pychonet_discovery() -> list[str]:
    """pychonet's own multicast discovery (Get 0xD6 to 224.0.23.0) against our nodes."""
    from pychonet.echonetapiclient import ECHONETAPIClient
    from pychonet.lib.udpserver import UDPServer

    udp = UDPServer(local_ip="127.0.0.3")
    udp.run("127.0.0.3", 3610, loop=asyncio.get_running_loop())
    api = ECHONETAPIClient(server=udp)
    api._logger = lambda *a, **k: None
    heard: set[str] = set()

    async def on_new_host(host: str) -> None:  # how pychonet reports nodes it did not know
        heard.add(host)

    api._discover_callback = on_new_host
    try:
        # Multicast Get 0xD6 by default; pychonet then waits out its 20 s message timeout,
        # because answers from unknown hosts never clear its pending TID: do not wait for it.
        asking = asyncio.create_task(api.discover())
        await wait_for(lambda: len(heard) >= 5, what="pychonet discovery")
        asking.cancel()
        return sorted(heard)
    finally:
        udp.close()


async def main() -> dict[str, object]:
    nodes = [EchonetNode(bind=f"127.0.0.{10 + i}", objects=["aircon", "meter"], multicast=True,
                         unicast_inf=False) for i in range(3)]
    for node in nodes:
        await node.start()
    hub = RecordingHub()
    integ = EchonetIntegration()
    await integ.setup(hub, {"bind": "127.0.0.2", "multicast": True, "hosts": [],
                            "poll_interval_s": 3600, "timeout_s": 1, "retries": 1,
                            "discovery_wait_s": 1.0})
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
        result["pychonet"] = await pychonet_discovery()
    finally:
        await integ.shutdown()
        for node in nodes:
            await node.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
    sys.exit(0)
