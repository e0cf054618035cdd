"""Stateful air-conditioner encoders: settings -> whole state bytes with checksums -> timings.

>>> from ir_codes.ac import AcState, encode_ac
>>> raw = encode_ac("daikin", AcState(power=True, mode="cool", target_temperature=26))
"""

from __future__ import annotations

from ir_codes.ac import daikin, fujitsu, hitachi, mitsubishi, panasonic, toshiba
from ir_codes.ac.state import FANS, MODES, AcBrand, AcState
from ir_codes.errors import DecodeError, UnknownBrand
from ir_codes.model import IrCode, RawSignal

BRANDS: dict[str, AcBrand] = {
    b.name: b
    for b in (
        daikin.BRAND,
        mitsubishi.BRAND,
        panasonic.BRAND,
        toshiba.BRAND,
        fujitsu.BRAND,
        hitachi.BRAND,
    )
}
_ALIASES = {"mitsubishi_electric": "mitsubishi", "mitsubishi-electric": "mitsubishi"}

__all__ = [
    "BRANDS",
    "FANS",
    "MODES",
    "AcBrand",
    "AcState",
    "brand",
    "brand_for_protocol",
    "decode_ac",
    "encode_ac",
    "encode_state",
    "known_brands",
    "state_bytes",
]


def known_brands() -> list[str]:
    """Brand names encode_ac accepts."""
    return sorted(BRANDS)


def brand(name: str) -> AcBrand:
    """The brand record for a name (case-insensitive), or UnknownBrand listing the known ones."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    for b in BRANDS.values():
        if key in (b.name, b.layout.protocol.lower()):
            return b
    raise UnknownBrand(name, known_brands())


def brand_for_protocol(protocol: str) -> AcBrand | None:
    """The brand whose frames are named `protocol` (e.g. DAIKIN), if any."""
    for b in BRANDS.values():
        if b.layout.protocol == protocol.upper():
            return b
    return None


def state_bytes(brand_name: str, state: AcState) -> bytes:
    """The whole state frame bytes (transmission order) for the settings."""
    return brand(brand_name).build(state)


def encode_state(brand_name: str, data: bytes) -> RawSignal:
    """Timings for raw state bytes of a brand."""
    b = brand(brand_name)
    if len(data) not in b.layout.sizes:
        raise DecodeError(f"{b.name} states are {b.layout.sizes} bytes long, got {len(data)}")
    return b.layout.encode(data)


def encode_ac(brand_name: str, state: AcState) -> RawSignal:
    """Timings of one button press of the brand's remote: the whole state as often as the remote
    sends it, then any follow-up message the settings need (Toshiba's swing)."""
    b = brand(brand_name)
    parts = [b.layout.encode(message) for message in b.messages(state)]
    timings = tuple(t for part in parts for t in part.timings_us)  # each part ends with its gap
    return RawSignal(parts[0].carrier_hz, timings, parts[0].duty_percent)


def decode_ac(raw: RawSignal | IrCode) -> tuple[str, AcState, bytes]:
    """(brand, settings, state bytes) from a capture or a decoded A/C code."""
    if isinstance(raw, IrCode):
        b = brand_for_protocol(raw.protocol)
        if b is None or "state" not in raw.extras:
            raise DecodeError(f"{raw.protocol} is not an air-conditioner protocol")
        data = bytes.fromhex(str(raw.extras["state"]))
        return b.name, b.parse(data), data
    for b in BRANDS.values():
        found = b.layout.decode(raw)
        if found is not None and b.valid(found):
            settings = b.parse(found)
            if b.read_follow_ups is not None:
                settings = b.read_follow_ups(settings, raw)
            return b.name, settings, found
    raise DecodeError(
        "no air-conditioner protocol matches this capture; known brands: "
        + ", ".join(known_brands())
    )
