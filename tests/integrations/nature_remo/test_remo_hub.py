"""Nature Remos as IR blasters of a real hub (hub.testing.running_hub) over real HTTP: IR
devices and their code sets, the learning wizard's API, busy Remos, a Remo that goes away.

What the Remo transmits is checked by decoding it with ir_codes. Address 127.0.0.81 belongs
to this module (ephemeral ports).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from remo_testkit import decoded, nec, poll_json

import ir_codes
from hub import testing
from integrations.nature_remo import NatureRemoIntegration, RemoEmulator, remo_device_id

HOST = "127.0.0.81"
TV = {"kind": "tv", "power": {"toggle": "power"}, "commands": {
    "power": {"protocol": "NEC", "address": 0x04, "command": 0x08},
    "volume_up": {"protocol": "NEC", "address": 0x04, "command": 0x02},
}}


def remo_config(remo: RemoEmulator, tmp_path: Path) -> dict[str, Any]:
    return {
        "hosts": [{"host": HOST, "port": remo.port, "name": remo.instance}],
        "poll_interval": 0.3,
        "timeout": 2.0,
        "store_path": str(tmp_path / "remo-ir.json"),
        "devices": [
            {"id": "study-tv", "name": "Study TV", "room": "Study", "blaster": remo.instance,
             "profile": TV},
            {"id": "study-ac", "name": "Study AC", "blaster": remo.instance,
             "profile": {"kind": "ac", "brand": "mitsubishi"}},
        ],
    }


@pytest.fixture
async def remo() -> AsyncIterator[RemoEmulator]:
    em = RemoEmulator(HOST, 0, instance="Remo-1ABCDE")
    await em.start()
    try:
        yield em
    finally:
        await em.stop()


@pytest.fixture
async def hub(remo: RemoEmulator, tmp_path: Path) -> AsyncIterator[Any]:
    cfg = {"integrations": {"nature_remo": remo_config(remo, tmp_path)}}
    async with testing.running_hub(tmp_path / "hub", [NatureRemoIntegration()], cfg) as rh:
        for device_id in (remo_device_id(remo.instance), "study-tv", "study-ac"):
            await poll_json(rh, f"/api/v1/devices/{device_id}", lambda b: b["online"],
                            f"{device_id} online")
        yield rh


async def press(rh: Any, device_id: str, command: str, **params: Any) -> dict[str, Any]:
    resp = await rh.client.post(
        f"/api/v1/devices/{device_id}/commands/{command}", json={"params": params}
    )
    assert resp.status_code == 202, resp.text
    return dict(await poll_json(
        rh, f"/api/v1/commands/{resp.json()['command_id']}",
        lambda b: b["status"] in ("sent", "confirmed", "failed", "expired"),
        f"{command} on {device_id} finished",
    ))


async def test_the_remo_is_a_blaster_and_its_ir_devices_are_assumed_state(
    hub: Any, remo: RemoEmulator
) -> None:
    body = (await hub.client.get(f"/api/v1/devices/{remo_device_id(remo.instance)}")).json()
    assert (body["integration"], body["name"]) == ("nature_remo", "Remo-1ABCDE")
    assert set(body["capabilities"]) == {"ir_send", "ir_learn"}
    tv = (await hub.client.get("/api/v1/devices/study-tv")).json()
    assert (tv["assumed_state"], tv["room"]) == (True, "Study")
    assert {p["name"] for p in tv["properties"]} == {"ir_commands", "power"}


async def test_named_commands_go_out_as_signals_that_decode(hub: Any, remo: RemoEmulator) -> None:
    result = await press(hub, "study-tv", "volume_up")
    assert result["status"] == "confirmed", result
    assert decoded(remo.sent[-1]) == ("NEC", 0x04, 0x02)
    once = len(remo.sent[-1].data)
    result = await press(hub, "study-tv", "volume_up", repeat=2)
    assert result["status"] == "confirmed", result
    assert len(remo.sent[-1].data) == 3 * once  # the frame, then two copies


async def test_air_conditioner_state_goes_out_as_one_frame(hub: Any, remo: RemoEmulator) -> None:
    values = {"power": True, "mode": "heat", "target_temperature": 23}
    resp = await hub.client.put("/api/v1/devices/study-ac/desired", json={"values": values})
    assert resp.status_code == 202, resp.text
    await poll_json(hub, "/api/v1/devices/study-ac/shadow",
                    lambda b: b["reported"].get("mode", {}).get("value") == "heat",
                    "the assumed A/C state")
    brand, state, _ = ir_codes.decode_ac(remo.sent[-1].raw())
    assert (brand, state.power, state.mode, state.target_temperature) == (
        "mitsubishi", True, "heat", 23
    )


async def test_learning_through_the_hub_api_then_sending_it(hub: Any, remo: RemoEmulator) -> None:
    remo.hear(nec(0x01, 0x01))  # an old capture: learning must wait for a new one
    blaster = remo_device_id(remo.instance)
    resp = await hub.client.post("/api/v1/ir/learn", json={"blaster_id": blaster, "timeout_s": 20})
    assert resp.status_code == 202, resp.text
    path = f"/api/v1/ir/learn/{resp.json()['session_id']}"
    await asyncio.sleep(1.0)  # the hub has polled the Remo by now and heard nothing new
    session = (await hub.client.get(path)).json()
    assert session["state"] == "waiting", session
    remo.hear(nec(0x04, 0x55))
    session = await poll_json(hub, path, lambda b: b["state"] != "waiting", "the capture")
    assert session["state"] == "captured", session
    assert (session["code"]["protocol"], session["code"]["address"],
            session["code"]["command"]) == ("NEC", 0x04, 0x55)

    resp = await hub.client.post(f"{path}/save", json={"device_id": "study-tv",
                                                       "command": "netflix"})
    assert resp.status_code == 200, resp.text
    result = await press(hub, "study-tv", "netflix")
    assert result["status"] == "confirmed", result
    assert decoded(remo.sent[-1]) == ("NEC", 0x04, 0x55)


async def test_learning_times_out_with_a_reason(hub: Any, remo: RemoEmulator) -> None:
    blaster = remo_device_id(remo.instance)
    resp = await hub.client.post("/api/v1/ir/learn", json={"blaster_id": blaster, "timeout_s": 1})
    session = await poll_json(hub, f"/api/v1/ir/learn/{resp.json()['session_id']}",
                              lambda b: b["state"] != "waiting", "the session to end")
    assert session["state"] == "timeout", session
    assert "point the remote at the Remo" in session["reason"]


async def test_a_busy_remo_is_waited_for(hub: Any, remo: RemoEmulator) -> None:
    remo.rate_limit = (1, 0.6)
    await asyncio.sleep(0.7)
    started = time.monotonic()
    results = [await press(hub, "study-tv", "volume_up") for _ in range(3)]
    assert [r["status"] for r in results] == ["confirmed"] * 3, results
    assert len(remo.sent) == 3
    assert time.monotonic() - started >= 1.0  # it waited for the Remo, it did not fail
    assert any(status == 429 for _, status in remo.requests)


async def test_a_remo_that_stays_busy_fails_the_command_clearly(
    hub: Any, remo: RemoEmulator
) -> None:
    remo.refuse_all_with = 503
    result = await press(hub, "study-tv", "volume_up")
    assert result["status"] == "failed", result
    assert "Remo-1ABCDE" in result["reason"] and "stayed busy (503)" in result["reason"]
    assert remo.sent == []


async def test_ir_devices_follow_their_remo_offline_and_back(
    hub: Any, remo: RemoEmulator
) -> None:
    await remo.stop()
    tv = await poll_json(hub, "/api/v1/devices/study-tv", lambda b: not b["online"],
                         "the TV offline")
    assert "Remo-1ABCDE" in tv["offline_reason"] and "powered" in tv["offline_reason"], tv
    # an offline IR device keeps the command pending; it goes out when the Remo is back
    resp = await hub.client.put("/api/v1/devices/study-tv/desired",
                                json={"values": {"power": True}})
    assert resp.status_code == 202, resp.text
    await remo.start()
    await poll_json(hub, "/api/v1/devices/study-tv", lambda b: b["online"], "the TV back")
    await poll_json(hub, "/api/v1/devices/study-tv/shadow",
                    lambda b: b["reported"].get("power", {}).get("value") is True,
                    "the pending power sent")
    assert decoded(remo.sent[-1]) == ("NEC", 0x04, 0x08)
    assert tv["online"] is False
