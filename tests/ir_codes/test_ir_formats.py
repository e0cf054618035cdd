"""Formats: Pronto, Broadlink, Nature Remo, Flipper, LIRC, raw; detection, conversion, bad input."""

from __future__ import annotations

import base64
import json

import broadlink.remote as bl_remote  # the real python-broadlink library, as independent truth
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_testdata import VECTORS_PATH, load_vectors
from skip_policy import need

import ir_codes
from ir_codes import FormatError, RawSignal
from ir_codes.formats import (
    FORMATS,
    broadlink,
    convert,
    detect_format,
    flipper,
    lirc,
    nature,
    pronto,
    read_signal,
    read_signals,
    render,
)

NEC = ir_codes.encode("NEC", 0x04, 0x08)

signals = st.builds(
    RawSignal,
    st.sampled_from([36_000, 36_700, 38_000, 40_000]),
    st.lists(st.integers(150, 60_000), min_size=2, max_size=120).map(
        lambda xs: tuple(xs[: len(xs) - len(xs) % 2])
    ),
)


def assert_close(got: RawSignal, want: RawSignal, abs_us: float, rel: float = 0.0) -> None:
    assert len(got.timings_us) == len(want.timings_us)
    for a, b in zip(got.timings_us, want.timings_us, strict=True):
        assert abs(a - b) <= abs_us + rel * b, (a, b)


@settings(max_examples=80, deadline=None)
@given(signals)
def test_pronto_round_trip(raw: RawSignal) -> None:
    back = pronto.from_pronto(pronto.to_pronto(raw))
    assert abs(back.carrier_hz - raw.carrier_hz) <= raw.carrier_hz * 0.01
    assert_close(back, raw, abs_us=1e6 / raw.carrier_hz / 2 + 1, rel=0.01)


@settings(max_examples=80, deadline=None)
@given(signals, st.integers(0, 255))
def test_broadlink_round_trip(raw: RawSignal, repeat: int) -> None:
    packet = broadlink.to_packet(raw, repeat)
    assert packet[0] == 0x26 and packet[1] == repeat and packet.endswith(b"\x0d\x05")
    assert int.from_bytes(packet[2:4], "little") == len(packet) - 4
    assert_close(broadlink.from_packet(packet), raw, abs_us=broadlink.TICK_US / 2 + 1)
    assert_close(broadlink.from_base64(base64.b64encode(packet).decode()), raw, 17)


@settings(max_examples=80, deadline=None)
@given(signals)
def test_nature_and_raw_and_json_round_trip_exactly(raw: RawSignal) -> None:
    assert nature.from_nature(nature.to_nature(raw)).timings_us == raw.timings_us
    assert read_signal(render(raw, "raw")).timings_us == raw.timings_us
    assert read_signal(render(raw, "json")) == RawSignal(raw.carrier_hz, raw.timings_us)


@settings(max_examples=50, deadline=None)
@given(signals)
def test_flipper_raw_and_lirc_round_trip(raw: RawSignal) -> None:
    text = flipper.to_flipper([flipper.FlipperSignal("btn", raw)])
    (entry,) = flipper.parse_flipper(text)
    assert (entry.name, entry.raw.timings_us, entry.raw.carrier_hz) == (
        "btn",
        raw.timings_us,
        raw.carrier_hz,
    )
    ((name, back),) = lirc.parse_lirc(lirc.to_lirc([("KEY_X", raw)]))
    assert name == "KEY_X"
    assert back.timings_us == raw.timings_us[:-1]  # lircd raw codes end on a pulse


def test_broadlink_tick_is_the_measured_30_45_us() -> None:
    assert pytest.approx(30.45, abs=0.01) == broadlink.TICK_US
    packet = broadlink.to_packet(NEC)
    assert round(8960 / broadlink.TICK_US) == 0x126  # > 255, so written 00 01 26
    assert packet[4:7] == b"\x00\x01\x26"


