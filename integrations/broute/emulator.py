"""A Wi-SUN B-route dongle with a smart meter behind it, on a pseudo-terminal.

    dongle = DongleEmulator(rbid="0123...", password="ABCDEFGHIJKL", link=Path("/tmp/wisun0"))
    await dongle.start()
    print(dongle.path)          # point [integrations.broute] port at it
    dongle.expire_session()     # EVENT 29, as when the PANA session lifetime runs out
    await dongle.unplug()       # the USB stick pulled out: the host's port read fails
    await dongle.plug()         # back (a new pty; `link`, if given, follows it)
    await dongle.stop()

The emulated dongle speaks SKSTACK IP like a ROHM BP35A1 (echo on until SKSREG SFE 0, ERXUDP
data binary or hex by WOPT) and takes realistic time: a scan listens 9.6 ms x (2^d + 1) per
channel, PANA authentication about 2.5 s, the meter answers ECHONET requests after ~0.8 s.
`speed` divides every delay (tests use 20-50). Behind it, an ECHONET Lite node (the same
emulator as on a LAN) holds a low-voltage smart meter with currents and 30-minute readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import os
import struct
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from integrations.broute import skstack as sk
from integrations.echonet.emulator import EchonetNode, Meter
from integrations.echonet.frame import Frame, FrameError, decode, encode
from integrations.echonet.transport import FrameHandler, TransportStats

DONGLE_MAC = "001D129012345678"
METER_MAC = "00135001A0B1C2D3"
METER_NODE_ID = b"\xfe\x00\x00\x16" + bytes.fromhex("00135001A0B1C2D3") + b"\x00" * 5
CHANNEL = 0x21  # 33, the first 920 MHz channel
PAN_ID = 0x8888
VERSION = "1.2.10"
METER_TIMEZONE = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True, slots=True)
class Timing:
    """How long the dongle and the meter take (seconds at speed 1)."""

    command_s: float = 0.01  # a simple command's answer
    pana_s: float = 2.5  # SKJOIN to EVENT 25 (several PANA round trips over the air)
    pana_fail_s: float = 4.0  # SKJOIN to EVENT 24 (the PAA gives up)
    send_s: float = 0.06  # SKSENDTO to EVENT 21 (air time at 100 kbit/s plus the ACK)
    meter_s: float = 0.8  # the meter's answer to an ECHONET request
    scan_channel_ms: float = 9.6  # one SKSCAN slot: x (2^duration + 1) per channel


class BrouteMeter(Meter):
    """The smart meter as the B-route shows it: currents (E8) and 30-minute readings (EA/EB)."""

    power_w: float | None = None  # pinned by a test; the daily load curve otherwise

    def load_w(self, hour: float) -> float:  # type: ignore[override]
        """The pinned power, or the household curve."""
        return Meter.load_w(hour) if self.power_w is None else self.power_w

    def initial(self) -> dict[int, bytes]:
        """The LAN meter's values plus currents and the last fixed-time readings."""
        values = super().initial()
        now = self.clock()
        self._fixed_at = now - now % 1800
        self._fixed = (self.energy_kwh, self.export_kwh)
        values[0xE8] = bytes(4)
        values[0xEA] = self._fixed_edt(self._fixed_at, self.energy_kwh)
        values[0xEB] = self._fixed_edt(self._fixed_at, self.export_kwh)
        return values

    @staticmethod
    def _fixed_edt(at: float, kwh: float) -> bytes:
        t = dt.datetime.fromtimestamp(at, METER_TIMEZONE)  # Japanese meters keep JST
        count = int(kwh * 10) % 1_000_000  # 0.1 kWh units, 6 digits (E1 = 01, D7 = 6)
        return struct.pack(">HBBBBBI", t.year, t.month, t.day, t.hour, t.minute, 0, count)

    def simulate(self, now: float, dt: float) -> None:
        """Power, energy, R/T currents at 100 V; a new fixed reading every half hour."""
        super().simulate(now, dt)
        power = int.from_bytes(self.values[0xE7], "big", signed=True)
        r, t = power * 0.55 / 100, power * 0.45 / 100
        self.values[0xE8] = struct.pack(">hh", round(r * 10), round(t * 10))
        boundary = now - now % 1800
        if boundary > self._fixed_at:
            self._fixed_at = boundary
            self.values[0xEA] = self._fixed_edt(boundary, self.energy_kwh)
            self.values[0xEB] = self._fixed_edt(boundary, self.export_kwh)


