"""Shared timing machinery: tolerant matching, pulse-distance frames, Manchester units, bits."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

# Captures drift: receivers stretch marks by ~50 µs and shrink spaces, and remotes run on cheap
# resonators. ±30 % plus a fixed slack accepts ±20 % jitter with margin while keeping neighbouring
# protocols (NEC 9 ms vs Samsung 4.5 ms headers) apart.
TOLERANCE = 0.30
SLACK_US = 60


def near(measured: int, expected: float, tolerance: float = TOLERANCE) -> bool:
    """True if a measured duration matches the expected one within tolerance."""
    return abs(measured - expected) <= expected * tolerance + SLACK_US


def bits_lsb(value: int, count: int) -> list[int]:
    """The `count` low bits of value, least significant first."""
    return [(value >> i) & 1 for i in range(count)]


def bits_msb(value: int, count: int) -> list[int]:
    """The `count` low bits of value, most significant first."""
    return [(value >> i) & 1 for i in reversed(range(count))]


def int_lsb(bits: Sequence[int]) -> int:
    """Integer from bits sent least significant first."""
    return sum(b << i for i, b in enumerate(bits))


def int_msb(bits: Sequence[int]) -> int:
    """Integer from bits sent most significant first."""
    value = 0
    for b in bits:
        value = value << 1 | b
    return value


def bytes_to_bits(data: bytes, lsb_first: bool = True) -> list[int]:
    """Transmission-order bits of a byte string."""
    out: list[int] = []
    for byte in data:
        out += bits_lsb(byte, 8) if lsb_first else bits_msb(byte, 8)
    return out


def bits_to_bytes(bits: Sequence[int], lsb_first: bool = True) -> bytes:
    """Bytes from transmission-order bits (length must be a multiple of 8)."""
    pack: Callable[[Sequence[int]], int] = int_lsb if lsb_first else int_msb
    return bytes(pack(bits[i : i + 8]) for i in range(0, len(bits) - len(bits) % 8, 8))


class Timeline:
    """Accumulates marks and spaces, merging neighbours of the same level."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.frame_start = 0

    @property
    def elapsed(self) -> int:
        """µs since the start of the signal."""
        return sum(self.items)

    def mark(self, us: int) -> None:
        """Append carrier-on time."""
        if len(self.items) % 2 == 1:
            self.items[-1] += us
        else:
            self.items.append(us)

    def space(self, us: int) -> None:
        """Append carrier-off time (a leading space is dropped: signals start with a mark)."""
        if not self.items:
            return
        if len(self.items) % 2 == 0:
            self.items[-1] += us
        else:
            self.items.append(us)

    def start_frame(self) -> None:
        """Remember where a frame begins, for frame-length padding."""
        self.frame_start = self.elapsed

    def gap(self, min_gap: int, frame_us: int = 0) -> None:
        """End a frame: a space of at least min_gap that pads the frame to frame_us if given."""
        used = self.elapsed - self.frame_start
        self.space(max(min_gap, frame_us - used) if frame_us else min_gap)

    def result(self) -> tuple[int, ...]:
        """The merged durations."""
        return tuple(self.items)


@dataclass(frozen=True, slots=True)
class PulseDistance:
    """A header + pulse-distance bits + stop mark frame (NEC, AEHA and most A/C protocols)."""

    header_mark: int
    header_space: int
    bit_mark: int
    one_space: int
    zero_space: int
    stop_mark: int
    gap: int
    frame_us: int = 0

    def write(self, line: Timeline, bits: Sequence[int], gap: int | None = None) -> None:
        """Append one frame carrying bits (in transmission order)."""
        line.start_frame()
        if self.header_mark:
            line.mark(self.header_mark)
            line.space(self.header_space)
        for b in bits:
            line.mark(self.bit_mark)
            line.space(self.one_space if b else self.zero_space)
        line.mark(self.stop_mark)
        line.gap(self.gap if gap is None else gap, self.frame_us)

    def is_gap(self, space: int) -> bool:
        """True if a space is too long to be a data bit."""
        return space > self.one_space * 2.2 + SLACK_US

    def read(
        self, t: Sequence[int], i: int, nbits: int | None = None, header: bool = True
    ) -> tuple[list[int], int] | None:
        """Read one frame from t[i]: (bits, index of the trailing gap) or None if it doesn't fit.

        With nbits None the frame runs until the first gap-length space.
        """
        if header and self.header_mark:
            if i + 1 >= len(t) or not near(t[i], self.header_mark):
                return None
            if not near(t[i + 1], self.header_space):
                return None
            i += 2
        threshold = (self.one_space * self.zero_space) ** 0.5
        bits: list[int] = []
        while nbits is None or len(bits) < nbits:
            if i + 1 >= len(t) or not near(t[i], self.bit_mark):
                break
            space = t[i + 1]
            if self.is_gap(space):
                break
            bit = 1 if space > threshold else 0
            if not near(space, self.one_space if bit else self.zero_space):
                return None
            bits.append(bit)
            i += 2
        if nbits is not None and len(bits) != nbits:
            return None
        if not bits or i >= len(t) or not near(t[i], self.stop_mark):
            return None
        if i + 1 < len(t) and not self.is_gap(t[i + 1]):
            return None
        return bits, i + 1


def manchester_expansions(
    t: Sequence[int], half_us: int, first_level: int = 1, limit: int = 256
) -> Iterator[list[int]]:
    """Ways to read durations as half-bit units of level 1 (mark) / 0 (space), likeliest first.

    A duration may fit two unit counts under heavy jitter (2.4 half-bits: 2 stretched or 3
    shrunk); the caller's frame parser picks the reading that forms a valid frame. The final
    space is the inter-frame gap and is not expanded.
    """
    options: list[tuple[int, list[int]]] = []
    for idx, d in enumerate(t):
        level = first_level ^ (idx & 1)
        if idx == len(t) - 1 and level == 0:
            break
        ratio = d / half_us
        fits = [n for n in range(1, 5) if 0.78 <= ratio / n <= 1.28]
        if not fits and 0.6 <= ratio / max(1, round(ratio)) <= 1.5 and round(ratio) <= 4:
            fits = [max(1, round(ratio))]  # an outlier beyond ±20 %: take the nearest count
        if not fits:
            if level == 0 and ratio > 4:
                break  # a gap: the frame is over
            return
        fits.sort(key=lambda n: abs(ratio / n - 1))
        options.append((level, fits))
    tried = 0

    def walk(k: int, units: list[int]) -> Iterator[list[int]]:
        nonlocal tried
        if tried >= limit:
            return
        if k == len(options):
            tried += 1
            yield units
            return
        level, fits = options[k]
        for n in fits:
            yield from walk(k + 1, units + [level] * n)

    yield from walk(0, [])
