"""Hitachi 28-byte A/C (IRremoteESP8266 IRHitachiAc): bytes sent MSB-first.

The library keeps each field bit-reversed relative to the wire, so the field codes below are
reversed with bitrev8 before they go into the transmission-order bytes.
"""

from __future__ import annotations

from ir_codes.ac._frames import AcLayout, bitrev8
from ir_codes.ac.state import AcBrand, AcState, lookup, whole_degrees
from ir_codes.errors import EncodeError
from ir_codes.protocols._timing import PulseDistance

LAYOUT = AcLayout(
    "HITACHI_AC",
    38_000,
    PulseDistance(3300, 1700, 400, 1250, 500, 400, gap=100_000),
    False,
    (28,),
)
TEMPLATE = bytes.fromhex("80080c02fd807f884810200c00806060000100000000000080000048")
MODES = {"auto": 2, "heat": 3, "cool": 4, "dry": 5, "fan": 0xC}
FANS = {"auto": 1, "low": 2, "min": 2, "medium": 3, "high": 4, "max": 5}


def _checksum(state: bytes | bytearray) -> int:
    return bitrev8((62 - sum(bitrev8(b) for b in state[:27])) & 0xFF)


def build(s: AcState) -> bytes:
    """State bytes for the settings (fan limits per mode as the unit enforces them)."""
    if s.swing == "on":
        raise EncodeError(
            "the hitachi encoder has no swing control; set swing off or leave it unset"
        )
    temp = whole_degrees("hitachi", s, 16, 32)
    fan = FANS[s.fan]
    if s.mode == "fan" and fan == FANS["auto"]:
        fan = FANS["low"]  # fan-only mode has no automatic speed
    if s.mode == "dry":
        fan = min(fan, FANS["medium"])  # dry mode runs at most at medium
    state = bytearray(TEMPLATE)
    state[10] = bitrev8(MODES[s.mode])
    state[11] = bitrev8(int(temp) << 1)
    state[13] = bitrev8(fan)
    state[17] = 0x01 if s.power else 0x00
    state[27] = _checksum(state)
    return bytes(state)


def parse(state: bytes) -> AcState:
    """Settings from state bytes."""
    return AcState(
        power=bool(state[17] & 0x01),
        mode=lookup(MODES, bitrev8(state[10]), "mode", "hitachi"),
        target_temperature=bitrev8(state[11]) >> 1,
        fan=lookup(FANS, bitrev8(state[13]), "fan", "hitachi"),
    )


def valid(state: bytes) -> bool:
    """True if the fixed header and checksum match."""
    return len(state) == 28 and state[:3] == TEMPLATE[:3] and state[27] == _checksum(state)


BRAND = AcBrand("hitachi", LAYOUT, build, parse, valid, (16, 32))
