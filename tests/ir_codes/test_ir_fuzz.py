"""Bad input never crashes: anything we are handed either parses or raises IrCodesError."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ir_codes
from ir_codes import IrCodesError, RawSignal
from ir_codes.ac import decode_ac
from ir_codes.formats import broadlink, convert, flipper, lirc, pronto, read_signals

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def survives(fn: Callable[..., object], *args: object) -> None:
    """Call fn; an IrCodesError is the clean way to refuse, anything else fails the test."""
    with contextlib.suppress(IrCodesError):
        fn(*args)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_a_broadlink_packet(data: bytes) -> None:
    survives(broadlink.from_packet, data)
    survives(broadlink.from_packet, b"\x26\x00" + data)
    survives(read_signals, base64.b64encode(b"\x26\x00" + data).decode())


@FUZZ
@given(st.lists(st.integers(0, 0xFFFF), max_size=40))
def test_any_words_as_pronto(words: list[int]) -> None:
    survives(pronto.from_pronto, " ".join(f"{w:04X}" for w in [0, *words]))


@FUZZ
@given(st.text(max_size=400))
def test_any_text_through_detection_and_conversion(text: str) -> None:
    survives(convert, text, "raw")
    survives(flipper.parse_flipper, text)
    survives(lirc.parse_lirc, text)


@FUZZ
@given(
    st.sampled_from(["name: a\ntype: parsed\n", "name: a\ntype: raw\n", "Filetype: IR signals\n"]),
    st.lists(st.sampled_from([
        "protocol: NEC", "protocol: Kaseikyo", "protocol: SIRC20", "address: 04 00",
        "address: zz", "command: 08 00 00 00", "frequency: 38000", "frequency: x",
        "data: 9000 4500 560", "data: 1 -2 x", "duty_cycle: 0.5", "name: b", "type: other",
    ]), max_size=8),
)  # fmt: skip
def test_any_flipper_like_file(head: str, lines: list[str]) -> None:
    survives(flipper.parse_flipper, head + "\n".join(lines))


@FUZZ
@given(st.lists(st.integers(1, 120_000), min_size=1, max_size=300))
def test_any_timings_decode_or_raise_decode_error(timings: list[int]) -> None:
    raw = RawSignal(38_000, tuple(timings))
    survives(ir_codes.decode, raw)
    survives(decode_ac, raw)


@FUZZ
@given(
    st.sampled_from(ir_codes.protocol_names()), st.integers(-5, 1 << 40), st.integers(-5, 1 << 40)
)
def test_any_values_encode_or_raise_encode_error(protocol: str, address: int, command: int) -> None:
    survives(ir_codes.encode, protocol, address, command)
