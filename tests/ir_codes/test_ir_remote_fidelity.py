"""What a press of the original remote sends, beyond the single frames IRremoteESP8266's vectors
hold (#17 "IR signals that real devices accept"): Sony three frames, JVC repeats without the
leader, Mitsubishi and Toshiba A/C states twice, Toshiba's swing message, Panasonic's vane.

The frames themselves are checked against the vectors (tests/ir_codes/test_ir_vectors.py);
these tests check how many go out, in what order, and the bytes of the messages the vectors
do not cover.
"""

from __future__ import annotations

from typing import Any

import pytest
from ir_testdata import vectors
from test_ir_vectors import assert_timings_close, effective_settings, expected_code

import ir_codes
from ir_codes import AcState, DecodeError, RawSignal
from ir_codes.ac import BRANDS, decode_ac, encode_ac, panasonic, toshiba
from ir_codes.protocols import jvc


def without_repeats(extras: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extras.items() if k != "repeats"}


@pytest.mark.parametrize("vector", vectors("SONY_SIRC12", "SONY_SIRC15", "SONY_SIRC20"))
def test_sony_press_is_three_copies_of_the_library_frame(vector: dict[str, Any]) -> None:
    proto, address, command, extras = expected_code(vector["protocol"], vector["logical"])
    raw = ir_codes.encode(proto, address, command, **without_repeats(extras))
    assert_timings_close(raw.timings_us, vector["timings_us"] * 3)
    # Each frame padded to Sony's 45 ms period (long 20-bit frames keep a 10 ms gap instead).
    assert sum(raw.timings_us) >= 3 * 45_000


def test_a_cut_off_sony_capture_is_sent_back_as_a_whole_press() -> None:
    one_frame = ir_codes.encode("SONY", 1, 21, bits=12, repeats=0)
    code = ir_codes.decode(one_frame)
    assert (code.address, code.command, dict(code.extras)) == (1, 21, {})
    assert len(ir_codes.encode_code(code).timings_us) == 3 * len(one_frame.timings_us)
    held = ir_codes.decode(ir_codes.encode("SONY", 1, 21, bits=12, repeats=5))
    assert held.extras["repeats"] == 5  # a held key's capture keeps its length


@pytest.mark.parametrize("vector", vectors("JVC")[:5])
def test_jvc_repeats_are_the_frame_without_its_leader(vector: dict[str, Any]) -> None:
    proto, address, command, _ = expected_code("JVC", vector["logical"])
    assert (
        ir_codes.encode(proto, address, command).timings_us
        == ir_codes.encode(proto, address, command, repeats=0).timings_us
    )  # a short press: one frame with its leader, as JVC remotes send
    raw = ir_codes.encode(proto, address, command, repeats=2)
    theirs = vector["timings_us"]
    first, rest = raw.timings_us[: len(theirs)], raw.timings_us[len(theirs) :]
    assert_timings_close(first, theirs)
    body = theirs[2:-1]  # the library's frame without leader and trailing gap
    for k in range(2):
        repeat = rest[k * (len(body) + 1) : (k + 1) * (len(body) + 1)]
        assert_timings_close(repeat[:-1], body)
        assert sum(repeat) == 60_000  # JVC's repeat period
    code = ir_codes.decode(raw)
    assert (code.address, code.command, code.extras["repeats"]) == (address, command, 2)
    assert ir_codes.encode_code(code).timings_us == raw.timings_us


def test_jvc_repeat_of_another_code_is_not_counted() -> None:
    mine = ir_codes.encode("JVC", 3, 124).timings_us
    other = ir_codes.encode("JVC", 3, 125, repeats=1).timings_us
    stray = other[len(mine) :]  # a header-less frame carrying a different command
    code = ir_codes.decode(RawSignal(38_000, (*mine, *stray)))
    assert (code.command, dict(code.extras)) == (124, {})
    assert jvc.REPEAT.header_mark == 0


@pytest.mark.parametrize("vector", vectors("MITSUBISHI_AC", "TOSHIBA_AC")[::4])
def test_mitsubishi_and_toshiba_states_go_out_twice(vector: dict[str, Any]) -> None:
    brand = {"MITSUBISHI_AC": "mitsubishi", "TOSHIBA_AC": "toshiba"}[vector["protocol"]]
    raw = encode_ac(brand, effective_settings(vector))
    assert_timings_close(raw.timings_us, vector["timings_us"] * 2)
    assert decode_ac(raw)[2].hex() == vector["state_hex"]


@pytest.mark.parametrize(
    ("swing", "message"), [("on", "f20d01fe210120"), ("off", "f20d01fe210223")]
)
def test_toshiba_swing_is_its_own_message_after_the_state(swing: str, message: str) -> None:
    # The bytes IRremoteESP8266's IRToshibaAC sends for kToshibaAcSwingOn / kToshibaAcSwingOff.
    settings = AcState(mode="cool", target_temperature=24, swing=swing)
    assert [m.hex() for m in BRANDS["toshiba"].messages(settings)] == [
        toshiba.build(settings).hex(), message,
    ]  # fmt: skip
    state = toshiba.LAYOUT.encode(toshiba.build(settings)).timings_us
    swing_part = toshiba.LAYOUT.encode(bytes.fromhex(message)).timings_us
    assert encode_ac("toshiba", settings).timings_us == state + swing_part
    assert len(state) == 2 * (2 + 72 * 2 + 2)  # twice: header, 72 bits, stop mark and gap
    assert len(swing_part) == 2 * (2 + 56 * 2 + 2)
    assert toshiba.LAYOUT.decode(RawSignal(38_000, swing_part)) == bytes.fromhex(message)
    # A captured press reads back whole: the state's settings and the swing after it.
    assert decode_ac(encode_ac("toshiba", settings))[1] == settings
    # A learned swing button alone is recognised as Toshiba's, and says it holds no settings.
    assert ir_codes.decode(RawSignal(38_000, swing_part)).extras["state"] == message
    with pytest.raises(DecodeError, match="swing command alone"):
        decode_ac(RawSignal(38_000, swing_part))


def test_toshiba_without_swing_sends_the_state_only() -> None:
    settings = AcState(mode="heat", target_temperature=22)
    assert BRANDS["toshiba"].messages(settings) == [toshiba.build(settings)]


@pytest.mark.parametrize(
    ("swing", "vane"), [(None, panasonic.SWING_AUTO), ("on", panasonic.SWING_AUTO), ("off", 1)]
)
def test_panasonic_vane_is_one_the_remote_sends(swing: str | None, vane: int) -> None:
    state = panasonic.build(AcState(mode="cool", target_temperature=25, swing=swing))
    assert state[16] & 0xF == vane != 0
    assert panasonic.valid(state)
    sections = [2 + 8 * 8 * 2 + 2, 2 + 19 * 8 * 2 + 2]  # header, bits, stop mark and gap
    assert len(encode_ac("panasonic", AcState(swing=swing)).timings_us) == sum(sections)
    # (once per press: the Panasonic remote sends both sections one time)
