"""Errors raised by ir_codes.

IrCodesError           root: catch this at the edge (CLI, API, integration)
├── EncodeError        values a protocol cannot carry (address too wide, unknown protocol)
├── DecodeError        timings that no known protocol explains
├── FormatError        input that is not valid Pronto/Broadlink/Nature/Flipper/LIRC
├── UnknownBrand       an air-conditioner brand without an encoder
└── ProfileError       a code-set profile file that is missing or invalid
"""

from __future__ import annotations


class IrCodesError(Exception):
    """Root of every error raised by ir_codes."""


class EncodeError(IrCodesError, ValueError):
    """The requested code cannot be encoded."""


class DecodeError(IrCodesError, ValueError):
    """A raw capture could not be decoded."""


class FormatError(IrCodesError, ValueError):
    """Input is not valid in the claimed or detected code format."""


class UnknownBrand(IrCodesError, LookupError):
    """No air-conditioner encoder exists for the brand."""

    def __init__(self, brand: str, known: list[str]) -> None:
        self.brand = brand
        self.known = sorted(known)
        super().__init__(
            f"no air-conditioner encoder for brand {brand!r}; "
            f"choose one of: {', '.join(self.known)}"
        )


class ProfileError(IrCodesError, ValueError):
    """A code-set profile is missing or invalid."""
