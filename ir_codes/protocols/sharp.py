"""Sharp: no header; 5-bit address, 8-bit command, expansion and check bits, LSB-first.

Sent twice: the second copy inverts command, expansion and check, which is how receivers
tell a Sharp frame from noise.
"""

from __future__ import annotations

from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field, extra_int
from ir_codes.protocols._timing import PulseDistance, Timeline, bits_lsb, int_lsb

CARRIER_HZ = 38_000
FRAME = PulseDistance(0, 0, 260, 1820, 780, 260, gap=43_602)


def _bits(address: int, command: int, expansion: int, check: int) -> list[int]:
    return bits_lsb(address, 5) + bits_lsb(command, 8) + [expansion & 1, check & 1]


def encode(code: IrCode) -> RawSignal:
    """Both Sharp frames."""
    check_field("SHARP", "address", code.address, 5)
    check_field("SHARP", "command", code.command, 8)
    exp = extra_int(code.extras, "expansion", 1)
    check = extra_int(code.extras, "check", 0)
    line = Timeline()
    FRAME.write(line, _bits(code.address, code.command, exp, check))
    FRAME.write(line, _bits(code.address, code.command ^ 0xFF, exp ^ 1, check ^ 1))
    return RawSignal(CARRIER_HZ, line.result(), 33)


def decode(raw: RawSignal) -> IrCode | None:
    """Decode a Sharp frame; a second frame, if present, must be the inverted copy."""
    t = raw.timings_us
    first = FRAME.read(t, 0, 15, header=False)
    if first is None:
        return None
    bits, i = first
    second = FRAME.read(t, i + 1, 15, header=False) if i + 1 < len(t) else None
    if second is not None:
        expect = bits[:5] + [b ^ 1 for b in bits[5:]]
        if second[0] != expect:
            return None
    elif i + 1 < len(t):
        return None
    extras: dict[str, int] = {}
    if bits[13] != 1:
        extras["expansion"] = bits[13]
    if bits[14] != 0:
        extras["check"] = bits[14]
    return IrCode("SHARP", int_lsb(bits[:5]), int_lsb(bits[5:13]), 15, extras)


CODEC = Codec("SHARP", encode, decode, default_bits=15, address_bits=5, command_bits=8)
