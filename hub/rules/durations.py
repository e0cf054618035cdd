"""Durations and times of day as people write them: ``90s``, ``10m``, ``1h30m``, ``07:30``."""

from __future__ import annotations

import re
from datetime import time

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def parse_duration(value: object) -> float:
    """Seconds from a number or a text like ``1h30m``; ValueError says what is accepted."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text like 90s, 10m, 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        sign = -1.0 if text.startswith("-") else 1.0
        text = text.lstrip("+-")
        pos = 0
        total = 0.0
        for m in _PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if not text or pos != len(text):
            raise ValueError(
                f"{value!r} is not a duration; write e.g. 90s, 10m, 1h30m or a number of seconds"
            )
        seconds = sign * total
    else:
        raise ValueError("a duration is a number of seconds or a text like 90s, 10m, 1h30m")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest text form that parses back to the same seconds (``600`` -> ``10m``)."""
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    if rest != int(rest):
        return f"{sign}{rest:g}s"
    whole = int(rest)
    if whole == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            out += f"{whole // size}{unit}"
            whole %= size
    return sign + out


def parse_time_of_day(value: object) -> time:
    """``HH:MM`` or ``HH:MM:SS`` (24 h)."""
    if isinstance(value, time):
        return value
    m = _TIME.match(str(value).strip()) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{value!r} is not a time of day; write HH:MM or HH:MM:SS (24 h)")
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def format_time_of_day(value: time) -> str:
    """``HH:MM`` or ``HH:MM:SS``."""
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")
