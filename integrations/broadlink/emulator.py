"""A Broadlink RM IR blaster on a real UDP socket, good enough for the real `broadlink` library.

    em = BroadlinkEmulator(bind="127.0.0.20", model="rm4pro")
    await em.start()
    ...                      # broadlink.hello("127.0.0.20").auth(); dev.send_data(code)
    em.sent                  # IR packets the device was asked to send
    em.press(code)           # a remote button pressed at the blaster while it is learning
    await em.stop()

It answers hello probes, auth (0x65, default key -> a per-device key and id) and the 0x6A
sub-commands of IR remotes: send, enter learning, check data and sensors. Malformed datagrams are
counted in `rejected` and dropped; the emulator keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from integrations.broadlink import packet as pk

_LOG = logging.getLogger(__name__)

ERR_STRUCTURE = -6


@dataclass(frozen=True, slots=True)
class Model:
    """A blaster model the emulator can pretend to be."""

    key: str  # short name used by the CLI
    devtype: int
    name: str  # as python-broadlink's SUPPORTED_TYPES calls it
    length_prefix: bool  # RM4-class firmware frames 0x6A payloads with a LE16 length
    sensors: str  # "rm4" (0x24: temperature + humidity), "rmpro" (0x01: temperature), ""


MODELS: dict[str, Model] = {
    m.key: m
    for m in (
        Model("rm4mini", 0x51DA, "RM4 mini", True, "rm4"),
        Model("rm4pro", 0x520B, "RM4 pro", True, "rm4"),
        Model("rmminib", 0x5F36, "RM mini 3", True, ""),
        Model("rmmini3", 0x2737, "RM mini 3", False, ""),
        Model("rmpro", 0x2787, "RM pro", False, "rmpro"),
    )
}
MODELS_BY_DEVTYPE: dict[int, Model] = {m.devtype: m for m in MODELS.values()}


def model_for(devtype: int) -> Model | None:
    """The emulated model with this devtype, if any."""
    return MODELS_BY_DEVTYPE.get(devtype)


class BroadlinkEmulator(asyncio.DatagramProtocol):
    """One emulated RM device listening on (bind, port)."""

    def __init__(
        self,
        bind: str = "127.0.0.20",
        port: int = pk.PORT,
        *,
        model: str = "rm4mini",
        devtype: int | None = None,
        mac: bytes | None = None,
        name: str = "Emulated RM",
        firmware: int = 55,
        locked: bool = False,
        auto_press: Iterable[bytes] = (),
        auto_press_delay: float = 2.0,
    ) -> None:
        if model not in MODELS:
            known = ", ".join(MODELS)
            raise ValueError(f"unknown Broadlink model {model!r}; choose one of {known}")
        self.model = MODELS[model]
        # another product id of the same family (e.g. 0x6539 RM4C mini) behaves like `model`
        self.devtype = self.model.devtype if devtype is None else devtype
        self.bind = bind
        self.port = port
        self.mac = mac if mac is not None else b"\x34\xea\x34" + os.urandom(3)
        self.name = name
        self.firmware = firmware
        self.locked = locked  # locked in the Broadlink app: hello says so, auth is refused
        self.temperature = 23.45
        self.humidity = 41.5
        self.sent: list[bytes] = []  # IR/RF packets received through sub-command 0x02
        self.rejected: list[str] = []  # reasons for dropped datagrams
        self.learning = False
        self.unresponsive = False  # drop everything, as a device that went away
        self.auth_count = 0
        self._capture: bytes | None = None
        self._auto_press = list(auto_press)
        self._auto_press_delay = auto_press_delay
        self._auto_task: asyncio.Task[None] | None = None
        self._key = secrets.token_bytes(16)
        self._device_id = 0  # 0: no session yet
        self._transport: asyncio.DatagramTransport | None = None
        self._closed: asyncio.Future[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the UDP socket."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.bind, self.port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        """Close the socket and stop any pending auto-press."""
        if self._auto_task is not None:
            self._auto_task.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
            if self._closed is not None:
                await self._closed  # the socket closes on a later loop turn; rebinding needs it

    async def __aenter__(self) -> BroadlinkEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- test controls ------------------------------------------------------------------------

    @property
    def mac_text(self) -> str:
        """MAC as aa:bb:cc:dd:ee:ff."""
        return pk.format_mac(self.mac)

    def press(self, code: bytes) -> None:
        """A button pressed at the blaster: the next check_data while learning returns `code`."""
        self._capture = bytes(code)

    def reset_sessions(self) -> None:
        """Forget the session key, as after a power cycle: clients must auth again."""
        self._key = secrets.token_bytes(16)
        self._device_id = 0

    # --- protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self._transport = cast(asyncio.DatagramTransport, transport)
        self._closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is closed; `stop` may return."""
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """Answer one datagram; malformed input is recorded and dropped."""
        if self.unresponsive:
            return
        try:
            reply = self._handle(data)
        except pk.PacketError as err:
            self.rejected.append(err.reason)
            _LOG.debug("dropped datagram from %s: %s", addr, err.reason)
            return
        except Exception as err:  # an emulator bug must not close the socket for every client
            self.rejected.append(f"internal error: {err!r}")
            _LOG.exception("Broadlink emulator failed on a datagram from %s", addr)
            return
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)

    def _handle(self, data: bytes) -> bytes | None:
        if pk.is_discovery_request(data):
            pk.decode_discovery_request(data)
            return pk.encode_discovery_reply(
                pk.DiscoveryReply(self.devtype, self.mac, self.name, self.locked, self.bind)
            )
        if len(data) == pk.DISCOVERY_SIZE and data[0x26] == 0x01:
            return None  # watchdog ping: no answer
        frame = pk.decode_frame(data)
        head = frame.header
        if head.command == pk.CMD_AUTH:
            pk.open_payload(frame, pk.DEFAULT_KEY)
            if self.locked:
                return self._reply(head, pk.REPLY_AUTH, b"", pk.DEFAULT_KEY, pk.ERR_AUTH)
            if self._device_id == 0:
                self._device_id = secrets.randbelow(0xFFFFFFFE) + 1
            self.auth_count += 1
            body = pk.encode_auth_reply(self._device_id, self._key)
            return self._reply(head, pk.REPLY_AUTH, body, pk.DEFAULT_KEY)
        if head.command != pk.CMD_REMOTE:
            return self._reply(head, pk.REPLY_DATA, b"", self._key, pk.ERR_NOT_SUPPORTED)
        if self._device_id == 0 or head.device_id != self._device_id:
            return self._reply(head, pk.REPLY_DATA, b"", self._key, pk.ERR_KEY_EXPIRED)
        plain = pk.open_payload(frame, self._key)
        if not plain:
            raise pk.PacketError("0x6A command without a payload")
        if plain[0] == pk.FIRMWARE_QUERY and not any(plain[1:4]):
            body = bytes(4) + self.firmware.to_bytes(2, "little")
            return self._reply(head, pk.REPLY_DATA, body, self._key)
        request = pk.decode_remote(plain, length_prefix=self.model.length_prefix)
        error, data_out = self._remote(request)
        body = (
            pk.encode_remote(pk.RemoteMessage(request.subcommand, data_out),
                             length_prefix=self.model.length_prefix)
            if error == 0
            else b""
        )
        return self._reply(head, pk.REPLY_DATA, body, self._key, error)

    def _remote(self, request: pk.RemoteMessage) -> tuple[int, bytes]:
        sub = request.subcommand
        if sub == pk.SUB_SEND:
            try:
                code = pk.trim_code(request.data)
            except pk.PacketError as err:
                self.rejected.append(err.reason)
                return ERR_STRUCTURE, b""
            self.sent.append(code)
            return 0, b""
        if sub == pk.SUB_LEARN:
            self.learning = True
            self._capture = None
            self._schedule_auto_press()
            return 0, b""
        if sub == pk.SUB_CHECK_DATA:
            if not self.learning or self._capture is None:
                return pk.ERR_READ, b""
            code, self._capture, self.learning = self._capture, None, False
            return 0, code
        if sub == pk.SUB_RM4_SENSORS and self.model.sensors == "rm4":
            return 0, self._rm4_sensors()
        if sub == pk.SUB_SENSORS:
            return 0, self._legacy_info()
        return pk.ERR_NOT_SUPPORTED, b""

    def _rm4_sensors(self) -> bytes:
        t_int, t_frac = divmod(round(self.temperature * 100), 100)
        h_int, h_frac = divmod(round(self.humidity * 100), 100)
        return bytes([t_int & 0xFF, t_frac, h_int, h_frac])

    def _legacy_info(self) -> bytes:
        # 0x01 answers both rmpro.check_sensors (temperature at 0..1) and rmmini.update
        # (name from 0x48, lock flag at 0x87) in one layout.
        info = bytearray(0x88)
        t_int, t_frac = divmod(round(self.temperature * 10), 10)
        info[0:2] = bytes([t_int & 0xFF, t_frac])
        name = self.name.encode("utf-8")[:0x3E]
        info[0x48 : 0x48 + len(name)] = name
        return bytes(info)

    def _schedule_auto_press(self) -> None:
        if not self._auto_press:
            return
        code = self._auto_press.pop(0)
        self._auto_press.append(code)  # cycle through the prepared captures
        if self._auto_task is not None:
            self._auto_task.cancel()
        self._auto_task = asyncio.get_running_loop().create_task(self._press_later(code))

    async def _press_later(self, code: bytes) -> None:
        await asyncio.sleep(self._auto_press_delay)
        if self.learning:
            self.press(code)

    def _reply(
        self, head: pk.CommandHeader, command: int, body: bytes, key: bytes, error: int = 0
    ) -> bytes:
        header = pk.CommandHeader(
            devtype=self.devtype,
            command=command,
            counter=head.counter,
            mac=self.mac,
            device_id=self._device_id,
            error=error,
        )
        return pk.encode_command(header, body, key)
