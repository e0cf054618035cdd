"""Daikin 35-byte (ARC480-style, IRremoteESP8266 IRDaikinESP): three sections, sum checksums."""

from __future__ import annotations

from ir_codes.ac._frames import AcLayout
from ir_codes.ac.state import AcBrand, AcState, lookup, whole_degrees
from ir_codes.protocols._timing import PulseDistance

LAYOUT = AcLayout(
    "DAIKIN",
    38_000,
    PulseDistance(3650, 1623, 428, 1280, 428, 428, gap=29_428),
    True,
    (35,),
    sections=(8, 8, 19),
    section_gap=29_428,
    preamble_bits=5,
)
# Sections 1 and 2 are fixed for this remote family; section 3 carries the settings.
TEMPLATE = bytes.fromhex("11da2700c50000d711da27004200005411da270000393000a0000006600000c0000041")
MODES = {"auto": 0, "dry": 2, "cool": 3, "heat": 4, "fan": 6}
FANS = {"low": 3, "medium": 5, "high": 6, "max": 7, "auto": 0xA, "min": 0xB}  # min = quiet
SECTIONS = ((0, 8), (8, 16), (16, 35))


def _checksummed(state: bytearray) -> bytes:
    for start, end in SECTIONS:
        state[end - 1] = sum(state[start : end - 1]) & 0xFF
    return bytes(state)


def build(s: AcState) -> bytes:
    """State bytes for the settings."""
    temp = whole_degrees("daikin", s, 10, 32, step=0.5)
    state = bytearray(TEMPLATE)
    state[21] = MODES[s.mode] << 4 | 0x08 | int(s.power)
    state[22] = int(temp * 2)
    state[24] = FANS[s.fan] << 4 | (0xF if s.swing == "on" else 0)
    return _checksummed(state)


def parse(state: bytes) -> AcState:
    """Settings from state bytes."""
    temp = state[22] / 2
    return AcState(
        power=bool(state[21] & 1),
        mode=lookup(MODES, state[21] >> 4 & 0x7, "mode", "daikin"),
        target_temperature=int(temp) if temp.is_integer() else temp,
        fan=lookup(FANS, state[24] >> 4, "fan", "daikin"),
        swing="on" if state[24] & 0xF == 0xF else "off",
    )


def valid(state: bytes) -> bool:
    """True if every section's sum checksum matches."""
    return len(state) == 35 and all(
        state[end - 1] == sum(state[start : end - 1]) & 0xFF for start, end in SECTIONS
    )


BRAND = AcBrand("daikin", LAYOUT, build, parse, valid, (10, 32))
