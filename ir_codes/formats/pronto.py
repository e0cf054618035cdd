"""Pronto hex (learned, type 0000): `0000 FFFF N1 N2` then (N1 + N2) mark/space pairs.

Each value counts carrier periods; the carrier is 1 / (FFFF × 0.241246 µs). N1 pairs are sent
once, N2 pairs repeat while the button is held.
"""

from __future__ import annotations

from ir_codes.errors import FormatError
from ir_codes.model import RawSignal

PRONTO_CLOCK_US = 0.241246
TRAILING_GAP_US = 100_000


def to_pronto(raw: RawSignal) -> str:
    """Pronto hex with the whole signal as the once-burst."""
    code = max(1, round(1e6 / (raw.carrier_hz * PRONTO_CLOCK_US)))
    period_us = code * PRONTO_CLOCK_US
    timings = list(raw.timings_us)
    if len(timings) % 2:
        timings.append(TRAILING_GAP_US)  # Pronto needs pairs: close the last mark with a gap
    counts = [min(0xFFFF, max(1, round(t / period_us))) for t in timings]
    words = [0x0000, code, len(counts) // 2, 0, *counts]
    return " ".join(f"{w:04X}" for w in words)


def from_pronto(text: str) -> RawSignal:
    """Parse learned Pronto hex; the once-burst, or the repeat burst if there is none."""
    tokens = text.split()
    try:
        words = [int(tok, 16) for tok in tokens]
    except ValueError as err:
        raise FormatError(f"Pronto hex must be 4-digit hex words; {err}") from err
    if any(len(tok) != 4 for tok in tokens):
        raise FormatError("Pronto hex words are exactly 4 hex digits each (e.g. 0000 006D 0022)")
    if len(words) < 6:
        raise FormatError("Pronto code too short: needs 0000, frequency, N1, N2 and pairs")
    kind, code, once, repeat = words[:4]
    if kind != 0x0000:
        raise FormatError(
            f"Pronto type {kind:04X} is not supported; only learned codes (0000) carry timings"
        )
    if code == 0:
        raise FormatError("Pronto frequency word is 0000; a learned code needs a carrier")
    body = words[4:]
    if len(body) % 2:
        raise FormatError(f"Pronto body has an odd number of words ({len(body)}); pairs needed")
    if len(body) != 2 * (once + repeat):
        raise FormatError(
            f"Pronto header announces {once}+{repeat} pairs but the body has {len(body) // 2}"
        )
    period_us = code * PRONTO_CLOCK_US
    carrier_hz = round(1e6 / period_us)
    chosen = body[: 2 * once] if once else body[2 * once :]
    if not chosen or any(w == 0 for w in chosen):
        raise FormatError("Pronto code has no burst pairs or a zero-length duration")
    return RawSignal(carrier_hz, tuple(max(1, round(w * period_us)) for w in chosen))
