"""A SKSTACK IP dongle on a serial port: one command at a time, answers matched, events passed on.

    dongle = Dongle("/dev/ttyUSB0", on_message=handle, on_lost=gone)
    await dongle.open()
    version = await dongle.version()
    pans = await dongle.scan(duration=4)
    await dongle.join(await dongle.ll64(pans[0].addr))   # AuthenticationFailed on EVENT 24

Every message is handed to `on_message` (ERXUDP only there); the command waiting for an answer
also sees OK/FAIL, lines and events. A vanished port (USB unplugged, pty closed) fails the
command in flight and calls `on_lost` once.

Errors (all under integrations.errors):
    DongleUnavailable(DeviceUnreachable)   no port, a busy port, no permission, or it vanished
    DongleError(DeviceUnreachable)         FAIL ERxx, or no answer in time
    AuthenticationFailed(CommandFailed)    EVENT 24: the meter refused the B-route ID/password
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import Callable
from typing import Any

import serial
from serial_asyncio_fast import connection_for_serial

from integrations.broute import skstack as sk
from integrations.errors import CommandFailed, DeviceUnreachable, ProtocolError

_LOGGER = logging.getLogger(__name__)

BAUDRATE = 115200
COMMAND_TIMEOUT_S = 5.0
# How long close() waits for the port to be released (a flush to a stuck dongle may hang).
CLOSE_TIMEOUT_S = 2.0
CHANNELS = 28  # the 920 MHz band's channels 33-60, one mask bit each


class DongleUnavailable(DeviceUnreachable):
    """The serial port cannot be used: absent, busy, not permitted, or it went away."""


class DongleError(DeviceUnreachable):
    """The dongle refused a command (FAIL ERxx) or did not answer in time."""


class AuthenticationFailed(CommandFailed):
    """PANA authentication failed (EVENT 24)."""


def scan_time_s(duration: int, channels: int = CHANNELS) -> float:
    """How long SKSCAN listens: 9.6 ms x (2^duration + 1) on each channel of the mask."""
    return 0.0096 * float(2**duration + 1) * channels


def open_error(port: str, err: Exception) -> DongleUnavailable:
    """Translate an OS/pyserial error opening the port into what the user can do about it."""
    code = getattr(err, "errno", None)
    if code is None and isinstance(err.__context__, OSError):
        code = err.__context__.errno
    text = str(err)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return DongleUnavailable(
            f"no Wi-SUN dongle at {port}: plug it in, or set `port` in [integrations.broute] "
            "to where it is (ls /dev/serial/by-id/)"
        )
    if code in (errno.EAGAIN, errno.EBUSY) or "exclusively lock" in text:
        return DongleUnavailable(
            f"the serial port {port} is in use by another program; stop it (another hub, "
            "a terminal, ModemManager) and the hub will take the dongle"
        )
    if code in (errno.EACCES, errno.EPERM):
        return DongleUnavailable(
            f"no permission to open {port}; add the hub's user to the `dialout` group "
            "(sudo usermod -aG dialout $USER) and log in again"
        )
    return DongleUnavailable(f"cannot open the Wi-SUN dongle at {port}: {err}")


class _SerialProtocol(asyncio.Protocol):
    def __init__(self, owner: Dongle, closed: asyncio.Event) -> None:
        self._owner = owner
        self._closed = closed

    def data_received(self, data: bytes) -> None:
        self._owner.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        # The transport calls this after it closed the serial port.
        self._closed.set()
        self._owner.connection_lost(exc)


class Dongle:
    """One SKSTACK IP dongle; see the module docstring."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = BAUDRATE,
        on_message: Callable[[sk.Message], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
        command_timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.on_message = on_message
        self.on_lost = on_lost
        self.command_timeout_s = command_timeout_s
        self.parser = sk.SkStackParser()
        self._transport: asyncio.Transport | None = None
        # Set by the transport once the serial port is really closed (see close()).
        self._port_closed: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self._inbox: asyncio.Queue[sk.Message | Exception] | None = None
        self._sent = ""
        self._lost = False
        self._logged: set[str] = set()

    @property
    def connected(self) -> bool:
        """The port is open and has not vanished."""
        return self._transport is not None and not self._lost

    async def open(self) -> None:
        """Open the port exclusively (a second program gets a clear 'in use' error)."""
        loop = asyncio.get_running_loop()
        try:
            port = await asyncio.to_thread(
                serial.serial_for_url, self.port, baudrate=self.baudrate, exclusive=True
            )
        except (OSError, serial.SerialException, ValueError) as err:
            raise open_error(self.port, err) from err
        port.reset_input_buffer()  # whatever the dongle said before we listened is stale
        self._lost = False
        self.parser = sk.SkStackParser(self.parser.data_format)
        closed = asyncio.Event()
        transport, _ = await connection_for_serial(
            loop, lambda: _SerialProtocol(self, closed), port
        )
        self._transport = transport
        self._port_closed = closed

    async def close(self) -> None:
        """Close the port (no `on_lost`: we chose to)."""
        transport, self._transport = self._transport, None
        closed, self._port_closed = self._port_closed, None
        self._lost = True
        if transport is not None:
            transport.close()
            # The serial transport flushes and closes the port in a background task (two
            # executor hops): until then the exclusive lock is held, and an open right after
            # (hub restart, a new session) would be told the port is in use by another program.
            if closed is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await closed.wait()

    # --- bytes in --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Parse and dispatch (called by the serial transport)."""
        try:
            messages = self.parser.feed(data)
        except ProtocolError as err:
            self._log_once(f"{self.port}: dropped unreadable dongle output: {err}")
            return
        for message in messages:
            if self.on_message is not None and isinstance(message, sk.UdpReceived | sk.Event):
                self.on_message(message)
            if self._inbox is not None and not isinstance(message, sk.UdpReceived):
                self._inbox.put_nowait(message)
            elif not isinstance(message, sk.UdpReceived | sk.Event):
                _LOGGER.debug("%s: unsolicited %s", self.port, message)

    def connection_lost(self, exc: Exception | None) -> None:
        """The port went away (or we closed it)."""
        if self._lost:
            return
        self._lost = True
        self._transport = None
        reason = (
            f"the Wi-SUN dongle at {self.port} stopped answering or was unplugged"
            + (f" ({exc})" if exc else "")
        )
        if self._inbox is not None:
            self._inbox.put_nowait(DongleUnavailable(reason))
        if self.on_lost is not None:
            self.on_lost(reason)

    def _log_once(self, message: str) -> None:
        if message not in self._logged:
            self._logged.add(message)
            _LOGGER.warning(message)

    # --- commands ----------------------------------------------------------------------------

    async def exchange(
        self,
        line: bytes,
        done: Callable[[sk.Message, list[sk.Message]], bool],
        timeout_s: float | None = None,
    ) -> list[sk.Message]:
        """Send one command; collect messages until `done(message, so_far)`; FAIL raises."""
        async with self._lock:
            if not self.connected or self._transport is None:
                raise DongleUnavailable(f"the Wi-SUN dongle at {self.port} is not connected")
            text = sk.redact(line)
            name = text.split(" ", 1)[0]
            inbox: asyncio.Queue[sk.Message | Exception] = asyncio.Queue()
            self._inbox = inbox
            _LOGGER.debug("%s <- %s", self.port, text)
            self._transport.write(line)
            got: list[sk.Message] = []
            limit = self.command_timeout_s if timeout_s is None else timeout_s
            deadline = time.monotonic() + limit
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    async with asyncio.timeout(remaining):
                        message = await inbox.get()
                    if isinstance(message, Exception):
                        raise message
                    if isinstance(message, sk.Line) and message.text.startswith(name):
                        continue  # the dongle echoing the command
                    if isinstance(message, sk.Fail):
                        raise DongleError(
                            f"the Wi-SUN dongle refused {name}: FAIL {message.code} "
                            f"({message.reason})"
                        )
                    got.append(message)
                    if done(message, got):
                        return got
            except TimeoutError:
                raise DongleError(
                    f"the Wi-SUN dongle at {self.port} did not answer {name} within {limit:g} s"
                ) from None
            finally:
                self._inbox = None

    async def simple(self, name: str, *args: str | int, timeout_s: float | None = None) -> Any:
        """A command answered by OK; returns the lines printed before it."""
        got = await self.exchange(sk.command(name, *args), _is_ok, timeout_s)
        return [m.text for m in got if isinstance(m, sk.Line)]

    async def reset(self) -> None:
        """SKRESET, then echo off (SFE 0) so binary payloads never come back as lines."""
        await self.simple("SKRESET")
        await self.simple("SKSREG", "SFE", "0")

    async def version(self) -> str:
        """SKVER: the firmware version (EVER x.y.z)."""
        for text in await self.simple("SKVER"):
            if text.startswith("EVER "):
                return str(text[5:].strip())
        raise DongleError(f"the device at {self.port} does not speak SKSTACK IP (no EVER line)")

    async def data_format(self) -> str:
        """ROPT: how ERXUDP data is printed (hex or binary); the parser follows it."""
        got = await self.exchange(sk.command("ROPT"), _is_ok)
        detail = next((m.detail for m in got if isinstance(m, sk.Ok)), "")
        try:
            self.parser.data_format = "hex" if int(detail, 16) & 0x01 else "binary"
        except ValueError:
            self.parser.data_format = "auto"
        return self.parser.data_format

    async def set_credentials(self, rbid: str, password: str) -> None:
        """SKSETPWD and SKSETRBID (never logged)."""
        await self.exchange(sk.set_password(password), _is_ok)
        await self.exchange(sk.command("SKSETRBID", rbid), _is_ok)

    async def scan(self, duration: int, mask: int = 0xFFFFFFFF) -> list[sk.PanDescription]:
        """An active scan (SKSCAN 2): every PAN that answered, until EVENT 22."""
        timeout = scan_time_s(duration, bin(mask).count("1")) * 1.5 + COMMAND_TIMEOUT_S
        got = await self.exchange(
            sk.command("SKSCAN", 2, f"{mask:08X}", duration),
            lambda m, _: isinstance(m, sk.Event) and m.number == sk.EventNumber.SCAN_DONE,
            timeout,
        )
        return [m for m in got if isinstance(m, sk.PanDescription)]

    async def set_pan(self, pan: sk.PanDescription) -> None:
        """Tune to the PAN's channel (S2) and PAN ID (S3)."""
        await self.simple("SKSREG", "S2", f"{pan.channel:02X}")
        await self.simple("SKSREG", "S3", f"{pan.pan_id:04X}")

    async def ll64(self, mac: str) -> str:
        """SKLL64: the link-local IPv6 address of a MAC (printed alone, without OK)."""
        got = await self.exchange(
            sk.command("SKLL64", sk.parse_mac(mac)), lambda m, _: isinstance(m, sk.Line)
        )
        text = got[-1].text if isinstance(got[-1], sk.Line) else ""
        try:
            return sk.format_ipv6(text.strip())
        except ValueError:
            raise DongleError(f"SKLL64 answered {text!r}, not an IPv6 address") from None

    async def join(self, address: str, timeout_s: float = 30.0) -> None:
        """SKJOIN: PANA authentication with the meter; AuthenticationFailed on EVENT 24."""
        got = await self.exchange(
            sk.command("SKJOIN", sk.format_ipv6(address)),
            lambda m, _: isinstance(m, sk.Event)
            and m.number in (sk.EventNumber.PANA_OK, sk.EventNumber.PANA_FAILED),
            timeout_s,
        )
        last = got[-1]
        if isinstance(last, sk.Event) and last.number == sk.EventNumber.PANA_FAILED:
            raise AuthenticationFailed(
                "the smart meter refused the B-route ID/password (PANA authentication failed, "
                "EVENT 24); check both in the secrets file against the power company's letter "
                "(ID: 32 characters, password: 12)"
            )

    async def sendto(self, address: str, data: bytes, port: int = sk.ECHONET_PORT) -> bool:
        """SKSENDTO on handle 1, encrypted; True when EVENT 21 reported success."""
        target = sk.format_ipv6(address)
        got = await self.exchange(sk.sendto(1, target, port, data), _is_ok)
        results = [  # 02 only says a neighbour solicitation went first; other senders are noise
            m.param for m in got
            if isinstance(m, sk.Event) and m.number == sk.EventNumber.UDP_SENT
            and m.param != 2 and _same_address(m.sender, target)
        ]
        return bool(results) and results[-1] == 0


def _is_ok(message: sk.Message, _: list[sk.Message]) -> bool:
    return isinstance(message, sk.Ok)


def _same_address(a: str, b: str) -> bool:
    try:
        return sk.format_ipv6(a) == sk.format_ipv6(b)
    except ValueError:
        return False
