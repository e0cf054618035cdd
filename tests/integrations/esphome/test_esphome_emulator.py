"""The emulator against the real aioesphomeapi client, over loopback TCP."""

from __future__ import annotations

import asyncio
import base64
import os
import random
from collections.abc import AsyncIterator

import pytest
from aioesphomeapi import (
    BinarySensorInfo,
    ClimateInfo,
    ConnectionClosedEvent,
    FanInfo,
    LightInfo,
    LightState,
    SensorInfo,
    SensorState,
    SwitchInfo,
    SwitchState,
)
from aioesphomeapi.client import APIClient
from aioesphomeapi.core import (
    EncryptionPlaintextAPIError,
    InvalidAuthAPIError,
    InvalidEncryptionKeyAPIError,
    RequiresEncryptionAPIError,
)
from esphome_testkit import wait_until

from integrations.esphome import EsphomeEmulator
from integrations.esphome.frames import encode_plaintext_frame
from integrations.esphome.messages import encode, pb

HOST = "127.0.0.40"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
async def device() -> AsyncIterator[EsphomeEmulator]:
    dev = EsphomeEmulator("kitchen-sensor", bind=HOST, port=0)
    await dev.start()
    yield dev
    await dev.stop()


@pytest.fixture
async def client(device: EsphomeEmulator) -> AsyncIterator[APIClient]:
    cli = APIClient(HOST, device.port, None, client_info="homehub-test")
    await cli.connect(login=True)
    yield cli
    await cli.disconnect(force=True)


async def test_device_info_and_entities(client: APIClient, device: EsphomeEmulator) -> None:
    info = await client.device_info()
    assert info.name == "kitchen-sensor"
    assert info.mac_address == device.mac
    assert info.friendly_name == "Kitchen Sensor"
    entities, services = await client.list_entities_services()
    assert services == []
    by_id = {e.object_id: e for e in entities}
    assert isinstance(by_id["temperature"], SensorInfo)
    assert by_id["temperature"].unit_of_measurement == "°C"
    assert by_id["temperature"].device_class == "temperature"
    assert isinstance(by_id["humidity"], SensorInfo)
    assert isinstance(by_id["motion"], BinarySensorInfo)
    assert isinstance(by_id["relay"], SwitchInfo)
    assert isinstance(by_id["lamp"], LightInfo)
    assert isinstance(by_id["fan"], FanInfo)
    assert isinstance(by_id["thermostat"], ClimateInfo)
    assert len({e.key for e in entities}) == len(entities)


async def test_states_are_streamed(client: APIClient, device: EsphomeEmulator) -> None:
    entities, _ = await client.list_entities_services()
    temp_key = next(e.key for e in entities if e.object_id == "temperature")
    states: list[object] = []
    client.subscribe_states(states.append)
    await wait_until(lambda: len(states) >= len(entities), what="initial states")
    device.set_sensor("temperature", 23.4)
    got = await wait_until(
        lambda: [s for s in states if isinstance(s, SensorState) and s.key == temp_key
                 and abs(s.state - 23.4) < 1e-4],
        what="the new temperature",
    )
    assert got


async def test_switch_and_light_commands_round_trip(
    client: APIClient, device: EsphomeEmulator
) -> None:
    entities, _ = await client.list_entities_services()
    relay = next(e for e in entities if e.object_id == "relay")
    lamp = next(e for e in entities if e.object_id == "lamp")
    states: list[object] = []
    client.subscribe_states(states.append)
    client.switch_command(relay.key, True)
    await wait_until(
        lambda: any(isinstance(s, SwitchState) and s.key == relay.key and s.state for s in states),
        what="the switch state streamed back",
    )
    assert device.switch_state is True
    client.light_command(lamp.key, state=True, brightness=0.5)
    await wait_until(
        lambda: any(isinstance(s, LightState) and s.state and abs(s.brightness - 0.5) < 1e-6
                    for s in states),
        what="the light state streamed back",
    )
    assert device.light_state == {"state": True, "brightness": 0.5}
    assert device.commands[0] == ("relay", {"state": True})


async def test_ping(client: APIClient) -> None:
    conn = client._get_connection()
    reply = await conn.send_message_await_response(pb.PingRequest(), pb.PingResponse)
    assert type(reply).__name__ == "PingResponse"


async def test_noise_with_the_right_key() -> None:
    key = new_key()
    dev = EsphomeEmulator("secure-node", bind=HOST, port=0, noise_psk=key)
    await dev.start()
    try:
        cli = APIClient(HOST, dev.port, None, noise_psk=key, expected_name="secure-node")
        await cli.connect(login=True)
        info = await cli.device_info()
        assert info.name == "secure-node"
        assert info.api_encryption_supported
        entities, _ = await cli.list_entities_services()
        relay = next(e for e in entities if e.object_id == "relay")
        cli.switch_command(relay.key, True)
        await wait_until(lambda: dev.switch_state, what="switch on over noise")
        await cli.disconnect()
    finally:
        await dev.stop()


