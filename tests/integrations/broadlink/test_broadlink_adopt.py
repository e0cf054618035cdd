"""Blasters found by the broadcast probe go through the hub's adopt flow.

The probe targets one loopback address (a real hub broadcasts to 255.255.255.255).
Address 127.0.0.32 belongs to this module.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from hub.testing import RunningHub, running_hub
from integrations.broadlink.emulator import BroadlinkEmulator
from integrations.broadlink.integration import BroadlinkIntegration, Settings, blaster_device_id
from integrations.errors import IntegrationError

ADDR = "127.0.0.32"


def probe_config(emulator: BroadlinkEmulator, tmp_path: Path, **more: Any) -> dict[str, Any]:
    section = {
        "discover_address": ADDR,
        "discover_port": emulator.port,
        "discover_timeout": 0.5,
        "timeout": 2,
        "poll_interval": 3600,
        "store_path": str(tmp_path / "broadlink.json"),
        **more,
    }
    return {"integrations": {"broadlink": section}}


async def discovered(rh: RunningHub) -> dict[str, dict[str, Any]]:
    resp = await rh.client.get("/api/v1/discovered")
    assert resp.status_code == 200, resp.text
    return {d["key"]: d for d in resp.json()["discovered"]}


async def wait_online(rh: RunningHub, device_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        resp = await rh.client.get(f"/api/v1/devices/{device_id}")
        if resp.status_code == 200 and resp.json()["online"]:
            return dict(resp.json())
        if time.monotonic() > deadline:
            raise AssertionError(f"{device_id} not online: {resp.text}")
        await asyncio.sleep(0.05)


async def test_probe_find_is_offered_adopted_and_back_after_a_restart(tmp_path: Path) -> None:
    async with BroadlinkEmulator(ADDR, 0, model="rm4pro", name="Study RM4") as rm:
        blaster = blaster_device_id(rm.mac_text)
        integ = BroadlinkIntegration()
        async with running_hub(tmp_path / "hub", [integ],
                               config=probe_config(rm, tmp_path)) as rh:
            await rh.hub.wait_integrations()
            found = await discovered(rh)
            assert found[blaster]["integration"] == "broadlink"
            assert (found[blaster]["address"], found[blaster]["port"]) == (ADDR, rm.port)
            assert found[blaster]["model"] == "RM4 pro"
            assert (await rh.client.get(f"/api/v1/devices/{blaster}")).status_code == 404
            assert integ.blasters == {}

            resp = await rh.client.post(f"/api/v1/discovered/{blaster}/adopt",
                                        json={"name": "Study blaster", "room": "Study"})
            assert resp.status_code == 200, resp.text
            dev = await wait_online(rh, blaster)
            assert (dev["name"], dev["room"], dev["address"]) == ("Study blaster", "Study", ADDR)
            assert blaster not in await discovered(rh)
            assert set(integ.blasters) == {blaster}
        # No probing now: only the hub's stored device says where the adopted blaster is.
        again = BroadlinkIntegration()
        cfg = probe_config(rm, tmp_path, discover_address=None)
        async with running_hub(tmp_path / "hub", [again], config=cfg) as rh:
            await rh.hub.wait_integrations()
            assert set(again.blasters) == {blaster}
            dev = await wait_online(rh, blaster)
            assert (dev["name"], dev["room"]) == ("Study blaster", "Study")
            assert await discovered(rh) == {}


async def test_adopting_a_blaster_that_stopped_answering_says_so(tmp_path: Path) -> None:
    async with BroadlinkEmulator(ADDR, 0, model="rmmini3") as rm:
        blaster = blaster_device_id(rm.mac_text)
        async with running_hub(tmp_path / "hub", [BroadlinkIntegration()],
                               config=probe_config(rm, tmp_path, timeout=0.5)) as rh:
            await rh.hub.wait_integrations()
            assert blaster in await discovered(rh)
            rm.unresponsive = True
            resp = await rh.client.post(f"/api/v1/discovered/{blaster}/adopt", json={})
            assert resp.status_code == 503, resp.text
            assert blaster in await discovered(rh)  # still there to try again
            rm.unresponsive = False
            resp = await rh.client.post(f"/api/v1/discovered/{blaster}/adopt", json={})
            assert resp.status_code == 200, resp.text
            await wait_online(rh, blaster)


async def test_adopt_auto_adds_probe_finds_at_once(tmp_path: Path) -> None:
    async with BroadlinkEmulator(ADDR, 0, model="rmmini3", name="Kitchen RM") as rm:
        blaster = blaster_device_id(rm.mac_text)
        integ = BroadlinkIntegration()
        async with running_hub(tmp_path / "hub", [integ],
                               config=probe_config(rm, tmp_path, adopt="auto")) as rh:
            await rh.hub.wait_integrations()
            assert (await wait_online(rh, blaster))["model"] == "RM mini 3"
            assert await discovered(rh) == {}
            assert set(integ.blasters) == {blaster}


def test_adopt_setting_is_checked() -> None:
    assert Settings.from_config({}).adopt == "ask"
    assert Settings.from_config({"adopt": "auto"}).adopt == "auto"
    with pytest.raises(IntegrationError, match='adopt must be "ask" or "auto"'):
        Settings.from_config({"adopt": "always"})
