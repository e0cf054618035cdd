"""A/C encoders: settings -> state -> timings -> settings, checksums, and clear errors."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ir_codes
from ir_codes import AcState, DecodeError, EncodeError, RawSignal, UnknownBrand
from ir_codes.ac import BRANDS, FANS, MODES, brand, decode_ac, encode_ac, known_brands


@st.composite
def brand_and_state(draw: st.DrawFn) -> tuple[str, AcState]:
    name = draw(st.sampled_from(sorted(BRANDS)))
    low, high = BRANDS[name].temp_range
    no_swing = name == "hitachi"
    swing = draw(st.sampled_from([None, "off"] if no_swing else [None, "on", "off"]))
    state = AcState(
        power=draw(st.booleans()),
        mode=draw(st.sampled_from(MODES)),
        target_temperature=draw(st.integers(int(low), int(high))),
        fan=draw(st.sampled_from(FANS)),
        swing=swing,
    )
    return name, state


@settings(max_examples=150, deadline=None)
@given(brand_and_state())
def test_state_survives_encode_decode(case: tuple[str, AcState]) -> None:
    name, state = case
    b = BRANDS[name]
    data = b.build(state)
    assert b.valid(data), "checksum must hold for every state we build"
    got_brand, parsed, got_data = decode_ac(encode_ac(name, state))
    assert (got_brand, got_data) == (name, data)
    assert parsed.power == state.power
    if state.power or name != "fujitsu":  # Fujitsu's off command carries no settings
        assert parsed.target_temperature == state.target_temperature
        if not (name == "toshiba" and not state.power):  # Toshiba's off replaces the mode
            assert parsed.mode == state.mode
    # Some brands fold fan names together (min = low, max = high): the frame must not change.
    assert b.build(parsed) == data


@settings(max_examples=60, deadline=None)
@given(brand_and_state(), st.integers(0, 2**32))
def test_jittered_ac_frames_decode(case: tuple[str, AcState], seed: int) -> None:
    name, state = case
    raw = encode_ac(name, state)
    rng = random.Random(seed)
    jittered = RawSignal.from_timings(
        [t * rng.uniform(0.8, 1.2) for t in raw.timings_us], raw.carrier_hz
    )
    assert decode_ac(jittered)[2] == BRANDS[name].build(state)
    assert ir_codes.decode(jittered).protocol == BRANDS[name].layout.protocol


def test_unknown_brand_lists_the_known_ones() -> None:
    with pytest.raises(UnknownBrand) as err:
        encode_ac("acme", AcState())
    assert "acme" in str(err.value)
    for name in ("daikin", "mitsubishi", "panasonic"):
        assert name in str(err.value)
    assert err.value.known == known_brands()


def test_brand_names_are_case_insensitive_and_accept_protocol_names() -> None:
    assert brand("Daikin").name == "daikin"
    assert brand("MITSUBISHI_AC").name == "mitsubishi"


def test_out_of_range_temperature_names_the_range() -> None:
    with pytest.raises(EncodeError, match=r"daikin accepts target temperatures 10\.\.32"):
        encode_ac("daikin", AcState(target_temperature=40))


def test_bad_settings_name_the_choices() -> None:
    with pytest.raises(EncodeError, match="mode 'boost' is not one of auto, cool"):
        AcState(mode="boost")
    with pytest.raises(EncodeError, match="fan 'turbo'"):
        AcState(fan="turbo")


@pytest.mark.parametrize("name", ["hitachi"])  # Toshiba: a swing message (fidelity tests)
def test_swing_on_is_refused_where_the_frame_has_no_swing(name: str) -> None:
    with pytest.raises(EncodeError, match="swing"):
        encode_ac(name, AcState(swing="on"))
    assert decode_ac(encode_ac(name, AcState(swing="off")))[0] == name


def test_daikin_keeps_half_degrees() -> None:
    _, state, _ = decode_ac(encode_ac("daikin", AcState(target_temperature=22.5)))
    assert state.target_temperature == 22.5


def test_from_mapping_uses_hub_property_names() -> None:
    state = AcState.from_mapping(
        {"power": True, "mode": "heat", "target_temperature": "21", "fan_speed": "2"}
    )
    assert state == AcState(True, "heat", 21.0, "low")
    assert state.to_dict() == {
        "power": True, "mode": "heat", "target_temperature": 21.0, "fan_speed": "2",
    }  # fmt: skip
    assert AcState.from_mapping({"swing": "both", "power": "off"}).swing == "on"


def test_decode_ac_of_a_non_ac_capture_is_a_clear_error() -> None:
    with pytest.raises(DecodeError, match="no air-conditioner protocol matches"):
        decode_ac(ir_codes.encode("NEC", 1, 2))


def test_ac_state_bytes_can_be_sent_by_protocol_name() -> None:
    data = BRANDS["mitsubishi"].build(AcState(mode="heat", target_temperature=23))
    raw = ir_codes.encode("MITSUBISHI_AC", state=data.hex())
    assert ir_codes.decode(raw).extras["state"] == data.hex()
    with pytest.raises(EncodeError, match="needs extras state"):
        ir_codes.encode("DAIKIN", 0, 0)
