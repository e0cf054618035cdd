"""Entity -> vocabulary mapping on aioesphomeapi's own model objects (no network)."""

from __future__ import annotations

import pytest
from aioesphomeapi import (
    BinarySensorInfo,
    BinarySensorState,
    ClimateInfo,
    ClimateMode,
    ClimateState,
    LightInfo,
    SensorInfo,
    SensorState,
    SwitchInfo,
)

from integrations.errors import CommandFailed
from integrations.esphome.mapping import build_entity_map


def test_units_are_converted_and_unknown_sensors_left_out() -> None:
    emap = build_entity_map([
        SensorInfo(object_id="outside", key=1, device_class="temperature",
                   unit_of_measurement="°F"),
        SensorInfo(object_id="load", key=2, device_class="power", unit_of_measurement="kW"),
        SensorInfo(object_id="meter", key=3, device_class="energy", unit_of_measurement="Wh"),
        SensorInfo(object_id="wifi", key=4, device_class="signal_strength",
                   unit_of_measurement="dBm"),
        SensorInfo(object_id="pm25", key=5, device_class="pm25", unit_of_measurement="µg/m³"),
    ])
    assert set(emap.specs) == {"temperature", "power_w", "energy_kwh", "rssi"}
    assert emap.unmapped == ("pm25",)
    assert emap.values_for(SensorState(key=1, state=212.0)) == {"temperature": 100.0}
    assert emap.values_for(SensorState(key=2, state=1.5)) == {"power_w": 1500.0}
    assert emap.values_for(SensorState(key=3, state=2500.0)) == {"energy_kwh": 2.5}
    assert emap.values_for(SensorState(key=4, state=-61.6)) == {"rssi": -62}
    assert emap.values_for(SensorState(key=1, state=20.0, missing_state=True)) == {}
    assert emap.values_for(SensorState(key=1, state=float("nan"))) == {}


def test_binary_sensors_motion_and_contact() -> None:
    emap = build_entity_map([
        BinarySensorInfo(object_id="pir", key=1, device_class="motion"),
        BinarySensorInfo(object_id="door", key=2, device_class="door"),
        BinarySensorInfo(object_id="button", key=3, device_class=""),
    ])
    assert set(emap.specs) == {"motion", "contact"}
    assert emap.values_for(BinarySensorState(key=1, state=True)) == {"motion": True}
    # ESPHome's door sensor is on when open; the hub's contact is true when closed
    assert emap.values_for(BinarySensorState(key=2, state=True)) == {"contact": False}


def test_first_entity_keeps_the_bare_name_others_are_suffixed() -> None:
    emap = build_entity_map([
        SwitchInfo(object_id="relay", key=1),
        SwitchInfo(object_id="Pump 2", key=2),
        LightInfo(object_id="onoff", key=3, supported_color_modes=[1]),
        LightInfo(object_id="dimmer", key=4, supported_color_modes=[3]),
    ])
    assert set(emap.specs) == {"power", "power.pump_2", "power.onoff", "power.dimmer",
                               "brightness.dimmer"}
    assert all(spec.writable for spec in emap.specs.values())


def test_climate_commands() -> None:
    info = ClimateInfo(object_id="ac", key=9, supports_current_temperature=True,
                       supported_modes=[ClimateMode.OFF, ClimateMode.HEAT_COOL, ClimateMode.DRY],
                       visual_min_temperature=10, visual_max_temperature=32)
    emap = build_entity_map([info])
    assert emap.specs["mode"].choices == ("auto", "dry")
    assert emap.specs["target_temperature"].maximum == 32
    assert not emap.specs["temperature"].writable
    values = emap.values_for(ClimateState(key=9, mode=ClimateMode.DRY, target_temperature=25,
                                          current_temperature=27.5))
    assert values == {"power": True, "mode": "dry", "target_temperature": 25.0,
                      "temperature": 27.5}
    [cmd] = emap.commands_for({"mode": "auto", "target_temperature": 21}, {})
    assert cmd.args == {"mode": ClimateMode.HEAT_COOL, "target_temperature": 21.0}
    [cmd] = emap.commands_for({"power": True}, {9: ClimateMode.DRY})
    assert cmd.args == {"mode": ClimateMode.DRY}
    [cmd] = emap.commands_for({"power": False}, {})
    assert cmd.args == {"mode": ClimateMode.OFF}
    with pytest.raises(CommandFailed, match="at most 32"):
        emap.commands_for({"target_temperature": 40}, {})
    with pytest.raises(CommandFailed, match="cannot be set"):
        emap.commands_for({"temperature": 20}, {})
