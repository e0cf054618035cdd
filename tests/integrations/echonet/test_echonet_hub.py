"""Through the hub's API: desired writes reach emulated ECHONET units over real UDP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from hub import testing
from integrations.echonet.emulator import EchonetNode
from integrations.echonet.integration import EchonetIntegration

HUB = "127.0.38.2"
HOSTS = ["127.0.38.10", "127.0.38.11"]


async def _until(client: httpx.AsyncClient, path: str, check: Any, what: str,
                 timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        resp = await client.get(path)
        if resp.status_code == 200:
            body = resp.json()
            if check(body):
                return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {body}")


async def test_desired_write_through_the_api_and_offline_replay(tmp_path: Path) -> None:
    nodes = [EchonetNode(bind=HOSTS[0], objects=["aircon", "meter"]),
             EchonetNode(bind=HOSTS[1], objects=["light"])]
    for node in nodes:
        await node.start()
    config = {"integrations": {"echonet": {
        "bind": HUB, "hosts": HOSTS, "multicast": False, "poll_interval_s": 0.3,
        "timeout_s": 1.0, "retries": 1}}}
    try:
        async with testing.running_hub(tmp_path, integrations=[EchonetIntegration()],
                                       config=config) as rh:
            devices = await _until(rh.client, "/api/v1/devices",
                                   lambda b: len(b["devices"]) == 3, "three devices")
            listing = devices["devices"]
            aircon = next(d["id"] for d in listing if d["model"] == "Home air conditioner")
            shadow = f"/api/v1/devices/{aircon}/shadow"

            resp = await rh.client.put(f"/api/v1/devices/{aircon}/desired",
                                       json={"values": {"power": True,
                                                        "target_temperature": 21}})
            assert resp.status_code == 202, resp.text
            emulated = nodes[0].object("aircon")
            body = await _until(rh.client, shadow,
                                lambda b: not b["delta"] and b["reported"].get(
                                    "target_temperature", {}).get("value") == 21,
                                "delta cleared")
            assert body["reported"]["power"]["value"] is True
            assert emulated.values[0x80] == b"\x30"
            assert emulated.values[0xB3] == bytes([21])

            # Unplug the node: offline; a desired write waits and is applied on return.
            await nodes[0].stop()
            await _until(rh.client, f"/api/v1/devices/{aircon}",
                         lambda b: b["online"] is False, "aircon offline")
            resp = await rh.client.put(f"/api/v1/devices/{aircon}/desired",
                                       json={"values": {"mode": "heat"}})
            assert resp.status_code == 202, resp.text
            await _until(rh.client, shadow, lambda b: b["delta"].get("mode") == "heat",
                         "pending delta")
            nodes[0] = EchonetNode(bind=HOSTS[0], objects=["aircon", "meter"])
            await nodes[0].start()
            await _until(rh.client, shadow, lambda b: not b["delta"]
                         and b["reported"].get("mode", {}).get("value") == "heat",
                         "pending desired applied after return")
            assert nodes[0].object("aircon").values[0xB0] == b"\x43"
    finally:
        for node in nodes:
            await node.stop()


async def test_refused_write_fails_the_command_with_a_reason(tmp_path: Path) -> None:
    node = EchonetNode(bind=HOSTS[1], objects=["light"])
    await node.start()
    config = {"integrations": {"echonet": {
        "bind": HUB, "hosts": [HOSTS[1]], "multicast": False, "poll_interval_s": 0.5,
        "timeout_s": 1.0, "retries": 1}}}
    try:
        async with testing.running_hub(tmp_path, integrations=[EchonetIntegration()],
                                       config=config) as rh:
            body = await _until(rh.client, "/api/v1/devices",
                                lambda b: len(b["devices"]) == 1, "the light")
            light = body["devices"][0]["id"]
            node.object("light").settable = frozenset({0x80})  # firmware now refuses dimming
            resp = await rh.client.put(f"/api/v1/devices/{light}/desired",
                                       json={"values": {"brightness": 30}})
            assert resp.status_code == 202, resp.text
            command = resp.json()["command_id"]
            status = await _until(rh.client, f"/api/v1/commands/{command}",
                                  lambda b: b["status"] in ("failed", "confirmed"),
                                  "command result")
            assert status["status"] == "failed"
            assert "brightness" in status["reason"]
            assert node.object("light").values[0xB0] == bytes([80])
    finally:
        await node.stop()
