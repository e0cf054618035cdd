"""Google Smart Home (SYNC, QUERY, EXECUTE) payloads from the device model. Pure: no I/O.

Device types and traits are generated from a device's properties; `execution_changes`
turns one EXECUTE command into the property values to write, raising a VoiceError whose
`google_code` becomes the per-device errorCode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from relay.voice.devices import VoiceDevice, set_point_change
from relay.voice.errors import (
    InternalError,
    InvalidDirective,
    InvalidValue,
    ValueOutOfRange,
)

Json = dict[str, Any]
TYPE = "action.devices.types."
TRAIT = "action.devices.traits."
COMMAND = "action.devices.commands."
# homehub mode -> Google thermostatMode
MODES = {"auto": "auto", "cool": "cool", "heat": "heat", "dry": "dry", "fan": "fan-only"}


def device_type(device: VoiceDevice) -> str | None:
    """The Google device type, or None when no trait fits the device."""
    if device.has("target_temperature", writable=True):
        return TYPE + ("AC_UNIT" if device.has("fan_speed") or device.has("mode") else "THERMOSTAT")
    if device.has("brightness", writable=True):
        return TYPE + "LIGHT"
    if device.has("power", writable=True):
        return TYPE + ("OUTLET" if device.has("power_w") else "SWITCH")
    if device.has("temperature") or device.has("humidity"):
        return TYPE + "SENSOR"
    return None


def traits(device: VoiceDevice) -> list[str]:
    """The Google traits of a device."""
    out = []
    if device.has("power", writable=True):
        out.append(TRAIT + "OnOff")
    if device.has("target_temperature", writable=True):
        out.append(TRAIT + "TemperatureSetting")
    elif device.has("temperature"):
        out.append(TRAIT + "TemperatureControl")
    if device.has("brightness", writable=True):
        out.append(TRAIT + "Brightness")
    if device.has("fan_speed", writable=True):
        out.append(TRAIT + "FanSpeed")
    if device.has("humidity") and not device.has("target_temperature", writable=True):
        out.append(TRAIT + "HumiditySetting")
    return out


def thermostat_modes(device: VoiceDevice) -> list[str]:
    """Google thermostat modes: the device's modes, plus off/on through its power switch."""
    mode = device.props.get("mode")
    modes = [MODES[c] for c in (mode.choices if mode and mode.writable else ()) if c in MODES]
    if device.has("power", writable=True):
        modes = ["off", "on", *modes]
    return modes


def attributes(device: VoiceDevice) -> Json:
    """Trait attributes (ranges, modes, fan speeds)."""
    attrs: Json = {}
    target = device.props.get("target_temperature")
    if target is not None and target.writable:
        attrs["availableThermostatModes"] = thermostat_modes(device) or ["heat"]
        attrs["thermostatTemperatureUnit"] = "C"
        attrs["thermostatTemperatureRange"] = {
            "minThresholdCelsius": target.minimum if target.minimum is not None else 0.0,
            "maxThresholdCelsius": target.maximum if target.maximum is not None else 50.0,
        }
    elif device.has("temperature"):
        attrs["queryOnlyTemperatureControl"] = True
        attrs["temperatureUnitForUX"] = "C"
        sensor = device.props["temperature"]
        attrs["temperatureRange"] = {
            "minThresholdCelsius": sensor.minimum if sensor.minimum is not None else -40.0,
            "maxThresholdCelsius": sensor.maximum if sensor.maximum is not None else 100.0,
        }
    if device.has("humidity") and not device.has("target_temperature", writable=True):
        attrs["queryOnlyHumiditySetting"] = True
    fan = device.props.get("fan_speed")
    if fan is not None and fan.writable:
        attrs["availableFanSpeeds"] = {
            "speeds": [
                {"speed_name": c, "speed_values": [{"speed_synonym": [c], "lang": "en"}]}
                for c in fan.choices
            ],
            "ordered": "auto" not in fan.choices,
        }
        attrs["reversible"] = False
    return attrs


def sync_device(device: VoiceDevice) -> Json | None:
    """One SYNC device entry, or None for a device Google cannot use."""
    kind = device_type(device)
    if kind is None or not traits(device):
        return None
    entry: Json = {
        "id": device.endpoint_id,
        "type": kind,
        "traits": traits(device),
        "name": {"defaultNames": [device.model], "name": device.name, "nicknames": [device.name]},
        "willReportState": False,
        "attributes": attributes(device),
        "deviceInfo": {"manufacturer": device.manufacturer, "model": device.model},
    }
    if device.room:
        entry["roomHint"] = device.room
    return entry


def sync_response(request_id: str, agent_user_id: str, devices: Sequence[VoiceDevice]) -> Json:
    """The SYNC response."""
    entries = [e for e in (sync_device(d) for d in devices) if e is not None]
    return {"requestId": request_id,
            "payload": {"agentUserId": agent_user_id, "devices": entries}}


