"""Prepared IR captures for the emulator and demo: NEC buttons as Broadlink code packets.

Built by hand from the NEC timing facts (PROTOCOLS.md §4) so the emulator has something to "learn"
without depending on `ir_codes`; `ir_codes` is the real encoder and the tests compare against it.
"""

from __future__ import annotations

from collections.abc import Sequence

from integrations.broadlink import packet as pk

NEC_T_US = 562.5
# Broadlink's tick: protocol.md's µs × 269 / 8192 (≈ 30.45 µs), which hardware measurements
# confirm (PROTOCOLS.md §2); the library's 32.84 sends foreign codes about 7 % short.
TICK_US = 8192 / 269
NEC_GAP_US = 40_000.0  # silence after the stop bit before a repeat could follow


def nec_timings(address: int, command: int) -> list[float]:
    """Mark/space durations (µs) of one NEC frame with an 8-bit address."""
    t = NEC_T_US
    out = [16 * t, 8 * t]
    value = address | (~address & 0xFF) << 8 | command << 16 | (~command & 0xFF) << 24
    for bit in range(32):
        out += [t, 3 * t if value >> bit & 1 else t]
    out += [t, NEC_GAP_US]
    return out


def timings_to_packet(timings_us: Sequence[float], repeat: int = 0) -> bytes:
    """Broadlink IR code packet (type 0x26) from mark/space durations, ending `0d 05`."""
    body = bytearray()
    for duration in timings_us:
        ticks = max(1, round(duration / TICK_US))
        if ticks > 0xFF:
            body += b"\x00" + min(ticks, 0xFFFF).to_bytes(2, "big")
        else:
            body.append(ticks)
    body += b"\x0d\x05"
    return bytes([pk.IR_TYPE, repeat]) + len(body).to_bytes(2, "little") + bytes(body)


def nec_packet(address: int, command: int) -> bytes:
    """One NEC button press as a Broadlink IR packet."""
    return timings_to_packet(nec_timings(address, command))


# Two buttons of a generic NEC TV remote (address 0x04), used by `homehub sim broadlink`.
DEMO_CAPTURES: dict[str, bytes] = {
    "tv_power": nec_packet(0x04, 0x08),
    "tv_volume_up": nec_packet(0x04, 0x02),
}
