"""JVC: 8.4 ms/4.2 ms leader (first frame only), 8-bit address then 8-bit command, LSB-first."""

from __future__ import annotations

from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field
from ir_codes.protocols._timing import PulseDistance, Timeline, bits_lsb, int_lsb

CARRIER_HZ = 38_000
FRAME = PulseDistance(8400, 4200, 525, 1725, 525, 525, gap=10_000, frame_us=60_000)


def encode(code: IrCode) -> RawSignal:
    """JVC frame with its header."""
    check_field("JVC", "address", code.address, 8)
    check_field("JVC", "command", code.command, 8)
    line = Timeline()
    FRAME.write(line, bits_lsb(code.address, 8) + bits_lsb(code.command, 8))
    return RawSignal(CARRIER_HZ, line.result(), 33)


def decode(raw: RawSignal) -> IrCode | None:
    """Decode a JVC frame (with header)."""
    got = FRAME.read(raw.timings_us, 0, 16)
    if got is None:
        return None
    bits = got[0]
    return IrCode("JVC", int_lsb(bits[:8]), int_lsb(bits[8:]), 16)


CODEC = Codec("JVC", encode, decode, default_bits=16, address_bits=8, command_bits=8)
