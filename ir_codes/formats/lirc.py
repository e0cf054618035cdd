"""LIRC raw codes: lircd.conf `begin raw_codes` blocks, and mode2 `pulse N` / `space N` dumps."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ir_codes.errors import FormatError, IrCodesError
from ir_codes.model import DEFAULT_CARRIER_HZ, RawSignal

_NUMBERS = re.compile(r"^[\d\s]+$")


def parse_lirc(text: str) -> list[tuple[str, RawSignal]]:
    """(name, timings) of every raw code in a lircd.conf, or one ("mode2", ...) for a mode2 dump."""
    if re.search(r"^\s*(pulse|space)\s+\d+", text, re.MULTILINE):
        return [("mode2", _mode2(text))]
    freq = DEFAULT_CARRIER_HZ
    match = re.search(r"^\s*frequency\s+(\d+)", text, re.MULTILINE)
    if match:
        freq = int(match.group(1))
    codes: list[tuple[str, list[int]]] = []
    in_raw = False
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("begin raw_codes"):
            in_raw = True
        elif line.startswith("end raw_codes"):
            in_raw = False
        elif in_raw and line.startswith("name"):
            codes.append((line.split(None, 1)[1] if " " in line else "", []))
        elif in_raw and codes and _NUMBERS.match(line):
            codes[-1][1].extend(int(tok) for tok in line.split())
    if not codes:
        raise FormatError(
            "no LIRC raw codes found: expected 'begin raw_codes' or pulse/space lines"
        )
    try:
        return [(name, RawSignal.from_timings(t, freq or DEFAULT_CARRIER_HZ)) for name, t in codes]
    except IrCodesError as err:
        raise FormatError(f"LIRC raw code is invalid: {err}") from err


def _mode2(text: str) -> RawSignal:
    timings: list[int] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("pulse", "space") or not parts[1].isdigit():
            continue
        is_mark = parts[0] == "pulse"
        if not timings and not is_mark:
            continue  # mode2 starts with the idle space before the first pulse
        if timings and (len(timings) % 2 == 1) == is_mark:
            timings[-1] += int(parts[1])  # same level twice: merge
        else:
            timings.append(int(parts[1]))
    if not timings:
        raise FormatError("mode2 dump has no pulse lines")
    return RawSignal.from_timings(timings)


def to_lirc(codes: Iterable[tuple[str, RawSignal]], remote: str = "homehub") -> str:
    """A lircd.conf with the codes as raw_codes (frequency from the first code)."""
    items = list(codes)
    if not items:
        raise FormatError("nothing to write: no codes given")
    lines = [
        "begin remote",
        f"  name  {remote}",
        "  flags RAW_CODES",
        "  eps   30",
        "  aeps  100",
        f"  frequency {items[0][1].carrier_hz}",
        "  gap   100000",
        "  begin raw_codes",
    ]
    for name, raw in items:
        timings = list(raw.timings_us)
        if len(timings) % 2 == 0:
            timings.pop()  # lircd raw codes end with a pulse; the gap comes from 'gap'
        lines.append(f"    name {name}")
        for k in range(0, len(timings), 8):
            lines.append("      " + " ".join(f"{t:6d}" for t in timings[k : k + 8]))
    lines += ["  end raw_codes", "end remote"]
    return "\n".join(lines) + "\n"
