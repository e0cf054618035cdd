"""Protocol codecs: encode -> decode round trips, jitter tolerance, repeats and bad input."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ir_codes
from ir_codes import DecodeError, EncodeError, IrCode, RawSignal
from ir_codes.protocols.aeha import vendor_parity

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def nec_codes(draw: st.DrawFn) -> IrCode:
    address = draw(st.one_of(st.integers(0, 0xFF), st.integers(0x100, 0xFFFF)))
    # A 16-bit address whose high byte is the inverse of the low byte is a standard frame.
    assume(address <= 0xFF or address >> 8 != (address & 0xFF) ^ 0xFF)
    extras = {"repeats": draw(st.integers(1, 3))} if draw(st.booleans()) else {}
    return IrCode("NEC", address, draw(st.integers(0, 0xFF)), 32, extras)


@st.composite
def sony_codes(draw: st.DrawFn) -> IrCode:
    bits = draw(st.sampled_from([12, 15, 20]))
    width = {12: 5, 15: 8, 20: 13}[bits]
    extras = {"repeats": draw(st.integers(1, 2))} if draw(st.booleans()) else {}
    address = draw(st.integers(0, (1 << width) - 1))
    return IrCode("SONY", address, draw(st.integers(0, 127)), bits, extras)


@st.composite
def toggled(draw: st.DrawFn, protocol: str, addr_bits: int, cmd_bits: int, bits: int) -> IrCode:
    toggle = draw(st.integers(0, 1))
    address = draw(st.integers(0, (1 << addr_bits) - 1))
    command = draw(st.integers(0, (1 << cmd_bits) - 1))
    return IrCode(protocol, address, command, bits, {"toggle": 1} if toggle else {})


@st.composite
def aeha_codes(draw: st.DrawFn) -> IrCode:
    nbytes = draw(st.integers(3, 12))
    address = draw(st.integers(0, 0xFFFF))
    command = draw(st.integers(0, (1 << (nbytes * 8 - 20)) - 1))
    t_us = draw(st.sampled_from([350, 400, 425, 450, 500]))
    if nbytes == 6:
        # A 48-bit AEHA frame whose last byte is the XOR of bytes 2..4 *is* a Kaseikyo frame.
        data = (command << 4 | vendor_parity(address)).to_bytes(4, "little")
        assume(data[3] != data[0] ^ data[1] ^ data[2])
    return IrCode("AEHA", address, command, nbytes * 8, {} if t_us == 425 else {"t_us": t_us})


@st.composite
def kaseikyo_codes(draw: st.DrawFn) -> IrCode:
    ident, vendor = draw(st.integers(0, 3)), draw(st.integers(0, 0xFFFF))
    genre1, genre2 = draw(st.integers(0, 15)), draw(st.integers(0, 15))
    address = ident << 24 | vendor << 8 | genre1 << 4 | genre2
    return IrCode("KASEIKYO", address, draw(st.integers(0, 0x3FF)), 48)


def byte_codes(
    protocol: str, addr_bits: int, cmd_bits: int, bits: int
) -> st.SearchStrategy[IrCode]:
    return st.builds(
        IrCode,
        st.just(protocol),
        st.integers(0, (1 << addr_bits) - 1),
        st.integers(0, (1 << cmd_bits) - 1),
        st.just(bits),
    )


ALL_CODES = st.one_of(
    nec_codes(),
    byte_codes("SAMSUNG32", 8, 8, 32),
    byte_codes("JVC", 8, 8, 16),
    byte_codes("SHARP", 5, 8, 15),
    sony_codes(),
    toggled("RC5", 5, 7, 12),
    toggled("RC6", 8, 8, 20),
    aeha_codes(),
    kaseikyo_codes(),
)


@SETTINGS
@given(ALL_CODES)
def test_encode_decode_round_trip(code: IrCode) -> None:
    raw = ir_codes.encode_code(code)
    assert ir_codes.decode(raw) == code


def jitter(raw: RawSignal, fraction: float, seed: int) -> RawSignal:
    """Every duration scaled by an independent factor in [1 - fraction, 1 + fraction]."""
    rng = random.Random(seed)
    scaled = [round(t * rng.uniform(1 - fraction, 1 + fraction)) for t in raw.timings_us]
    return RawSignal.from_timings(scaled, raw.carrier_hz)


def essentials(code: IrCode) -> tuple[object, ...]:
    """A code without measured quantities (AEHA's unit T is estimated from the capture)."""
    extras = {k: v for k, v in code.extras.items() if k != "t_us"}
    return code.protocol, code.address, code.command, code.bits, extras


@SETTINGS
@given(ALL_CODES, st.integers(0, 2**32))
def test_decode_tolerates_20_percent_jitter(code: IrCode, seed: int) -> None:
    got = ir_codes.decode(jitter(ir_codes.encode_code(code), 0.20, seed))
    assert essentials(got) == essentials(code)


@SETTINGS
@given(ALL_CODES)
def test_decode_tolerates_missing_trailing_gap(code: IrCode) -> None:
    raw = ir_codes.encode_code(code)
    trimmed = RawSignal(raw.carrier_hz, raw.timings_us[:-1])
    assert ir_codes.decode(trimmed) == code


def test_nec_repeat_frames_follow_the_108ms_period() -> None:
    raw = ir_codes.encode("NEC", 0x04, 0x08, repeats=2)
    t = raw.timings_us
    assert t[68:71] == (8960, 2240, 560)  # the repeat code after the 68-entry frame
    assert sum(t[:68]) == 108_080 and sum(t[68:72]) == 108_080
    assert ir_codes.decode(raw).extras["repeats"] == 2


def test_nec_extended_address_is_sent_low_byte_first() -> None:
    code = ir_codes.decode(ir_codes.encode("NEC", 0x6619, 0x84))
    assert (code.address, code.command) == (0x6619, 0x84)
    raw = ir_codes.encode("NECext", 0x12, 0x34, extended=True)
    assert ir_codes.decode(raw).extras["extended"] is True


def test_sony_repeats_are_whole_45ms_frames() -> None:
    raw = ir_codes.encode("SONY", 1, 21, bits=12, repeats=2)
    assert len(raw.timings_us) == 3 * 26 and sum(raw.timings_us) == 3 * 45_000
    assert ir_codes.decode(raw).extras["repeats"] == 2


def test_sony_alias_picks_the_bit_count() -> None:
    assert ir_codes.decode(ir_codes.encode("SIRC15", 0x30, 0x0B)).bits == 15
    assert ir_codes.decode(ir_codes.encode("sony", 0x1FFF, 1, bits=20)).address == 0x1FFF


def test_capture_no_protocol_matches_is_a_clear_error() -> None:
    noise = RawSignal(38_000, (1234, 777, 3210, 99, 5000, 1500, 321, 42_000))
    with pytest.raises(DecodeError, match="no known IR protocol matches"):
        ir_codes.decode(noise)


@pytest.mark.parametrize(
    ("protocol", "address", "command", "message"),
    [
        ("NEC", 0x10000, 0, "address must be 0..65535"),
        ("SAMSUNG32", 1, 256, "command must be 0..255"),
        ("RC5", 32, 1, "address must be 0..31"),
        ("WHATEVER", 1, 1, "unknown IR protocol 'WHATEVER'; known: NEC"),
    ],
)
def test_values_a_protocol_cannot_carry_are_rejected(
    protocol: str, address: int, command: int, message: str
) -> None:
    with pytest.raises(EncodeError, match=message):
        ir_codes.encode(protocol, address, command)


def test_sony_rejects_bit_counts_it_does_not_have() -> None:
    with pytest.raises(EncodeError, match="12, 15 or 20 bits"):
        ir_codes.encode("SONY", 1, 1, bits=16)


def test_raw_signal_validates_its_values() -> None:
    with pytest.raises(EncodeError, match="positive"):
        RawSignal(38_000, (100, 0, 100))
    with pytest.raises(EncodeError, match="carrier"):
        RawSignal(38, (100,))
