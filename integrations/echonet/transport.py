"""ECHONET Lite UDP transport: sockets on port 3610, multicast group 224.0.23.0, frame decoding.

Devices answer to the sender's IP on port 3610, so both ends bind 3610. On one host, bind each
end to its own loopback address (controller 127.0.0.2, emulated nodes 127.0.0.x): unicast goes
to the most specific binding. A socket bound to a unicast address never sees multicast, so when
multicast is wanted and the bind address is specific, a second socket bound to the group address
receives it. Malformed datagrams are logged once per (sender, reason) and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from integrations.echonet.frame import Frame, FrameError, decode, encode
from integrations.errors import ProtocolError

_LOGGER = logging.getLogger(__name__)

PORT = 3610
MULTICAST_GROUP = "224.0.23.0"
_WILDCARDS = ("", "0.0.0.0")
_MAX_LOGGED = 256  # distinct malformed-datagram reasons remembered for deduplication

FrameHandler = Callable[[Frame, str], None]


@dataclass
class TransportStats:
    """Datagram counters (benchmarks count round trips with them)."""

    sent: int = 0
    received: int = 0
    malformed: int = 0


class FrameLink(Protocol):
    """What carries ECHONET Lite frames for a controller or a node: UDP on a LAN
    (`EchonetTransport`), or a Wi-SUN B-route dongle (integrations.broute). Hosts are the
    addresses the link uses (IPv4 text on a LAN, IPv6 link-local text over Wi-SUN)."""

    name: str
    stats: TransportStats
    multicast_ok: bool

    async def start(self) -> None:
        """Begin carrying frames."""

    def send(self, frame: Frame, host: str) -> None:
        """Queue one frame to a host; DeviceUnreachable when the link cannot carry it now."""

    def send_multicast(self, frame: Frame) -> None:
        """Send to every node the link reaches."""

    def log_once(self, key: str, message: str) -> None:
        """Log a warning once per (key, message)."""

    async def close(self) -> None:
        """Stop carrying frames."""


# Builds a link that hands every decoded frame to the given handler.
LinkFactory = Callable[[FrameHandler], FrameLink]


def sockets_bound_at(host: str, port: int = PORT) -> int | None:
    """How many UDP sockets of this network namespace are bound to exactly host:port.

    Both ends set SO_REUSEADDR (a controller on 0.0.0.0 and nodes on 127.0.0.x share 3610), so
    a second bind to a taken address succeeds and silently steals the first one's unicast.
    Linux lists the sockets in /proc/net/udp; elsewhere the answer is None (unknown).
    """
    packed = struct.unpack("=I", socket.inet_aton(host))[0]
    wanted = f"{packed:08X}:{port:04X}"
    try:
        with open("/proc/net/udp", encoding="ascii") as table:
            return sum(1 for line in table if line.split()[1:2] == [wanted])
    except OSError:
        return None


def free_addresses(count: int, first: str = "127.0.0.60", port: int = PORT) -> list[str]:
    """`count` loopback addresses from `first` up where nothing is bound to `port` yet."""
    start = struct.unpack("!I", socket.inet_aton(first))[0]
    found: list[str] = []
    for n in range(start, min(start + 4096, 0x7F_FF_FF_FF)):
        address = socket.inet_ntoa(struct.pack("!I", n))
        if n & 0xFF in (0, 255):
            continue
        if not sockets_bound_at(address, port):
            found.append(address)
            if len(found) == count:
                return found
    raise OSError(f"no free loopback address for UDP {port} from {first} on")


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, owner: EchonetTransport) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        self._owner.datagram_received(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        self._owner.log_once("socket", f"socket error: {exc}")


class EchonetTransport:
    """Send and receive ECHONET Lite frames on one address; hand decoded frames to `on_frame`."""

    def __init__(
        self,
        on_frame: FrameHandler,
        *,
        bind: str = "0.0.0.0",
        port: int = PORT,
        multicast: bool = False,
        name: str = "echonet",
    ) -> None:
        self._on_frame = on_frame
        self.bind = bind
        self.port = port
        self.multicast_wanted = multicast
        self.multicast_ok = False
        self.name = name
        self.stats = TransportStats()
        self._transports: list[asyncio.DatagramTransport] = []
        self._main: asyncio.DatagramTransport | None = None
        self._logged: set[tuple[str, str]] = set()

    async def start(self) -> None:
        """Open the sockets. Raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        main_sock = self._socket((self.bind, self.port))
        if self.multicast_wanted:
            self._enable_multicast_send(main_sock)
        transport, _ = await loop.create_datagram_endpoint(lambda: _Receiver(self), sock=main_sock)
        self._main = transport
        self._transports.append(transport)
        if self.multicast_wanted:
            await self._join_group(loop, main_sock)

    def _socket(self, addr: tuple[str, int]) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setblocking(False)
            sock.bind(addr)
        except OSError:
            sock.close()
            raise
        return sock

    def _interface(self) -> bytes:
        return socket.inet_aton("0.0.0.0" if self.bind in _WILDCARDS else self.bind)

    def _enable_multicast_send(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        # Loop back so that other nodes on this host (emulators, a second hub) hear us too.
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        if self.bind not in _WILDCARDS:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, self._interface())

    async def _join_group(self, loop: asyncio.AbstractEventLoop, main: socket.socket) -> None:
        mreq = struct.pack("=4s4s", socket.inet_aton(MULTICAST_GROUP), self._interface())
        try:
            if self.bind in _WILDCARDS:
                main.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            else:
                group_sock = self._socket((MULTICAST_GROUP, self.port))
                try:
                    group_sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
                except OSError:
                    group_sock.close()
                    raise
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Receiver(self), sock=group_sock
                )
                self._transports.append(transport)
        except OSError as err:
            _LOGGER.warning(
                "%s: cannot join multicast group %s on %s (%s); discovery will use the "
                "configured hosts only - list the devices' addresses under `hosts`",
                self.name, MULTICAST_GROUP, self.bind, err,
            )
            return
        self.multicast_ok = True

    def send(self, frame: Frame, host: str) -> None:
        """Send one frame to host:port (unicast or the multicast group)."""
        if self._main is None:
            raise ProtocolError(f"{self.name}: transport is not started")
        self._main.sendto(encode(frame), (host, self.port))
        self.stats.sent += 1

    def send_multicast(self, frame: Frame) -> None:
        """Send one frame to 224.0.23.0 (errors such as no multicast route are logged once)."""
        self.send(frame, MULTICAST_GROUP)

    def datagram_received(self, data: bytes, host: str) -> None:
        """Decode and dispatch one datagram; malformed ones are logged once and dropped."""
        self.stats.received += 1
        try:
            frame = decode(data)
        except FrameError as err:
            self.stats.malformed += 1
            self.log_once(host, f"dropped malformed datagram from {host}: {err}")
            return
        try:
            self._on_frame(frame, host)
        except ProtocolError as err:
            self.stats.malformed += 1
            self.log_once(host, f"dropped frame from {host} that does not make sense: {err}")

    def log_once(self, key: str, message: str) -> None:
        """Log a warning the first time this (key, message) is seen."""
        entry = (key, message)
        if entry in self._logged:
            return
        if len(self._logged) >= _MAX_LOGGED:
            self._logged.clear()
        self._logged.add(entry)
        _LOGGER.warning("%s: %s", self.name, message)

    async def close(self) -> None:
        """Close every socket."""
        for transport in self._transports:
            transport.close()
        self._transports.clear()
        self._main = None
        await asyncio.sleep(0)  # let the loop run the transports' close callbacks
