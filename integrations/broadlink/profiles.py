"""IR profiles moved to `integrations.ir_devices.profiles` (shared with ESPHome blasters)."""

from integrations.ir_devices.profiles import (
    AC_FAN_SPEEDS,
    AC_MODES,
    AC_SWINGS,
    AcSpec,
    IrProfile,
    ProfileError,
    encode_ac,
    load_profile,
    parse_code_text,
    parse_profile,
    resolve_code,
)

__all__ = [
    "AC_FAN_SPEEDS",
    "AC_MODES",
    "AC_SWINGS",
    "AcSpec",
    "IrProfile",
    "ProfileError",
    "encode_ac",
    "load_profile",
    "parse_code_text",
    "parse_profile",
    "resolve_code",
]
