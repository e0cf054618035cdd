"""Values shared by every part of ir_codes: a raw capture and a decoded code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ir_codes.errors import DecodeError, EncodeError

DEFAULT_CARRIER_HZ = 38_000


@dataclass(frozen=True, slots=True)
class RawSignal:
    """IR as carrier frequency plus alternating mark/space durations (µs), starting with a mark."""

    carrier_hz: int
    timings_us: tuple[int, ...]
    duty_percent: int | None = None

    def __post_init__(self) -> None:
        if not 1_000 <= self.carrier_hz <= 1_000_000:
            raise EncodeError(
                f"carrier {self.carrier_hz} Hz is outside 1 kHz..1 MHz; IR carriers are 30-60 kHz"
            )
        if not self.timings_us:
            raise EncodeError("a raw IR signal needs at least one mark duration")
        if any(t <= 0 for t in self.timings_us):
            raise EncodeError("every mark/space duration must be a positive number of µs")

    @classmethod
    def from_timings(
        cls, timings: Any, carrier_hz: int = DEFAULT_CARRIER_HZ, duty_percent: int | None = None
    ) -> RawSignal:
        """Build from any iterable of durations (rounded to whole µs; signs are ignored)."""
        try:
            rounded = tuple(max(1, round(abs(float(t)))) for t in timings)
        except OverflowError:  # a 400-digit "timing" (found by fuzz/parsers.py), or infinity
            raise DecodeError("a timing is too large to be a duration in µs") from None
        return cls(carrier_hz, rounded, duty_percent)

    @property
    def duration_us(self) -> int:
        """Total length including the trailing gap."""
        return sum(self.timings_us)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"carrier_hz": self.carrier_hz, "timings_us": list(self.timings_us)}
        if self.duty_percent is not None:
            out["duty_percent"] = self.duty_percent
        return out


@dataclass(frozen=True, slots=True)
class IrCode:
    """A decoded code: protocol name, address, command, payload bit count and protocol extras."""

    protocol: str
    address: int
    command: int
    bits: int
    extras: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # A read-only copy keeps the value immutable even if the caller's dict changes later.
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "protocol": self.protocol,
            "address": self.address,
            "command": self.command,
            "bits": self.bits,
            "extras": dict(self.extras),
        }