def test_packets_from_the_broadlink_library_decode_with_either_tick() -> None:
    library_packet = bytes(bl_remote.pulses_to_data(list(NEC.timings_us)))
    assert ir_codes.decode(broadlink.from_packet(library_packet)).command == 0x08
    exact = broadlink.from_packet(library_packet, tick_us=broadlink.LIBRARY_TICK_US)
    assert ir_codes.decode(exact).address == 0x04
    ours = broadlink.to_packet(NEC)
    assert bl_remote.data_to_pulses(ours, tick=broadlink.TICK_US)[:2] == pytest.approx(
        [8960, 4480], abs=16
    )


def test_broadlink_bad_packets_are_clear_errors() -> None:
    packet = broadlink.to_packet(NEC)
    with pytest.raises(FormatError, match="truncated"):
        broadlink.from_packet(packet[:40])
    with pytest.raises(FormatError, match="truncated"):
        broadlink.from_packet(b"\x26\x00")
    with pytest.raises(FormatError, match="RF 433"):
        broadlink.from_packet(b"\xb2" + packet[1:])
    with pytest.raises(FormatError, match="base64"):
        broadlink.from_base64("JgB!!!")


def test_broadlink_tolerates_zero_padding_after_the_terminator() -> None:
    padded = broadlink.to_packet(NEC) + bytes(9)
    assert ir_codes.decode(broadlink.from_packet(padded)).command == 0x08


def test_pronto_carrier_words_match_the_spec() -> None:
    assert pronto.from_pronto("0000 006D 0001 0000 0010 0010").carrier_hz == pytest.approx(
        38_029, abs=5
    )
    assert pronto.from_pronto("0000 0067 0001 0000 0010 0010").carrier_hz == pytest.approx(
        40_244, abs=5
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0000 006D 0001 0000 0010 0010 0010", "odd number of words"),
        ("0000 006D 0002 0000 0010 0010", "announces 2\\+0 pairs"),
        ("0100 006D 0001 0000 0010 0010", "only learned codes"),
        ("0000 06D 0001 0000 0010 0010", "exactly 4 hex digits"),
        ("0000 006D", "too short"),
    ],
)
def test_bad_pronto_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        pronto.from_pronto(text)


def test_nature_remo_json() -> None:
    raw = nature.from_nature('{"format":"us","freq":38,"data":[9000,4500,560,560]}')
    assert (raw.carrier_hz, raw.timings_us) == (38_000, (9000, 4500, 560, 560))
    with pytest.raises(FormatError, match="kHz"):
        nature.from_nature({"format": "us", "freq": 38000, "data": [1, 2]})
    with pytest.raises(FormatError, match="data"):
        nature.from_nature({"format": "us", "freq": 38})


FLIPPER_FILE = """Filetype: IR signals file
Version: 1
#
name: Power
type: parsed
protocol: Samsung32
address: 07 00 00 00
command: 02 00 00 00
#
name: Ext
type: parsed
protocol: NECext
address: 19 66 00 00
command: 84 7B 00 00
#
name: Sony20
type: parsed
protocol: SIRC20
address: F8 1B 00 00
command: 0B 00 00 00
#
name: Rc6
type: parsed
protocol: RC6
address: 31 00 00 00
command: C4 00 00 00
#
name: Learned
type: raw
frequency: 38000
duty_cycle: 0.330000
data: 8960 4480 560 560 560 1680 560 40000
"""


def vector(vector_id: str) -> dict[str, object]:
    data = load_vectors()
    if not data:
        need("testdata", f"{VECTORS_PATH} not found")
    return next(v for v in data["vectors"] if v["id"] == vector_id)


def test_flipper_parsed_entries_encode_to_the_irremoteesp8266_timings() -> None:
    signals = {s.name: s for s in flipper.parse_flipper(FLIPPER_FILE)}
    # Samsung32 07/02 is IRremoteESP8266's samsung-00; NECext 0x6619/0x84 is necx-15;
    # SIRC20 device 24 + extended 223 << 5 (0x1BF8) is sony20-15; RC6 0x31/0xC4 is rc6-00.
    for name, vid in [("Power", "samsung-00"), ("Ext", "necx-15")]:
        assert list(signals[name].raw.timings_us) == vector(vid)["timings_us"], name
    # A Sony press is three frames (the vector holds one).
    assert list(signals["Sony20"].raw.timings_us) == vector("sony20-15")["timings_us"] * 3
    assert list(signals["Rc6"].raw.timings_us) == vector("rc6-00")["timings_us"]
    assert signals["Learned"].code is None
    assert signals["Learned"].raw.timings_us[-1] == 40000


