"""Sony SIRC 12/15/20: 2.4 ms header, pulse-width bits (1.2 ms = 1, 0.6 ms = 0), 40 kHz.

LSB-first: 7-bit command, then a 5-bit (12), 8-bit (15) or 5-bit + 8-bit extended (20) address.
For 20-bit frames the address here is device | extended << 5 (Flipper's SIRC20 convention).
"""

from __future__ import annotations

from ir_codes.errors import EncodeError
from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field, extra_int
from ir_codes.protocols._timing import Timeline, bits_lsb, int_lsb, near

CARRIER_HZ = 40_000
HEADER_MARK, SPACE, ONE_MARK, ZERO_MARK = 2400, 600, 1200, 600
FRAME_US = 45_000
MIN_GAP = 10_000
ADDRESS_BITS = {12: 5, 15: 8, 20: 13}
# A Sony remote sends every press as at least three identical frames, and Sony receivers act
# only on a frame they have seen repeated (one frame alone is ignored as noise). So a code is
# sent as three frames unless `repeats` says otherwise, as IRremoteESP8266's sendSony does.
DEFAULT_REPEATS = 2


def _bits_for(code: IrCode) -> int:
    if code.bits:
        if code.bits not in ADDRESS_BITS:
            raise EncodeError(f"Sony SIRC has 12, 15 or 20 bits, not {code.bits}")
        return code.bits
    return 12 if code.address < 32 else 15 if code.address < 256 else 20


def encode(code: IrCode) -> RawSignal:
    """SIRC frames padded to the 45 ms period: three by default, 1 + extras `repeats` if given.

    `repeats=0` (one frame) exists for comparing with single-frame references; real Sony
    receivers need the default.
    """
    nbits = _bits_for(code)
    check_field("SONY", "command", code.command, 7)
    check_field(f"SONY{nbits}", "address", code.address, ADDRESS_BITS[nbits])
    line = Timeline()
    bits = bits_lsb(code.command, 7) + bits_lsb(code.address, ADDRESS_BITS[nbits])
    for _ in range(1 + extra_int(code.extras, "repeats", DEFAULT_REPEATS)):
        line.start_frame()
        line.mark(HEADER_MARK)
        line.space(SPACE)
        for bit in bits:
            line.mark(ONE_MARK if bit else ZERO_MARK)
            line.space(SPACE)
        line.gap(MIN_GAP, FRAME_US)
    return RawSignal(CARRIER_HZ, line.result(), 33)


def _read(t: tuple[int, ...], i: int) -> tuple[list[int], int] | None:
    """Bits of the frame starting at t[i] and the index after its final gap."""
    if i + 1 >= len(t) or not near(t[i], HEADER_MARK) or not near(t[i + 1], SPACE):
        return None
    bits: list[int] = []
    i += 2
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
    return bits, i + 2


def decode(raw: RawSignal) -> IrCode | None:
    """Decode a SIRC frame (its length picks 12, 15 or 20 bits) and count identical repeats.

    `repeats` is kept only beyond the default: a capture of fewer than three frames is a cut-off
    press (remotes always send three), and sending it back so short would not work.
    """
    first = _read(raw.timings_us, 0)
    if first is None:
        return None
    bits, i = first
    repeats = 0
    while (again := _read(raw.timings_us, i)) is not None and again[0] == bits:
        repeats += 1
        i = again[1]
    extras = {"repeats": repeats} if repeats > DEFAULT_REPEATS else {}
    return IrCode("SONY", int_lsb(bits[7:]), int_lsb(bits[:7]), len(bits), extras)


CODEC = Codec(
    "SONY",
    encode,
    decode,
    aliases=("SIRC", "SONY12", "SONY15", "SONY20", "SIRC15", "SIRC20"),
    default_bits=0,  # picked from the address width unless given
    address_bits=5,
    command_bits=7,
)
