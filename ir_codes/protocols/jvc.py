"""JVC: 8.4 ms/4.2 ms leader (first frame only), 8-bit address then 8-bit command, LSB-first.

A held JVC key repeats the frame without its leader every 60 ms; extras `repeats` sends that
many header-less copies after the first frame (IRremoteESP8266's sendJVC `repeat`). The default
is none: one frame with its leader is what a short press of a JVC remote sends, and it is what
JVC units act on. Some units (and learned codes from a held key) want the repeats.
"""

from __future__ import annotations

from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field, extra_int
from ir_codes.protocols._timing import PulseDistance, Timeline, bits_lsb, int_lsb

CARRIER_HZ = 38_000
FRAME = PulseDistance(8400, 4200, 525, 1725, 525, 525, gap=10_000, frame_us=60_000)
REPEAT = PulseDistance(0, 0, 525, 1725, 525, 525, gap=10_000, frame_us=60_000)  # no leader


def encode(code: IrCode) -> RawSignal:
    """JVC frame with its header, then `repeats` header-less copies."""
    check_field("JVC", "address", code.address, 8)
    check_field("JVC", "command", code.command, 8)
    repeats = extra_int(code.extras, "repeats", 0)
    bits = bits_lsb(code.address, 8) + bits_lsb(code.command, 8)
    line = Timeline()
    FRAME.write(line, bits)
    for _ in range(repeats):
        REPEAT.write(line, bits)
    return RawSignal(CARRIER_HZ, line.result(), 33)


def decode(raw: RawSignal) -> IrCode | None:
    """Decode a JVC frame (with header) and count the header-less copies of it that follow."""
    t = raw.timings_us
    got = FRAME.read(t, 0, 16)
    if got is None:
        return None
    bits, i = got
    repeats = 0
    while (again := REPEAT.read(t, i + 1, 16, header=False)) is not None and again[0] == bits:
        repeats += 1
        i = again[1]
    extras = {"repeats": repeats} if repeats else {}
    return IrCode("JVC", int_lsb(bits[:8]), int_lsb(bits[8:]), 16, extras)


CODEC = Codec("JVC", encode, decode, default_bits=16, address_bits=8, command_bits=8)
