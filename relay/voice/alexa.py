"""Alexa Smart Home (payload version 3) messages, built from the device model. Pure: no I/O.

Discovery endpoints and state properties come from a `VoiceDevice`; every message Alexa
receives from us (Response, StateReport, ErrorResponse, ChangeReport, ...) is built here.
`alexa_directives` turns control directives into property values. Temperatures are in °C.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from relay.voice.devices import VoiceDevice
from relay.voice.errors import TemperatureOutOfRange, ValueOutOfRange, VoiceError

PAYLOAD_VERSION = "3"
# homehub modes that Alexa's ThermostatController can name (the schema's enum has no dry/fan;
# those stay reachable through the ModeController instance below).
THERMOSTAT_MODES = {"auto": "AUTO", "cool": "COOL", "heat": "HEAT"}
MODE_INSTANCE = "Aircon.Mode"
FAN_INSTANCE = "Fan.Speed"
LOCALE = "en-US"
MAX_ENDPOINT_ID = 256

Json = dict[str, Any]


# ---------------------------------------------------------------------------- small pieces
def new_message_id() -> str:
    """A fresh message id (UUID text fits the schema's pattern)."""
    return str(uuid.uuid4())


def time_of_sample(ts: float | None) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-23T11:00:00.25Z."""
    moment = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_celsius(value: float, scale: str) -> float:
    """A temperature in °C from Alexa's scale."""
    if scale == "FAHRENHEIT":
        return (value - 32.0) * 5.0 / 9.0
    if scale == "KELVIN":
        return value - 273.15
    return value


def delta_to_celsius(delta: float, scale: str) -> float:
    """A temperature difference in °C (K differences equal °C differences)."""
    return delta * 5.0 / 9.0 if scale == "FAHRENHEIT" else delta


def _header(namespace: str, name: str, correlation: str | None = None) -> Json:
    header: Json = {
        "namespace": namespace,
        "name": name,
        "payloadVersion": PAYLOAD_VERSION,
        "messageId": new_message_id(),
    }
    if correlation:
        header["correlationToken"] = correlation
    return header


def directive_header(directive: Mapping[str, Any]) -> Mapping[str, Any]:
    """The header of a directive (empty if malformed)."""
    header = (directive.get("directive") or {}).get("header")
    return header if isinstance(header, Mapping) else {}


def directive_endpoint(directive: Mapping[str, Any]) -> Mapping[str, Any]:
    """The endpoint of a directive (empty if absent)."""
    endpoint = (directive.get("directive") or {}).get("endpoint")
    return endpoint if isinstance(endpoint, Mapping) else {}


def directive_payload(directive: Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload of a directive (empty if absent)."""
    payload = (directive.get("directive") or {}).get("payload")
    return payload if isinstance(payload, Mapping) else {}


def bearer_token(directive: Mapping[str, Any]) -> str | None:
    """The account-linking token: endpoint scope, payload scope (Discover) or grantee."""
    payload = directive_payload(directive)
    for holder in (
        directive_endpoint(directive).get("scope"),
        payload.get("scope"),
        payload.get("grantee"),
    ):
        if isinstance(holder, Mapping) and isinstance(holder.get("token"), str):
            return str(holder["token"])
    return None


def _echo_endpoint(directive: Mapping[str, Any]) -> Json | None:
    endpoint = directive_endpoint(directive)
    endpoint_id = endpoint.get("endpointId")
    if not isinstance(endpoint_id, str) or not endpoint_id:
        return None
    out: Json = {"endpointId": endpoint_id}
    scope = endpoint.get("scope")
    if isinstance(scope, Mapping) and scope.get("type") == "BearerToken" and scope.get("token"):
        out["scope"] = {"type": "BearerToken", "token": str(scope["token"])}
    return out


# ---------------------------------------------------------------------------- discovery
def _interface(name: str, supported: Sequence[str], **extra: Any) -> Json:
    cap: Json = {"type": "AlexaInterface", "interface": name, "version": "3"}
    if supported:
        cap["properties"] = {
            "supported": [{"name": s} for s in supported],
            "proactivelyReported": True,
            "retrievable": True,
        }
    cap.update(extra)
    return cap


def _friendly(text: str) -> Json:
    return {"friendlyNames": [{"@type": "text", "value": {"text": text, "locale": LOCALE}}]}


def _mode_label(prefix: str, choice: str) -> str:
    # Alexa matches spoken words: "speed 3" and "fan only" are sayable, "3" and "fan" ambiguous.
    if prefix == "FanSpeed" and choice.isdigit():
        return f"speed {choice}"
    return {"fan": "fan only"}.get(choice, choice)


def _mode_controller(instance: str, label: str, prefix: str, choices: Sequence[str]) -> Json:
    return _interface(
        "Alexa.ModeController",
        ["mode"],
        instance=instance,
        capabilityResources=_friendly(label),
        configuration={
            # Fan speeds are levels ("auto" steps to the lowest or highest); modes are not.
            "ordered": prefix == "FanSpeed",
            "supportedModes": [
                {"value": f"{prefix}.{c}", "modeResources": _friendly(_mode_label(prefix, c))}
                for c in choices
            ],
        },
    )


def thermostat_modes(device: VoiceDevice) -> list[str]:
    """The Alexa thermostat modes a device offers (OFF through its power switch)."""
    mode = device.props.get("mode")
    modes = [v for k, v in THERMOSTAT_MODES.items() if mode and mode.writable and k in mode.choices]
    if device.has("power", writable=True):
        modes.append("OFF")
    return modes


def display_category(device: VoiceDevice) -> str | None:
    """The Alexa display category, or None when nothing of the device is voice-usable."""
    if device.has("target_temperature", writable=True):
        return "THERMOSTAT"
    if device.has("brightness", writable=True):
        return "LIGHT"
    if device.has("power", writable=True):
        return "SMARTPLUG" if device.has("power_w") else "SWITCH"
    if device.has("temperature"):
        return "TEMPERATURE_SENSOR"
    return None


def capabilities(device: VoiceDevice) -> list[Json]:
    """The Alexa interfaces of a device, generated from its properties."""
    caps = [_interface("Alexa", [])]
    if device.has("power", writable=True):
        caps.append(_interface("Alexa.PowerController", ["powerState"]))
    if device.has("target_temperature", writable=True):
        modes = thermostat_modes(device)
        caps.append(
            _interface(
                "Alexa.ThermostatController",
                ["targetSetpoint", "thermostatMode"] if modes else ["targetSetpoint"],
                configuration={"supportsScheduling": False, "supportedModes": modes},
            )
        )
    if device.has("temperature"):
        caps.append(_interface("Alexa.TemperatureSensor", ["temperature"]))
    if device.has("brightness", writable=True):
        caps.append(_interface("Alexa.BrightnessController", ["brightness"]))
    mode = device.props.get("mode")
    if mode is not None and mode.writable and set(mode.choices) - set(THERMOSTAT_MODES):
        choices = [c for c in mode.choices if c != "other"]
        caps.append(_mode_controller(MODE_INSTANCE, "mode", "Mode", choices))
    fan = device.props.get("fan_speed")
    if fan is not None and fan.writable and fan.choices:
        caps.append(_mode_controller(FAN_INSTANCE, "fan speed", "FanSpeed", fan.choices))
    caps.append(_interface("Alexa.EndpointHealth", ["connectivity"]))
    return caps


def discovery_endpoint(device: VoiceDevice) -> Json | None:
    """One Discover.Response endpoint, or None for a device Alexa cannot use."""
    category = display_category(device)
    if category is None or len(device.endpoint_id) > MAX_ENDPOINT_ID:
        return None
    where = f" in {device.room}" if device.room else ""
    return {
        "endpointId": device.endpoint_id,
        "manufacturerName": device.manufacturer[:128],
        "friendlyName": device.name[:128],
        "description": f"{device.model} ({device.integration}){where} via homehub"[:128],
        "displayCategories": [category],
        "cookie": {},
        "capabilities": capabilities(device),
    }


def discover_response(devices: Sequence[VoiceDevice]) -> Json:
    """The Discover.Response for all of an account's devices."""
    endpoints = [e for e in (discovery_endpoint(d) for d in devices) if e is not None]
    return {
        "event": {
            "header": _header("Alexa.Discovery", "Discover.Response"),
            "payload": {"endpoints": endpoints},
        }
    }


# ---------------------------------------------------------------------------- state
def _prop(namespace: str, name: str, value: Any, ts: float | None, uncertainty: int,
          instance: str | None = None) -> Json:
    out: Json = {"namespace": namespace, "name": name}
    if instance is not None:
        out["instance"] = instance
    out["value"] = value
    out["timeOfSample"] = time_of_sample(ts)
    out["uncertaintyInMilliseconds"] = uncertainty
    return out


def state_properties(device: VoiceDevice, now: float | None = None,
                     only: Sequence[str] | None = None) -> list[Json]:
    """The context properties of a device from its (cached) reported values.

    When the hub is offline the values are last-known: uncertainty is their age.
    `only` limits the result to those property names (for ChangeReports).
    """
    now = time.time() if now is None else now

    def want(name: str) -> bool:
        return (only is None or name in only) and device.value(name) is not None

    def stamp(name: str) -> tuple[float | None, int]:
        ts = device.reported_ts.get(name)
        age = 0 if ts is None or device.reachable else max(0, int((now - ts) * 1000))
        return ts, age

    out: list[Json] = []
    if device.has("power", writable=True) and want("power"):
        out.append(_prop("Alexa.PowerController", "powerState",
                         "ON" if device.value("power") else "OFF", *stamp("power")))
    if device.has("target_temperature", writable=True):
        if want("target_temperature"):
            out.append(_prop("Alexa.ThermostatController", "targetSetpoint",
                             {"value": float(device.value("target_temperature")),
                              "scale": "CELSIUS"}, *stamp("target_temperature")))
        mode = _thermostat_mode(device)
        if mode is not None and (only is None or {"mode", "power"} & set(only)):
            key = "power" if mode == "OFF" else "mode"
            out.append(_prop("Alexa.ThermostatController", "thermostatMode", mode, *stamp(key)))
    if device.has("temperature") and want("temperature"):
        out.append(_prop("Alexa.TemperatureSensor", "temperature",
                         {"value": float(device.value("temperature")), "scale": "CELSIUS"},
                         *stamp("temperature")))
    if device.has("brightness", writable=True) and want("brightness"):
        out.append(_prop("Alexa.BrightnessController", "brightness",
                         int(device.value("brightness")), *stamp("brightness")))
    caps = {c.get("instance") for c in capabilities(device)}
    if MODE_INSTANCE in caps and want("mode"):
        out.append(_prop("Alexa.ModeController", "mode", f"Mode.{device.value('mode')}",
                         *stamp("mode"), instance=MODE_INSTANCE))
    if FAN_INSTANCE in caps and want("fan_speed"):
        out.append(_prop("Alexa.ModeController", "mode", f"FanSpeed.{device.value('fan_speed')}",
                         *stamp("fan_speed"), instance=FAN_INSTANCE))
    if only is None:
        out.append(health_property(device, now))
    return out


def health_property(device: VoiceDevice, now: float | None = None) -> Json:
    """EndpointHealth connectivity: OK only when hub and device are both online."""
    return _prop("Alexa.EndpointHealth", "connectivity",
                 {"value": "OK" if device.reachable else "UNREACHABLE"},
                 now if now is not None else time.time(), 0)


def _thermostat_mode(device: VoiceDevice) -> str | None:
    if device.has("power", writable=True) and device.value("power") is False:
        return "OFF"
    mode = device.value("mode")
    if isinstance(mode, str) and mode in THERMOSTAT_MODES:
        return THERMOSTAT_MODES[mode]
    return None


# ---------------------------------------------------------------------------- responses
def response(directive: Mapping[str, Any], device: VoiceDevice) -> Json:
    """Alexa.Response to a control directive, with the device's state as context."""
    event: Json = {
        "header": _header("Alexa", "Response", directive_header(directive).get("correlationToken")),
        "payload": {},
    }
    endpoint = _echo_endpoint(directive)
    if endpoint is not None:
        event["endpoint"] = endpoint
    return {"event": event, "context": {"properties": state_properties(device)}}


def state_report(directive: Mapping[str, Any], device: VoiceDevice) -> Json:
    """StateReport answering ReportState (cached values when the hub is offline)."""
    message = response(directive, device)
    message["event"]["header"]["name"] = "StateReport"
    return message


def accept_grant_response() -> Json:
    """AcceptGrant.Response (the grant code was handed to the ChangeReportSender)."""
    return {"event": {"header": _header("Alexa.Authorization", "AcceptGrant.Response"),
                      "payload": {}}}


def accept_grant_failed(directive: Mapping[str, Any], message: str) -> Json:
    """Alexa.Authorization ErrorResponse ACCEPT_GRANT_FAILED."""
    header = _header("Alexa.Authorization", "ErrorResponse",
                     directive_header(directive).get("correlationToken"))
    return {"event": {"header": header,
                      "payload": {"type": "ACCEPT_GRANT_FAILED", "message": message}}}


def error_response(directive: Mapping[str, Any], err: VoiceError) -> Json:
    """ErrorResponse with the type Alexa expects for this error."""
    payload: Json = {"type": err.alexa_type, "message": err.message}
    if isinstance(err, TemperatureOutOfRange) and err.minimum is not None:
        payload["validRange"] = {
            "minimumValue": {"value": err.minimum, "scale": "CELSIUS"},
            "maximumValue": {"value": err.maximum, "scale": "CELSIUS"},
        }
    elif isinstance(err, ValueOutOfRange) and err.minimum is not None:
        payload["validRange"] = {"minimumValue": err.minimum, "maximumValue": err.maximum}
    event: Json = {
        "header": _header(err.alexa_namespace, "ErrorResponse",
                          directive_header(directive).get("correlationToken")),
        "payload": payload,
    }
    endpoint = _echo_endpoint(directive)
    if endpoint is not None:
        event["endpoint"] = endpoint
    return {"event": event}


def credential_error(directive: Mapping[str, Any], expired: bool) -> Json:
    """ErrorResponse for a missing, unknown or expired account-linking token."""
    kind = "EXPIRED_AUTHORIZATION_CREDENTIAL" if expired else "INVALID_AUTHORIZATION_CREDENTIAL"
    message = ("the access token has expired; Alexa should refresh it" if expired
               else "the access token is not valid; link the skill to homehub again")
    event: Json = {
        "header": _header("Alexa", "ErrorResponse",
                          directive_header(directive).get("correlationToken")),
        "payload": {"type": kind, "message": message},
    }
    endpoint = _echo_endpoint(directive)
    if endpoint is not None:
        event["endpoint"] = endpoint
    return {"event": event}


def change_report(device: VoiceDevice, changed: Sequence[str], token: str,
                  cause: str = "PHYSICAL_INTERACTION") -> Json | None:
    """A proactive ChangeReport for changed property names, or None if Alexa tracks none."""
    changes = state_properties(device, only=changed)
    if not changes:
        return None
    names = {(p["namespace"], p["name"], p.get("instance")) for p in changes}
    unchanged = [p for p in state_properties(device)
                 if (p["namespace"], p["name"], p.get("instance")) not in names]
    return {
        "context": {"properties": unchanged},
        "event": {
            "header": _header("Alexa", "ChangeReport"),
            "endpoint": {"scope": {"type": "BearerToken", "token": token},
                         "endpointId": device.endpoint_id},
            "payload": {"change": {"cause": {"type": cause}, "properties": changes}},
        },
    }
