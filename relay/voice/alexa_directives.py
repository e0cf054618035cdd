"""Alexa control directives -> the property values to write. Pure: no I/O.

Temperatures are kept in °C; directives in °F or K are converted. Anything that cannot be done
raises a VoiceError that `alexa.error_response` names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from relay.voice.alexa import (
    FAN_INSTANCE,
    MODE_INSTANCE,
    THERMOSTAT_MODES,
    delta_to_celsius,
    directive_header,
    directive_payload,
    thermostat_modes,
    to_celsius,
)
from relay.voice.devices import VoiceDevice, set_point_change
from relay.voice.errors import (
    DualSetpointsUnsupported,
    InternalError,
    InvalidDirective,
    InvalidValue,
    TripleSetpointsUnsupported,
    UnsupportedMode,
    ValueOutOfRange,
)

CONTROL = {
    ("Alexa.PowerController", "TurnOn"),
    ("Alexa.PowerController", "TurnOff"),
    ("Alexa.ThermostatController", "SetTargetTemperature"),
    ("Alexa.ThermostatController", "AdjustTargetTemperature"),
    ("Alexa.ThermostatController", "SetThermostatMode"),
    ("Alexa.BrightnessController", "SetBrightness"),
    ("Alexa.BrightnessController", "AdjustBrightness"),
    ("Alexa.ModeController", "SetMode"),
    ("Alexa.ModeController", "AdjustMode"),
}


def _number(payload: Mapping[str, Any], key: str) -> float:
    value = payload.get(key)
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidDirective(f"the directive needs a number in {key!r}")
    return float(value)


def _scale(payload: Mapping[str, Any], key: str) -> str:
    holder = payload.get(key)
    scale = holder.get("scale", "CELSIUS") if isinstance(holder, Mapping) else "CELSIUS"
    if scale not in ("CELSIUS", "FAHRENHEIT", "KELVIN"):
        raise InvalidDirective(f"unknown temperature scale {scale!r}")
    return str(scale)


def _require(device: VoiceDevice, name: str, what: str) -> None:
    if not device.has(name, writable=True):
        raise InvalidDirective(f"{device.name} cannot {what}; discover devices again")


def _percent(device: VoiceDevice, name: str, value: float) -> dict[str, Any]:
    prop = device.props[name]
    low = prop.minimum if prop.minimum is not None else 0.0
    high = prop.maximum if prop.maximum is not None else 100.0
    if not low <= value <= high:
        raise ValueOutOfRange(f"{device.name} takes {low:g} to {high:g} %, not {value:g}",
                              minimum=low, maximum=high)
    return {name: round(value)}


def _mode_target(device: VoiceDevice, instance: str) -> tuple[str, str]:
    """(property, value prefix) behind a ModeController instance."""
    targets = {MODE_INSTANCE: ("mode", "Mode"), FAN_INSTANCE: ("fan_speed", "FanSpeed")}
    if instance not in targets:
        raise InvalidDirective(f"{device.name} has no mode setting {instance!r}")
    name, prefix = targets[instance]
    _require(device, name, f"change its {name.replace('_', ' ')}")
    return name, prefix


def _mode_value(device: VoiceDevice, instance: str, value: Any) -> dict[str, Any]:
    name, prefix = _mode_target(device, instance)
    head = f"{prefix}."
    choice = value[len(head):] if isinstance(value, str) and value.startswith(head) else None
    if choice not in device.props[name].choices:
        raise InvalidValue(f"{device.name} has no {name.replace('_', ' ')} {value!r}")
    return {name: choice}


def _mode_step(device: VoiceDevice, instance: str, step: int) -> dict[str, Any]:
    name, _ = _mode_target(device, instance)
    levels = [c for c in device.props[name].choices if c not in ("auto", "other")]
    if not levels:
        raise InvalidDirective(f"the {name.replace('_', ' ')} of {device.name} has no order")
    here = str(device.value(name))
    # From "auto" (no level), going up starts at the lowest level and going down at the highest.
    index = levels.index(here) if here in levels else (-1 if step > 0 else len(levels))
    return {name: levels[min(max(index + step, 0), len(levels) - 1)]}


def directive_changes(directive: Mapping[str, Any], device: VoiceDevice) -> dict[str, Any]:
    """The property values a control directive asks for; a VoiceError if it cannot be done."""
    header = directive_header(directive)
    namespace, name = header.get("namespace"), header.get("name")
    payload = directive_payload(directive)
    if namespace == "Alexa.PowerController":
        _require(device, "power", "be switched on or off")
        return {"power": name == "TurnOn"}
    if namespace == "Alexa.ThermostatController":
        _require(device, "target_temperature", "set a temperature")
        if name == "SetTargetTemperature":
            if "lowerSetpoint" in payload or "upperSetpoint" in payload:
                error = (TripleSetpointsUnsupported if "targetSetpoint" in payload
                         else DualSetpointsUnsupported)
                raise error(f"{device.name} has a single set point; ask for one temperature")
            celsius = to_celsius(_number(payload, "targetSetpoint"),
                                 _scale(payload, "targetSetpoint"))
            return set_point_change(device, celsius)
        if name == "AdjustTargetTemperature":
            current = device.value("target_temperature")
            if not isinstance(current, int | float):
                raise InternalError(f"the set point of {device.name} is not known yet")
            delta = delta_to_celsius(_number(payload, "targetSetpointDelta"),
                                     _scale(payload, "targetSetpointDelta"))
            return set_point_change(device, float(current) + delta)
        mode = payload.get("thermostatMode")
        wanted = mode.get("value") if isinstance(mode, Mapping) else None
        if wanted == "OFF" and device.has("power", writable=True):
            return {"power": False}
        ours = {v: k for k, v in THERMOSTAT_MODES.items()}.get(str(wanted))
        if ours is None or wanted not in thermostat_modes(device):
            raise UnsupportedMode(f"{device.name} has no {str(wanted).lower()} mode")
        changes: dict[str, Any] = {"mode": ours}
        if device.has("power", writable=True):
            changes["power"] = True
        return changes
    if namespace == "Alexa.BrightnessController":
        _require(device, "brightness", "dim")
        if name == "SetBrightness":
            return _percent(device, "brightness", _number(payload, "brightness"))
        current = device.value("brightness")
        if not isinstance(current, int | float):
            raise InternalError(f"the brightness of {device.name} is not known yet")
        prop = device.props["brightness"]
        wanted_level = float(current) + _number(payload, "brightnessDelta")
        clamped = min(max(wanted_level, prop.minimum or 0.0), prop.maximum or 100.0)
        return {"brightness": round(clamped)}
    if namespace == "Alexa.ModeController":
        instance = str(header.get("instance", ""))
        if name == "SetMode":
            return _mode_value(device, instance, payload.get("mode"))
        return _mode_step(device, instance, int(_number(payload, "modeDelta")))
    raise InvalidDirective(f"{namespace}.{name} is not supported by homehub")
