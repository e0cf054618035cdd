"""Fujitsu ARRAH2E A/C (IRremoteESP8266 IRFujitsuAC): 16-byte state, 7-byte power-off."""

from __future__ import annotations

from ir_codes.ac._frames import AcLayout
from ir_codes.ac.state import AcBrand, AcState, lookup, whole_degrees
from ir_codes.protocols._timing import PulseDistance

LAYOUT = AcLayout(
    "FUJITSU_AC",
    38_000,
    PulseDistance(3324, 1574, 448, 1182, 390, 448, gap=8_100),
    True,
    (7, 16),
)
TEMPLATE = bytes.fromhex("1463001010fe093081013000000020fe")
OFF = bytes.fromhex("146300101002fd")
MODES = {"auto": 0, "cool": 1, "dry": 2, "fan": 3, "heat": 4}
# The remote has four speeds plus quiet; "max" shares the top speed.
FANS = {"auto": 0, "high": 1, "max": 1, "medium": 2, "low": 3, "min": 4}
SWING_BOTH = 3  # vertical + horizontal, the remote's default


def _checksum(state: bytes | bytearray) -> int:
    return -sum(state[7:15]) & 0xFF


def build(s: AcState) -> bytes:
    """State bytes (the short 7-byte command when powering off)."""
    if not s.power:
        return OFF
    temp = whole_degrees("fujitsu", s, 16, 30)
    state = bytearray(TEMPLATE)
    state[8] = (int(temp) - 16) << 4 | 0x01
    state[9] = MODES[s.mode]
    swing = 0 if s.swing == "off" else SWING_BOTH
    state[10] = swing << 4 | FANS[s.fan]
    state[15] = _checksum(state)
    return bytes(state)


def parse(state: bytes) -> AcState:
    """Settings from state bytes (a power-off command carries no other settings)."""
    if len(state) == 7:
        return AcState(power=False)
    return AcState(
        power=True,
        mode=lookup(MODES, state[9] & 0x7, "mode", "fujitsu"),
        target_temperature=16 + (state[8] >> 4),
        fan=lookup(FANS, state[10] & 0x7, "fan", "fujitsu"),
        swing="off" if state[10] >> 4 == 0 else "on",
    )


def valid(state: bytes) -> bool:
    """True if the fixed header and checksum (or the off command) match."""
    if len(state) == 7:
        return state[:5] == OFF[:5] and state[6] == state[5] ^ 0xFF
    return len(state) == 16 and state[:5] == TEMPLATE[:5] and state[15] == _checksum(state)


BRAND = AcBrand("fujitsu", LAYOUT, build, parse, valid, (16, 30))
