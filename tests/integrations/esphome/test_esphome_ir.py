"""ESPHome nodes as IR blasters: the emulator's infrared entity through the real aioesphomeapi
client, and IR devices on a node driven through a real hub (hub.testing.running_hub).

What the node transmits is checked by decoding its raw timings with ir_codes (an NEC command
comes back as its address and command, an A/C frame as its state). Address 127.0.0.52 belongs
to this module (emulators on ephemeral ports).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aioesphomeapi import APIClient, InfraredCapability, InfraredInfo, InfraredRFReceiveEvent
from esphome_testkit import RecordingHub, poll_json, wait_until

import ir_codes
from hub import testing
from integrations.errors import CommandFailed, DeviceUnreachable
from integrations.esphome import (
    EsphomeEmulator,
    EsphomeIntegration,
    demo_ir_node,
    ir_blaster_entities,
)
from integrations.esphome.emulated_entities import IR_RECEIVER
from integrations.esphome.link import device_id_for
from integrations.ir_devices import load_profile
from ir_codes.formats import broadlink as bl_format
from ir_codes.formats import esphome as esphome_format

HOST = "127.0.0.52"
TV_POWER = {"protocol": "NEC", "address": 0x04, "command": 0x08}
TV_VOL_UP = {"protocol": "NEC", "address": 0x04, "command": 0x02}


def decoded(tx: Any) -> ir_codes.IrCode:
    """What an IR receiver makes of a frame the node sent."""
    return ir_codes.decode(esphome_format.from_signed(tx.timings, tx.carrier_hz))


def node_config(dev: EsphomeEmulator, tmp_path: Path) -> dict[str, Any]:
    return {
        "ir_store_path": str(tmp_path / "esphome-ir.json"),
        "devices": [{
            "host": HOST,
            "port": dev.port,
            "ir_devices": [
                {"id": "den-tv", "name": "Den TV", "room": "Den", "profile": {
                    "kind": "tv",
                    "commands": {"power": TV_POWER, "volume_up": TV_VOL_UP},
                    "power": {"toggle": "power"},
                }},
                {"id": "den-ac", "name": "Den AC", "profile": {"kind": "ac", "brand": "daikin"}},
            ],
        }],
    }


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


@pytest.fixture
async def node() -> AsyncIterator[EsphomeEmulator]:
    dev = EsphomeEmulator("den-blaster", bind=HOST, port=0, entities=ir_blaster_entities())
    await dev.start()
    try:
        yield dev
    finally:
        await dev.stop()


@pytest.fixture
async def hub(node: EsphomeEmulator, tmp_path: Path) -> AsyncIterator[Any]:
    integ = EsphomeIntegration()
    cfg = {"integrations": {"esphome": node_config(node, tmp_path)}}
    async with testing.running_hub(tmp_path / "hub", [integ], cfg) as rh:
        for device_id in (device_id_for(node.mac), "den-tv", "den-ac"):
            await poll_json(rh, f"/api/v1/devices/{device_id}", lambda b: b["online"],
                            f"{device_id} online")
        yield rh


# --- the emulator against the real client -----------------------------------------------------

async def test_emulated_infrared_entity_through_the_real_client(node: EsphomeEmulator) -> None:
    client = APIClient(HOST, node.port, None)
    await client.connect(login=True)
    try:
        entities, _ = await client.list_entities_services()
        (ir,) = [e for e in entities if isinstance(e, InfraredInfo)]
        assert ir.capabilities == InfraredCapability.TRANSMITTER | InfraredCapability.RECEIVER
        assert ir.receiver_frequency == 38_000

        heard: list[InfraredRFReceiveEvent] = []
        client.subscribe_infrared_rf_receive(heard.append)
        frame = esphome_format.to_signed(ir_codes.encode("NEC", 0x20, 0x10))
        client.infrared_rf_transmit_raw_timings(ir.key, 38_000, frame, repeat_count=2)
        await wait_until(lambda: node.ir_transmissions, what="the frame at the node")
        (tx,) = node.ir_transmissions
        assert (tx.object_id, tx.carrier_hz, tx.repeat_count) == ("ir", 38_000, 2)
        assert list(tx.timings) == frame

        node.press_ir(frame)
        await wait_until(lambda: heard, what="the receive event")
        assert (heard[0].key, heard[0].timings) == (ir.key, frame)
    finally:
        await client.disconnect()


# --- IR devices on a node, through the hub API ------------------------------------------------

async def test_node_is_a_blaster_and_its_ir_devices_are_assumed_state(
    hub: Any, node: EsphomeEmulator
) -> None:
    node_id = device_id_for(node.mac)
    extra = hub.hub.registry.get(node_id).description.extra
    assert extra["ir_blaster"] == {"transmit": True, "receive": True, "entities": ["ir"]}
    node_body = (await hub.client.get(f"/api/v1/devices/{node_id}")).json()
    assert {p["name"] for p in node_body["properties"]} == {"temperature"}  # IR is no property
    assert set(node_body["capabilities"]) == {"ir_send", "ir_learn"}  # the API shows it

    tv = (await hub.client.get("/api/v1/devices/den-tv")).json()
    assert (tv["integration"], tv["assumed_state"], tv["room"]) == ("esphome", True, "Den")
    assert {p["name"] for p in tv["properties"]} == {"ir_commands", "power"}
    ac = (await hub.client.get("/api/v1/devices/den-ac")).json()
    assert {"power", "mode", "target_temperature", "fan_speed", "swing"} <= {
        p["name"] for p in ac["properties"]
    }


async def test_named_command_reaches_the_node_as_timings_that_decode(
    hub: Any, node: EsphomeEmulator
) -> None:
    result = await press(hub, "den-tv", "volume_up")
    assert result["status"] == "confirmed", result
    (tx,) = node.ir_transmissions
    assert (tx.object_id, tx.carrier_hz, tx.repeat_count) == ("ir", 38_000, 1)
    code = decoded(tx)
    assert (code.protocol, code.address, code.command) == ("NEC", 0x04, 0x02)

    result = await press(hub, "den-tv", "volume_up", repeat=2)
    assert result["status"] == "confirmed", result
    assert node.ir_transmissions[-1].repeat_count == 3  # the frame, then two repeats


async def test_desired_power_and_air_conditioner_state_go_out_as_frames(
    hub: Any, node: EsphomeEmulator
) -> None:
    resp = await hub.client.put("/api/v1/devices/den-tv/desired", json={"values": {"power": True}})
    assert resp.status_code == 202, resp.text
    await poll_json(hub, "/api/v1/devices/den-tv/shadow",
                    lambda b: b["reported"].get("power", {}).get("value") is True,
                    "the assumed power in the shadow")
    code = decoded(node.ir_transmissions[-1])
    assert (code.protocol, code.address, code.command) == ("NEC", 0x04, 0x08)

    values = {"power": True, "mode": "heat", "target_temperature": 23}
    resp = await hub.client.put("/api/v1/devices/den-ac/desired", json={"values": values})
    assert resp.status_code == 202, resp.text
    await poll_json(hub, "/api/v1/devices/den-ac/shadow",
                    lambda b: b["reported"].get("mode", {}).get("value") == "heat",
                    "the assumed A/C state in the shadow")
    tx = node.ir_transmissions[-1]
    brand, state, _ = ir_codes.decode_ac(esphome_format.from_signed(tx.timings, tx.carrier_hz))
    assert (brand, state.power, state.mode, state.target_temperature) == (
        "daikin", True, "heat", 23
    )


async def test_transmit_failure_fails_the_command_with_the_reason(
    hub: Any, node: EsphomeEmulator
) -> None:
    node.ir_transmit_ok = False
    result = await press(hub, "den-tv", "volume_up")
    assert result["status"] == "failed", result
    assert "failed to send" in result["reason"]
    assert "wiring" in result["reason"]
    assert node.ir_transmissions == []


async def test_learning_through_the_hub_api_saves_a_command_that_then_sends(
    hub: Any, node: EsphomeEmulator
) -> None:
    node_id = device_id_for(node.mac)
    resp = await hub.client.post("/api/v1/ir/learn", json={"blaster_id": node_id, "timeout_s": 20})
    assert resp.status_code == 202, resp.text
    session_path = f"/api/v1/ir/learn/{resp.json()['session_id']}"
    capture = esphome_format.to_signed(ir_codes.encode("NEC", 0x04, 0x55))

    session: dict[str, Any] = {}
    end = time.monotonic() + 20
    while session.get("state", "waiting") == "waiting":
        # like a person, press again until the hub has heard it (it may not be listening yet)
        node.press_ir(capture)
        session = (await hub.client.get(session_path)).json()
        assert time.monotonic() < end, f"no capture: {session}"
        await asyncio.sleep(0.2)
    assert session["state"] == "captured", session
    assert (session["code"]["protocol"], session["code"]["address"],
            session["code"]["command"]) == ("NEC", 0x04, 0x55)

    resp = await hub.client.post(
        f"{session_path}/save", json={"device_id": "den-tv", "command": "netflix"}
    )
    assert resp.status_code == 200, resp.text
    await poll_json(hub, "/api/v1/devices/den-tv/shadow",
                    lambda b: "netflix" in b["reported"].get("ir_commands", {}).get("value", []),
                    "the learned command listed")
    result = await press(hub, "den-tv", "netflix")
    assert result["status"] == "confirmed", result
    code = decoded(node.ir_transmissions[-1])
    assert (code.protocol, code.address, code.command) == ("NEC", 0x04, 0x55)


async def test_learning_times_out_with_a_reason(hub: Any, node: EsphomeEmulator) -> None:
    node_id = device_id_for(node.mac)
    resp = await hub.client.post("/api/v1/ir/learn", json={"blaster_id": node_id, "timeout_s": 1})
    assert resp.status_code == 202, resp.text
    session = await poll_json(hub, f"/api/v1/ir/learn/{resp.json()['session_id']}",
                              lambda b: b["state"] != "waiting", "the session to end")
    assert session["state"] == "timeout", session
    assert "point the remote at its receiver" in session["reason"]


async def test_ir_devices_follow_their_node_offline(hub: Any, node: EsphomeEmulator) -> None:
    await node.stop()
    await poll_json(hub, "/api/v1/devices/den-tv", lambda b: not b["online"], "the TV offline")
    await node.start()
    await poll_json(hub, "/api/v1/devices/den-tv", lambda b: b["online"], "the TV back",
                    timeout=45)


# --- without the hub: a receiver-only node ----------------------------------------------------

async def test_a_node_without_transmitter_cannot_drive_ir_devices(
    recording_hub: RecordingHub, tmp_path: Path
) -> None:
    dev = EsphomeEmulator("den-receiver", bind=HOST, port=0,
                          entities=ir_blaster_entities(capabilities=IR_RECEIVER))
    await dev.start()
    integ = EsphomeIntegration()
    try:
        await integ.setup(recording_hub, node_config(dev, tmp_path))
        node_id = device_id_for(dev.mac)
        await wait_until(lambda: recording_hub.online.get(node_id), what="the node online")
        await wait_until(
            lambda: any(d == "den-tv" and "no IR transmitter" in r
                        for d, _, r in recording_hub.availability),
            what="the TV marked offline for lack of a transmitter",
        )
        assert recording_hub.online["den-tv"] is False
        with pytest.raises(CommandFailed, match="has no IR transmitter"):
            await integ.send_command("den-tv", "power")
        with pytest.raises(CommandFailed, match="no command 'mute'"):
            await integ.send_command("den-tv", "mute")
        with pytest.raises(CommandFailed, match="only IR devices"):
            await integ.send_command(node_id, "power")
        with pytest.raises(CommandFailed, match="not an ESPHome node"):
            await integ.learn("esphome-nothing", timeout_s=1)
        # the receiver still learns: a capture comes back as a Broadlink packet
        learning = asyncio.create_task(integ.learn(node_id, timeout_s=20))
        frame = esphome_format.to_signed(ir_codes.encode("NEC", 0x07, 0x09))
        while not learning.done():
            dev.press_ir(frame)
            await asyncio.wait({learning}, timeout=0.2)
        code = ir_codes.decode(bl_format.from_packet(learning.result()))
        assert (code.protocol, code.address, code.command) == ("NEC", 0x07, 0x09)
        # its IR devices' codes can still be exported as a code set for other devices
        with pytest.raises(CommandFailed, match=r"set esphome\.profile_dirs"):
            await integ.export_profile("den-tv", "den_tv")
        saved = await integ.export_profile("den-tv", "den_tv", tmp_path / "profiles")
        again = load_profile("den_tv", [saved.parent])
        assert again.commands == integ.ir_commands("den-tv")
        assert again.power_toggle == "power"

        await dev.stop()
        await wait_until(lambda: recording_hub.online.get(node_id) is False, what="offline")
        with pytest.raises(DeviceUnreachable, match="offline"):
            await integ.learn(node_id, timeout_s=1)
    finally:
        await integ.shutdown()
        await dev.stop()


async def test_demo_ir_node_drives_packaged_code_sets(
    recording_hub: RecordingHub, tmp_path: Path
) -> None:
    dev, entry = demo_ir_node(HOST, 0)
    await dev.start()
    integ = EsphomeIntegration()
    try:
        entry = {**entry, "port": dev.port}
        await integ.setup(recording_hub, {"devices": [entry],
                                          "ir_store_path": str(tmp_path / "ir.json")})
        await wait_until(lambda: recording_hub.online.get("den-tv") and
                         recording_hub.online.get("den-ac"), what="the demo IR devices online")
        await integ.apply_desired("den-tv", {"power": True})
        code = decoded(dev.ir_transmissions[-1])
        power_on = ir_codes.decode(bl_format.from_packet(integ.ir_commands("den-tv")["power_on"]))
        assert (code.protocol, code.address, code.command) == (
            "SAMSUNG32", power_on.address, power_on.command
        )
        await integ.apply_desired("den-ac", {"mode": "cool", "target_temperature": 24})
        tx = dev.ir_transmissions[-1]
        brand, state, _ = ir_codes.decode_ac(esphome_format.from_signed(tx.timings, tx.carrier_hz))
        assert (brand, state.mode, state.target_temperature) == ("daikin", "cool", 24)
    finally:
        await integ.shutdown()
        await dev.stop()
