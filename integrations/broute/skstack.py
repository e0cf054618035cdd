"""SKSTACK IP, the serial command set of Wi-SUN B-route dongles (ROHM BP35A1, Ratoc RS-WSUHA,
Tessera RL7023): messages, a byte-stream parser and command formatting. No I/O.

The dongle speaks ASCII lines ending CRLF at 115200 baud. A command is answered `OK` or
`FAIL ERxx`; events arrive at any time:

    EVENT 20 FE80:0000:0000:0000:021D:1290:0003:C890        a beacon (followed by EPANDESC)
    EPANDESC                                                  a PAN found by SKSCAN
      Channel:21
      Channel Page:09
      Pan ID:8888
      Addr:12345678ABCDEF01
      LQI:E1
      PairID:00AABBCC
    EVENT 22 FE80:...                                         scan finished
    EVENT 25 FE80:...                                         PANA session established
    ERXUDP <sender> <dest> <rport> <lport> <senderlla> <secured> <datalen> <data>

ERXUDP data is binary (exactly `datalen` bytes) or hex text (2 x `datalen` characters),
as the dongle's WOPT register says; the parser reads either.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import IntEnum

from integrations.errors import ProtocolError

CRLF = b"\r\n"
ECHONET_PORT = 0x0E1A  # UDP 3610
PANA_PORT = 0x02CC  # UDP 716
MAX_LINE = 4096  # a line this long without CRLF is noise, not the dongle
_HEX = re.compile(rb"[0-9A-Fa-f]*")
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
_ERXUDP_FIELDS = 7  # sender dest rport lport senderlla secured datalen


class EventNumber(IntEnum):
    """EVENT numbers (printed in hex by the dongle)."""

    NS_RECEIVED = 0x01  # neighbour solicitation received
    NA_RECEIVED = 0x02  # neighbour advertisement received
    ECHO_REQUEST = 0x05
    ED_SCAN_DONE = 0x1F
    BEACON = 0x20  # an EPANDESC block follows
    UDP_SENT = 0x21  # param 00 success, 01 failure, 02 neighbour solicitation sent
    SCAN_DONE = 0x22
    PANA_FAILED = 0x24  # PANA authentication failed (wrong ID/password, or no answer)
    PANA_OK = 0x25  # PANA session established
    TERMINATION_REQUESTED = 0x26
    TERMINATED = 0x27
    TERMINATION_TIMED_OUT = 0x28
    SESSION_EXPIRED = 0x29  # the session lifetime ran out: authenticate again
    TX_LIMIT_ON = 0x32  # ARIB STD-T108 transmit-time limit reached: the dongle stays silent
    TX_LIMIT_OFF = 0x33
    WAKE_UP = 0xC0


ERROR_TEXT = {
    "ER04": "the command is not supported by this dongle",
    "ER05": "wrong number of arguments",
    "ER06": "an argument is out of range or badly formatted",
    "ER09": "UART input error",
    "ER10": "the command failed (the dongle is busy or not in a state to run it)",
}


# --- messages -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ok:
    """`OK`, or `OK xx` (ROPT answers its register this way)."""

    detail: str = ""


@dataclass(frozen=True, slots=True)
class Fail:
    """`FAIL ERxx`: the command was refused."""

    code: str

    @property
    def reason(self) -> str:
        """What the code means."""
        return ERROR_TEXT.get(self.code, "an unknown error")


@dataclass(frozen=True, slots=True)
class Event:
    """`EVENT <num> <sender> [<param>]`."""

    number: int
    sender: str
    param: int | None = None


@dataclass(frozen=True, slots=True)
class PanDescription:
    """One PAN found by an active scan (an EPANDESC block)."""

    channel: int
    channel_page: int
    pan_id: int
    addr: str  # the coordinator's (meter's) 64-bit MAC, 16 upper-case hex digits
    lqi: int
    pair_id: str = ""

    @property
    def rssi_dbm(self) -> float:
        """Signal strength from LQI (ROHM: RSSI = 0.275 x LQI - 104.27)."""
        return round(0.275 * self.lqi - 104.27, 1)


@dataclass(frozen=True, slots=True)
class UdpReceived:
    """`ERXUDP`: a UDP datagram from the Wi-SUN side."""

    sender: str
    dest: str
    rport: int
    lport: int
    sender_lla: str
    secured: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class Line:
    """Any other line: `EVER 1.2.10`, an echoed command, the address SKLL64 prints ..."""

    text: str


Message = Ok | Fail | Event | PanDescription | UdpReceived | Line


# --- addresses ------------------------------------------------------------------------------


def format_ipv6(address: str | ipaddress.IPv6Address) -> str:
    """The dongle's spelling: eight groups of four upper-case hex digits."""
    packed = ipaddress.IPv6Address(address).packed
    return ":".join(packed[i:i + 2].hex().upper() for i in range(0, 16, 2))


