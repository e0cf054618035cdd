"""Mitsubishi Electric 18-byte (IRremoteESP8266 IRMitsubishiAC), byte 17 = sum of bytes 0..16."""

from __future__ import annotations

from ir_codes.ac._frames import AcLayout
from ir_codes.ac.state import AcBrand, AcState, lookup, whole_degrees
from ir_codes.protocols._timing import PulseDistance

LAYOUT = AcLayout(
    "MITSUBISHI_AC",
    38_000,
    PulseDistance(3400, 1750, 450, 1300, 420, 440, gap=15_500),
    True,
    (18,),
    # The MSZ remotes send every state twice (IRremoteESP8266 kMitsubishiACMinRepeat = 1); some
    # indoor units drop a lone copy.
    sends=2,
)
# Byte 10 is the remote's clock in 10-minute units; 0x67 (17:10) is IRremoteESP8266's reset
# value, kept so frames match its published vectors. Units ignore it for plain commands.
TEMPLATE = bytes.fromhex("23cb26010020080630456700000000000000")
MODES = {"heat": 0x08, "dry": 0x10, "cool": 0x18, "auto": 0x20, "fan": 0x38}
MODE_SUB = {"heat": 0x0, "dry": 0x2, "cool": 0x6, "auto": 0x0, "fan": 0x7}  # byte 8 low nibble
FANS = {"low": 1, "medium": 2, "high": 3, "max": 4, "min": 5}
FAN_AUTO = 0x80
VANE_AUTO = 0x40
VANE_SWING = 0x38


def build(s: AcState) -> bytes:
    """State bytes for the settings."""
    temp = whole_degrees("mitsubishi", s, 16, 31)
    state = bytearray(TEMPLATE)
    state[5] = 0x20 if s.power else 0x00
    state[6] = MODES[s.mode]
    state[7] = int(temp) - 16
    state[8] = 0x30 | MODE_SUB[s.mode]
    fan = FAN_AUTO if s.fan == "auto" else FANS[s.fan]
    state[9] = fan | VANE_AUTO | (VANE_SWING if s.swing == "on" else 0)
    state[17] = sum(state[:17]) & 0xFF
    return bytes(state)


def parse(state: bytes) -> AcState:
    """Settings from state bytes."""
    fan = "auto" if state[9] & FAN_AUTO else lookup(FANS, state[9] & 0x7, "fan", "mitsubishi")
    return AcState(
        power=bool(state[5] & 0x20),
        mode=lookup(MODES, state[6] & 0x38, "mode", "mitsubishi"),
        target_temperature=16 + (state[7] & 0xF),
        fan=fan,
        swing="on" if state[9] & VANE_SWING == VANE_SWING else "off",
    )


def valid(state: bytes) -> bool:
    """True if the header and sum checksum match."""
    return len(state) == 18 and state[:4] == TEMPLATE[:4] and state[17] == sum(state[:17]) & 0xFF


BRAND = AcBrand("mitsubishi", LAYOUT, build, parse, valid, (16, 31))