@pytest.mark.parametrize(
    ("device_key", "client_key", "error"),
    [
        (new_key(), new_key(), InvalidEncryptionKeyAPIError),
        (new_key(), None, RequiresEncryptionAPIError),
        (None, new_key(), EncryptionPlaintextAPIError),
    ],
    ids=["wrong key", "client without key", "device without key"],
)
async def test_encryption_mismatch_fails_cleanly(
    device_key: str | None, client_key: str | None, error: type[Exception]
) -> None:
    dev = EsphomeEmulator("secure-node", bind=HOST, port=0, noise_psk=device_key)
    await dev.start()
    try:
        cli = APIClient(HOST, dev.port, None, noise_psk=client_key)
        with pytest.raises(error):
            await asyncio.wait_for(cli.connect(login=True), 15)
        assert dev.client_count == 0
        # the device is still fine for a client with the right settings
        good = APIClient(HOST, dev.port, None, noise_psk=device_key)
        await good.connect(login=True)
        await good.disconnect()
    finally:
        await dev.stop()


async def test_wrong_password_is_refused() -> None:
    dev = EsphomeEmulator("locked", bind=HOST, port=0, password="secret")
    await dev.start()
    try:
        cli = APIClient(HOST, dev.port, "nope")
        closed: list[ConnectionClosedEvent] = []
        cli.add_connection_closed_callback(closed.append)
        try:
            await cli.connect(login=True)
        except InvalidAuthAPIError:
            return  # refused before the connect call returned: fine too
        await wait_until(lambda: closed, what="the device to hang up")
        assert isinstance(closed[0].error, InvalidAuthAPIError)
    finally:
        await dev.stop()


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x07\x01\x02\x03",  # not a preamble at all
        b"\x00\xff\xff\xff\xff\xff",  # endless varint
        b"\x00\x03\x01\xff\xff\xff",  # a HelloRequest whose body does not parse
        b"\x00\x00\x09",  # DeviceInfoRequest before HelloRequest
    ],
    ids=["preamble", "varint", "protobuf", "no hello"],
)
async def test_malformed_frames_close_only_that_connection(
    device: EsphomeEmulator, garbage: bytes
) -> None:
    reader, writer = await asyncio.open_connection(HOST, device.port)
    writer.write(garbage)
    await writer.drain()
    await asyncio.wait_for(reader.read(), 10)  # returns at EOF: the emulator hung up
    assert reader.at_eof()
    writer.close()
    # a truncated frame followed by a hang-up does not hurt either
    reader, writer = await asyncio.open_connection(HOST, device.port)
    writer.write(b"\x00\x40\x01\x0a")
    writer.close()
    cli = APIClient(HOST, device.port, None)
    await cli.connect(login=True)
    assert (await cli.device_info()).name == "kitchen-sensor"
    await cli.disconnect()


async def test_garbage_after_noise_handshake_closes_cleanly() -> None:
    key = new_key()
    dev = EsphomeEmulator("secure-node", bind=HOST, port=0, noise_psk=key)
    await dev.start()
    try:
        reader, writer = await asyncio.open_connection(HOST, dev.port)
        writer.write(b"\x01\x00\x00" + b"\x01\x00\x05\x00abcd")  # hello, then a bogus handshake
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
        assert b"Handshake MAC failure" in data or b"Handshake failed" in data
        writer.close()
        cli = APIClient(HOST, dev.port, None, noise_psk=key)
        await cli.connect(login=True)
        await cli.disconnect()
    finally:
        await dev.stop()


async def test_random_streams_never_take_the_emulator_down(device: EsphomeEmulator) -> None:
    rng = random.Random(8)
    hello = encode_plaintext_frame(*encode(pb.HelloRequest(client_info="fuzz")))
    for i in range(40):
        junk = rng.randbytes(rng.randint(1, 200))
        prefix = hello if i % 2 else b""
        reader, writer = await asyncio.open_connection(HOST, device.port)
        writer.write(prefix + junk)
        await writer.drain()
        writer.write_eof()
        await asyncio.wait_for(reader.read(), 10)  # the emulator answers or hangs up; no hang
        writer.close()
    assert device.connections_total == 40
    cli = APIClient(HOST, device.port, None)
    await cli.connect(login=True)
    assert (await cli.device_info()).name == "kitchen-sensor"
    await cli.disconnect()
