"""ESPHome raw timings: one signed list, + for marks and − for spaces (remote_transmitter raw,
and aioesphomeapi's InfraredRFTransmitRawTimingsRequest.timings)."""

from __future__ import annotations

from collections.abc import Iterable

from ir_codes.errors import FormatError
from ir_codes.model import DEFAULT_CARRIER_HZ, RawSignal


def to_signed(raw: RawSignal) -> list[int]:
    """Signed timings: marks positive, spaces negative."""
    return [t if k % 2 == 0 else -t for k, t in enumerate(raw.timings_us)]


def from_signed(timings: Iterable[int], carrier_hz: int = DEFAULT_CARRIER_HZ) -> RawSignal:
    """A signal from signed timings; neighbours of the same sign are merged."""
    merged: list[int] = []
    last_sign = 0
    for value in timings:
        if value == 0:
            continue
        sign = 1 if value > 0 else -1
        if not merged and sign < 0:
            continue  # leading silence carries no information
        if sign == last_sign:
            merged[-1] += abs(value)
        else:
            merged.append(abs(value))
            last_sign = sign
    if not merged:
        raise FormatError("ESPHome timings hold no mark (positive value)")
    return RawSignal(carrier_hz, tuple(merged))
