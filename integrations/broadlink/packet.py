"""Pure codec for the Broadlink UDP protocol (UDP port 80): bytes in, values out, no I/O.

Discovery request (48 B, broadcast or unicast to :80)::

    0x00        0x08           0x14   0x18        0x1C   0x1E  0x20    0x22  0x26  0x27  0x30
    |--zeros----|--datetime----|-----|-local IP---|port--|-----|chksum-|-----|0x06-|-----|
                  GMT offset,    4 B   reversed    LE16         LE16           hello

Discovery reply (128 B): checksum 0x20, 0x26 = 0x07, devtype LE16 at 0x34, IPv4 reversed at
0x36, MAC reversed at 0x3A, NUL-ended name from 0x40, lock flag at 0x7F.

Command packet (0x38 B header + AES-128-CBC payload)::

    0x00      0x08    0x20    0x22   0x24    0x26    0x28    0x2A     0x30    0x34   0x36 0x38
    |--magic--|-zeros-|chksum-|error-|devtype|command|counter|MAC rev.|dev id-|p.chk-|----|payload
      8 B              LE16    LE16    LE16    LE16    LE16     6 B     LE32    LE16

``chksum`` covers the whole packet (computed with its own field zeroed); ``p.chk`` covers the
*plain* payload (the library does this, not what protocol.md says). Both are 16-bit sums from
0xBEAF. The payload is zero-padded to 16 B and encrypted with the session key and a fixed IV.

0x6A payloads: RM mini 3 / RM pro send ``sub-command LE32 + data``; RM4-class devices prefix a
LE16 length ``len(data) + 4``. Replies mirror the request layout.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from integrations.ir_devices import codes as _codes

PORT = 80
# the code packet helpers are shared with ESPHome blasters (one code form for every blaster)
PacketError = _codes.PacketError
code_packet_length = _codes.code_packet_length
trim_code = _codes.trim_code
DEFAULT_KEY = bytes.fromhex("097628343fe99e23765c1513accf8b02")
IV = bytes.fromhex("562e17996d093d28ddb3ba695a2e6f58")
MAGIC = bytes.fromhex("5aa5aa555aa5aa55")
CHECKSUM_SEED = 0xBEAF

HEADER_SIZE = 0x38
DISCOVERY_SIZE = 0x30
DISCOVERY_REPLY_SIZE = 0x80
HELLO = 0x06
HELLO_REPLY = 0x07

CMD_AUTH = 0x65
CMD_REMOTE = 0x6A
REPLY_AUTH = 0x3E9
REPLY_DATA = 0x3EE

# 0x6A sub-commands of IR remotes.
SUB_SENSORS = 0x01
SUB_SEND = 0x02
SUB_LEARN = 0x03
SUB_CHECK_DATA = 0x04
SUB_RM4_SENSORS = 0x24
FIRMWARE_QUERY = 0x68  # one plain byte, never length-prefixed

# Firmware error codes (signed LE16 at 0x22), as python-broadlink names them.
ERR_AUTH = -1
ERR_NOT_SUPPORTED = -4
ERR_STORAGE = -5
ERR_KEY_EXPIRED = -7
ERR_READ = -10

IR_TYPE = 0x26
RF433_TYPE = 0xB2
RF315_TYPE = 0xD7

_HEADER = struct.Struct("<8s24xHhHHH6sIH2x")
_AUTH_REPLY = struct.Struct("<I16s")


def checksum(data: bytes | bytearray) -> int:
    """16-bit sum of all bytes starting at 0xBEAF."""
    return (sum(data) + CHECKSUM_SEED) & 0xFFFF


def _with_checksum(packet: bytearray) -> bytes:
    packet[0x20:0x22] = b"\0\0"
    packet[0x20:0x22] = checksum(packet).to_bytes(2, "little")
    return bytes(packet)


def _verify_checksum(data: bytes) -> None:
    stated = int.from_bytes(data[0x20:0x22], "little")
    actual = checksum(data[:0x20] + data[0x22:])
    if stated != actual:
        raise PacketError(f"checksum is {stated:#06x}, bytes sum to {actual:#06x}")


def format_mac(mac: bytes) -> str:
    """`b'\\xaa\\xbb...'` -> `'aa:bb:cc:dd:ee:ff'`."""
    return ":".join(f"{b:02x}" for b in mac)


def parse_mac(text: str) -> bytes:
    """`'aa:bb:cc:dd:ee:ff'` or `'aabbccddeeff'` -> 6 bytes."""
    raw = text.replace(":", "").replace("-", "")
    try:
        mac = bytes.fromhex(raw)
    except ValueError:
        mac = b""
    if len(mac) != 6:
        raise ValueError(f"{text!r} is not a MAC address; write it like aa:bb:cc:dd:ee:ff")
    return mac


# --- discovery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiscoveryRequest:
    """A hello probe: where the asker listens for the reply."""

    local_ip: str
    local_port: int


@dataclass(frozen=True, slots=True)
class DiscoveryReply:
    """What a device says about itself when probed."""

    devtype: int
    mac: bytes
    name: str
    locked: bool
    ip: str = "0.0.0.0"


def encode_discovery_request(request: DiscoveryRequest) -> bytes:
    """The 48-byte hello probe (without the optional date/time fields)."""
    packet = bytearray(DISCOVERY_SIZE)
    packet[0x18:0x1C] = ipaddress.IPv4Address(request.local_ip).packed[::-1]
    packet[0x1C:0x1E] = request.local_port.to_bytes(2, "little")
    packet[0x26] = HELLO
    return _with_checksum(packet)


def is_discovery_request(data: bytes) -> bool:
    """True for a hello probe (a ping, 0x26 = 1, and command packets are not)."""
    return len(data) >= DISCOVERY_SIZE and data[0x26] == HELLO and not data.startswith(MAGIC)


def decode_discovery_request(data: bytes) -> DiscoveryRequest:
    """Parse a hello probe."""
    if len(data) < DISCOVERY_SIZE:
        raise PacketError(f"hello probe is {len(data)} bytes, needs {DISCOVERY_SIZE}")
    if data[0x26] != HELLO:
        raise PacketError(f"byte 0x26 is {data[0x26]:#04x}, a hello probe has 0x06")
    _verify_checksum(data[:DISCOVERY_SIZE])
    ip = str(ipaddress.IPv4Address(bytes(data[0x18:0x1C])[::-1]))
    return DiscoveryRequest(local_ip=ip, local_port=int.from_bytes(data[0x1C:0x1E], "little"))


def encode_discovery_reply(reply: DiscoveryReply) -> bytes:
    """The 128-byte hello reply."""
    name = reply.name.encode("utf-8")[: 0x7F - 0x40 - 1]
    packet = bytearray(DISCOVERY_REPLY_SIZE)
    packet[0x26] = HELLO_REPLY
    packet[0x34:0x36] = reply.devtype.to_bytes(2, "little")
    packet[0x36:0x3A] = ipaddress.IPv4Address(reply.ip).packed[::-1]
    packet[0x3A:0x40] = reply.mac[::-1]
    packet[0x40 : 0x40 + len(name)] = name
    packet[0x7F] = int(reply.locked)
    return _with_checksum(packet)


def decode_discovery_reply(data: bytes) -> DiscoveryReply:
    """Parse a hello reply."""
    if len(data) < DISCOVERY_REPLY_SIZE:
        raise PacketError(f"hello reply is {len(data)} bytes, needs {DISCOVERY_REPLY_SIZE}")
    _verify_checksum(data)
    name = bytes(data[0x40:0x7F]).split(b"\0")[0].decode("utf-8", "replace")
    return DiscoveryReply(
        devtype=int.from_bytes(data[0x34:0x36], "little"),
        mac=bytes(data[0x3A:0x40])[::-1],
        name=name,
        locked=bool(data[0x7F]),
        ip=str(ipaddress.IPv4Address(bytes(data[0x36:0x3A])[::-1])),
    )


# --- command packets -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandHeader:
    """The plain 0x38-byte header of a command packet or its reply."""

    devtype: int
    command: int
    counter: int
    mac: bytes
    device_id: int
    error: int = 0
    payload_checksum: int = 0


@dataclass(frozen=True, slots=True)
class Frame:
    """A command packet split into its header and still-encrypted payload."""

    header: CommandHeader
    ciphertext: bytes


def _aes(key: bytes) -> Cipher[modes.CBC]:
    if len(key) != 16:
        raise PacketError(f"AES key is {len(key)} bytes, needs 16")
    return Cipher(algorithms.AES(key), modes.CBC(IV))


def encrypt(payload: bytes, key: bytes) -> bytes:
    """Zero-pad to 16 bytes and encrypt with AES-128-CBC and the fixed IV."""
    padded = payload + bytes(-len(payload) % 16)
    enc = _aes(key).encryptor()
    return enc.update(padded) + enc.finalize()


def decrypt(ciphertext: bytes, key: bytes) -> bytes:
    """Decrypt an AES-128-CBC payload (padding left in place)."""
    if len(ciphertext) % 16:
        raise PacketError(f"encrypted payload is {len(ciphertext)} bytes, not a multiple of 16")
    dec = _aes(key).decryptor()
    return dec.update(ciphertext) + dec.finalize()


def encode_command(header: CommandHeader, payload: bytes, key: bytes) -> bytes:
    """A whole command packet; the payload checksum is computed from `payload`."""
    packet = bytearray(HEADER_SIZE)
    _HEADER.pack_into(
        packet,
        0,
        MAGIC,
        0,
        header.error,
        header.devtype,
        header.command,
        header.counter,
        header.mac[::-1],
        header.device_id,
        checksum(payload),
    )
    packet += encrypt(payload, key) if payload else b""
    return _with_checksum(packet)


def decode_frame(data: bytes) -> Frame:
    """Check magic, size and checksum; return the header and the encrypted payload."""
    if len(data) < HEADER_SIZE:
        raise PacketError(f"command packet is {len(data)} bytes, the header alone is 56")
    if not data.startswith(MAGIC):
        raise PacketError("command packet does not start with 5a a5 aa 55 5a a5 aa 55")
    _verify_checksum(data)
    magic, _chk, error, devtype, command, counter, mac, dev_id, p_chk = _HEADER.unpack_from(data)
    del magic, _chk
    header = CommandHeader(
        devtype=devtype,
        command=command,
        counter=counter,
        mac=bytes(mac)[::-1],
        device_id=dev_id,
        error=error,
        payload_checksum=p_chk,
    )
    return Frame(header=header, ciphertext=bytes(data[HEADER_SIZE:]))


def open_payload(frame: Frame, key: bytes) -> bytes:
    """Decrypt a frame's payload and check it against the header's payload checksum."""
    plain = decrypt(frame.ciphertext, key)
    if checksum(plain) != frame.header.payload_checksum:
        raise PacketError("payload checksum does not match: wrong key or corrupted payload")
    return plain


# --- auth ------------------------------------------------------------------------------------


def auth_request_payload() -> bytes:
    """The 0x50-byte auth payload the library sends (encrypted with the default key)."""
    payload = bytearray(0x50)
    payload[0x04:0x14] = b"\x31" * 16
    payload[0x1E] = 0x01
    payload[0x2D] = 0x01
    payload[0x30:0x36] = b"Test 1"
    return bytes(payload)


def encode_auth_reply(device_id: int, key: bytes) -> bytes:
    """Auth reply payload: the session id and the per-device key."""
    return _AUTH_REPLY.pack(device_id, key)


def decode_auth_reply(payload: bytes) -> tuple[int, bytes]:
    """Inverse of encode_auth_reply."""
    if len(payload) < _AUTH_REPLY.size:
        raise PacketError(f"auth reply payload is {len(payload)} bytes, needs 20")
    device_id, key = _AUTH_REPLY.unpack_from(payload)
    return device_id, bytes(key)


# --- 0x6A remote sub-commands ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    """A 0x6A sub-command and its data (request or reply)."""

    subcommand: int
    data: bytes = b""


def encode_remote(message: RemoteMessage, *, length_prefix: bool) -> bytes:
    """0x6A payload, with the RM4 length prefix when `length_prefix`."""
    body = struct.pack("<I", message.subcommand) + message.data
    if length_prefix:
        return struct.pack("<H", len(body)) + body
    return body


def decode_remote(payload: bytes, *, length_prefix: bool) -> RemoteMessage:
    """Parse a 0x6A payload (plain, padding allowed after the declared length)."""
    if length_prefix:
        if len(payload) < 6:
            raise PacketError(f"RM4 payload is {len(payload)} bytes, needs at least 6")
        (size,) = struct.unpack_from("<H", payload)
        if size < 4 or size + 2 > len(payload):
            raise PacketError(
                f"RM4 length prefix {size} does not fit a {len(payload)}-byte payload"
            )
        (sub,) = struct.unpack_from("<I", payload, 2)
        return RemoteMessage(sub, bytes(payload[6 : size + 2]))
    if len(payload) < 4:
        raise PacketError(f"remote payload is {len(payload)} bytes, needs at least 4")
    (sub,) = struct.unpack_from("<I", payload)
    return RemoteMessage(sub, bytes(payload[4:]))

