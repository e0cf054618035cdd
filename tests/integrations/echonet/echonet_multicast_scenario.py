"""Run inside a fresh network namespace whose loopback carries multicast (see the test).

Prints one JSON line with what the integration found through multicast alone: first with
`adopt = "auto"` (finds are added at once), then in a real hub with the default `adopt = "ask"`
(finds are offered through GET /api/v1/discovered and added when adopted), and after a restart
of that hub (the adopted node comes back without asking).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from echonet_testkit import RecordingHub, wait_for

from hub.testing import RunningHub, running_hub
from integrations.echonet.emulator import EchonetNode
from integrations.echonet.frame import Eoj, Esv, Property
from integrations.echonet.integration import EchonetIntegration
from integrations.echonet.protocol import EchonetClient


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


async def inf_copies() -> list[int]:
    """How many copies of each INF a controller that talked to a node hears (once each)."""
    node = EchonetNode(bind="127.0.0.21", objects=["light"], multicast=True)
    heard: list[int] = []
    client = EchonetClient(bind="127.0.0.4", multicast=True, timeout_s=1, retries=1,
                           on_notify=lambda frame, host: heard.append(frame.tid))
    await node.start()
    await client.start()
    try:
        # Talking to the node makes this controller one of its unicast peers.
        await client.request("127.0.0.21", Eoj(0x02, 0x90, 0x01), Esv.GET, [Property(0x80)])
        heard.clear()
        for edt in (b"\x30", b"\x31", b"\x30"):
            await node.change("light", 0x80, edt)
        await wait_for(lambda: len(set(heard)) == 3, what="three INFs")
        await asyncio.sleep(0.3)  # let any late duplicate arrive before counting
        return [heard.count(tid) for tid in sorted(set(heard))]
    finally:
        await client.close()
        await node.stop()


async def main() -> dict[str, object]:
    nodes = [EchonetNode(bind=f"127.0.0.{10 + i}", objects=["aircon", "meter"], multicast=True,
                         unicast_inf=False) for i in range(3)]
    for node in nodes:
        await node.start()
    hub = RecordingHub()
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, "hosts": [], "adopt": "auto"})
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
        result["inf_copies"] = await inf_copies()
        # The unit restarts (power off again) and announces itself: the hub re-reads it at
        # once, not at the next poll (an hour away here).
        await late.stop()
        nodes.remove(late)
        late = EchonetNode(bind="127.0.0.20", objects=["light"], multicast=True,
                           unicast_inf=False)
        await late.start()
        nodes.append(late)
        await wait_for(lambda: hub.reported[light].get("power") is False, timeout=5,
                       what="re-read after the restart announcement")
        result["reread_power"] = hub.reported[light]["power"]
        result["pychonet"] = await pychonet_discovery()
    finally:
        await integ.shutdown()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            result.update(await adopt_through_the_hub(Path(data_dir)))
    finally:
        for node in nodes:
            await node.stop()
    return result


CONFIG = {"bind": "127.0.0.2", "multicast": True, "poll_interval_s": 3600, "timeout_s": 1,
          "retries": 1, "discovery_wait_s": 1.0}
# adopt is left out: "ask" is the default. 127.0.0.12 is configured, so it needs no adoption.
ASK = {"integrations": {"echonet": {**CONFIG, "hosts": ["127.0.0.12"]}}}


async def api_wait(rh: RunningHub, path: str, check: Any, what: str) -> Any:
    """GET `path` until `check(body)` holds (the hub works in the background)."""
    deadline = time.monotonic() + 20
    while True:
        body = (await rh.client.get(path)).json()
        if check(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {body}")
        await asyncio.sleep(0.05)


def addresses(body: dict[str, Any]) -> list[str]:
    return sorted({d["address"] for d in body["devices"]})


async def adopt_through_the_hub(data_dir: Path) -> dict[str, object]:
    """The default flow: multicast finds wait in the discovered list until adopted."""
    out: dict[str, object] = {}
    integ = EchonetIntegration()
    async with running_hub(data_dir, [integ], config=ASK) as rh:
        await rh.hub.wait_integrations()
        found = await api_wait(
            rh, "/api/v1/discovered",
            lambda b: {d["address"] for d in b["discovered"]} >= {"127.0.0.10", "127.0.0.11",
                                                                    "127.0.0.20"},
            "multicast finds in the discovered list")
        out["ask_discovered"] = sorted((d["key"], d["address"], d["integration"])
                                       for d in found["discovered"])
        out["ask_devices"] = addresses((await rh.client.get("/api/v1/devices")).json())
        answer = await rh.client.post("/api/v1/discovered/echonet-127.0.0.10/adopt",
                                      json={"room": "Hall"})
        out["adopt_status"] = answer.status_code
        devices = await api_wait(rh, "/api/v1/devices",
                                 lambda b: "127.0.0.10" in addresses(b), "adopted devices")
        out["adopted_devices"] = addresses(devices)
        out["adopted_online"] = all(d["online"] for d in devices["devices"])
        left = (await rh.client.get("/api/v1/discovered")).json()["discovered"]
        out["discovered_after_adopt"] = sorted(d["address"] for d in left)
    # A restart: the adopted node is read again without asking, the others are offered again.
    again = EchonetIntegration()
    async with running_hub(data_dir, [again], config=ASK) as rh:
        await rh.hub.wait_integrations()
        out["restart_nodes"] = sorted(again.nodes())
        left = await api_wait(rh, "/api/v1/discovered",
                              lambda b: any(d["address"] == "127.0.0.11"
                                            for d in b["discovered"]),
                              "finds offered again after the restart")
        out["restart_discovered"] = sorted(d["address"] for d in left["discovered"])
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
    sys.exit(0)
