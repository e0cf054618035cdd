"""The codec record every protocol module exports, and small shared checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ir_codes.errors import EncodeError
from ir_codes.model import IrCode, RawSignal


@dataclass(frozen=True, slots=True)
class Codec:
    """One protocol: its canonical name, aliases, and encode/decode functions."""

    name: str
    encode: Callable[[IrCode], RawSignal]
    decode: Callable[[RawSignal], IrCode | None]
    aliases: tuple[str, ...] = ()
    default_bits: int = 0
    address_bits: int = 0
    command_bits: int = 0
    stateful: bool = False  # A/C-style: the payload is extras["state"], not address/command


def check_field(protocol: str, field: str, value: int, bits: int) -> int:
    """Validate that value fits in `bits` unsigned bits."""
    if not 0 <= value < 1 << bits:
        raise EncodeError(
            f"{protocol} {field} must be 0..{(1 << bits) - 1} ({bits} bits), got {value}"
        )
    return value


def extra_int(extras: Mapping[str, Any], key: str, default: int) -> int:
    """An integer extra with a default, accepting bools and numeric strings."""
    value = extras.get(key, default)
    try:
        return int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as err:
        raise EncodeError(f"extra {key!r} must be an integer, got {value!r}") from err
