"""NEC: 9 ms/4.5 ms leader, 32 pulse-distance bits LSB-first, optional repeat frames.

Standard frames carry address, ~address, command, ~command. Extended frames carry a 16-bit
address (low byte first); when the command inverse is absent the command is 16 bits too.
Extras `extended` / `extended_command` mark 16-bit fields whose value happens to fit in 8 bits.
"""

from __future__ import annotations

from ir_codes.errors import EncodeError
from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field, extra_int
from ir_codes.protocols._timing import PulseDistance, Timeline, bits_lsb, int_lsb, near

CARRIER_HZ = 38_000
DUTY = 33
# IRremoteESP8266's 560 µs tick (sbprojects: 562.5); frames start every 108 ms.
FRAME = PulseDistance(8960, 4480, 560, 1680, 560, 560, gap=22_400, frame_us=108_080)
REPEAT_SPACE = 2240


def _not_inverse_pair(field: str, value: int, explicit: bool) -> None:
    # 0xCC33 sends the bytes 33 CC, which is exactly the standard frame of command 0x33 (a byte
    # and its inverse): it would decode as 0x33. Say so rather than send what the user did not
    # write; `extended`/`extended_command` in the extras insists on the 16-bit reading.
    lo, hi = value & 0xFF, value >> 8
    if value > 0xFF and hi == lo ^ 0xFF and not explicit:
        raise EncodeError(
            f"NEC {field} 0x{value:04X} is the 8-bit {field} 0x{lo:02X} followed by its inverse "
            f"0x{hi:02X} (a standard frame): pass 0x{lo:02X}, or 0x{hi:02X} if 0x{hi:02X} is "
            f"the {field} byte"
        )


def encode(code: IrCode) -> RawSignal:
    """NEC frame (plus `repeats` repeat frames) for the code."""
    check_field("NEC", "address", code.address, 16)
    check_field("NEC", "command", code.command, 16)
    _not_inverse_pair("address", code.address, bool(code.extras.get("extended", False)))
    _not_inverse_pair(
        "command", code.command, bool(code.extras.get("extended_command", False))
    )
    extended = bool(code.extras.get("extended", False)) or code.address > 0xFF
    lo, hi = code.address & 0xFF, code.address >> 8
    addr_bytes = (lo, hi) if extended else (lo, lo ^ 0xFF)
    cmd = code.command
    wide = bool(code.extras.get("extended_command", False)) or cmd > 0xFF
    cmd_bytes = (cmd & 0xFF, cmd >> 8) if wide else (cmd, cmd ^ 0xFF)
    bits: list[int] = []
    for byte in (*addr_bytes, *cmd_bytes):
        bits += bits_lsb(byte, 8)
    line = Timeline()
    FRAME.write(line, bits)
    for _ in range(extra_int(code.extras, "repeats", 0)):
        line.start_frame()
        line.mark(FRAME.header_mark)
        line.space(REPEAT_SPACE)
        line.mark(FRAME.bit_mark)
        line.gap(FRAME.gap, FRAME.frame_us)
    return RawSignal(CARRIER_HZ, line.result(), DUTY)


def _is_repeat(t: tuple[int, ...], i: int) -> bool:
    return (
        i + 2 < len(t)
        and near(t[i], FRAME.header_mark)
        and near(t[i + 1], REPEAT_SPACE)
        and near(t[i + 2], FRAME.bit_mark)
        and (i + 3 >= len(t) or t[i + 3] > 5_000)
    )


def decode(raw: RawSignal) -> IrCode | None:
    """Decode an NEC frame and count the repeat frames after it."""
    t = raw.timings_us
    got = FRAME.read(t, 0, 32)
    if got is None:
        return None
    bits, i = got
    b0, b1, b2, b3 = (int_lsb(bits[k : k + 8]) for k in range(0, 32, 8))
    extras: dict[str, object] = {}
    if b1 == b0 ^ 0xFF:
        address = b0
    else:
        address = b0 | b1 << 8
        if address <= 0xFF:
            extras["extended"] = True  # otherwise indistinguishable from a standard address
    if b3 == b2 ^ 0xFF:
        command = b2
    else:
        command = b2 | b3 << 8
        if command <= 0xFF:
            extras["extended_command"] = True
    repeats = 0
    i += 1
    while _is_repeat(t, i):
        repeats += 1
        i += 4
    if repeats:
        extras["repeats"] = repeats
    return IrCode("NEC", address, command, 32, extras)


CODEC = Codec(
    "NEC",
    encode,
    decode,
    aliases=("NECEXT", "NEC_EXTENDED"),
    default_bits=32,
    address_bits=16,
    command_bits=8,
)
