"""Remo signal bodies <-> the hub's uniform code form (Broadlink packets). No I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ir_codes
from integrations.errors import CommandFailed, ProtocolError
from integrations.nature_remo import RemoSignal, packet_from_signal, signal_for
from integrations.nature_remo.signal import MAX_TIMINGS, REPEAT_GAP_US, parse_body
from ir_codes.formats import broadlink as bl_format
from ir_codes.model import RawSignal


def test_a_packet_becomes_a_body_that_decodes_to_the_same_button() -> None:
    packet = bl_format.to_packet(ir_codes.encode("NEC", 0x04, 0x08))
    signal = signal_for(packet)
    body = signal.to_json()
    assert body["format"] == "us" and body["freq"] == 38
    assert all(isinstance(d, int) and d > 0 for d in body["data"])
    code = ir_codes.decode(parse_body(body).raw())  # type: ignore[union-attr]
    assert (code.protocol, code.address, code.command) == ("NEC", 0x04, 0x08)


def test_the_repeat_byte_becomes_extra_copies() -> None:
    packet = bl_format.to_packet(ir_codes.encode("NEC", 0x04, 0x08))
    once = signal_for(packet)
    thrice = signal_for(packet[:1] + bytes([2]) + packet[2:])
    assert thrice.data == once.data * 3
    assert len(once.data) % 2 == 0  # every copy ends on a space, so copies do not run together


def test_a_frame_ending_on_a_mark_gets_a_gap_before_its_copy() -> None:
    packet = bl_format.to_packet(RawSignal(38_000, (9000, 4500, 560)), repeat=1)
    frame = bl_format.from_packet(packet).timings_us  # in Broadlink ticks
    assert len(frame) == 3
    assert signal_for(packet).data == (*frame, REPEAT_GAP_US) * 2


def test_refusals_say_why() -> None:
    with pytest.raises(CommandFailed, match="RF 433"):
        signal_for(bytes([0xB2, 0, 2, 0, 10, 10]))
    long_code = bl_format.to_packet(RawSignal(38_000, (500,) * 1200), repeat=3)
    with pytest.raises(CommandFailed, match="fewer repeats"):
        signal_for(long_code)
    for bad, why in [
        ([1, 2], "JSON object"),
        ({"format": "raw", "data": [1]}, "only 'us'"),
        ({"format": "us", "freq": 38, "data": [100, -5]}, "positive"),
        ({"format": "us", "freq": 0.5, "data": [100]}, "kHz"),
        ({"format": "us", "freq": 38, "data": [500] * (MAX_TIMINGS + 1)}, "at most"),
    ]:
        with pytest.raises(ProtocolError, match=why):
            parse_body(bad)


@pytest.mark.parametrize("nothing", [None, "", {}, {"format": "us", "freq": 38, "data": []}])
def test_nothing_received_yet(nothing: object) -> None:
    assert parse_body(nothing) is None


@given(st.lists(st.integers(min_value=60, max_value=60_000), min_size=2, max_size=300))
def test_learned_signal_round_trips_within_a_broadlink_tick(timings: list[int]) -> None:
    signal = RemoSignal(38, tuple(timings))
    back = signal_for(packet_from_signal(signal))
    frame = timings + ([REPEAT_GAP_US] if len(timings) % 2 else [])
    assert len(back.data) == len(frame)
    # Broadlink packets count in ~30.45 µs ticks: half a tick is the rounding error
    tick = bl_format.TICK_US
    assert all(abs(a - b) <= tick / 2 + 1 for a, b in zip(back.data, frame, strict=True))
