"""Adopting an ECHONET Lite node through the API keeps the name and room typed for it.

A node the hub was never told about announces itself (INF of its instance list, by unicast to
a controller it knows); the hub offers it under /api/v1/discovered; adopting it reads the node
over real UDP. Addresses 127.0.113.x belong to this module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hub.testing import RunningHub, running_hub
from integrations.echonet.emulator import EchonetNode
from integrations.echonet.integration import EchonetIntegration

HUB = "127.0.113.2"
CONFIG = {"integrations": {"echonet": {
    "bind": HUB, "hosts": [], "multicast": False, "poll_interval_s": 0.3,
    "timeout_s": 1.0, "retries": 1}}}


async def announced(rh: RunningHub, bind: str, objects: list[str]) -> tuple[EchonetNode, str]:
    """Start a node that knows the hub; wait until the hub offers it; return it and its key."""
    node = EchonetNode(bind=bind, objects=objects)
    node.peers.add(HUB)  # it talked to this controller before, so its INF reaches the hub
    await node.start()
    found: list[dict[str, Any]] = []

    async def offered() -> bool:
        found[:] = (await rh.client.get("/api/v1/discovered")).json()["discovered"]
        return any(f["address"] == bind for f in found)

    await wait_for_async(offered, f"the node at {bind} offered")
    return node, next(f["key"] for f in found if f["address"] == bind)


async def wait_for_async(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll an async check until it is true (20 s at most)."""
    deadline = time.monotonic() + 20
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def devices_at(rh: RunningHub, address: str) -> list[dict[str, Any]]:
    body = (await rh.client.get("/api/v1/devices")).json()
    return sorted((d for d in body["devices"] if d["address"] == address),
                  key=lambda d: d["model"])


async def test_adopted_node_keeps_the_typed_name_and_room(tmp_path: Path) -> None:
    nodes: list[EchonetNode] = []
    try:
        async with running_hub(tmp_path / "hub", [EchonetIntegration()], config=CONFIG) as rh:
            node, key = await announced(rh, "127.0.113.10", ["light"])
            nodes.append(node)
            resp = await rh.client.post(f"/api/v1/discovered/{key}/adopt",
                                        json={"name": "Porch light", "room": "Porch"})
            assert resp.status_code == 200, resp.text
            [light] = await devices_at(rh, "127.0.113.10")
            assert (light["name"], light["room"]) == ("Porch light", "Porch")

            # A node with two appliances: the first takes the name, the other keeps its own
            # after it; both go to the room.
            node, key = await announced(rh, "127.0.113.11", ["aircon", "meter"])
            nodes.append(node)
            resp = await rh.client.post(f"/api/v1/discovered/{key}/adopt",
                                        json={"name": "Utility", "room": "Utility room"})
            assert resp.status_code == 200, resp.text
            both = await devices_at(rh, "127.0.113.11")
            assert {d["room"] for d in both} == {"Utility room"}
            assert sorted(d["name"] for d in both) == ["Utility", "Utility (Smart meter 1)"]

        # The names are stored: they survive a restart of the hub.
        async with running_hub(tmp_path / "hub", [EchonetIntegration()], config=CONFIG) as rh:
            await rh.hub.wait_integrations()
            [light] = await devices_at(rh, "127.0.113.10")
            assert (light["name"], light["room"]) == ("Porch light", "Porch")
    finally:
        for node in nodes:
            await node.stop()