def test_flipper_writes_parsed_entries_when_flipper_knows_the_protocol() -> None:
    text = render(ir_codes.encode("NEC", 0x6619, 0x84), "flipper", name="Ext")
    assert "protocol: NECext" in text and "address: 19 66 00 00" in text
    assert "command: 84 7B 00 00" in text
    jvc = render(ir_codes.encode("JVC", 1, 2), "flipper")
    assert "type: raw" in jvc


def test_flipper_unsupported_protocol_is_a_clear_error() -> None:
    text = FLIPPER_FILE.replace("protocol: Samsung32", "protocol: Pioneer")
    with pytest.raises(FormatError, match="'Pioneer' is not supported"):
        flipper.parse_flipper(text)


LIRCD = """begin remote
  name  tv
  flags RAW_CODES
  frequency 38000
  begin raw_codes
    name KEY_POWER
       8960 4480 560 560 560 1680
       560
    name KEY_MUTE
       9000 4500 560
  end raw_codes
end remote
"""


def test_lirc_raw_codes_and_mode2() -> None:
    codes = lirc.parse_lirc(LIRCD)
    assert [name for name, _ in codes] == ["KEY_POWER", "KEY_MUTE"]
    assert codes[0][1].timings_us == (8960, 4480, 560, 560, 560, 1680, 560)
    mode2 = lirc.parse_lirc("space 100000\npulse 9000\nspace 4500\npulse 560\n")
    assert mode2[0][1].timings_us == (9000, 4500, 560)


@pytest.mark.parametrize("fmt", FORMATS)
def test_detect_format_recognises_what_render_writes(fmt: str) -> None:
    assert detect_format(render(NEC, fmt)) == fmt


def test_detect_format_accepts_packet_bytes_and_rejects_garbage() -> None:
    assert detect_format(broadlink.to_packet(NEC)) == "broadlink"
    with pytest.raises(FormatError, match="could not recognise"):
        detect_format("hello there")
    with pytest.raises(FormatError, match="empty"):
        detect_format("   ")


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_convert_between_every_pair_keeps_the_code(source: str, target: str) -> None:
    code = ir_codes.decode(NEC)
    converted = convert(render(NEC, source), to=target)
    assert ir_codes.decode(read_signal(converted)) == code


def test_convert_reads_every_signal_of_a_file() -> None:
    assert len(read_signals(FLIPPER_FILE)) == 5
    out = json.loads(convert(FLIPPER_FILE, to="json"))
    assert (out["protocol"], out["address"], out["command"]) == ("SAMSUNG32", 7, 2)


def test_convert_to_an_unknown_format_names_the_choices() -> None:
    with pytest.raises(FormatError, match="choose one of raw, pronto"):
        convert("9000 4500 560", to="wav")


def test_esphome_signed_timings_round_trip_and_merge() -> None:
    from ir_codes.formats import esphome

    signed = esphome.to_signed(NEC)
    assert signed[:4] == [8960, -4480, 560, -560]
    assert esphome.from_signed(signed) == RawSignal(38_000, NEC.timings_us)
    assert esphome.from_signed([-50, 100, 200, -300, -10]).timings_us == (300, 310)
    with pytest.raises(FormatError, match="no mark"):
        esphome.from_signed([-100, 0])


@pytest.mark.parametrize(
    "text", ["{not json", '{"protocol": "NEC", "address": "x"}', "[" * 100_000 + "]" * 100_000]
)
def test_bad_json_input_is_a_format_error(text: str) -> None:
    # Found by fuzz/parsers.py: JSONDecodeError and int() errors escaped as other exceptions.
    with pytest.raises(FormatError):
        read_signals(text, "json")


@pytest.mark.parametrize("fmt", ["raw", "json"])
def test_a_huge_timing_is_a_format_error(fmt: str) -> None:
    # Found by fuzz/parsers.py: a 400-digit timing raised OverflowError.
    huge = "9" * 400
    text = f"889 {huge} 889" if fmt == "raw" else f'{{"timings_us": [889, {huge}, 889]}}'
    with pytest.raises(FormatError, match="too large"):
        read_signals(text, fmt)
