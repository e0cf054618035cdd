"""An ESPHome device on a TCP socket that the real aioesphomeapi client can talk to.

Usage::

    dev = EsphomeEmulator("kitchen-sensor", bind="127.0.0.40", port=6053)
    await dev.start()
    dev.set_sensor("temperature", 23.4)   # streamed to subscribed clients
    dev.switch_state                      # what the last SwitchCommand set
    dev.ir_transmissions                  # IR frames clients asked an infrared entity to send
    dev.press_ir([9000, -4500, ...])      # a remote pointed at its IR receiver
    await dev.stop()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from integrations.errors import ProtocolError
from integrations.esphome import messages
from integrations.esphome.emulated_entities import (
    IR_RECEIVER,
    IR_TRANSMITTER,
    EmulatedEntity,
    EntityKind,
    EntitySet,
    default_entities,
)
from integrations.esphome.frames import (
    NOISE_PREAMBLE,
    PLAINTEXT_PREAMBLE,
    NoiseFrameReader,
    PlaintextFrameReader,
    encode_noise_frame,
    encode_plaintext_frame,
    pack_noise_message,
    unpack_noise_message,
)
from integrations.esphome.mdns import NodeAdvertisement, esphome_txt
from integrations.esphome.messages import pb
from integrations.esphome.noise_responder import NoiseResponder, NoiseState

_LOGGER = logging.getLogger(__name__)

ESPHOME_VERSION = "2025.10.0"


def decode_psk(psk: str) -> bytes:
    """A base64 noise key as its 32 bytes; ValueError saying what is wrong otherwise."""
    try:
        raw = base64.b64decode(psk, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("the noise key must be 32 bytes in base64 (44 characters)") from err
    if len(raw) != 32:
        raise ValueError(f"the noise key must be 32 bytes in base64, got {len(raw)} bytes")
    return raw


@dataclass(frozen=True, slots=True)
class IrTransmission:
    """One InfraredRFTransmitRawTimingsRequest as the node received it."""

    object_id: str
    carrier_hz: int
    repeat_count: int
    timings: tuple[int, ...]  # ESPHome raw: + mark, - space (µs)


class _Close(Exception):
    """The session is over (the peer said goodbye or broke the protocol)."""


class _Session:
    """One client connection: framing, optional Noise, and the message handlers."""

    def __init__(
        self, dev: EsphomeEmulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._dev = dev
        self._reader = reader
        self._writer = writer
        self._noise: NoiseResponder | None = None
        self._plain: PlaintextFrameReader | None = None
        self._noise_reader: NoiseFrameReader | None = None
        self.hello_done = False
        self.subscribed = False

    async def run(self) -> None:
        try:
            while data := await self._reader.read(65536):
                for msg_type, body in self._frames(data):
                    self._handle(msg_type, body)
                await self._writer.drain()
        except ProtocolError as err:
            _LOGGER.info("%s: closing a connection that sent bad bytes: %s", self._dev.name, err)
        except _Close:
            pass
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()

    def _frames(self, data: bytes) -> list[tuple[int, bytes]]:
        """Complete messages in the bytes received so far (setting the transport up first)."""
        if self._plain is None and self._noise_reader is None:
            self._choose_transport(data[0])
        if self._plain is not None:
            return self._plain.feed(data)
        assert self._noise_reader is not None
        assert self._noise is not None
        out: list[tuple[int, bytes]] = []
        for payload in self._noise_reader.feed(data):
            if self._noise.state is NoiseState.READY:
                out.append(unpack_noise_message(self._noise.decrypt(payload)))
                continue
            for reply in self._noise.handshake(payload):
                self._writer.write(encode_noise_frame(reply))
            if self._noise.state is NoiseState.FAILED:
                raise _Close
        return out

    def _choose_transport(self, preamble: int) -> None:
        psk = self._dev.noise_key
        if psk is not None:
            if preamble != NOISE_PREAMBLE:
                # what the firmware does: an empty noise frame makes the client say
                # "requires encryption"
                self._writer.write(encode_noise_frame(b""))
                raise _Close
            self._noise = NoiseResponder(psk, self._dev.name, self._dev.mac_hex)
            self._noise_reader = NoiseFrameReader()
            return
        if preamble != PLAINTEXT_PREAMBLE:
            # a plaintext frame tells a noise client that the device is unencrypted
            self._send(pb.DisconnectRequest())
            raise _Close
        self._plain = PlaintextFrameReader()

    def _send(self, msg: Message) -> None:
        msg_type, body = messages.encode(msg)
        if self._noise is not None and self._noise.state is NoiseState.READY:
            frame = encode_noise_frame(self._noise.encrypt(pack_noise_message(msg_type, body)))
        else:
            frame = encode_plaintext_frame(msg_type, body)
        if not self._writer.is_closing():
            self._writer.write(frame)

    def send_state(self, entity: EmulatedEntity, state: Mapping[str, Any]) -> None:
        if self.subscribed and entity.has_state:
            self._send(entity.state_message(dict(state)))

    def _handle(self, msg_type: int, body: bytes) -> None:
        msg = messages.decode(msg_type, body)
        name = type(msg).__name__
        if msg is None:
            _LOGGER.debug("%s: ignoring %s", self._dev.name, messages.name_of(msg_type))
            return
        if not self.hello_done and name != "HelloRequest":
            raise ProtocolError(f"{name} before HelloRequest")
        handler = getattr(self, f"_on_{name}", None)
        if handler is None:
            _LOGGER.debug("%s: no handler for %s", self._dev.name, name)
            return
        handler(msg)

    # -- handlers, named after the request message --------------------------------------
    def _on_HelloRequest(self, msg: Any) -> None:
        self.hello_done = True
        major, minor = messages.API_VERSION
        self._send(pb.HelloResponse(
            api_version_major=major, api_version_minor=minor,
            server_info=f"{self._dev.name} (esphome v{ESPHOME_VERSION}, homehub emulator)",
            name=self._dev.name,
        ))

    def _on_AuthenticationRequest(self, msg: Any) -> None:
        wanted = self._dev.password
        if wanted and msg.password != wanted:
            self._send(pb.AuthenticationResponse(invalid_password=True))
            raise _Close

    def _on_DisconnectRequest(self, msg: Any) -> None:
        self._send(pb.DisconnectResponse())
        raise _Close

    def _on_PingRequest(self, msg: Any) -> None:
        self._send(pb.PingResponse())

    def _on_DeviceInfoRequest(self, msg: Any) -> None:
        dev = self._dev
        self._send(pb.DeviceInfoResponse(
            uses_password=bool(dev.password), name=dev.name, mac_address=dev.mac,
            esphome_version=ESPHOME_VERSION, compilation_time="Jan  1 2026, 00:00:00",
            model="esp32dev", manufacturer="Espressif", friendly_name=dev.friendly_name,
            api_encryption_supported=dev.noise_key is not None,
            project_name="homehub.emulator", project_version="1.0",
        ))

    def _on_ListEntitiesRequest(self, msg: Any) -> None:
        for entity in self._dev.entities.entities:
            self._send(entity.list_message())
        self._send(pb.ListEntitiesDoneResponse())

    def _on_SubscribeStatesRequest(self, msg: Any) -> None:
        self.subscribed = True
        for entity in self._dev.entities.entities:
            self.send_state(entity, self._dev.state(entity.object_id))

    def _on_SwitchCommandRequest(self, msg: Any) -> None:
        self._dev._command(msg.key, EntityKind.SWITCH, {"state": msg.state})

    def _on_LightCommandRequest(self, msg: Any) -> None:
        changes: dict[str, Any] = {}
        if msg.has_state:
            changes["state"] = msg.state
        if msg.has_brightness:
            changes["brightness"] = min(1.0, max(0.0, msg.brightness))
        self._dev._command(msg.key, EntityKind.LIGHT, changes)

    def _on_FanCommandRequest(self, msg: Any) -> None:
        changes: dict[str, Any] = {}
        if msg.has_state:
            changes["state"] = msg.state
        if msg.has_speed_level:
            changes["speed_level"] = msg.speed_level
        self._dev._command(msg.key, EntityKind.FAN, changes)

    def _on_InfraredRFTransmitRawTimingsRequest(self, msg: Any) -> None:
        ok = self._dev._transmit_ir(msg.key, msg.carrier_frequency, msg.repeat_count, msg.timings)
        # API >= 1.18: the node answers every frame once it has left the transmitter
        self._send(pb.InfraredRFTransmitCompleteResponse(
            device_id=msg.device_id, key=msg.key, success=ok
        ))

    def send_ir_received(self, key: int, timings: Sequence[int]) -> None:
        if self.hello_done:
            self._send(pb.InfraredRFReceiveEvent(key=key, timings=list(timings)))

    def _on_ClimateCommandRequest(self, msg: Any) -> None:
        changes: dict[str, Any] = {}
        if msg.has_mode:
            changes["mode"] = msg.mode
        if msg.has_target_temperature:
            changes["target_temperature"] = msg.target_temperature
        self._dev._command(msg.key, EntityKind.CLIMATE, changes)


class EsphomeEmulator:
    """An emulated ESPHome node serving the native API (plaintext or Noise) on TCP."""

    def __init__(
        self,
        name: str = "esphome-node",
        *,
        bind: str = "127.0.0.1",
        port: int = 6053,
        noise_psk: str | None = None,
        password: str | None = None,
        mac: str | None = None,
        friendly_name: str | None = None,
        entities: EntitySet | None = None,
        advertise: bool = False,
        mdns_interfaces: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.bind = bind
        self._port = port
        self.noise_key = decode_psk(noise_psk) if noise_psk is not None else None
        self.password = password
        digest = hashlib.sha256(name.encode()).digest()
        # a locally administered unicast MAC, stable per name
        self.mac = mac.upper() if mac else ":".join(f"{b:02X}" for b in (0x02, *digest[:5]))
        self.friendly_name = friendly_name or name.replace("-", " ").title()
        self.entities = entities or default_entities()
        self._advertise = advertise
        self._mdns_interfaces = mdns_interfaces
        self._states: dict[str, dict[str, Any]] = {
            e.object_id: e.initial_state() for e in self.entities.entities
        }
        self._server: asyncio.Server | None = None
        self._sessions: dict[_Session, asyncio.Task[None]] = {}
        self._adv: NodeAdvertisement | None = None
        self.commands: list[tuple[str, dict[str, Any]]] = []  # (object_id, changes), in order
        self.ir_transmissions: list[IrTransmission] = []  # frames sent, in order
        self.ir_transmit_ok = True  # False: every IR transmit is answered "failed"
        self.connections_total = 0  # TCP connections accepted since construction

    @property
    def mac_hex(self) -> str:
        """The MAC as the mDNS TXT and the noise hello carry it: `aabbccddeeff`."""
        return self.mac.replace(":", "").lower()

    @property
    def port(self) -> int:
        """The TCP port (the real one once started with port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def client_count(self) -> int:
        """Connections that completed the hello."""
        return sum(1 for s in self._sessions if s.hello_done)

    async def start(self) -> None:
        """Listen (and announce over mDNS if asked)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, self.bind, self._port, reuse_address=True
        )
        self._port = self.port
        if self._advertise:
            self._adv = NodeAdvertisement(
                self.name, self.bind, self._port,
                esphome_txt(mac=self.mac, version=ESPHOME_VERSION,
                            friendly_name=self.friendly_name,
                            encrypted=self.noise_key is not None),
                self._mdns_interfaces,
            )
            await self._adv.start()

    async def stop(self) -> None:
        """Stop listening, drop every client and withdraw the mDNS announcement."""
        if self._adv is not None:
            adv, self._adv = self._adv, None
            await adv.stop()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for session in list(self._sessions):
            session.close()
        tasks = list(self._sessions.values())
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._sessions[session] = task
        self.connections_total += 1
        try:
            await session.run()
        finally:
            del self._sessions[session]

    # -- state --------------------------------------------------------------------------
    def state(self, object_id: str) -> dict[str, Any]:
        """A copy of an entity's current state."""
        self.entities.by_object_id(object_id)
        return dict(self._states[object_id])

    def _update(self, entity: EmulatedEntity, changes: Mapping[str, Any]) -> None:
        if not changes:
            return
        self._states[entity.object_id].update(changes)
        for session in self._sessions:
            session.send_state(entity, self._states[entity.object_id])

    def _command(self, key: int, kind: EntityKind, changes: dict[str, Any]) -> None:
        entity = self.entities.by_key(key)
        if entity is None or entity.kind is not kind:
            _LOGGER.info("%s: %s command for unknown key %d", self.name, kind, key)
            return
        self.commands.append((entity.object_id, dict(changes)))
        self._update(entity, changes)

    def _transmit_ir(
        self, key: int, carrier_hz: int, repeat_count: int, timings: Iterable[int]
    ) -> bool:
        entity = self.entities.by_key(key)
        if entity is None or entity.kind is not EntityKind.INFRARED:
            _LOGGER.info("%s: IR transmit for unknown key %d", self.name, key)
            return False
        if not entity.ir_capabilities & IR_TRANSMITTER or not self.ir_transmit_ok:
            return False
        self.ir_transmissions.append(
            IrTransmission(entity.object_id, carrier_hz, repeat_count, tuple(timings))
        )
        return True

    def press_ir(self, timings: Sequence[int], object_id: str | None = None) -> None:
        """A remote pointed at the IR receiver: connected clients get an InfraredRFReceiveEvent.

        `timings` are ESPHome raw (+ mark, - space, µs) as the receiver would report them.
        """
        entity = (
            self.entities.by_object_id(object_id) if object_id else self._first(EntityKind.INFRARED)
        )
        if entity.kind is not EntityKind.INFRARED or not entity.ir_capabilities & IR_RECEIVER:
            raise KeyError(f"{entity.object_id!r} is not an IR receiver")
        for session in self._sessions:
            session.send_ir_received(entity.key, timings)

    def set_sensor(self, object_id: str, value: float) -> None:
        """Set a sensor reading (clients see it at once)."""
        self._set(object_id, EntityKind.SENSOR, {"state": float(value)})

    def set_binary_sensor(self, object_id: str, value: bool) -> None:
        """Set a binary sensor."""
        self._set(object_id, EntityKind.BINARY_SENSOR, {"state": bool(value)})

    def set_switch(self, object_id: str, value: bool) -> None:
        """Flip a switch locally (someone pressed the button on the device)."""
        self._set(object_id, EntityKind.SWITCH, {"state": bool(value)})

    def set_climate_temperature(self, object_id: str, value: float) -> None:
        """Set the temperature a climate entity measures."""
        self._set(object_id, EntityKind.CLIMATE, {"current_temperature": float(value)})

    def _set(self, object_id: str, kind: EntityKind, changes: dict[str, Any]) -> None:
        entity = self.entities.by_object_id(object_id)
        if entity.kind is not kind:
            raise KeyError(f"{object_id!r} is a {entity.kind}, not a {kind}")
        self._update(entity, changes)

    def _first(self, kind: EntityKind) -> EmulatedEntity:
        for e in self.entities.entities:
            if e.kind is kind:
                return e
        raise KeyError(f"{self.name} has no {kind}")

    @property
    def switch_state(self) -> bool:
        """The state of the first switch."""
        return bool(self._states[self._first(EntityKind.SWITCH).object_id]["state"])

    @property
    def light_state(self) -> dict[str, Any]:
        """The state of the first light: {"state": bool, "brightness": 0..1}."""
        return dict(self._states[self._first(EntityKind.LIGHT).object_id])

    async def wait_for_clients(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` clients completed the hello (for tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while self.client_count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {self.client_count} of {count} clients")
            await asyncio.sleep(0.02)

