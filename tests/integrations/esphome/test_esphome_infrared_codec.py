"""Codes to ESPHome raw timings and captures back to codes (integrations.esphome.infrared)."""

from __future__ import annotations

import pytest
from aioesphomeapi import InfraredCapability, InfraredInfo, SensorInfo
from hypothesis import given
from hypothesis import strategies as st

import ir_codes
from integrations.errors import CommandFailed
from integrations.esphome.infrared import (
    capability_summary,
    ir_entities,
    packet_from_capture,
    transmission_for,
)
from ir_codes.formats import broadlink as bl_format
from ir_codes.formats import esphome as esphome_format


@given(address=st.integers(0, 0xFF), command=st.integers(0, 0xFF), repeat=st.integers(0, 5))
def test_a_code_goes_out_as_timings_that_decode_to_it(
    address: int, command: int, repeat: int
) -> None:
    packet = bl_format.to_packet(ir_codes.encode("NEC", address, command), repeat=repeat)
    tx = transmission_for(packet)
    assert (tx.carrier_hz, tx.repeat_count) == (38_000, repeat + 1)
    assert tx.timings[0] > 0 and tx.timings[1] < 0  # a mark first, then a space
    code = ir_codes.decode(esphome_format.from_signed(tx.timings, tx.carrier_hz))
    assert (code.protocol, code.address, code.command) == ("NEC", address, command)
    # a capture of those timings comes back as a packet that decodes the same
    again = ir_codes.decode(bl_format.from_packet(packet_from_capture(list(tx.timings))))
    assert (again.address, again.command) == (address, command)


def test_air_time_counts_every_repeat() -> None:
    tx = transmission_for(bl_format.to_packet(ir_codes.encode("NEC", 1, 2), repeat=1))
    one = sum(abs(t) for t in tx.timings) / 1e6
    assert tx.air_time_s == pytest.approx(2 * one)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (b"\xb2\x00\x02\x00\x10\x20", "RF 433 MHz, not infrared"),
        (b"\x26\x00\x40\x00\x10", "truncated"),
        (b"\x26", "truncated"),
    ],
)
def test_codes_an_ir_transmitter_cannot_send_are_refused(code: bytes, reason: str) -> None:
    with pytest.raises(CommandFailed, match=reason):
        transmission_for(code)


def test_a_capture_without_a_mark_is_refused() -> None:
    with pytest.raises(CommandFailed, match="try again"):
        packet_from_capture([-500, -600])


def test_infrared_entities_and_what_they_can_do() -> None:
    both = InfraredCapability.TRANSMITTER | InfraredCapability.RECEIVER
    entities = [
        SensorInfo(object_id="t", key=1, name="T"),
        InfraredInfo(object_id="tx", key=2, name="TX", capabilities=InfraredCapability.TRANSMITTER),
        InfraredInfo(object_id="rx", key=3, name="RX", capabilities=both, receiver_frequency=38000),
    ]
    found = ir_entities(entities)
    assert [(e.object_id, e.transmits, e.receives) for e in found] == [
        ("tx", True, False), ("rx", True, True)
    ]
    assert capability_summary(found) == {
        "transmit": True, "receive": True, "entities": ["tx", "rx"]
    }
    assert capability_summary(ir_entities(entities[:1]))["transmit"] is False
