"""Panasonic 27-byte A/C (IRremoteESP8266 IRPanasonicAc): 8-byte + 19-byte sections."""

from __future__ import annotations

from ir_codes.ac._frames import AcLayout
from ir_codes.ac.state import AcBrand, AcState, lookup, whole_degrees
from ir_codes.protocols._timing import PulseDistance

LAYOUT = AcLayout(
    "PANASONIC_AC",
    36_700,
    PulseDistance(3456, 1728, 432, 1296, 432, 432, gap=100_000),
    True,
    (27,),
    sections=(8, 19),
    section_gap=10_000,
)
# Vendor 0x2002 (bytes 02 20) opens both sections, as in every Kaseikyo frame.
TEMPLATE = bytes.fromhex("0220e004000000060220e00400313080a000000ee00000810000f6")
MODES = {"auto": 0x0, "dry": 0x2, "cool": 0x3, "heat": 0x4, "fan": 0x6}
FANS = {"min": 0x3, "low": 0x4, "medium": 0x5, "high": 0x6, "max": 0x7, "auto": 0xA}
# The remote's vane button steps AUTO -> 1 (top) .. 5 -> AUTO; it never sends 0. AUTO is this
# brand's swing (the louvre sweeps while cooling), so it is both "on" and the remote's own
# default when nothing was chosen. "Off" has no code of its own: the remote stops the sweep by
# fixing a position, and we pick the first one it offers, the top (IRremoteESP8266 maps "off"
# to AUTO, which would keep the louvre sweeping when asked to stop).
SWING_AUTO = 0xF
SWING_HIGHEST = 0x1
CHECKSUM_INIT = 0xF4  # kPanasonicAcChecksumInit


def _checksum(state: bytes | bytearray) -> int:
    return (CHECKSUM_INIT + sum(state[:26])) & 0xFF


def build(s: AcState) -> bytes:
    """State bytes for the settings."""
    temp = whole_degrees("panasonic", s, 16, 30)
    state = bytearray(TEMPLATE)
    state[13] = MODES[s.mode] << 4 | int(s.power)
    state[14] = int(temp) * 2
    swing = {None: SWING_AUTO, "on": SWING_AUTO, "off": SWING_HIGHEST}[s.swing]
    state[16] = FANS[s.fan] << 4 | swing
    state[26] = _checksum(state)
    return bytes(state)


def parse(state: bytes) -> AcState:
    """Settings from state bytes."""
    vane = state[16] & 0xF
    return AcState(
        power=bool(state[13] & 1),
        mode=lookup(MODES, state[13] >> 4, "mode", "panasonic"),
        target_temperature=state[14] // 2,
        fan=lookup(FANS, state[16] >> 4, "fan", "panasonic"),
        # 0 comes only from other encoders (IRremoteESP8266 with no vane set): no setting.
        swing=None if vane == 0 else "on" if vane == SWING_AUTO else "off",
    )


def valid(state: bytes) -> bool:
    """True if the vendor bytes and checksum match."""
    return len(state) == 27 and state[:2] == b"\x02\x20" and state[26] == _checksum(state)


BRAND = AcBrand("panasonic", LAYOUT, build, parse, valid, (16, 30))
