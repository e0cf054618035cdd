"""Broadlink IR code packets, as bytes, hex, or the base64 Home Assistant stores.

|type|repeat|len LE |pulses: 1 byte ticks, or 00 hi lo if > 255 |0d 05|
| 26 |  n   |2 bytes|                  ...                        |     |
"""

from __future__ import annotations

import base64
import binascii

from ir_codes.errors import FormatError
from ir_codes.model import RawSignal

IR_TYPE = 0x26
RF_TYPES = {0xB2: "RF 433 MHz", 0xD7: "RF 315 MHz"}
TERMINATOR = b"\x0d\x05"
# One tick = 8192/269 ≈ 30.45 µs: protocol.md's `µs × 269 / 8192` and RM4 hardware
# measurements agree (python-broadlink issue #839 / PR #841); the library's 32.84 µs sends
# foreign codes ~7 % short. Codes learned by a device and replayed cancel out either way, and our
# decoders tolerate ±30 %, so a learned code converted with either unit still decodes.
TICK_US = 8192 / 269
LIBRARY_TICK_US = 32.84  # python-broadlink's pulses_to_data/data_to_pulses unit, for reference
CARRIER_HZ = 38_000  # Broadlink IR packets carry no carrier; RM devices send 38 kHz


def to_packet(raw: RawSignal, repeat: int = 0, tick_us: float = TICK_US) -> bytes:
    """Broadlink IR packet (type 0x26) for the timings, ending with 0d 05."""
    if not 0 <= repeat <= 0xFF:
        raise FormatError(f"Broadlink repeat count must be 0..255, got {repeat}")
    body = bytearray()
    for duration in raw.timings_us:
        ticks = min(0xFFFF, max(1, round(duration / tick_us)))
        body += bytes([ticks]) if ticks <= 0xFF else b"\x00" + ticks.to_bytes(2, "big")
    body += TERMINATOR
    return bytes([IR_TYPE, repeat]) + len(body).to_bytes(2, "little") + bytes(body)


def from_packet(data: bytes, tick_us: float = TICK_US) -> RawSignal:
    """Timings from a Broadlink IR packet (with or without 0d 05, trailing padding ignored)."""
    if len(data) < 4:
        raise FormatError(f"Broadlink packet truncated: {len(data)} bytes, the header alone is 4")
    if data[0] != IR_TYPE:
        kind = RF_TYPES.get(data[0])
        if kind:
            raise FormatError(f"this Broadlink packet is {kind}, not infrared")
        raise FormatError(f"not a Broadlink IR packet: type byte 0x{data[0]:02x}, expected 0x26")
    length = int.from_bytes(data[2:4], "little")
    if 4 + length > len(data):
        raise FormatError(
            f"Broadlink packet truncated: header says {length} bytes of pulses, "
            f"only {len(data) - 4} present"
        )
    body = data[4 : 4 + length]
    if body.endswith(TERMINATOR):
        body = body[:-2]
    ticks: list[int] = []
    i = 0
    while i < len(body):
        if body[i] == 0:
            if i + 2 >= len(body):
                if not any(body[i:]):
                    break  # zero padding after the pulses
                raise FormatError("Broadlink packet truncated inside a long (00 hi lo) pulse")
            ticks.append(int.from_bytes(body[i + 1 : i + 3], "big"))
            i += 3
        else:
            ticks.append(body[i])
            i += 1
    while ticks and ticks[-1] == 0:
        ticks.pop()
    if not ticks:
        raise FormatError("Broadlink packet holds no pulses")
    if 0 in ticks:
        raise FormatError("Broadlink packet has a zero-length pulse; it is corrupt")
    return RawSignal(CARRIER_HZ, tuple(max(1, round(t * tick_us)) for t in ticks))


def repeat_count(data: bytes) -> int:
    """The repeat byte of a packet."""
    if len(data) < 2:
        raise FormatError("Broadlink packet truncated: no repeat byte")
    return data[1]


def to_base64(raw: RawSignal, repeat: int = 0) -> str:
    """Packet as base64 (Home Assistant's stored form)."""
    return base64.b64encode(to_packet(raw, repeat)).decode("ascii")


def from_base64(text: str, tick_us: float = TICK_US) -> RawSignal:
    """Timings from a base64 packet."""
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise FormatError(f"not valid base64 for a Broadlink packet: {err}") from err
    return from_packet(data, tick_us)


def to_hex(raw: RawSignal, repeat: int = 0) -> str:
    """Packet as lowercase hex."""
    return to_packet(raw, repeat).hex()


def from_hex(text: str, tick_us: float = TICK_US) -> RawSignal:
    """Timings from a hex packet."""
    try:
        data = bytes.fromhex("".join(text.split()))
    except ValueError as err:
        raise FormatError(f"not valid hex for a Broadlink packet: {err}") from err
    return from_packet(data, tick_us)
