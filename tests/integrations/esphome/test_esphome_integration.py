"""EsphomeIntegration (real aioesphomeapi client inside) against the emulator, on loopback."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from esphome_testkit import RecordingHub, wait_until

from hub.model import DiscoveredDevice
from integrations.errors import CommandFailed, DeviceUnreachable
from integrations.esphome import EsphomeEmulator, EsphomeIntegration, demo_node
from integrations.esphome.frames import encode_plaintext_frame
from integrations.esphome.link import device_id_for
from integrations.esphome.messages import encode, pb

HOST = "127.0.0.41"
GARBAGE_HOST = "127.0.0.42"


@pytest.fixture
async def device() -> AsyncIterator[EsphomeEmulator]:
    dev = EsphomeEmulator("living-room", bind=HOST, port=0)
    await dev.start()
    yield dev
    await dev.stop()


@pytest.fixture
async def integration() -> AsyncIterator[EsphomeIntegration]:
    integ = EsphomeIntegration(keepalive=5.0)
    yield integ
    await integ.shutdown()


async def connected(
    hub: RecordingHub, integ: EsphomeIntegration, dev: EsphomeEmulator, **extra: Any
) -> str:
    await integ.setup(hub, {"devices": [{"host": dev.bind, "port": dev.port, **extra}]})
    device_id = device_id_for(dev.mac)
    await wait_until(lambda: hub.online.get(device_id), what="the device online")
    return device_id


async def test_entities_are_mapped_to_the_vocabulary(
    recording_hub: RecordingHub, integration: EsphomeIntegration, device: EsphomeEmulator
) -> None:
    device_id = await connected(recording_hub, integration, device)
    desc = recording_hub.devices[device_id]
    assert desc.integration == "esphome"
    assert desc.name == "Living Room"
    assert desc.address == f"{HOST}:{device.port}"
    assert desc.extra["mac"] == device.mac_hex
    props = desc.properties
    assert set(props) == {
        "temperature", "humidity", "motion", "power", "power.lamp", "brightness.lamp",
        "power.fan", "fan_speed.fan", "power.thermostat", "mode.thermostat",
        "target_temperature.thermostat", "temperature.thermostat",
    }
    assert props["temperature"].unit == "°C"
    assert not props["temperature"].writable
    assert props["power"].writable
    assert props["fan_speed.fan"].choices == ("1", "2", "3")
    assert props["mode.thermostat"].choices == ("cool", "heat", "auto")
    assert props["target_temperature.thermostat"].minimum == 16


async def test_states_stream_into_reported(
    recording_hub: RecordingHub, integration: EsphomeIntegration, device: EsphomeEmulator
) -> None:
    device_id = await connected(recording_hub, integration, device)
    await wait_until(lambda: "power" in recording_hub.reported.get(device_id, {}),
                     what="initial states")
    device.set_sensor("temperature", 21.5)
    device.set_sensor("humidity", 48.0)
    device.set_binary_sensor("motion", True)
    reported = recording_hub.reported[device_id]
    await wait_until(lambda: reported.get("temperature") == 21.5 and reported.get("motion"),
                     what="streamed sensor values")
    assert reported["humidity"] == 48.0


async def test_commands_round_trip_through_the_device(
    recording_hub: RecordingHub, integration: EsphomeIntegration, device: EsphomeEmulator
) -> None:
    device_id = await connected(recording_hub, integration, device)
    reported = recording_hub.reported.setdefault(device_id, {})
    await integration.apply_desired(device_id, {"power": True})
    await wait_until(lambda: reported.get("power") is True, what="relay on reported")
    assert device.switch_state is True

    await integration.apply_desired(device_id, {"power.lamp": True, "brightness.lamp": 40})
    await wait_until(lambda: reported.get("brightness.lamp") == 40 and reported.get("power.lamp"),
                     what="lamp reported")
    assert device.light_state == {"state": True, "brightness": pytest.approx(0.4)}

    await integration.apply_desired(device_id, {"power.fan": True, "fan_speed.fan": "3"})
    await wait_until(lambda: reported.get("fan_speed.fan") == "3", what="fan speed reported")

    await integration.apply_desired(
        device_id, {"mode.thermostat": "cool", "target_temperature.thermostat": 24.5}
    )
    await wait_until(lambda: reported.get("mode.thermostat") == "cool"
                     and reported.get("target_temperature.thermostat") == 24.5,
                     what="thermostat reported")
    assert reported["power.thermostat"] is True
    await integration.apply_desired(device_id, {"power.thermostat": False})
    await wait_until(lambda: reported.get("power.thermostat") is False, what="thermostat off")
    # on again: back to the mode it had
    await integration.apply_desired(device_id, {"power.thermostat": True})
    await wait_until(lambda: reported.get("power.thermostat") is True, what="thermostat on")
    assert device.state("thermostat")["mode"] == 2  # ClimateMode.COOL


async def test_refused_commands(
    recording_hub: RecordingHub, integration: EsphomeIntegration, device: EsphomeEmulator
) -> None:
    device_id = await connected(recording_hub, integration, device)
    with pytest.raises(CommandFailed, match="temperature cannot be set"):
        await integration.apply_desired(device_id, {"temperature": 20})
    with pytest.raises(CommandFailed, match="cannot be set"):
        await integration.apply_desired(device_id, {"volume": 20})
    with pytest.raises(CommandFailed, match="takes one of: cool, heat, auto"):
        await integration.apply_desired(device_id, {"mode.thermostat": "dry"})
    with pytest.raises(CommandFailed):
        await integration.apply_desired("esphome-unknown", {"power": True})
    assert device.commands == []


async def test_availability_follows_the_device(
    recording_hub: RecordingHub, integration: EsphomeIntegration, device: EsphomeEmulator
) -> None:
    device_id = await connected(recording_hub, integration, device)
    await device.stop()
    await wait_until(lambda: recording_hub.online[device_id] is False, what="device offline")
    with pytest.raises(DeviceUnreachable):
        await integration.apply_desired(device_id, {"power": True})
    await device.start()  # same address and port
    await wait_until(lambda: recording_hub.online[device_id], timeout=40, what="reconnect")
    device.set_sensor("temperature", 30.25)
    await wait_until(lambda: recording_hub.reported[device_id].get("temperature") == 30.25,
                     what="states after the reconnect")
    await integration.apply_desired(device_id, {"power": True})
    await wait_until(lambda: device.switch_state, what="command after the reconnect")
    offline_reasons = [r for d, online, r in recording_hub.availability if not online]
    assert offline_reasons
    assert all(r for r in offline_reasons)


async def test_noise_encrypted_device(
    recording_hub: RecordingHub, integration: EsphomeIntegration
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    dev = EsphomeEmulator("secure-node", bind=HOST, port=0, noise_psk=key)
    await dev.start()
    try:
        device_id = await connected(recording_hub, integration, dev, noise_psk=key)
        # Online comes before the first states: wait for them, as the test above does.
        await wait_until(lambda: "power" in recording_hub.reported.get(device_id, {}),
                         what="initial states")
        await integration.apply_desired(device_id, {"power": True})
        await wait_until(lambda: recording_hub.reported[device_id].get("power") is True,
                         what="encrypted round trip")
    finally:
        await dev.stop()


async def test_adopt_a_discovered_device(
    recording_hub: RecordingHub, integration: EsphomeIntegration
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    dev = EsphomeEmulator("porch", bind=HOST, port=0, noise_psk=key)
    await dev.start()
    try:
        await integration.setup(recording_hub, {})
        found = DiscoveredDevice(
            key=f"esphome-{dev.mac_hex}", integration="esphome", name="porch",
            address=HOST, port=dev.port, properties={"mac": dev.mac_hex},
        )
        with pytest.raises(CommandFailed, match="encryption key"):
            await integration.adopt(found, {"noise_psk": base64.b64encode(bytes(32)).decode()})
        with pytest.raises(CommandFailed, match="requires encryption"):
            await integration.adopt(found, {})
        assert recording_hub.devices == {}
        await integration.adopt(found, {"noise_psk": key})
        device_id = device_id_for(dev.mac)
        assert recording_hub.online[device_id]
        # The key is kept for restarts in a 0600 file, never in the description (API output).
        assert "noise_psk" not in recording_hub.devices[device_id].extra
        kept = recording_hub.storage_dir("esphome") / "node_secrets.json"
        assert key in kept.read_text() and kept.stat().st_mode & 0o077 == 0
        assert len(integration.links) == 1
    finally:
        await dev.stop()


async def test_adopt_unreachable_device(
    recording_hub: RecordingHub, integration: EsphomeIntegration
) -> None:
    await integration.setup(recording_hub, {})
    found = DiscoveredDevice(key="esphome-x", integration="esphome", name="gone",
                             address=HOST, port=1, properties={})
    with pytest.raises(DeviceUnreachable, match="adopt it again"):
        await integration.adopt(found, {"timeout": 3})
    assert integration.links == ()


class GarbageDevice:
    """A TCP server that answers each connection with a different kind of broken stream."""

    STREAMS = (
        b"\x00\xff\xff\xff\xff\xff\xff",  # a varint that never ends
        encode_plaintext_frame(*encode(pb.HelloResponse(api_version_major=1, name="x")))
        + b"\x00\x30\x0a\x01\x02",  # a hello, then a truncated frame and a hang-up
        b"\x00\x05\x02\xff\xff\xff\xff\xff",  # a HelloResponse body that is not protobuf
        os.urandom(64),
        b"\x01\x00\x03abc",  # noise to a plaintext client
    )

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, GARBAGE_HOST, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = self.STREAMS[self.connections % len(self.STREAMS)]
        self.connections += 1
        writer.write(stream)
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_malformed_frames_never_crash_the_hub(
    recording_hub: RecordingHub, integration: EsphomeIntegration
) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: unhandled.append(ctx))
    garbage = GarbageDevice()
    port = await garbage.start()
    try:
        await integration.setup(recording_hub, {"devices": [{"host": GARBAGE_HOST, "port": port}]})
        await wait_until(lambda: garbage.connections >= 3, timeout=40, what="three attempts")
    finally:
        await garbage.stop()
    assert recording_hub.devices == {}
    [status] = integration.status()
    assert not status["connected"]
    # the same integration still works: a real device on that port is picked up
    dev = EsphomeEmulator("recovered", bind=GARBAGE_HOST, port=port)
    await dev.start()
    try:
        device_id = device_id_for(dev.mac)
        await wait_until(lambda: recording_hub.online.get(device_id), timeout=60,
                         what="the real device after the garbage")
    finally:
        await dev.stop()
    # aioesphomeapi re-raises a corrupt protobuf from data_received after reporting it, so
    # asyncio logs "Fatal error: protocol.data_received() call failed" and closes that socket:
    # that is the library closing the connection, not an error escaping into the hub
    escaped = [
        ctx for ctx in unhandled
        if not (ctx.get("message", "").startswith("Fatal error: protocol.data_received()")
                and type(ctx.get("protocol")).__module__.startswith("aioesphomeapi."))
    ]
    assert escaped == []


async def test_a_moved_device_is_followed(
    recording_hub: RecordingHub, integration: EsphomeIntegration
) -> None:
    old = EsphomeEmulator("wanderer", bind=HOST, port=0)
    await old.start()
    device_id = await connected(recording_hub, integration, old)
    await old.stop()
    await wait_until(lambda: recording_hub.online[device_id] is False,
                     what="offline at the old address")
    new = EsphomeEmulator("wanderer", bind="127.0.0.45", port=0, mac=old.mac)
    await new.start()
    try:
        found = DiscoveredDevice(key=device_id, integration="esphome", name="wanderer",
                                 address="127.0.0.45", port=new.port,
                                 properties={"mac": new.mac_hex})
        assert await integration.follow(found)
        await wait_until(lambda: recording_hub.online[device_id], what="online at the new address")
        assert recording_hub.devices[device_id].address == f"127.0.0.45:{new.port}"
        assert len(integration.links) == 1
        stranger = DiscoveredDevice(key="esphome-x", integration="esphome", name="x",
                                    address=HOST, port=1, properties={"mac": "020000000000"})
        assert not await integration.follow(stranger)
    finally:
        await new.stop()


async def test_wrong_password_marks_the_device_offline_and_stops_retrying(
    recording_hub: RecordingHub, integration: EsphomeIntegration
) -> None:
    dev = EsphomeEmulator("locked", bind=HOST, port=0, password="right")
    await dev.start()
    try:
        device_id = device_id_for(dev.mac)
        await integration.setup(recording_hub, {"devices": [
            {"host": HOST, "port": dev.port, "password": "wrong", "mac": dev.mac_hex},
        ]})
        await wait_until(lambda: recording_hub.online.get(device_id) is False, what="offline")
        [(_, _, reason)] = [a for a in recording_hub.availability if not a[1]]
        assert "password" in reason
        [status] = await wait_until(
            lambda: [s for s in integration.status() if s["state"] == "failed"], what="failed"
        )
        assert "password" in status["error"]
        assert device_id not in recording_hub.devices
    finally:
        await dev.stop()


async def test_stored_adoption_reconnects_when_announced_after_a_restart(
    recording_hub: RecordingHub,
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    dev = EsphomeEmulator("attic", bind=HOST, port=0, noise_psk=key)
    await dev.start()
    found = DiscoveredDevice(key=f"esphome-{dev.mac_hex}", integration="esphome", name="attic",
                             address=HOST, port=dev.port, properties={"mac": dev.mac_hex})
    device_id = device_id_for(dev.mac)
    try:
        first = EsphomeIntegration()
        await first.setup(recording_hub, {})
        await first.adopt(found, {"noise_psk": key})
        await first.shutdown()  # the hub restarts; the description (and its extra) is stored
        recording_hub.online[device_id] = False
        second = EsphomeIntegration()
        await second.setup(recording_hub, {})
        assert await second.follow(found)  # mDNS sees the node again
        await wait_until(lambda: recording_hub.online[device_id], what="reconnected from storage")
        await second.shutdown()
    finally:
        await dev.stop()


async def test_demo_node(recording_hub: RecordingHub, integration: EsphomeIntegration) -> None:
    dev, entry = demo_node("127.0.0.46", 0)
    await dev.start()
    try:
        entry["port"] = dev.port
        await integration.setup(recording_hub, {"devices": [entry]})
        device_id = device_id_for(dev.mac)
        await wait_until(lambda: recording_hub.reported.get(device_id, {}).get("temperature")
                         == 21.5, what="the demo sensor reading")
        assert set(recording_hub.devices[device_id].properties) == {
            "temperature", "humidity", "power"}
    finally:
        await dev.stop()