def parse_mac(text: str) -> str:
    """A 64-bit MAC as 16 upper-case hex digits; ValueError otherwise."""
    mac = text.replace(":", "").replace("-", "").strip().upper()
    if len(mac) != 16 or not _HEX.fullmatch(mac.encode()):
        raise ValueError(f"{text!r} is not a 64-bit MAC address (16 hex digits)")
    return mac


def link_local(mac: str) -> str:
    """The IPv6 link-local address SKLL64 derives from a MAC (universal/local bit flipped)."""
    raw = bytearray(bytes.fromhex(parse_mac(mac)))
    raw[0] ^= 0x02
    return format_ipv6(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + bytes(raw)))


# --- commands -------------------------------------------------------------------------------


def command(name: str, *args: str | int) -> bytes:
    """One command line, CRLF-terminated."""
    parts = [name, *(str(a) for a in args)]
    text = " ".join(parts)
    if "\r" in text or "\n" in text:
        raise ValueError("a command argument cannot contain a line break")
    return text.encode("ascii") + CRLF


def set_password(password: str) -> bytes:
    """SKSETPWD <length in hex> <password>."""
    return command("SKSETPWD", f"{len(password):X}", password)


def sendto(handle: int, address: str, port: int, data: bytes, *, secured: bool = True) -> bytes:
    """SKSENDTO <handle> <ipv6> <port> <sec> <len> <data>: the data is raw bytes, not a line."""
    if not 0 < len(data) <= 0x4D0:
        raise ValueError(f"a UDP payload must be 1 to {0x4D0} bytes, not {len(data)}")
    header = f"SKSENDTO {handle} {format_ipv6(address)} {port:04X} {1 if secured else 0} "
    return header.encode("ascii") + f"{len(data):04X} ".encode("ascii") + data


def redact(line: bytes) -> str:
    """A command for the log, with the B-route ID and password hidden."""
    text = line.decode("ascii", "replace").rstrip("\r\n")
    for secret in ("SKSETPWD", "SKSETRBID"):
        if text.startswith(secret):
            return f"{secret} ****"
    if text.startswith("SKSENDTO"):
        return " ".join(text.split(" ")[:6]) + " <data>"
    return text


# --- the parser -----------------------------------------------------------------------------


