"""Device mapping: vocabulary values <-> EPC data, specs narrowed by the MRA and the Set map."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import integrations.echonet as echonet
from integrations.echonet.mapping import FIELDS, DeviceMapping
from integrations.errors import CommandFailed

EVERYTHING = frozenset(range(0x80, 0x100))


def _values(spec: Any) -> st.SearchStrategy[Any]:
    if spec.type.value == "bool":
        return st.booleans()
    if spec.type.value == "enum":
        return st.sampled_from(spec.choices)
    low = int(spec.minimum if spec.minimum is not None else -1000)
    high = int(spec.maximum if spec.maximum is not None else 100000)
    return st.integers(low, high)


@pytest.mark.parametrize("class_code", sorted(FIELDS))
@given(data=st.data())
def test_writable_values_round_trip(class_code: int, data: st.DataObject) -> None:
    mapping = DeviceMapping.for_object(class_code, EVERYTHING, EVERYTHING)
    for name, spec in mapping.properties().items():
        if not spec.writable:
            continue
        value = data.draw(_values(spec), label=name)
        epc, edt = mapping.encode(name, value)
        assert mapping.decode({epc: edt}) == {name: spec.validate(value)}


def test_read_only_follows_the_set_map() -> None:
    mapping = DeviceMapping.for_object(0x0130, EVERYTHING, frozenset({0x80}))
    writable = {n for n, p in mapping.properties().items() if p.writable}
    assert writable == {"power"}
    with pytest.raises(CommandFailed, match="read-only"):
        mapping.encode("mode", "cool")
    with pytest.raises(CommandFailed, match="no property"):
        mapping.encode("brightness", 3)
    full = DeviceMapping.for_object(0x0130, EVERYTHING, EVERYTHING)
    with pytest.raises(CommandFailed, match="at most 50"):
        full.encode("target_temperature", 60)
    with pytest.raises(CommandFailed, match="steps of 1"):
        full.encode("target_temperature", 22.5)
    assert full.encode("target_temperature", 22.0) == (0xB3, bytes([22]))


def test_properties_follow_the_get_map() -> None:
    mapping = DeviceMapping.for_object(0x0130, frozenset({0x80, 0xB0, 0x9F}), frozenset())
    assert set(mapping.properties()) == {"power", "mode"}
    assert mapping.poll_epcs() == [0x80, 0xB0]


@pytest.mark.parametrize(("coefficient", "unit", "count", "kwh"), [
    (None, 0x01, 12345, 1234.5),
    (1, 0x00, 12345, 12345.0),
    (10, 0x02, 12345, 1234.5),
    (1, 0x0A, 7, 70.0),
    (3, 0x04, 10000, 3.0),
])
def test_meter_energy_uses_coefficient_and_unit(coefficient: int | None, unit: int, count: int,
                                                kwh: float) -> None:
    mapping = DeviceMapping.for_object(0x0288, EVERYTHING, frozenset())
    values = {0xE0: count.to_bytes(4, "big"), 0xE1: bytes([unit]), 0xE3: (1).to_bytes(4, "big")}
    if coefficient is not None:
        values[0xD3] = coefficient.to_bytes(4, "big")
    decoded = mapping.decode(values)
    assert decoded["energy_kwh"] == pytest.approx(kwh)
    assert 0xD3 in mapping.poll_epcs()
    assert 0xE1 in mapping.poll_epcs()


def test_no_data_codes_are_not_readings() -> None:
    meter = DeviceMapping.for_object(0x0288, EVERYTHING, frozenset())
    assert meter.decode({0xE7: bytes.fromhex("7ffffffe"), 0xE0: bytes.fromhex("fffffffe"),
                         0xE1: b"\x01"}) == {}
    aircon = DeviceMapping.for_object(0x0130, EVERYTHING, EVERYTHING)
    assert aircon.decode({0xBB: b"\x7e", 0xBA: b"\xfd", 0xB3: b"\xfd"}) == {}
    assert aircon.decode({0xBB: b"\xf6"}) == {"temperature": -10.0}


def test_specs_are_narrowed_from_the_mra() -> None:
    solar = DeviceMapping.for_object(0x0279, EVERYTHING, frozenset()).properties()
    assert (solar["power_w"].minimum, solar["power_w"].maximum) == (0, 65533)
    assert solar["energy_kwh"].maximum == 999999.999
    heater = DeviceMapping.for_object(0x026B, EVERYTHING, EVERYTHING).properties()
    assert heater["tank_litres"].maximum == 65533
    assert heater["hot_water_supply"].writable is False


def test_public_names_are_importable() -> None:
    for name in echonet.__all__:
        assert getattr(echonet, name) is not None
