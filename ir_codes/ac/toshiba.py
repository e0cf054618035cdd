"""Toshiba 9-byte A/C (IRremoteESP8266 IRToshibaAC): bytes sent MSB-first, XOR checksum."""

from __future__ import annotations

from functools import reduce
from operator import xor

from ir_codes.ac._frames import AcLayout
from ir_codes.ac.state import AcBrand, AcState, lookup, whole_degrees
from ir_codes.errors import EncodeError
from ir_codes.protocols._timing import PulseDistance

LAYOUT = AcLayout(
    "TOSHIBA_AC",
    38_000,
    PulseDistance(4400, 4300, 580, 1600, 490, 580, gap=7_400),
    False,
    (7, 9, 10),
)
# Byte 1 = ~byte 0; byte 2 = state length - 6 (3 for the 9-byte form).
TEMPLATE = bytes.fromhex("f20d03fc0170010070")
MODES = {"auto": 0, "cool": 1, "dry": 2, "heat": 3, "fan": 4}
MODE_OFF = 7  # "power off" is a mode value here (IRremoteESP8266 kToshibaAcOff = 0b111)
FANS = {"auto": 0, "min": 2, "low": 3, "medium": 4, "high": 5, "max": 6}


def build(s: AcState) -> bytes:
    """State bytes for the settings."""
    if s.swing == "on":
        # The remote sends swing as a separate short command, not part of the state frame.
        raise EncodeError("the toshiba state frame has no swing setting; set swing off or unset")
    temp = whole_degrees("toshiba", s, 17, 30)
    state = bytearray(TEMPLATE)
    state[5] = (int(temp) - 17) << 4
    state[6] = FANS[s.fan] << 5 | (MODES[s.mode] if s.power else MODE_OFF)
    state[8] = reduce(xor, state[:8])
    return bytes(state)


def parse(state: bytes) -> AcState:
    """Settings from a 9-byte state (an 'off' state reports mode auto)."""
    mode_code = state[6] & 0x7
    return AcState(
        power=mode_code != MODE_OFF,
        mode="auto" if mode_code == MODE_OFF else lookup(MODES, mode_code, "mode", "toshiba"),
        target_temperature=17 + (state[5] >> 4),
        fan=lookup(FANS, state[6] >> 5, "fan", "toshiba"),
    )


def valid(state: bytes) -> bool:
    """True if the inverse byte, the length byte and the XOR checksum match."""
    return (
        len(state) == 9
        and state[1] == state[0] ^ 0xFF
        and state[2] + 6 == len(state)
        and state[-1] == reduce(xor, state[:-1])
    )


BRAND = AcBrand("toshiba", LAYOUT, build, parse, valid, (17, 30))
