"""Philips RC-6 mode 0: leader 6T+2T (T = 444 µs), start bit, 3-bit mode, double-width toggle,
8-bit address, 8-bit command; Manchester MSB-first with '1' = mark-then-space."""

from __future__ import annotations

from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field, extra_int
from ir_codes.protocols._timing import Timeline, bits_msb, int_msb, manchester_expansions, near

CARRIER_HZ = 36_000
T = 444
GAP = 83_028


def encode(code: IrCode) -> RawSignal:
    """RC-6 mode 0 frame."""
    check_field("RC6", "address", code.address, 8)
    check_field("RC6", "command", code.command, 8)
    toggle = extra_int(code.extras, "toggle", 0) & 1
    line = Timeline()
    line.mark(6 * T)
    line.space(2 * T)
    fields = [(1, 1), *((b, 1) for b in (0, 0, 0)), (toggle, 2)]
    fields += [(b, 1) for b in bits_msb(code.address, 8) + bits_msb(code.command, 8)]
    for bit, width in fields:
        if bit:
            line.mark(width * T)
            line.space(width * T)
        else:
            line.space(width * T)
            line.mark(width * T)
    line.space(GAP)
    return RawSignal(CARRIER_HZ, line.result(), 33)


def decode(raw: RawSignal) -> IrCode | None:
    """Decode an RC-6 mode 0 frame."""
    t = raw.timings_us
    if len(t) < 3 or not near(t[0], 6 * T) or not near(t[1], 2 * T):
        return None
    for units in manchester_expansions(t[2:], T):
        code = _parse(units)
        if code is not None:
            return code
    return None


def _parse(units: list[int]) -> IrCode | None:
    if len(units) == 43:
        units.append(0)
    if len(units) != 44:
        return None
    widths = [1, 1, 1, 1, 2] + [1] * 16
    bits: list[int] = []
    k = 0
    for w in widths:
        first, second = units[k : k + w], units[k + w : k + 2 * w]
        if first == [1] * w and second == [0] * w:
            bits.append(1)
        elif first == [0] * w and second == [1] * w:
            bits.append(0)
        else:
            return None
        k += 2 * w
    if bits[0] != 1 or bits[1:4] != [0, 0, 0]:
        return None
    extras = {"toggle": 1} if bits[4] else {}
    return IrCode("RC6", int_msb(bits[5:13]), int_msb(bits[13:21]), 20, extras)


CODEC = Codec(
    "RC6", encode, decode, aliases=("RC6_MODE0",), default_bits=20, address_bits=8, command_bits=8
)
