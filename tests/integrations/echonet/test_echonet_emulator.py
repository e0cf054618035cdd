"""Emulator behaviour with a controlled clock (no waiting for time to pass)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from integrations.echonet.emulator import Aircon, Battery, EchonetNode, Meter, Solar


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def must_read(device: Any, epc: int) -> bytes:
    """A property the emulated object must have (a missing one fails, never reads as 0)."""
    value = device.read(epc)
    assert value, f"{type(device).__name__} has no property {epc:#04x}"
    return bytes(value)


def _local(hour: int, minute: int = 0) -> float:
    return time.mktime((2026, 6, 21, hour, minute, 0, 0, 0, -1))


def test_aircon_room_temperature_drifts_toward_target_while_running() -> None:
    clock = Clock(_local(12))
    ac = Aircon(clock=clock)
    assert ac.write(0x80, b"\x30")
    assert ac.write(0xB3, bytes([20]))
    start = (ac.read(0xBB) or b"\x00")[0]
    clock.now += 600
    mid = (ac.read(0xBB) or b"\x00")[0]
    clock.now += 6 * 3600
    end = (ac.read(0xBB) or b"\x00")[0]
    assert start == 28
    assert 20 < mid < 28
    assert end == 20
    assert ac.write(0x80, b"\x31")  # off: back toward the 30 °C outside
    clock.now += 6 * 3600
    assert (ac.read(0xBB) or b"\x00")[0] == 30


def test_aircon_refuses_what_the_mra_does_not_allow() -> None:
    ac = Aircon()
    assert not ac.write(0xB0, b"\x99")  # no such mode
    assert not ac.write(0xB3, bytes([51]))  # above 50 °C
    assert not ac.write(0xA0, b"\x39")  # air flow levels are 0x31-0x38 and 0x41
    assert not ac.write(0xB3, b"\x14\x00")  # wrong size
    assert not ac.write(0xBB, bytes([20]))  # measured value: read-only
    assert not ac.write(0xC0, b"\x41")  # a property this unit does not have
    assert ac.write(0xA0, b"\x38")
    assert ac.write(0xB3, b"\xfd")  # "undefined" is a valid set temperature code
    assert ac.read(0xC0) is None


def test_meter_follows_the_load_curve_and_integrates_energy() -> None:
    clock = Clock(_local(3))
    meter = Meter(clock=clock)
    night = int.from_bytes(must_read(meter, 0xE7), "big", signed=True)
    energy0 = int.from_bytes(must_read(meter, 0xE0), "big")
    clock.now = _local(19, 30)
    evening = int.from_bytes(must_read(meter, 0xE7), "big", signed=True)
    energy1 = int.from_bytes(must_read(meter, 0xE0), "big")
    assert night < 400 < 2000 < evening
    # 16.5 hours at 300-2300 W: tens of kWh, counted in 0.1 kWh units.
    assert 50 < energy1 - energy0 < 400


def test_solar_follows_the_sun() -> None:
    clock = Clock(_local(0))
    solar = Solar(clock=clock)
    assert int.from_bytes(must_read(solar, 0xE0), "big") == 0
    clock.now = _local(12)
    noon = int.from_bytes(must_read(solar, 0xE0), "big")
    assert noon == pytest.approx(4000, abs=5)
    clock.now = _local(21)
    assert int.from_bytes(must_read(solar, 0xE0), "big") == 0
    assert int.from_bytes(must_read(solar, 0xE1), "big") > 5_000_000


def test_battery_charges_until_full() -> None:
    clock = Clock(_local(10))
    battery = Battery(clock=clock)
    assert battery.write(0xDA, b"\x42")
    clock.now += 1800
    assert (battery.read(0xE4) or b"\x00")[0] == 58  # 50 % + 750 Wh of 10 kWh
    assert int.from_bytes(must_read(battery, 0xD3), "big", signed=True) == 1500
    clock.now += 10 * 3600
    assert (battery.read(0xE4) or b"\x00")[0] == 100
    assert int.from_bytes(must_read(battery, 0xD3), "big", signed=True) == 0


def test_node_profile_lists_its_objects() -> None:
    node = EchonetNode(bind="127.0.36.40", objects=["aircon", "aircon", "meter"])
    profile = node.profile
    assert profile.read(0xD6) == bytes.fromhex("03013001013002028801")
    assert profile.read(0xD3) == b"\x00\x00\x03"
    assert profile.read(0xD4) == b"\x00\x03"  # two device classes + the node profile
    assert profile.read(0xD7) == bytes.fromhex("0201300288")
    assert profile.read(0x83) == bytes.fromhex("fe0000007f00242800000000000000000000")[:17]
    assert profile.read(0xD5) is None  # announce-only
    with pytest.raises(ValueError, match="unknown object"):
        EchonetNode(objects=["toaster"])
