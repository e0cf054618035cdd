"""ir_codes: IR protocol encoders/decoders, A/C state encoders, code formats and code sets.

    >>> import ir_codes
    >>> raw = ir_codes.encode("NEC", 0x04, 0x08)
    >>> ir_codes.decode(raw).command
    8

Pure library: timings and bytes in, values out; no I/O except reading code-set files.
"""

from __future__ import annotations

from ir_codes import ac, codesets, formats
from ir_codes.ac import AcState, decode_ac, encode_ac, known_brands
from ir_codes.codesets import Profile, list_profiles, load_profile
from ir_codes.errors import (
    DecodeError,
    EncodeError,
    FormatError,
    IrCodesError,
    ProfileError,
    UnknownBrand,
)
from ir_codes.model import IrCode, RawSignal
from ir_codes.registry import decode_any, encode, encode_code, protocol_names

__all__ = [
    "AcState",
    "DecodeError",
    "EncodeError",
    "FormatError",
    "IrCode",
    "IrCodesError",
    "Profile",
    "ProfileError",
    "RawSignal",
    "UnknownBrand",
    "ac",
    "codesets",
    "decode",
    "decode_ac",
    "decode_any",
    "encode",
    "encode_ac",
    "encode_code",
    "formats",
    "known_brands",
    "list_profiles",
    "load_profile",
    "protocol_names",
]


def decode(raw: RawSignal) -> IrCode:
    """Decode a capture into a protocol code (DecodeError if no protocol matches)."""
    return decode_any(raw)
