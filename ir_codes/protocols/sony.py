"""Sony SIRC 12/15/20: 2.4 ms header, pulse-width bits (1.2 ms = 1, 0.6 ms = 0), 40 kHz.

LSB-first: 7-bit command, then a 5-bit (12), 8-bit (15) or 5-bit + 8-bit extended (20) address.
For 20-bit frames the address here is device | extended << 5 (Flipper's SIRC20 convention).
"""

from __future__ import annotations

from ir_codes.errors import EncodeError
from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field
from ir_codes.protocols._timing import Timeline, bits_lsb, int_lsb, near

CARRIER_HZ = 40_000
HEADER_MARK, SPACE, ONE_MARK, ZERO_MARK = 2400, 600, 1200, 600
FRAME_US = 45_000
MIN_GAP = 10_000
ADDRESS_BITS = {12: 5, 15: 8, 20: 13}


def _bits_for(code: IrCode) -> int:
    if code.bits:
        if code.bits not in ADDRESS_BITS:
            raise EncodeError(f"Sony SIRC has 12, 15 or 20 bits, not {code.bits}")
        return code.bits
    return 12 if code.address < 32 else 15 if code.address < 256 else 20


def encode(code: IrCode) -> RawSignal:
    """One SIRC frame padded to the 45 ms frame period."""
    nbits = _bits_for(code)
    check_field("SONY", "command", code.command, 7)
    check_field(f"SONY{nbits}", "address", code.address, ADDRESS_BITS[nbits])
    line = Timeline()
    line.mark(HEADER_MARK)
    line.space(SPACE)
    for bit in bits_lsb(code.command, 7) + bits_lsb(code.address, ADDRESS_BITS[nbits]):
        line.mark(ONE_MARK if bit else ZERO_MARK)
        line.space(SPACE)
    line.gap(MIN_GAP, FRAME_US)
    return RawSignal(CARRIER_HZ, line.result(), 33)


def decode(raw: RawSignal) -> IrCode | None:
    """Decode one SIRC frame; its length (12, 15 or 20 bits) picks the variant."""
    t = raw.timings_us
    if len(t) < 2 or not near(t[0], HEADER_MARK) or not near(t[1], SPACE):
        return None
    bits: list[int] = []
    i = 2
    while i < len(t):
        mark = t[i]
        bit = 1 if mark > (ONE_MARK + ZERO_MARK) / 2 else 0
        if not near(mark, ONE_MARK if bit else ZERO_MARK):
            return None
        bits.append(bit)
        if i + 1 >= len(t) or t[i + 1] > 3 * SPACE:
            break
        if not near(t[i + 1], SPACE):
            return None
        i += 2
    if len(bits) not in ADDRESS_BITS:
        return None
    return IrCode("SONY", int_lsb(bits[7:]), int_lsb(bits[:7]), len(bits))


CODEC = Codec(
    "SONY",
    encode,
    decode,
    aliases=("SIRC", "SONY12", "SONY15", "SONY20", "SIRC15", "SIRC20"),
    default_bits=0,  # picked from the address width unless given
    address_bits=5,
    command_bits=7,
)
