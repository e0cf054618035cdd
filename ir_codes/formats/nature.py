"""Nature Remo signal JSON: {"format": "us", "freq": 38, "data": [mark, space, ...]}."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ir_codes.errors import FormatError
from ir_codes.model import RawSignal


def to_nature(raw: RawSignal) -> str:
    """Nature Remo JSON text (freq in kHz)."""
    freq_khz = round(raw.carrier_hz / 1000)
    return json.dumps({"format": "us", "freq": freq_khz, "data": list(raw.timings_us)})


def from_nature(value: str | Mapping[str, Any]) -> RawSignal:
    """Timings from Nature Remo JSON text or an already-parsed mapping."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise FormatError(f"Nature Remo signal is not valid JSON: {err}") from err
    if not isinstance(value, Mapping):
        raise FormatError("Nature Remo signal must be a JSON object with freq and data")
    if value.get("format", "us") != "us":
        raise FormatError(f"Nature Remo format {value.get('format')!r} unsupported; only 'us'")
    data = value.get("data")
    if not isinstance(data, list) or not data:
        raise FormatError("Nature Remo signal needs a non-empty 'data' list of µs durations")
    freq = value.get("freq", 38)
    if not isinstance(freq, int | float) or not 10 <= freq <= 1000:
        raise FormatError(f"Nature Remo 'freq' is in kHz (e.g. 38), got {freq!r}")
    if not all(isinstance(d, int | float) and d > 0 for d in data):
        raise FormatError("Nature Remo 'data' must contain positive numbers of µs")
    return RawSignal.from_timings(data, round(freq * 1000))
