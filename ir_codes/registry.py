"""The protocol registry: names and aliases to codecs, encode by name, and decode_any.

Decoding tries protocols with distinctive, checked framing first and the generic AEHA
decoder last, so a Daikin or Kaseikyo capture is not reported as plain AEHA.
"""

from __future__ import annotations

from typing import Any

from ir_codes import ac
from ir_codes.errors import DecodeError, EncodeError
from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols import aeha, jvc, nec, rc5, rc6, samsung, sharp, sony
from ir_codes.protocols._codec import Codec, extra_int

__all__ = ["CODECS", "Codec", "codec", "decode_any", "encode", "encode_code", "protocol_names"]


def _ac_codec(brand: ac.AcBrand) -> Codec:
    def encode_state(code: IrCode) -> RawSignal:
        state = code.extras.get("state")
        if not isinstance(state, str | bytes):
            raise EncodeError(
                f"{brand.layout.protocol} needs extras state=<hex bytes>; "
                f"or use `ir ac {brand.name}` with settings"
            )
        data = bytes.fromhex(state) if isinstance(state, str) else state
        return ac.encode_state(brand.name, data)

    def decode_state(raw: RawSignal) -> IrCode | None:
        data = brand.layout.decode(raw)
        if data is None or not brand.valid(data):
            return None
        return IrCode(brand.layout.protocol, 0, 0, len(data) * 8, {"state": data.hex()})

    return Codec(brand.layout.protocol, encode_state, decode_state, stateful=True)


# Order matters for decode_any: specific before generic.
CODECS: tuple[Codec, ...] = (
    nec.CODEC,
    samsung.CODEC,
    jvc.CODEC,
    rc6.CODEC,  # before Sony: a jittered RC-6 leader passes for a Sony header
    rc5.CODEC,
    sony.CODEC,
    sharp.CODEC,
    *(_ac_codec(b) for b in ac.BRANDS.values()),
    aeha.KASEIKYO_CODEC,
    aeha.AEHA_CODEC,
)
_BY_NAME: dict[str, Codec] = {}
for _c in CODECS:
    for _name in (_c.name, *_c.aliases):
        _BY_NAME[_name.upper()] = _c
# Names that also fix the bit count (Flipper's SIRC15/SIRC20 style).
_BITS_BY_NAME = {"SONY12": 12, "SIRC": 12, "SONY15": 15, "SIRC15": 15, "SONY20": 20, "SIRC20": 20}


def protocol_names() -> list[str]:
    """Canonical protocol names."""
    return [c.name for c in CODECS]


def codec(name: str) -> Codec:
    """The codec for a protocol name or alias (case-insensitive)."""
    key = name.strip().upper().replace("-", "_")
    found = _BY_NAME.get(key) or _BY_NAME.get(key.replace("_", ""))
    if found is None:
        raise EncodeError(f"unknown IR protocol {name!r}; known: {', '.join(protocol_names())}")
    return found


def encode_code(code: IrCode) -> RawSignal:
    """Timings for a decoded or hand-built code."""
    return codec(code.protocol).encode(code)


def encode(protocol: str, address: int = 0, command: int = 0, **extras: Any) -> RawSignal:
    """Timings for (protocol, address, command); extras such as bits=15, toggle=1, repeats=2."""
    c = codec(protocol)
    bits = extra_int(extras, "bits", 0) or _BITS_BY_NAME.get(protocol.upper(), 0)
    extras.pop("bits", None)
    return c.encode(IrCode(c.name, address, command, bits or c.default_bits, extras))


def decode_any(raw: RawSignal) -> IrCode:
    """Identify the protocol of a capture (tolerating ±20 % jitter) and decode it."""
    for c in CODECS:
        code = c.decode(raw)
        if code is not None:
            return code
    raise DecodeError(
        f"no known IR protocol matches this capture ({len(raw.timings_us)} durations, "
        f"first {list(raw.timings_us[:4])} µs); keep it as a raw code instead"
    )