class _MeterLink:
    """The meter node's side of the radio: frames go out as ERXUDP through the dongle."""

    name = "b-route meter"
    multicast_ok = False

    def __init__(self, dongle: DongleEmulator, on_frame: FrameHandler) -> None:
        self.dongle = dongle
        self.on_frame = on_frame
        self.stats = TransportStats()

    async def start(self) -> None:
        """Nothing to open: the radio is the dongle."""

    def send(self, frame: Frame, host: str) -> None:
        """An answer or INF to the host (the dongle's address), after the meter's delay."""
        self.stats.sent += 1
        self.dongle.meter_says(encode(frame))

    def send_multicast(self, frame: Frame) -> None:
        """Meters announce to the joined controller only."""
        if self.dongle.session:
            self.send(frame, self.dongle.address)

    def log_once(self, key: str, message: str) -> None:
        """Malformed frames are a test bug here: keep the last one for inspection."""
        self.dongle.last_error = message

    async def close(self) -> None:
        """Nothing to close."""

    def deliver(self, data: bytes, sender: str) -> None:
        """A datagram from the dongle (SKSENDTO to port 3610)."""
        self.stats.received += 1
        try:
            frame = decode(data)
        except FrameError as err:
            self.log_once(sender, f"bad frame: {err}")
            return
        self.on_frame(frame, sender)


