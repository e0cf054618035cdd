"""Tasmota's native discovery onto the hub's vocabulary (pure, no I/O).

A Tasmota device (SetOption19 0, the default since 9.2) publishes, retained,
`tasmota/discovery/<MAC>/config` — abbreviated keys: `dn` device name, `fn` friendly names,
`hn` host name, `mac`, `md` module, `sw` version, `t` topic, `ft` full topic
(`%prefix%/%topic%/`), `tp` prefixes (`cmnd`, `stat`, `tele`), `rl` relay kinds per output
(0 none, 1 relay, 2 light, 3 shutter), `lt_st` light subtype (0 none, 1 dimmer, 2 cold/warm,
3 RGB, 4 RGBW, 5 RGBCW), `state` texts (OFF, ON, TOGGLE, HOLD), `onln`/`ofln` will payloads,
`ver` 1 — and `tasmota/discovery/<MAC>/sensors` `{"sn": <a SENSOR payload>, "ver": 1}`.
Commands go to `cmnd/<topic>/<Command>`; answers come on `stat/<topic>/RESULT`, telemetry on
`tele/<topic>/STATE` and `tele/<topic>/SENSOR`, the will on `tele/<topic>/LWT`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from integrations.mqtt.errors import PayloadError
from integrations.mqtt.mapping import (
    Field,
    boolean,
    decode_lenient,
    generic,
    mired_to_kelvin,
    number,
    suffix,
    unique_names,
    vocab,
)

CMND, STAT, TELE = 0, 1, 2
RELAY, LIGHT = 1, 2
DIMMER_SUBTYPES = (1, 2, 3, 4, 5)
CT_SUBTYPES = (2, 5)
#: Sensor readings the vocabulary has a word for.
READINGS = {"Temperature": "temperature", "Humidity": "humidity",
            "Illuminance": "illuminance"}
SKIP = {"Time", "TempUnit", "PressureUnit", "SpeedUnit"}


def _text(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"discovery config: {key} must be text, got {value!r}")
    return value


def _ints(config: Mapping[str, Any], key: str) -> tuple[int, ...]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise PayloadError(f"discovery config: {key} must be a list of numbers")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class TasmotaDevice:
    """One Tasmota device from its discovery messages."""

    mac: str
    name: str
    model: str
    sw: str
    ip: str
    hostname: str
    topic: str
    full_topic: str
    prefixes: tuple[str, str, str]
    state_text: tuple[str, ...]
    online_text: str
    offline_text: str
    relays: tuple[int, ...]
    light_subtype: int
    fields: tuple[Field, ...]

    def topic_for(self, prefix: int, command: str) -> str:
        """`cmnd/<topic>/POWER1` and friends, following the device's FullTopic."""
        topic = (self.full_topic.replace("%prefix%", self.prefixes[prefix])
                 .replace("%topic%", self.topic).replace("%hostname%", self.hostname)
                 .replace("%id%", self.mac[-6:]))
        return topic + command

    @property
    def outputs(self) -> list[int]:
        """Indices of the relay/light outputs."""
        return [i for i, kind in enumerate(self.relays) if kind in (RELAY, LIGHT)]

    def decode(self, state: Mapping[str, Any],
               echo: Mapping[str, tuple[Any, Any]] | None = None,
               ) -> tuple[dict[str, Any], list[str]]:
        """Hub values from a RESULT, STATE, SENSOR or STATUS10/11 payload."""
        flat = dict(state)
        for wrapper in ("StatusSNS", "StatusSTS"):
            inner = flat.pop(wrapper, None)
            if isinstance(inner, Mapping):
                flat.update(inner)
        if "POWER" in flat and "POWER1" not in flat:
            flat["POWER1"] = flat["POWER"]  # one output answers POWER, several POWER<n>
        return decode_lenient(self.fields, flat, echo)

    def commands(self, changes: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
        """(topic, payload, raw value) to publish for validated hub values, in a safe order:
        brightness and colour before power, so "on at 30 %" does not flash at full."""
        by_name = {f.name: f for f in self.fields}
        out: list[tuple[str, str, Any]] = []
        for name in sorted(changes, key=lambda n: n.startswith("power")):
            f = by_name.get(name)
            if f is None or f.to_device is None:
                raise PayloadError(f"{self.name} cannot set {name}")
            raw = f.to_device(changes[name])
            out.append((self.topic_for(CMND, f.path[0]), str(raw), raw))
        return out


def _power_name(index: int, outputs: Sequence[int]) -> str:
    return "power" if index == outputs[0] else f"power.ch{index + 1}"


def _sensor_fields(sensors: Mapping[str, Any]) -> list[Field]:
    fields: list[Field] = []
    fahrenheit = sensors.get("TempUnit") == "F"
    for sensor, values in sensors.items():
        if sensor in SKIP or not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            path = (sensor, key)
            if sensor == "ENERGY" and key == "Power" and not isinstance(value, list):
                fields.append(Field(vocab("power_w"), path, number))
            elif sensor == "ENERGY" and key == "Total":
                fields.append(Field(vocab("energy_kwh"), path, number))
            elif key in READINGS and isinstance(value, int | float):
                hub = READINGS[key]
                taken = any(f.name == hub for f in fields)
                name = f"{hub}.{suffix(sensor)}" if taken else hub
                convert = (lambda v: round((number(v) - 32) / 1.8, 2)) if (
                    fahrenheit and key == "Temperature") else number
                fields.append(Field(vocab(name), path, convert))
            else:
                fields.append(generic(f"{sensor}_{key}", path))
    return fields


def map_device(config: Mapping[str, Any], sensors: Mapping[str, Any] | None = None,
               mac_from_topic: str | None = None) -> TasmotaDevice:
    """A device from its discovery config (and sensors message, when it has sensors)."""
    if config.get("ver") != 1:
        raise PayloadError(f"discovery version {config.get('ver')!r} is not 1")
    mac = _text(config, "mac").upper()
    if mac_from_topic is not None and mac != mac_from_topic.upper():
        raise PayloadError(f"MAC {mac} does not match the topic's {mac_from_topic}")
    prefixes = config.get("tp", ["cmnd", "stat", "tele"])
    states = config.get("state", ["OFF", "ON", "TOGGLE", "HOLD"])
    if not (isinstance(prefixes, list) and len(prefixes) == 3
            and all(isinstance(p, str) for p in prefixes)):
        raise PayloadError("discovery config: tp must list the cmnd, stat and tele prefixes")
    if not (isinstance(states, list) and len(states) >= 2
            and all(isinstance(p, str) for p in states)):
        raise PayloadError("discovery config: state must list the OFF and ON texts")
    relays = _ints(config, "rl")
    subtype = config.get("lt_st", 0)
    if not isinstance(subtype, int):
        raise PayloadError("discovery config: lt_st must be a number")
    fields: list[Field] = []
    outputs = [i for i, kind in enumerate(relays) if kind in (RELAY, LIGHT)]
    on_off = boolean(states[1], states[0])
    for index in outputs:
        fields.append(Field(vocab(_power_name(index, outputs), writable=True),
                            (f"POWER{index + 1}",), on_off[0], on_off[1]))
    if LIGHT in relays and subtype in DIMMER_SUBTYPES:
        fields.append(Field(vocab("brightness", writable=True), ("Dimmer",), number, int))
    if LIGHT in relays and subtype in CT_SUBTYPES:
        to_hub, to_device = mired_to_kelvin(153, 500)
        fields.append(Field(vocab("colour_temp", writable=True, minimum=2000, maximum=6500),
                            ("CT",), to_hub, to_device))
    fields.append(Field(vocab("rssi"), ("Wifi", "Signal"), lambda v: int(number(v))))
    fields += _sensor_fields(sensors or {})
    return TasmotaDevice(
        mac=mac, name=_text(config, "dn"), model=str(config.get("md", "")),
        sw=str(config.get("sw", "")), ip=str(config.get("ip", "")),
        hostname=str(config.get("hn", "")), topic=_text(config, "t"),
        full_topic=_text(config, "ft"), prefixes=(prefixes[0], prefixes[1], prefixes[2]),
        state_text=tuple(states), online_text=str(config.get("onln", "Online")),
        offline_text=str(config.get("ofln", "Offline")), relays=relays,
        light_subtype=subtype, fields=tuple(unique_names(fields)),
    )