class SkStackParser:
    """Turns the dongle's byte stream into messages; feed it whatever the port delivers.

    `data_format` is "binary", "hex" or "auto": decide per ERXUDP by its first data byte
    (ECHONET frames start 0x10 and PANA headers 0x00, never an ASCII hex digit).
    """

    def __init__(self, data_format: str = "auto") -> None:
        if data_format not in ("auto", "binary", "hex"):
            raise ValueError(f"data_format must be auto, binary or hex, not {data_format!r}")
        self.data_format = data_format
        self._buf = bytearray()
        self._pandesc: dict[str, str] | None = None

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every complete message. Raises ProtocolError for garbage that
        cannot be resynchronised (the caller logs it; the parser stays usable)."""
        self._buf += data
        out: list[Message] = []
        while True:
            if self._buf.startswith(b"ERXUDP "):
                udp = self._take_erxudp()
                if udp is None:
                    break
                out.extend(self._flush_pandesc())
                out.append(udp)
                continue
            end = self._buf.find(CRLF)
            if end < 0:
                if len(self._buf) > MAX_LINE:
                    self._buf.clear()
                    raise ProtocolError(f"dropped {MAX_LINE}+ bytes without a line end")
                break
            raw = bytes(self._buf[:end])
            del self._buf[:end + 2]
            out.extend(self._line(raw))
        return out

    def _line(self, raw: bytes) -> list[Message]:
        text = raw.decode("ascii", "replace")
        if self._pandesc is not None:
            if text.startswith("  ") and ":" in text:
                key, _, value = text.strip().partition(":")
                self._pandesc[key] = value.strip()
                if key == "PairID":
                    return self._flush_pandesc()
                return []
            out = self._flush_pandesc()
            return out + self._line(raw)
        if not text:
            return []
        if text == "EPANDESC":
            self._pandesc = {}
            return []
        if text == "OK" or text.startswith("OK "):
            return [Ok(text[3:].strip())]
        if text.startswith("FAIL "):
            return [Fail(text[5:].strip())]
        if text.startswith("EVENT "):
            return [self._event(text)]
        return [Line(text)]

    @staticmethod
    def _event(text: str) -> Message:
        parts = text.split()
        try:
            number = int(parts[1], 16)
            sender = parts[2] if len(parts) > 2 else ""
            param = int(parts[3], 16) if len(parts) > 3 else None
        except (IndexError, ValueError):
            return Line(text)
        return Event(number, sender, param)

    def _flush_pandesc(self) -> list[Message]:
        fields, self._pandesc = self._pandesc, None
        if fields is None:
            return []
        try:
            return [PanDescription(
                channel=int(fields["Channel"], 16),
                channel_page=int(fields["Channel Page"], 16),
                pan_id=int(fields["Pan ID"], 16),
                addr=parse_mac(fields["Addr"]),
                lqi=int(fields["LQI"], 16),
                pair_id=fields.get("PairID", ""),
            )]
        except (KeyError, ValueError) as err:
            raise ProtocolError(f"incomplete EPANDESC block {fields}: {err}") from err

    def _take_erxudp(self) -> UdpReceived | None:
        """Parse an ERXUDP at the start of the buffer, or None when more bytes are needed."""
        buf = self._buf
        pos = len(b"ERXUDP ")
        fields: list[str] = []
        for _ in range(_ERXUDP_FIELDS):
            space = buf.find(b" ", pos)
            if space < 0:
                line_end = buf.find(CRLF, pos)
                if line_end >= 0:  # a short ERXUDP line: not one we can read
                    del buf[:line_end + 2]
                    raise ProtocolError("ERXUDP line with missing fields dropped")
                return None
            fields.append(buf[pos:space].decode("ascii", "replace"))
            pos = space + 1
        try:
            sender, dest, rport, lport, lla, secured, length = fields
            size = int(length, 16)
            udp_fields = (sender, dest, int(rport, 16), int(lport, 16), lla, secured == "1")
        except ValueError as err:
            self._drop_line(pos)
            raise ProtocolError(f"ERXUDP with unreadable fields {fields}") from err
        data = self._take_data(pos, size)
        if data is None:
            return None
        return UdpReceived(*udp_fields, data=data)

    def _take_data(self, pos: int, size: int) -> bytes | None:
        buf = self._buf
        if len(buf) <= pos:
            return None
        as_hex = self.data_format == "hex" or (
            self.data_format == "auto" and size > 0 and buf[pos] in _HEX_DIGITS
        )
        end = pos + (2 * size if as_hex else size)
        if len(buf) < end + 2:
            return None
        if buf[end:end + 2] != CRLF:
            self._drop_line(pos)
            raise ProtocolError(f"ERXUDP data is not {size} bytes followed by a line end")
        chunk = bytes(buf[pos:end])
        del buf[:end + 2]
        if not as_hex:
            return chunk
        if not _HEX.fullmatch(chunk):
            raise ProtocolError("ERXUDP hex data contains non-hex characters")
        return bytes.fromhex(chunk.decode("ascii"))

    def _drop_line(self, pos: int) -> None:
        end = self._buf.find(CRLF, pos)
        del self._buf[:end + 2 if end >= 0 else len(self._buf)]


# --- what the emulator prints (the same layouts, written out) -------------------------------


def format_event(number: int, sender: str, param: int | None = None) -> bytes:
    """An EVENT line."""
    tail = f" {param:02X}" if param is not None else ""
    return f"EVENT {number:02X} {format_ipv6(sender)}{tail}".encode("ascii") + CRLF


def format_pandesc(pan: PanDescription) -> bytes:
    """An EPANDESC block."""
    lines = [
        "EPANDESC",
        f"  Channel:{pan.channel:02X}",
        f"  Channel Page:{pan.channel_page:02X}",
        f"  Pan ID:{pan.pan_id:04X}",
        f"  Addr:{pan.addr}",
        f"  LQI:{pan.lqi:02X}",
        f"  PairID:{pan.pair_id}",
    ]
    return CRLF.join(line.encode("ascii") for line in lines) + CRLF


def format_erxudp(udp: UdpReceived, *, hex_data: bool) -> bytes:
    """An ERXUDP line with its data in binary or hex form."""
    head = (
        f"ERXUDP {format_ipv6(udp.sender)} {format_ipv6(udp.dest)} {udp.rport:04X} "
        f"{udp.lport:04X} {udp.sender_lla} {1 if udp.secured else 0} {len(udp.data):04X} "
    ).encode("ascii")
    data = udp.data.hex().upper().encode("ascii") if hex_data else udp.data
    return head + data + CRLF
