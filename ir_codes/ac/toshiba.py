"""Toshiba 9-byte A/C (IRremoteESP8266 IRToshibaAC): bytes sent MSB-first, XOR checksum."""

from __future__ import annotations

from dataclasses import replace
from functools import reduce
from operator import xor

from ir_codes.ac._frames import AcLayout
from ir_codes.ac.state import AcBrand, AcState, lookup, whole_degrees
from ir_codes.errors import DecodeError
from ir_codes.model import RawSignal
from ir_codes.protocols._timing import PulseDistance, bits_to_bytes

LAYOUT = AcLayout(
    "TOSHIBA_AC",
    38_000,
    PulseDistance(4400, 4300, 580, 1600, 490, 580, gap=7_400),
    False,
    (7, 9, 10),
    # Toshiba remotes send every message twice (IRremoteESP8266 kToshibaACMinRepeat = 1).
    sends=2,
)
# Byte 1 = ~byte 0; byte 2 = state length - 6 (3 for the 9-byte form).
TEMPLATE = bytes.fromhex("f20d03fc0170010070")
MODES = {"auto": 0, "cool": 1, "dry": 2, "heat": 3, "fan": 4}
MODE_OFF = 7  # "power off" is a mode value here (IRremoteESP8266 kToshibaAcOff = 0b111)
FANS = {"auto": 0, "min": 2, "low": 3, "medium": 4, "high": 5, "max": 6}
# The state frame has no swing: the remote sends it as its own 7-byte message (byte 2 = 1 for
# the short form, byte 4 bit 5 marks it short, byte 5 = swing, XOR checksum), IRremoteESP8266's
# kToshibaAcSwingOn/Off.
SWING_TEMPLATE = bytes.fromhex("f20d01fe2100")
SWING_CODES = {"on": 0x01, "off": 0x02}


def build(s: AcState) -> bytes:
    """State bytes for the settings (swing goes in its own message: swing_message)."""
    temp = whole_degrees("toshiba", s, 17, 30)
    state = bytearray(TEMPLATE)
    state[5] = (int(temp) - 17) << 4
    state[6] = FANS[s.fan] << 5 | (MODES[s.mode] if s.power else MODE_OFF)
    state[8] = reduce(xor, state[:8])
    return bytes(state)


def swing_message(s: AcState) -> list[bytes]:
    """The swing command the remote sends after the state when swing is set (none if unset)."""
    if s.swing is None:
        return []
    message = bytearray(SWING_TEMPLATE)
    message[5] = SWING_CODES[s.swing]
    return [bytes(message) + bytes([reduce(xor, message)])]


def read_swing(settings: AcState, raw: RawSignal) -> AcState:
    """The settings with the swing of a swing message later in the same capture, if any."""
    t, i = raw.timings_us, 0
    while (got := LAYOUT.frame.read(t, i)) is not None:
        message = bits_to_bytes(got[0], LAYOUT.lsb_first)
        i = got[1] + 1
        if len(message) == 7 and message[:5] == SWING_TEMPLATE[:5] and valid(message):
            for name, code in SWING_CODES.items():
                if message[5] & 0x7 == code:
                    return replace(settings, swing=name)
    return settings


def parse(state: bytes) -> AcState:
    """Settings from a 9-byte state (an 'off' state reports mode auto)."""
    if len(state) != 9:
        raise DecodeError(
            "this Toshiba message is the swing command alone; the settings are in the 9-byte state"
        )
    mode_code = state[6] & 0x7
    return AcState(
        power=mode_code != MODE_OFF,
        mode="auto" if mode_code == MODE_OFF else lookup(MODES, mode_code, "mode", "toshiba"),
        target_temperature=17 + (state[5] >> 4),
        fan=lookup(FANS, state[6] >> 5, "fan", "toshiba"),
    )


def valid(state: bytes) -> bool:
    """True if the inverse byte, the length byte and the XOR checksum match (9-byte state or
    7-byte swing message)."""
    return (
        len(state) in (7, 9)
        and state[1] == state[0] ^ 0xFF
        and state[2] + 6 == len(state)
        and state[-1] == reduce(xor, state[:-1])
    )


BRAND = AcBrand("toshiba", LAYOUT, build, parse, valid, (17, 30), swing_message, read_swing)
