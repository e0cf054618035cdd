"""Philips RC-5: Manchester, 889 µs half-bits; MSB-first S1, S2, toggle, address 5, command 6.

A '1' is space-then-mark. RC-5X reuses S2 as the inverted 7th command bit.
"""

from __future__ import annotations

from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field, extra_int
from ir_codes.protocols._timing import Timeline, bits_msb, int_msb, manchester_expansions

CARRIER_HZ = 36_000
HALF = 889
FRAME_US = 113_778
MIN_GAP = 20_000


def encode(code: IrCode) -> RawSignal:
    """RC-5 (or RC-5X for commands 64..127) frame padded to the 113.8 ms period."""
    check_field("RC5", "address", code.address, 5)
    check_field("RC5", "command", code.command, 7)
    toggle = extra_int(code.extras, "toggle", 0) & 1
    bits = [1, 0 if code.command & 0x40 else 1, toggle]
    bits += bits_msb(code.address, 5) + bits_msb(code.command & 0x3F, 6)
    line = Timeline()
    for bit in bits:
        if bit:
            line.space(HALF)
            line.mark(HALF)
        else:
            line.mark(HALF)
            line.space(HALF)
    line.gap(MIN_GAP, FRAME_US)
    return RawSignal(CARRIER_HZ, line.result(), 25)


def decode(raw: RawSignal) -> IrCode | None:
    """Decode an RC-5/RC-5X frame."""
    for units in manchester_expansions(raw.timings_us, HALF):
        code = _parse([0, *units])
        if code is not None:
            return code
    return None


def _parse(units: list[int]) -> IrCode | None:
    if len(units) == 27:
        units.append(0)  # the last half-bit space merged into the gap
    if len(units) != 28:
        return None
    bits: list[int] = []
    for k in range(0, 28, 2):
        pair = (units[k], units[k + 1])
        if pair == (0, 1):
            bits.append(1)
        elif pair == (1, 0):
            bits.append(0)
        else:
            return None
    if bits[0] != 1:
        return None
    command = int_msb(bits[8:]) | (0 if bits[1] else 0x40)
    return IrCode("RC5", int_msb(bits[3:8]), command, 12, {"toggle": bits[2]} if bits[2] else {})


CODEC = Codec(
    "RC5", encode, decode, aliases=("RC5X",), default_bits=12, address_bits=5, command_bits=6
)
