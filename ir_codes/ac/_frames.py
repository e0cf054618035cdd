"""Air-conditioner frames: whole state bytes <-> timings, section by section."""

from __future__ import annotations

from dataclasses import dataclass

from ir_codes.model import RawSignal
from ir_codes.protocols._timing import PulseDistance, Timeline, bits_to_bytes, bytes_to_bits


@dataclass(frozen=True, slots=True)
class AcLayout:
    """How a brand puts its state bytes on the air."""

    protocol: str
    carrier_hz: int
    frame: PulseDistance
    lsb_first: bool
    sizes: tuple[int, ...]  # accepted total state lengths
    sections: tuple[int, ...] = ()  # bytes per section when the state is split (Daikin, Panasonic)
    section_gap: int = 0  # gap between sections (the last one uses frame.gap)
    preamble_bits: int = 0  # Daikin's header-less run of zero bits before the first section
    # How many times the brand's own remote sends each message per button press; units whose
    # remotes send it twice may ignore a single copy (IRremoteESP8266's default repeat + 1).
    sends: int = 1

    def encode(self, state: bytes, sends: int | None = None) -> RawSignal:
        """Timings for one button press: the whole state, `sends` times (the remote's count)."""
        line = Timeline()
        for _ in range(self.sends if sends is None else sends):
            self._write(line, state)
        return RawSignal(self.carrier_hz, line.result(), 50)

    def _write(self, line: Timeline, state: bytes) -> None:
        if self.preamble_bits:
            bare = PulseDistance(0, 0, *_bit_timing(self.frame), gap=self.section_gap)
            bare.write(line, [0] * self.preamble_bits)
        parts = self._split(state)
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            gap = self.frame.gap if last else self.section_gap
            self.frame.write(line, bytes_to_bits(part, self.lsb_first), gap)

    def _split(self, state: bytes) -> list[bytes]:
        if not self.sections or sum(self.sections) != len(state):
            return [state]
        out, start = [], 0
        for size in self.sections:
            out.append(state[start : start + size])
            start += size
        return out

    def decode(self, raw: RawSignal) -> bytes | None:
        """State bytes from a capture of this layout, or None (no checksum check here)."""
        t = raw.timings_us
        i = 0
        if self.preamble_bits:
            bare = PulseDistance(0, 0, *_bit_timing(self.frame), gap=self.section_gap)
            got = bare.read(t, 0, self.preamble_bits, header=False)
            if got is None:
                return None
            i = got[1] + 1
        data = b""
        expected = len(self.sections) if self.sections else 1
        for _ in range(expected):
            got = self.frame.read(t, i)
            if got is None or len(got[0]) % 8:
                return None
            data += bits_to_bytes(got[0], self.lsb_first)
            i = got[1] + 1
            if self.sections and len(data) not in _prefix_sums(self.sections):
                break
        if len(data) not in self.sizes:
            return None
        return data


def _bit_timing(frame: PulseDistance) -> tuple[int, int, int, int]:
    return frame.bit_mark, frame.one_space, frame.zero_space, frame.stop_mark


def _prefix_sums(sizes: tuple[int, ...]) -> set[int]:
    total, out = 0, set()
    for s in sizes:
        total += s
        out.add(total)
    return out


def bitrev8(value: int) -> int:
    """Reverse the bit order of a byte."""
    return int(f"{value & 0xFF:08b}"[::-1], 2)