class DongleEmulator:
    """One emulated SKSTACK IP dongle on a pty, with a meter in reach (see module docstring)."""

    def __init__(
        self,
        *,
        rbid: str,
        password: str,
        link: Path | None = None,
        speed: float = 1.0,
        timing: Timing | None = None,
        channel: int = CHANNEL,
        pan_id: int = PAN_ID,
        meter_mac: str = METER_MAC,
        dongle_mac: str = DONGLE_MAC,
        hex_data: bool = False,
        session_lifetime_s: float | None = None,
        meter_in_range: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rbid = rbid
        self.password = password
        self.link = link
        self.speed = speed
        self.timing = timing or Timing()
        self.channel = channel
        self.pan_id = pan_id
        self.meter_mac = sk.parse_mac(meter_mac)
        self.dongle_mac = sk.parse_mac(dongle_mac)
        self.address = sk.link_local(self.dongle_mac)
        self.meter_address = sk.link_local(self.meter_mac)
        self.default_hex = hex_data
        self.session_lifetime_s = session_lifetime_s
        self.meter_in_range = meter_in_range
        self._radio: _MeterLink | None = None
        self.meter = BrouteMeter(1, clock=clock)
        self.node = EchonetNode(
            objects=[self.meter], node_id=METER_NODE_ID, clock=clock,
            link=lambda on_frame: self._meter_link(on_frame),
        )
        self.path = ""
        self.commands: list[str] = []  # every command received, secrets redacted
        self.joins = 0
        self.scans = 0
        self.last_error = ""
        self._master: int | None = None
        self._holder: int | None = None  # our own slave fd: the tty never loses its last opener
        self._inbuf = bytearray()
        self._outbuf = bytearray()
        self._tasks: set[asyncio.Task[None]] = set()
        self._expiry: asyncio.TimerHandle | None = None
        self._reset_state()

    def _meter_link(self, on_frame: FrameHandler) -> _MeterLink:
        self._radio = _MeterLink(self, on_frame)
        return self._radio

    def _reset_state(self) -> None:
        self.echo = True
        self.hex_data = self.default_hex
        self.registers: dict[str, str] = {"S2": "21", "S3": "FFFF"}
        self.set_rbid = ""
        self.set_password = ""
        self.session = False
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the pty and start the meter."""
        await self.node.start()
        self._open_pty()

    async def stop(self) -> None:
        """Close everything."""
        self._close_pty()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.node.stop()
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    async def unplug(self) -> None:
        """Pull the stick out: the pty goes away, the host's reads fail."""
        self._close_pty()
        await asyncio.sleep(0)

    async def plug(self) -> None:
        """Plug it back in: a fresh dongle (no session, default registers) on a new pty."""
        self._open_pty()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # before anyone opens it: no echo, no CR/LF translation
        os.set_blocking(master, False)
        self._master, self._holder = master, slave
        self.path = os.ttyname(slave)
        self._inbuf.clear()
        self._outbuf.clear()
        self._reset_state()
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.path)
            tmp.replace(self.link)
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _close_pty(self) -> None:
        self._reset_state()
        if self._master is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._master)
        loop.remove_writer(self._master)
        for fd in (self._master, self._holder):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._holder = None

    @property
    def plugged(self) -> bool:
        """Whether the pty exists."""
        return self._master is not None

    # --- bytes ------------------------------------------------------------------------------

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno == errno.EIO:
                return
            raise
        self._inbuf += data
        while self._next_command():
            pass

    def write(self, data: bytes) -> None:
        """Bytes from the dongle to the host (buffered while the host does not read)."""
        if self._master is None:
            return
        self._outbuf += data
        self._flush()

    def _flush(self) -> None:
        if self._master is None:
            return
        loop = asyncio.get_running_loop()
        while self._outbuf:
            try:
                sent = os.write(self._master, self._outbuf)
            except BlockingIOError:
                loop.add_writer(self._master, self._flush)
                return
            except OSError:
                self._outbuf.clear()
                return
            del self._outbuf[:sent]
        loop.remove_writer(self._master)

    def later(self, delay_s: float, data: bytes | Callable[[], None]) -> None:
        """Write (or run) something after a delay scaled by `speed`."""
        master = self._master

        async def run() -> None:
            await asyncio.sleep(delay_s / self.speed)
            if self._master is not master:
                return  # unplugged meanwhile
            if callable(data):
                data()
            else:
                self.write(data)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_command(self) -> bool:
        buf = self._inbuf
        if buf.startswith(b"SKSENDTO "):
            return self._take_sendto()
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > 1024:
                buf.clear()
                self.write(b"FAIL ER09\r\n")
            return False
        line = bytes(buf[:end]).decode("ascii", "replace")
        del buf[:end + 2]
        if line:
            self._command(line)
        return True

    def _take_sendto(self) -> bool:
        head = self._inbuf.split(b" ", 6)
        if len(head) < 7:
            return False  # wait for the whole header
        try:
            size = int(head[5], 16)
        except ValueError:
            self._drop_line()
            self.write(b"FAIL ER06\r\n")
            return True
        start = sum(len(part) + 1 for part in head[:6])
        if len(self._inbuf) < start + size:
            return False
        data = bytes(self._inbuf[start:start + size])
        del self._inbuf[:start + size]
        fields = [part.decode("ascii", "replace") for part in head[:6]]
        self._sendto(fields, data)
        return True

    def _drop_line(self) -> None:
        end = self._inbuf.find(b"\r\n")
        del self._inbuf[:end + 2 if end >= 0 else len(self._inbuf)]

    # --- commands ---------------------------------------------------------------------------

    def _reply(self, *lines: str, delay_s: float | None = None) -> None:
        data = b"".join(line.encode("ascii") + sk.CRLF for line in lines)
        self.later(self.timing.command_s if delay_s is None else delay_s, data)

    def _command(self, line: str) -> None:
        name, *args = line.split(" ")
        self.commands.append(sk.redact(line.encode()))
        if self.echo:
            self.write(line.encode("ascii") + sk.CRLF)
        handler = getattr(self, f"_cmd_{name.lower()}", None)
        if handler is None:
            self._reply("FAIL ER04")
            return
        try:
            handler(args)
        except (ValueError, IndexError):
            self._reply("FAIL ER06")

    def _cmd_skreset(self, args: list[str]) -> None:
        self._reset_state()
        self._reply("OK")

    def _cmd_sksreg(self, args: list[str]) -> None:
        register = args[0].upper()
        if register.startswith("S") and len(register) == 2 and register[1].isdigit():
            register = "S0" + register[1]  # S2 and S02 are the same register
        if len(args) == 1:
            value = self.registers.get(register, "0")
            self._reply(f"ESREG {value}", "OK")
            return
        if register == "SFE":
            self.echo = args[1] == "1"
        self.registers[register] = args[1].upper()
        self._reply("OK")

    def _cmd_skver(self, args: list[str]) -> None:
        self._reply(f"EVER {VERSION}", "OK")

    def _cmd_skappver(self, args: list[str]) -> None:
        self._reply("EAPPVER rev26e", "OK")

    def _cmd_ropt(self, args: list[str]) -> None:
        self._reply(f"OK {1 if self.hex_data else 0:02X}")

    def _cmd_wopt(self, args: list[str]) -> None:
        self.hex_data = bool(int(args[0], 16) & 1)
        self._reply("OK")

    def _cmd_sksetpwd(self, args: list[str]) -> None:
        length, password = int(args[0], 16), args[1]
        if not 1 <= length <= 32 or len(password) != length:
            self._reply("FAIL ER06")
            return
        self.set_password = password
        self._reply("OK")

    def _cmd_sksetrbid(self, args: list[str]) -> None:
        if len(args[0]) != 32:
            self._reply("FAIL ER06")
            return
        self.set_rbid = args[0]
        self._reply("OK")

    def _cmd_skinfo(self, args: list[str]) -> None:
        self._reply(
            f"EINFO {self.address} {self.dongle_mac} {self.registers['S02']} "
            f"{self.registers['S03']} FFFE", "OK",
        )

    def _cmd_skscan(self, args: list[str]) -> None:
        mode, mask, duration = int(args[0]), int(args[1], 16), int(args[2], 16)
        if mode not in (0, 2, 3) or not 0 <= duration <= 14 or not mask:
            self._reply("FAIL ER06")
            return
        self.scans += 1
        self._reply("OK")
        slot_s = self.timing.scan_channel_ms / 1000 * (2**duration + 1)
        channels = [33 + bit for bit in range(32) if mask >> bit & 1 and 33 + bit <= 60]
        if self.meter_in_range and self.channel in channels and duration >= 3:
            at = slot_s * (channels.index(self.channel) + 1)
            pan = sk.PanDescription(self.channel, 9, self.pan_id, self.meter_mac, 0xE1,
                                    self.rbid[-8:])
            self.later(at, sk.format_event(sk.EventNumber.BEACON, self.address)
                       + sk.format_pandesc(pan))
        self.later(slot_s * len(channels), sk.format_event(sk.EventNumber.SCAN_DONE,
                                                            self.address))

    def _cmd_skll64(self, args: list[str]) -> None:
        self._reply(sk.link_local(args[0]))

    def _cmd_skjoin(self, args: list[str]) -> None:
        target = sk.format_ipv6(args[0])
        if self.session:
            self._reply("FAIL ER10")
            return
        self._join(target)

    def _cmd_skrejoin(self, args: list[str]) -> None:
        self._join(self.meter_address)

    def _join(self, target: str) -> None:
        self._reply("OK")
        tuned = (
            int(self.registers.get("S02", "0"), 16) == self.channel
            and int(self.registers.get("S03", "0"), 16) == self.pan_id
        )
        reachable = self.meter_in_range and tuned and target == self.meter_address
        accepted = self.set_rbid == self.rbid and self.set_password == self.password
        ns = sk.format_event(sk.EventNumber.UDP_SENT, target, 2)
        if not (reachable and accepted):
            self.later(self.timing.pana_fail_s, ns + sk.format_event(
                sk.EventNumber.PANA_FAILED, self.address))
            return
        pana = sk.UdpReceived(target, self.address, sk.PANA_PORT, sk.PANA_PORT,
                              self.meter_mac, False, b"\x00")
        steps = self.timing.pana_s / 4
        self.later(steps, ns + sk.format_event(sk.EventNumber.NA_RECEIVED, self.address))
        self.later(2 * steps, sk.format_erxudp(pana, hex_data=self.hex_data)
                   + sk.format_event(sk.EventNumber.UDP_SENT, target, 0))
        self.later(3 * steps, sk.format_erxudp(pana, hex_data=self.hex_data))
        self.later(self.timing.pana_s, self._established)

    def _established(self) -> None:
        self.session = True
        self.joins += 1
        self.write(sk.format_event(sk.EventNumber.PANA_OK, self.meter_address))
        if self.session_lifetime_s is not None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(self.session_lifetime_s / self.speed,
                                           self.expire_session)

    def _cmd_skterm(self, args: list[str]) -> None:
        if not self.session:
            self._reply("FAIL ER10")
            return
        self.session = False
        self._reply("OK")
        self.later(self.timing.command_s * 5,
                   sk.format_event(sk.EventNumber.TERMINATED, self.meter_address))

    def _sendto(self, fields: list[str], data: bytes) -> None:
        self.commands.append(" ".join(fields) + " <data>")
        if self.echo:
            self.write(" ".join(fields).encode("ascii") + sk.CRLF)
        try:
            handle, target, port, secured = int(fields[1]), sk.format_ipv6(fields[2]), \
                int(fields[3], 16), fields[4] != "0"
        except ValueError:
            self._reply("FAIL ER06")
            return
        if not 1 <= handle <= 6:
            self._reply("FAIL ER06")
            return
        delivered = self.session and secured and target == self.meter_address
        result = sk.format_event(sk.EventNumber.UDP_SENT, target, 0 if delivered else 1)
        self.later(self.timing.send_s, result + b"OK\r\n")
        if delivered and port == sk.ECHONET_PORT and self._radio is not None:
            radio = self._radio
            self.later(self.timing.send_s, lambda: radio.deliver(data, self.address))

    # --- the meter's side -------------------------------------------------------------------

    def meter_says(self, data: bytes) -> None:
        """An ECHONET frame from the meter, arriving as ERXUDP after the meter's delay."""
        if not self.session:
            return
        udp = sk.UdpReceived(self.meter_address, self.address, sk.ECHONET_PORT,
                             sk.ECHONET_PORT, self.meter_mac, True, data)
        self.later(self.timing.meter_s, lambda: self._radio_to_host(udp))

    def _radio_to_host(self, udp: sk.UdpReceived) -> None:
        if self.session:  # a session that expired meanwhile loses the answer
            self.write(sk.format_erxudp(udp, hex_data=self.hex_data))

    def expire_session(self) -> None:
        """The PANA session lifetime ran out: EVENT 29, and the meter stops answering."""
        if not self.session:
            return
        self.session = False
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self.write(sk.format_event(sk.EventNumber.SESSION_EXPIRED, self.meter_address))

    def set_power(self, watts: float | None) -> None:
        """Pin the meter's instantaneous power (tests); None returns to the load curve."""
        self.meter.power_w = watts
