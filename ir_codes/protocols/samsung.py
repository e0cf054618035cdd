"""Samsung32: 4.5 ms/4.5 ms leader, customer, customer, command, ~command (LSB-first)."""

from __future__ import annotations

from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field
from ir_codes.protocols._timing import PulseDistance, Timeline, bits_lsb, int_lsb

CARRIER_HZ = 38_000
FRAME = PulseDistance(4480, 4480, 560, 1680, 560, 560, gap=20_000, frame_us=108_080)


def encode(code: IrCode) -> RawSignal:
    """Samsung32 frame."""
    check_field("SAMSUNG32", "address", code.address, 8)
    check_field("SAMSUNG32", "command", code.command, 8)
    bits = bits_lsb(code.address, 8) * 2 + bits_lsb(code.command, 8)
    bits += bits_lsb(code.command ^ 0xFF, 8)
    line = Timeline()
    FRAME.write(line, bits)
    return RawSignal(CARRIER_HZ, line.result(), 33)


def decode(raw: RawSignal) -> IrCode | None:
    """Decode a Samsung32 frame (the customer byte is sent twice, the command then its inverse)."""
    got = FRAME.read(raw.timings_us, 0, 32)
    if got is None:
        return None
    b = [int_lsb(got[0][k : k + 8]) for k in range(0, 32, 8)]
    if b[0] != b[1] or b[3] != b[2] ^ 0xFF:
        return None
    return IrCode("SAMSUNG32", b[0], b[2], 32)


CODEC = Codec(
    "SAMSUNG32",
    encode,
    decode,
    aliases=("SAMSUNG",),
    default_bits=32,
    address_bits=8,
    command_bits=8,
)