def states(device: VoiceDevice) -> Json:
    """QUERY / EXECUTE states of a device from its (cached) reported values."""
    out: Json = {"online": device.reachable}
    value = device.value
    if device.has("power", writable=True) and value("power") is not None:
        out["on"] = bool(value("power"))
    if device.has("target_temperature", writable=True):
        if value("target_temperature") is not None:
            out["thermostatTemperatureSetpoint"] = float(value("target_temperature"))
        if device.has("power", writable=True) and value("power") is False:
            out["thermostatMode"] = "off"
        elif value("mode") in MODES:
            out["thermostatMode"] = MODES[value("mode")]
        if value("temperature") is not None:
            out["thermostatTemperatureAmbient"] = float(value("temperature"))
        if value("humidity") is not None:
            out["thermostatHumidityAmbient"] = float(value("humidity"))
    elif device.has("temperature") and value("temperature") is not None:
        out["temperatureAmbientCelsius"] = float(value("temperature"))
    if device.has("brightness", writable=True) and value("brightness") is not None:
        out["brightness"] = int(value("brightness"))
    if device.has("fan_speed", writable=True) and value("fan_speed") is not None:
        out["currentFanSpeedSetting"] = str(value("fan_speed"))
    if (device.has("humidity") and not device.has("target_temperature", writable=True)
            and value("humidity") is not None):
        out["humidityAmbientPercent"] = round(float(value("humidity")))
    return out


def query_state(device: VoiceDevice | None) -> Json:
    """One QUERY device entry: cached values with `online` false when unreachable."""
    if device is None:
        return {"online": False, "status": "ERROR", "errorCode": "deviceNotFound"}
    entry = states(device)
    entry["status"] = "SUCCESS" if device.reachable else "OFFLINE"
    if not device.reachable:
        entry["errorCode"] = "deviceOffline"
    return entry


def _number(params: Mapping[str, Any], key: str) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidValue(f"{key} must be a number")
    return float(value)


def _require(device: VoiceDevice, name: str) -> None:
    if not device.has(name, writable=True):
        raise InvalidDirective(f"{device.name} has no writable {name}")


def execution_changes(command: str, params: Mapping[str, Any],
                      device: VoiceDevice) -> dict[str, Any]:
    """The property values one EXECUTE command asks for; a VoiceError if it cannot be done."""
    name = command.removeprefix(COMMAND)
    if name == "OnOff":
        _require(device, "power")
        if not isinstance(params.get("on"), bool):
            raise InvalidValue("OnOff needs params.on true or false")
        return {"power": params["on"]}
    if name == "ThermostatTemperatureSetpoint":
        _require(device, "target_temperature")
        return set_point_change(device, _number(params, "thermostatTemperatureSetpoint"))
    if name == "TemperatureRelative":
        _require(device, "target_temperature")
        current = device.value("target_temperature")
        if not isinstance(current, int | float):
            raise InternalError(f"the set point of {device.name} is not known yet")
        if "thermostatTemperatureRelativeDegree" in params:
            delta = _number(params, "thermostatTemperatureRelativeDegree")
        else:
            delta = _number(params, "thermostatTemperatureRelativeWeight") * 0.5
        return set_point_change(device, float(current) + delta)
    if name == "ThermostatSetMode":
        wanted = params.get("thermostatMode")
        if wanted not in thermostat_modes(device):
            raise InvalidValue(f"{device.name} has no mode {wanted!r}")
        if wanted in ("off", "on"):
            return {"power": wanted == "on"}
        ours = {v: k for k, v in MODES.items()}[str(wanted)]
        changes: dict[str, Any] = {"mode": ours}
        if device.has("power", writable=True):
            changes["power"] = True
        return changes
    if name == "BrightnessAbsolute":
        _require(device, "brightness")
        level = _number(params, "brightness")
        prop = device.props["brightness"]
        low, high = prop.minimum or 0.0, prop.maximum if prop.maximum is not None else 100.0
        if not low <= level <= high:
            raise ValueOutOfRange(f"brightness takes {low:g} to {high:g}", minimum=low,
                                  maximum=high)
        return {"brightness": round(level)}
    if name == "SetFanSpeed":
        _require(device, "fan_speed")
        speed = params.get("fanSpeed")
        if speed not in device.props["fan_speed"].choices:
            raise InvalidValue(f"{device.name} has no fan speed {speed!r}")
        return {"fan_speed": speed}
    raise InvalidDirective(f"{name} is not supported by homehub")


def execute_entry(ids: Sequence[str], status: str, *, states_: Mapping[str, Any] | None = None,
                  error_code: str | None = None) -> Json:
    """One `commands[]` entry of an EXECUTE response."""
    entry: Json = {"ids": list(ids), "status": status}
    if states_ is not None:
        entry["states"] = dict(states_)
    if error_code is not None:
        entry["errorCode"] = error_code
    return entry


def error_response(request_id: str, error_code: str, message: str = "") -> Json:
    """A whole-request error (e.g. an unknown intent)."""
    payload: Json = {"errorCode": error_code}
    if message:
        payload["debugString"] = message
    return {"requestId": request_id, "payload": payload}
