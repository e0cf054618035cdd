"""ESPHome native API framing: bytes in, frames out, no I/O.

Plaintext frame::

    | 0x00 | varint length | varint type | protobuf body (length bytes) |

Noise frame (the payload is ciphertext once the handshake is done)::

    | 0x01 | length (2 bytes BE) | payload (length bytes) |

Inside an encrypted Noise payload::

    | type (2 bytes BE) | length (2 bytes BE) | protobuf body |
"""

from __future__ import annotations

import struct

from integrations.errors import ProtocolError

PLAINTEXT_PREAMBLE = 0x00
NOISE_PREAMBLE = 0x01
# The firmware's length fields are uint16; a larger claim is an attack or garbage.
MAX_FRAME_SIZE = 65535
_MAX_VARINT_BYTES = 4  # as the client: 28 bits is far above any length or type in use

_NOISE_HEADER = struct.Struct(">BH")  # preamble, length
_NOISE_INNER = struct.Struct(">HH")  # message type, body length


def encode_varint(value: int) -> bytes:
    """Protobuf-style unsigned varint."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(value, next position), or None when the buffer ends mid-varint."""
    result = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(buf):
            return None
        byte = buf[pos + i]
        result |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return result, pos + i + 1
    raise ProtocolError(f"varint longer than {_MAX_VARINT_BYTES} bytes")


def encode_plaintext_frame(msg_type: int, body: bytes) -> bytes:
    """One plaintext frame."""
    return b"\x00" + encode_varint(len(body)) + encode_varint(msg_type) + body


def encode_noise_frame(payload: bytes) -> bytes:
    """One Noise frame around an (already encrypted, or handshake) payload."""
    if len(payload) > MAX_FRAME_SIZE:
        raise ValueError(f"noise payload of {len(payload)} bytes exceeds {MAX_FRAME_SIZE}")
    return _NOISE_HEADER.pack(NOISE_PREAMBLE, len(payload)) + payload


def pack_noise_message(msg_type: int, body: bytes) -> bytes:
    """The plaintext that is encrypted into one Noise data frame."""
    return _NOISE_INNER.pack(msg_type, len(body)) + body


def unpack_noise_message(plain: bytes) -> tuple[int, bytes]:
    """Inverse of pack_noise_message; the length field is not trusted, as in the firmware."""
    if len(plain) < _NOISE_INNER.size:
        raise ProtocolError(f"decrypted noise message too short: {len(plain)} bytes")
    msg_type, _ = _NOISE_INNER.unpack_from(plain)
    return msg_type, bytes(plain[_NOISE_INNER.size :])


class PlaintextFrameReader:
    """Splits a plaintext byte stream into (type, body) frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add bytes; return every complete frame. Raises ProtocolError on garbage."""
        self._buf += data
        frames: list[tuple[int, bytes]] = []
        while self._buf:
            if self._buf[0] != PLAINTEXT_PREAMBLE:
                raise ProtocolError(f"invalid plaintext preamble 0x{self._buf[0]:02x}")
            length = decode_varint(self._buf, 1)
            if length is None:
                break
            size, pos = length
            if size > MAX_FRAME_SIZE:
                raise ProtocolError(f"frame length {size} exceeds {MAX_FRAME_SIZE}")
            type_ = decode_varint(self._buf, pos)
            if type_ is None:
                break
            msg_type, pos = type_
            if len(self._buf) < pos + size:
                break
            frames.append((msg_type, bytes(self._buf[pos : pos + size])))
            del self._buf[: pos + size]
        return frames

    @property
    def pending(self) -> int:
        """Bytes buffered that do not make a whole frame yet."""
        return len(self._buf)


class NoiseFrameReader:
    """Splits a Noise byte stream into frame payloads."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return every complete payload. Raises ProtocolError on garbage."""
        self._buf += data
        frames: list[bytes] = []
        while len(self._buf) >= _NOISE_HEADER.size:
            preamble, size = _NOISE_HEADER.unpack_from(self._buf)
            if preamble != NOISE_PREAMBLE:
                raise ProtocolError(f"invalid noise preamble 0x{preamble:02x}")
            end = _NOISE_HEADER.size + size
            if len(self._buf) < end:
                break
            frames.append(bytes(self._buf[_NOISE_HEADER.size : end]))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes buffered that do not make a whole frame yet."""
        return len(self._buf)
